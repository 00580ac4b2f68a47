-- depends: 0009.sign-in-sessions-rate-limits

-- The changes the live views' consumer applied, one row per event of a patient's care,
-- numbered when that consumer commits them (infra/changes.py): the ids the live streams
-- resume from. Log positions cannot be (several consumers apply partitions apart, so
-- position 100 may be applied after 120); these numbers follow the commits.
CREATE TABLE IF NOT EXISTS careledger.view_changes (
  seq bigserial PRIMARY KEY,
  position bigint NOT NULL,
  kind text NOT NULL,
  record_id uuid NOT NULL,
  patient_id uuid NOT NULL,
  clinic_ids uuid[] NOT NULL DEFAULT '{}',
  applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS view_changes_applied ON careledger.view_changes (applied_at);
