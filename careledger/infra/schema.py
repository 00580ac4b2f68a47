"""The event store's schema, roles and guarantees; `careledger migrate` applies it.

Everything here is idempotent, so a migration runs at every start without harm.

* The events table is the library's, plus three columns the store fills itself:
  `recorded_at` (transaction time, indexed for "as of" reads), and the stream's hash
  chain (`previous_hash`, `event_hash`), so the application cannot forge either.
* The application's role may only SELECT from the log. Events enter through
  `append_events`, a SECURITY DEFINER function, which stamps and chains them; UPDATE,
  DELETE and TRUNCATE are neither granted nor possible (a trigger refuses them even to
  the owner).
* The access log and the signed audit checkpoints are append-only the same way
  (access_schema.py).
* `append_events` writes a command's events, checks the versions of the records the
  decision read, and stores its idempotency record, in one statement: one round trip,
  one transaction. It takes no table lock; instead each writer holds a shared advisory
  lock for its transaction, and `log_horizon` tells a follower the highest position
  below which no write is still open, so a follower never passes over a position that
  commits later (docs/architecture.md, "What the eventsourcing library needs from us").
"""

from __future__ import annotations

from typing import Any

from psycopg import Connection, sql

from careledger.domain.referral import Referral
from careledger.infra.access_schema import ACCESS_DDL
from careledger.projections import VIEWS_SCHEMA, all_projections
from careledger.projections.bookkeeping import TRACKING_DDL

SCHEMA = "careledger"
EVENTS = "careledger_events"
SNAPSHOTS = "careledger_snapshots"
#: The advisory lock every appending transaction holds, shared, until it ends.
WRITER_LOCK = 0x0CA2E  # "care"

DDL = r"""
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
  WHERE topic = '{referral_made}';

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

-- Which partitions each consumer group member holds, noted by the member every few
-- seconds: the broker's own answer (DescribeGroups) is not given by every broker, and
-- `careledger status --ready consume` must know when a partition has nobody.
CREATE TABLE IF NOT EXISTS careledger.consumer_members (
  group_name text NOT NULL,
  member text NOT NULL,
  topic text NOT NULL,
  partitions int[] NOT NULL,
  seen_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_name, member)
);

DROP FUNCTION IF EXISTS careledger.event_hash(bytea, uuid, bigint, timestamptz, text, bytea);

CREATE OR REPLACE FUNCTION careledger.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % is refused; a correction is a new entry',
    TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;

-- Events enter only through append_events(), which chains them: no per-row trigger.
DROP TRIGGER IF EXISTS chain_event ON careledger.careledger_events;
DROP FUNCTION IF EXISTS careledger.chain_event();
DROP TRIGGER IF EXISTS append_only ON careledger.careledger_events;
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON careledger.careledger_events
  FOR EACH ROW EXECUTE FUNCTION careledger.refuse_change();
DROP TRIGGER IF EXISTS append_only_truncate ON careledger.careledger_events;
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON careledger.careledger_events
  FOR EACH STATEMENT EXECUTE FUNCTION careledger.refuse_change();

DROP FUNCTION IF EXISTS careledger.append_events(
  careledger.stored_event_uuid[], text, text, text, text);
DROP FUNCTION IF EXISTS careledger.append_events(
  careledger.stored_event_uuid[], uuid[], bigint[], text, text, text, text);
-- The only way into the log (the application's role may not INSERT into it): one
-- command's events as parallel arrays, sent in binary. It checks the versions the
-- decision read, stamps the recorded time, chains each event to the one before it in
-- its stream, and stores the Idempotency-Key record, all in the caller's transaction.
DROP FUNCTION IF EXISTS careledger.append_events(
  uuid[], bigint[], text[], bytea[], uuid[], bigint[], text, text, text, text);
DROP FUNCTION IF EXISTS careledger.append_events(
  uuid[], bigint[], text[], bytea[], uuid[], bigint[], text, text, text, text, text);
CREATE FUNCTION careledger.append_events(
  ids uuid[], versions bigint[], topics text[], states bytea[],
  read_ids uuid[], read_versions bigint[],
  idem_principal text, idem_key text, idem_request_hash text, idem_command text,
  trace text)
RETURNS bigint[] LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  n integer := array_length(ids, 1);
  recorded timestamptz := statement_timestamp();
  previous bytea;
  previous_hashes bytea[] := '{}';
  event_hashes bytea[] := '{}';
  positions bigint[];
BEGIN
  IF read_ids IS NOT NULL AND EXISTS (
    SELECT 1 FROM unnest(read_ids, read_versions) AS r(id, version)
     WHERE EXISTS (SELECT 1 FROM careledger.careledger_events e
                    WHERE e.originator_id = r.id AND e.originator_version > r.version))
  THEN
    RAISE EXCEPTION 'careledger: a record this command read has changed'
      USING ERRCODE = 'serialization_failure';
  END IF;
  FOR i IN 1..n LOOP
    IF i > 1 AND ids[i] = ids[i - 1] AND versions[i] = versions[i - 1] + 1 THEN
      previous := event_hashes[i - 1];
    ELSIF versions[i] = 1 THEN
      previous := '\x0000000000000000000000000000000000000000000000000000000000000000';
    ELSE
      SELECT e.event_hash INTO previous FROM careledger.careledger_events e
       WHERE e.originator_id = ids[i] AND e.originator_version = versions[i] - 1;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'a stream has no version % to follow', versions[i] - 1
          USING ERRCODE = 'integrity_constraint_violation';
      END IF;
    END IF;
    previous_hashes[i] := previous;
    -- The hash covers the previous hash, stream, version, recorded time (microseconds
    -- since the epoch), name (length-prefixed) and content. Written out here, not called
    -- as a function: a nested call under SECURITY DEFINER is re-planned on every append.
    event_hashes[i] := sha256(previous || uuid_send(ids[i]) || int8send(versions[i])
      || int8send((extract(epoch FROM recorded) * 1000000)::bigint)
      || int4send(octet_length(convert_to(topics[i], 'UTF8')))
      || convert_to(topics[i], 'UTF8') || states[i]);
  END LOOP;
  -- Taken before any position is drawn, held until commit: see log_horizon().
  PERFORM pg_advisory_xact_lock_shared({writer_lock});
  WITH inserted AS (
    INSERT INTO careledger.careledger_events (originator_id, originator_version, topic, state,
      recorded_at, previous_hash, event_hash, trace_context)
    SELECT e.id, e.version, e.topic, e.state, recorded, e.previous_hash, e.event_hash, trace
      FROM unnest(ids, versions, topics, states, previous_hashes, event_hashes)
        AS e(id, version, topic, state, previous_hash, event_hash)
    RETURNING notification_id)
  SELECT array_agg(notification_id ORDER BY notification_id) INTO positions FROM inserted;
  IF idem_key IS NOT NULL THEN
    INSERT INTO careledger.idempotency
      (principal, key, request_hash, command, aggregate_id, version, position)
    VALUES (idem_principal, idem_key, idem_request_hash, idem_command,
      ids[n], versions[n], positions[n]);
  END IF;
  RETURN positions;
END $$;

-- The highest position drawn so far, and the appending transactions still open.
-- Once those have ended, every position up to it is either committed or never will be.
CREATE OR REPLACE FUNCTION careledger.log_horizon(OUT last_position bigint, OUT writers text[])
LANGUAGE plpgsql AS $$
BEGIN
  SELECT CASE WHEN is_called THEN last_value ELSE 0 END INTO last_position
    FROM careledger.careledger_events_notification_id_seq;
  writers := ARRAY(
    SELECT l.virtualtransaction FROM pg_locks l
     WHERE l.locktype = 'advisory' AND l.classid = 0 AND l.objid = {writer_lock}
       AND l.objsubid = 1 AND l.granted);
END $$;

CREATE OR REPLACE FUNCTION careledger.writers_open(candidates text[]) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT EXISTS (
    SELECT 1 FROM pg_locks l
     WHERE l.locktype = 'advisory' AND l.classid = 0 AND l.objid = {writer_lock}
       AND l.objsubid = 1 AND l.granted AND l.virtualtransaction = ANY(candidates))
$$;

""".replace("{writer_lock}", str(WRITER_LOCK)).replace("{referral_made}", Referral.Made.TOPIC
                                                         ) + ACCESS_DDL

VIEW_GRANTS = """
GRANT USAGE ON SCHEMA {schema} TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role};
"""

GRANTS = """
GRANT USAGE ON SCHEMA careledger TO {role};
REVOKE ALL ON ALL TABLES IN SCHEMA careledger FROM {role};
GRANT SELECT ON careledger.careledger_events TO {role};
GRANT SELECT, INSERT ON careledger.careledger_snapshots TO {role};
GRANT SELECT ON careledger.idempotency TO {role};
GRANT SELECT, INSERT, UPDATE ON careledger.relay_positions TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON careledger.consumer_members TO {role};
GRANT SELECT ON careledger.view_generations TO {role};
GRANT SELECT ON careledger.access_log TO {role};
GRANT SELECT ON careledger.emergency_grants TO {role};
GRANT SELECT, INSERT ON careledger.checkpoints TO {role};
GRANT USAGE ON SEQUENCE careledger.checkpoints_id_seq TO {role};
GRANT SELECT ON SEQUENCE careledger.careledger_events_notification_id_seq TO {role};
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA careledger TO {role};
"""


def migrate(admin: Connection[object], *, app_role: str, app_password: str) -> None:
    """Create or bring up to date the schema, the application's role and its grants."""
    with admin.transaction():
        admin.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK + 1,))
        exists = admin.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = %s", (app_role,)
        ).fetchone()
        role = sql.Identifier(app_role)
        verb = sql.SQL("ALTER") if exists else sql.SQL("CREATE")
        admin.execute(
            sql.SQL("{} ROLE {} LOGIN PASSWORD {} NOSUPERUSER NOCREATEDB NOCREATEROLE").format(
                verb, role, sql.Literal(app_password)
            )
        )
        admin.execute(DDL.encode())
        admin.execute(sql.SQL(GRANTS).format(role=role))
        live: Any = admin.execute(
            "SELECT schema FROM careledger.view_generations WHERE name = 'live'"
        ).fetchone()
        create_views(admin, app_role=app_role, schema=str(live[0]) if live else VIEWS_SCHEMA)


#: Columns added to the views after a generation was built, filled from the log the way
#: their handlers fill them. `first_treatment_on` is the day the first session's note
#: states, as its time was written (in its own zone).
VIEW_BACKFILLS = (f"""
UPDATE {{v}}.referrals r SET first_treatment_on = f.day
  FROM (SELECT DISTINCT ON (originator_id) originator_id,
               left(convert_from(state, 'UTF8')::jsonb #>> '{{occurred_at,_data_}}', 10)::date
                 AS day
          FROM careledger.careledger_events
         WHERE topic = '{Referral.SessionCompleted.TOPIC}' AND originator_id IN (
               SELECT referral_id FROM {{v}}.referrals
                WHERE first_treatment_on IS NULL AND visits_used > 0)
         ORDER BY originator_id, originator_version) f
 WHERE r.referral_id = f.originator_id
""",)


def create_views(admin: Connection[object], *, app_role: str, schema: str) -> None:
    """One generation of the read models: its schema, tables, tracking, and grants.

    The views are not the record (the log is), so the application's role may change
    them freely; rebuilding replays the log into a fresh generation.
    """
    admin.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    for projection in all_projections():
        admin.execute(projection.ddl(schema).encode())
    admin.execute(TRACKING_DDL.replace("{v}", schema).encode())
    for backfill in VIEW_BACKFILLS:
        admin.execute(backfill.replace("{v}", schema).encode())
    admin.execute(sql.SQL(VIEW_GRANTS).format(schema=sql.Identifier(schema),
                                              role=sql.Identifier(app_role)))
