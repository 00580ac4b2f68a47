-- The schema as it stood when migrations became versioned (the baseline): every table,
-- type and index of the event log, the access log and the checkpoints. Written so that
-- a database made by an earlier release, which has all of this, adopts it unchanged.
-- The functions, triggers and grants are not here: they are re-applied at every
-- `careledger migrate` (careledger/infra/schema.py), being safe to run again.

CREATE SCHEMA IF NOT EXISTS careledger;

DO $$ BEGIN
  CREATE TYPE careledger.stored_event_uuid AS (
    originator_id uuid, originator_version bigint, topic text, state bytea);
EXCEPTION WHEN duplicate_object THEN NULL; END $$;

CREATE TABLE IF NOT EXISTS careledger.careledger_events (
  originator_id uuid NOT NULL,
  originator_version bigint NOT NULL,
  topic text NOT NULL,
  state bytea NOT NULL,
  notification_id bigserial,
  recorded_at timestamptz NOT NULL DEFAULT statement_timestamp(),
  previous_hash bytea NOT NULL,
  event_hash bytea NOT NULL,
  PRIMARY KEY (originator_id, originator_version)
);
-- The W3C trace context of the command that appended the event (not part of its hash:
-- it says how the event was traced, not what the record says).
ALTER TABLE careledger.careledger_events ADD COLUMN IF NOT EXISTS trace_context text;
CREATE UNIQUE INDEX IF NOT EXISTS careledger_events_notification_id_idx
  ON careledger.careledger_events (notification_id);
CREATE INDEX IF NOT EXISTS careledger_events_recorded_at_idx
  ON careledger.careledger_events (recorded_at);

-- The patient a referral is for, read from the state of the event that made it (the eventsourcing
-- library's JSON, where a UUID is {"_type_": "uuid_hex", "_data_": "<hex>"}), so an
-- export finds a patient's episodes in the log itself, by index, not through the views.
-- A state it cannot read gives NULL, never an error: no append may fail because of it.
CREATE OR REPLACE FUNCTION careledger.referral_patient(state bytea) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  RETURN convert_from(state, 'UTF8')::jsonb #>> '{patient_id,_data_}';
EXCEPTION WHEN others THEN
  RETURN NULL;
END $$;
CREATE INDEX IF NOT EXISTS careledger_events_referral_patient_idx
  ON careledger.careledger_events (careledger.referral_patient(state))
  WHERE topic = 'careledger:Referral.Made';

CREATE TABLE IF NOT EXISTS careledger.careledger_snapshots (
  originator_id uuid NOT NULL,
  originator_version bigint NOT NULL,
  topic text,
  state bytea,
  PRIMARY KEY (originator_id, originator_version)
);

CREATE TABLE IF NOT EXISTS careledger.idempotency (
  principal text NOT NULL,
  key text NOT NULL,
  request_hash text NOT NULL,
  command text NOT NULL,
  aggregate_id uuid NOT NULL,
  version bigint NOT NULL,
  position bigint,
  recorded_at timestamptz NOT NULL DEFAULT statement_timestamp(),
  PRIMARY KEY (principal, key)
);

-- Which generation of the views is live. A rebuild fills a fresh schema, then switches
-- this pointer; `floor_position` is where the new generation's replay stopped, so a
-- consumer skips anything at or below it on a partition it has not tracked yet.
CREATE TABLE IF NOT EXISTS careledger.view_generations (
  name text PRIMARY KEY,
  schema text NOT NULL,
  floor_position bigint NOT NULL DEFAULT 0,
  switched_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO careledger.view_generations (name, schema) VALUES ('live', 'careledger_views')
  ON CONFLICT (name) DO NOTHING;

-- How far the relay has published the log to Kafka (saved only after Kafka confirmed).
CREATE TABLE IF NOT EXISTS careledger.relay_positions (
  name text PRIMARY KEY,
  position bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Every read of patient data, allowed or denied: who, which patient, what was asked,
-- on what basis, and why (for emergency access). Hash-chained like the event log, and
-- written only through log_access(): the application's role cannot touch the rows.
CREATE TABLE IF NOT EXISTS careledger.access_log (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL,
  principal uuid NOT NULL,
  role text NOT NULL,
  patient_id uuid,
  fields text NOT NULL,
  allowed boolean NOT NULL,
  basis text,
  reason text,
  previous_hash bytea NOT NULL,
  hash bytea NOT NULL
);
CREATE INDEX IF NOT EXISTS access_log_patient ON careledger.access_log (patient_id, at);

-- "Break the glass": a practitioner outside the care team states why and may read the
-- patient for a few hours. Append-only; every such read is flagged in the access log.
CREATE TABLE IF NOT EXISTS careledger.emergency_grants (
  id bigserial PRIMARY KEY,
  principal uuid NOT NULL,
  patient_id uuid NOT NULL,
  reason text NOT NULL CHECK (length(btrim(reason)) >= 10),
  granted_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS emergency_grants_lookup
  ON careledger.emergency_grants (principal, patient_id, expires_at);

-- Signed checkpoints of the log (careledger/audit): how far it went, how many events,
-- their Merkle root, when, with which key. Append-only like the log: the application's
-- role may add one (`careledger audit checkpoint`) and read them, never change one.
CREATE TABLE IF NOT EXISTS careledger.checkpoints (
  id bigserial PRIMARY KEY,
  position bigint NOT NULL CHECK (position > 0),
  leaf_count bigint NOT NULL CHECK (leaf_count > 0),
  root bytea NOT NULL CHECK (octet_length(root) = 32),
  created_at timestamptz NOT NULL,
  key_id text NOT NULL,
  signature bytea NOT NULL CHECK (octet_length(signature) = 64)
);
