-- depends: 0004.views-version

-- The patient's consent decisions, as access decides from them: written by the
-- transaction that appends the decision to the log (append_events), so a revocation
-- holds from the moment its command answers, whether or not the views have caught up.
-- One row per decision, keyed by the log position of its event; append-only.
CREATE TABLE IF NOT EXISTS careledger.consent_decisions (
  position bigint PRIMARY KEY,
  patient_id uuid NOT NULL,
  clinic_id uuid,
  purpose text NOT NULL,
  permit boolean NOT NULL,
  starts_on date NOT NULL,
  ends_on date,
  recorded_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS consent_decisions_patient
  ON careledger.consent_decisions (patient_id, position);

-- The decisions already in the log: the network-wide grants and revocations, each from
-- the day it happened (as its own zone wrote it), for treatment.
INSERT INTO careledger.consent_decisions
  (position, patient_id, clinic_id, purpose, permit, starts_on, ends_on, recorded_at)
SELECT notification_id, originator_id, NULL, 'treatment',
       topic = 'careledger:Patient.ConsentGranted',
       left(convert_from(state, 'UTF8')::jsonb #>> '{occurred_at,_data_}', 10)::date, NULL,
       recorded_at
  FROM careledger.careledger_events
 WHERE topic IN ('careledger:Patient.ConsentGranted', 'careledger:Patient.ConsentRevoked')
ON CONFLICT DO NOTHING;
