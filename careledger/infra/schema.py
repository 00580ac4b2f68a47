"""The event store's schema, roles and guarantees; `careledger migrate` applies it.

Two parts. The tables, types and indexes change only through versioned migrations,
plain SQL in `migrations/` applied once each and recorded by yoyo (`0001.baseline.sql`
is the schema as it stood when they began). The functions, triggers, grants, the
application's role and the live views are defined here and applied at every
`careledger migrate`: each is safe to run again, so the code's version always wins.

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

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import Connection, sql

from careledger.infra.access_schema import ACCESS_DDL
from careledger.infra.append_only import append_only
from careledger.infra.backfills import VIEW_BACKFILLS
from careledger.infra.certificates import CERTIFICATES_DDL
from careledger.infra.changes import CHANGES_DDL
from careledger.infra.consent_schema import CONSENT_DDL, CONSENT_TOPICS_SQL
from careledger.infra.documents import DOCUMENTS_DDL
from careledger.projections import VIEWS_SCHEMA, VIEWS_VERSION, all_projections
from careledger.projections.bookkeeping import TRACKING_DDL

SCHEMA = "careledger"
EVENTS = "careledger_events"
SNAPSHOTS = "careledger_snapshots"
#: The advisory lock every appending transaction holds, shared, until it ends.
WRITER_LOCK = 0x0CA2E  # "care"

ROUTINES = r"""
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
-- (The log itself is append-only: append_only(EVENTS), after these routines.)

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
    RETURNING notification_id, originator_id, topic,
      CASE WHEN topic IN ({consent_topics}) THEN state END AS state),
  -- A consent decision is also written where access reads it: in this transaction, so a
  -- revocation holds as soon as its command answers (consent_schema.py).
  consented AS (
    INSERT INTO careledger.consent_decisions
    SELECT (careledger.consent_decision_of(i.notification_id, i.originator_id, i.topic,
                                           i.state, recorded)).*
      FROM inserted i WHERE i.state IS NOT NULL)
  SELECT array_agg(notification_id ORDER BY notification_id) INTO positions FROM inserted;
  -- After the positions are drawn: a relay that marks itself resting, then looks at the
  -- log horizon, either waits for this transaction there or is notified by it.
  IF EXISTS (SELECT 1 FROM careledger.relay_wake
              WHERE resting AND since > now() - interval '30 seconds') THEN
    PERFORM pg_notify('careledger_log', '');
  END IF;
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

""".replace("{writer_lock}", str(WRITER_LOCK)).replace(
    "{consent_topics}", CONSENT_TOPICS_SQL) + append_only(EVENTS) + ACCESS_DDL + CONSENT_DDL \
    + DOCUMENTS_DDL + CERTIFICATES_DDL + CHANGES_DDL

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
GRANT SELECT, INSERT, UPDATE ON careledger.relay_wake TO {role};
GRANT SELECT ON careledger.view_generations TO {role};
GRANT SELECT ON careledger.access_log TO {role};
GRANT SELECT ON careledger.emergency_grants TO {role};
GRANT SELECT ON careledger.consent_decisions TO {role};
GRANT SELECT, INSERT ON careledger.documents TO {role};
GRANT SELECT, INSERT ON careledger.certificates TO {role};
GRANT SELECT, INSERT ON careledger.checkpoints TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON careledger.page_sessions TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON careledger.rate_windows TO {role};
GRANT SELECT, INSERT, DELETE ON careledger.view_changes TO {role};
GRANT USAGE, SELECT ON SEQUENCE careledger.view_changes_seq_seq TO {role};
GRANT USAGE ON SEQUENCE careledger.checkpoints_id_seq TO {role};
GRANT SELECT ON SEQUENCE careledger.careledger_events_notification_id_seq TO {role};
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA careledger TO {role};
"""


#: The versioned migrations (plain SQL, applied once each, in order, by yoyo).
MIGRATIONS = Path(__file__).parent / "migrations"
#: Where yoyo records which were applied, and when (apart from the data).
VERSIONS_SCHEMA = "careledger_migrations"


def migrate(admin_url: str, *, app_role: str, app_password: str) -> list[str]:
    """Bring the schema up to date; answer the versioned migrations applied now.

    First the versioned migrations still pending, each once, recorded; then what is
    safe to run again and so runs every time: the application's role, the functions,
    the triggers, the grants and the live generation of the views. One migration at a
    time across processes (an advisory lock, released even if the process dies).
    """
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute("SELECT pg_advisory_lock(%s)", (WRITER_LOCK + 1,))
        try:
            applied = _apply_versions(admin_url)
            with admin.transaction():
                _apply_repeatable(admin, app_role=app_role, app_password=app_password)
        finally:
            admin.execute("SELECT pg_advisory_unlock(%s)", (WRITER_LOCK + 1,))
    return applied


def pending_versions(admin_url: str) -> tuple[list[str], list[str]]:
    """The versioned migrations applied, and those still to apply, by id."""
    with _versions(admin_url) as (backend, migrations):
        pending = {m.id for m in backend.to_apply(migrations)}
    return ([m.id for m in migrations if m.id not in pending],
            [m.id for m in migrations if m.id in pending])


@contextmanager
def _versions(admin_url: str) -> Iterator[tuple[Any, Any]]:
    """yoyo's view of this database (its records in VERSIONS_SCHEMA), and the migrations."""
    from yoyo import get_backend, read_migrations

    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
            sql.Identifier(VERSIONS_SCHEMA)))
    parts = urlsplit(admin_url)
    query = "&".join(q for q in (parts.query, f"schema={VERSIONS_SCHEMA}") if q)
    backend = get_backend(urlunsplit(parts._replace(scheme="postgresql+psycopg", query=query)))
    try:
        yield backend, read_migrations(str(MIGRATIONS))
    finally:
        backend.connection.close()


def _apply_versions(admin_url: str) -> list[str]:
    with _versions(admin_url) as (backend, migrations):
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return [m.id for m in pending]


def _apply_repeatable(admin: Connection[object], *, app_role: str, app_password: str) -> None:
    exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (app_role,)).fetchone()
    role = sql.Identifier(app_role)
    verb = sql.SQL("ALTER") if exists else sql.SQL("CREATE")
    admin.execute(sql.SQL("{} ROLE {} LOGIN PASSWORD {} NOSUPERUSER NOCREATEDB NOCREATEROLE")
                  .format(verb, role, sql.Literal(app_password)))
    admin.execute(ROUTINES.encode())
    admin.execute(sql.SQL(GRANTS).format(role=role))
    live: Any = admin.execute(
        "SELECT schema FROM careledger.view_generations WHERE name = 'live'").fetchone()
    schema = str(live[0]) if live else VIEWS_SCHEMA
    create_views(admin, app_role=app_role, schema=schema)
    # A generation that holds nothing yet will be built by this release's handlers.
    tables = ["tracking", *(t.name for p in all_projections() for t in p.tables)]
    empty = sql.SQL(" AND ").join(
        sql.SQL("NOT EXISTS (SELECT 1 FROM {}.{})").format(sql.Identifier(schema),
                                                         sql.Identifier(t)) for t in tables)
    admin.execute(sql.SQL(
        "UPDATE careledger.view_generations SET views_version = %s WHERE name = 'live'"
        " AND views_version <> %s AND {}").format(empty), (VIEWS_VERSION, VIEWS_VERSION))


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
