"""The event store's schema, roles and guarantees; `careledger migrate` applies it.

Everything here is idempotent, so a migration runs at every start without harm.

* The events table is the library's, plus three columns the store fills itself in a
  trigger: `recorded_at` (transaction time, indexed for "as of" reads), and the
  stream's hash chain (`previous_hash`, `event_hash`), so the application cannot
  forge either.
* The application's role may SELECT and INSERT; UPDATE, DELETE and TRUNCATE are
  neither granted nor possible (a trigger refuses them even to the owner).
* `append_events` writes a command's events, and its idempotency record, in one
  statement: one round trip, one transaction. It takes no table lock; instead each
  writer holds a shared advisory lock for its transaction, and `log_horizon`
  tells a follower the highest position below which no write is still open, so a
  follower never passes over a position that commits later (DESIGN.md section 7).
"""

from __future__ import annotations

from psycopg import Connection, sql

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
CREATE UNIQUE INDEX IF NOT EXISTS careledger_events_notification_id_idx
  ON careledger.careledger_events (notification_id);
CREATE INDEX IF NOT EXISTS careledger_events_recorded_at_idx
  ON careledger.careledger_events (recorded_at);

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

-- The hash of an event covers its stream, version, recorded time, name and content,
-- and the hash of the event before it in the same stream.
CREATE OR REPLACE FUNCTION careledger.event_hash(
  previous bytea, originator_id uuid, originator_version bigint,
  recorded_at timestamptz, topic text, state bytea)
RETURNS bytea LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT sha256(
    previous
    || uuid_send(originator_id)
    || int8send(originator_version)
    || int8send((extract(epoch FROM recorded_at) * 1000000)::bigint)
    || int4send(octet_length(convert_to(topic, 'UTF8')))
    || convert_to(topic, 'UTF8')
    || state)
$$;

CREATE OR REPLACE FUNCTION careledger.chain_event() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  previous bytea;
BEGIN
  IF NEW.originator_version = 1 THEN
    previous := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
  ELSE
    SELECT e.event_hash INTO previous FROM careledger.careledger_events e
     WHERE e.originator_id = NEW.originator_id
       AND e.originator_version = NEW.originator_version - 1;
    IF previous IS NULL THEN
      RAISE EXCEPTION 'stream % has no version % to follow', NEW.originator_id,
        NEW.originator_version - 1 USING ERRCODE = 'integrity_constraint_violation';
    END IF;
  END IF;
  NEW.recorded_at := statement_timestamp();
  NEW.previous_hash := previous;
  NEW.event_hash := careledger.event_hash(previous, NEW.originator_id,
    NEW.originator_version, NEW.recorded_at, NEW.topic, NEW.state);
  RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION careledger.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the event log is append-only: % is refused; record an amendment instead',
    TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;

DROP TRIGGER IF EXISTS chain_event ON careledger.careledger_events;
CREATE TRIGGER chain_event BEFORE INSERT ON careledger.careledger_events
  FOR EACH ROW EXECUTE FUNCTION careledger.chain_event();
DROP TRIGGER IF EXISTS append_only ON careledger.careledger_events;
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON careledger.careledger_events
  FOR EACH ROW EXECUTE FUNCTION careledger.refuse_change();
DROP TRIGGER IF EXISTS append_only_truncate ON careledger.careledger_events;
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON careledger.careledger_events
  FOR EACH STATEMENT EXECUTE FUNCTION careledger.refuse_change();

CREATE OR REPLACE FUNCTION careledger.append_events(
  events careledger.stored_event_uuid[],
  idem_principal text, idem_key text, idem_request_hash text, idem_command text)
RETURNS SETOF bigint LANGUAGE plpgsql AS $$
DECLARE
  positions bigint[];
  last_event careledger.stored_event_uuid;
BEGIN
  -- Taken before any position is drawn, held until commit: see log_horizon().
  PERFORM pg_advisory_xact_lock_shared({writer_lock});
  WITH inserted AS (
    INSERT INTO careledger.careledger_events (originator_id, originator_version, topic, state)
    SELECT e.originator_id, e.originator_version, e.topic, e.state FROM unnest(events) e
    RETURNING notification_id)
  SELECT array_agg(notification_id ORDER BY notification_id) INTO positions FROM inserted;
  IF idem_key IS NOT NULL THEN
    last_event := events[array_upper(events, 1)];
    INSERT INTO careledger.idempotency
      (principal, key, request_hash, command, aggregate_id, version, position)
    VALUES (idem_principal, idem_key, idem_request_hash, idem_command,
      last_event.originator_id, last_event.originator_version,
      positions[array_upper(positions, 1)]);
  END IF;
  RETURN QUERY SELECT unnest(positions);
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
""".replace("{writer_lock}", str(WRITER_LOCK))

GRANTS = """
GRANT USAGE ON SCHEMA careledger TO {role};
REVOKE ALL ON ALL TABLES IN SCHEMA careledger FROM {role};
GRANT SELECT, INSERT ON careledger.careledger_events TO {role};
GRANT SELECT, INSERT ON careledger.careledger_snapshots TO {role};
GRANT SELECT, INSERT ON careledger.idempotency TO {role};
GRANT USAGE, SELECT ON SEQUENCE careledger.careledger_events_notification_id_seq TO {role};
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
