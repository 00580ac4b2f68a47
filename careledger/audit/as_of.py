"""The record as it stood at a moment, and what changed in a patient's record since.

Transaction time is the store's `recorded_at`, stamped as each event was appended and
never set by the application. Replaying the log up to a moment rebuilds every view as
anyone could have read it then, in a schema of its own, beside the live views and
without touching them. A diff between two moments names the events recorded in
between (what was done, by whom, when it happened and when it was written down) and
the rows of the patient's views they changed.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from careledger.consumers.applier import ViewApplier
from careledger.consumers.envelopes import Streams, envelope_of
from careledger.consumers.replay import replay
from careledger.domain.application import CareLedger
from careledger.infra.database import Database
from careledger.infra.eventstore import read_patient_log
from careledger.infra.schema import create_views
from careledger.infra.settings import APP_ROLE
from careledger.projections import all_projections

#: A schema name an as-of replay may take: plain, and never one the system owns (the
#: live views and every generation of them included).
SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
RESERVED = re.compile(r"^(careledger|careledger_views.*|pg_.*|public|information_schema)$")


class AsOfError(ValueError):
    """A request this module refuses, with what to do instead."""


@dataclass(frozen=True)
class Replayed:
    schema: str
    as_of: datetime
    position: int
    events: int


def replay_as_of(app: CareLedger, db: Database, as_of: datetime, *, schema: str | None = None,
                 replace: bool = False, progress: Callable[[int, int], None] | None = None,
                 ) -> Replayed:
    """Every view as it stood at `as_of`, replayed into `schema` (named for the moment)."""
    if as_of.tzinfo is None:
        raise AsOfError("give the moment with its time zone, e.g. 2026-03-02T09:00:00+00:00")
    name = schema or "careledger_asof_" + as_of.strftime("%Y%m%d%H%M%S")
    if not SCHEMA_NAME.match(name) or RESERVED.match(name):
        raise AsOfError(f"{name!r} cannot hold a replay: use lowercase letters, digits and _,"
                        " and not a schema CareLedger owns")
    with psycopg.connect(db.admin_url, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s",
                               (name,)).fetchone()
        if exists and not replace:
            raise AsOfError(f"schema {name} exists: pass --replace to replay into it afresh")
        if exists:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))
        create_views(admin, app_role=APP_ROLE, schema=name)
    applied = 0

    def count(n: int, position: int) -> None:
        nonlocal applied
        applied += n
        if progress is not None:
            progress(n, position)

    position = replay(app, db.app_url, name, recorded_until=as_of,
                      progress=count)
    return Replayed(schema=name, as_of=as_of, position=position, events=applied)


@dataclass(frozen=True)
class Recorded:
    """One event recorded between the two moments: the cause of a change."""

    position: int
    recorded_at: datetime
    occurred_at: datetime | None
    kind: str
    record_id: UUID
    actor: str | None


@dataclass(frozen=True)
class RowChange:
    """One row of a view that differs: added, removed, or changed (before and after)."""

    table: str
    change: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True)
class PatientDiff:
    patient_id: UUID
    since: datetime
    until: datetime
    events: list[Recorded]
    rows: list[RowChange]


def diff_patient(app: CareLedger, db: Database, patient_id: UUID, since: datetime,
                 until: datetime) -> PatientDiff:
    """What changed in one patient's record between two moments, and who changed it.

    The patient's own streams (the patient and every referral for them, found in the
    log by index) are replayed
    twice into scratch schemas, as of each moment; their views' rows for the patient
    are compared and the scratch schemas dropped. Views of the whole network (the
    directory) are not part of a patient's record and are left out.
    """
    if since.tzinfo is None or until.tzinfo is None:
        raise AsOfError("give both moments with their time zone")
    if since > until:
        raise AsOfError("the first moment comes after the second: swap them")
    with psycopg.connect(db.app_url) as conn:
        entries = read_patient_log(conn, patient_id, as_of=until)
    concerns = Streams(app)
    envelopes = [envelope_of(app, concerns, entry) for entry in entries]
    scratch = f"careledger_diff_{uuid.uuid4().hex[:12]}"
    before, after = scratch + "_a", scratch + "_b"
    with psycopg.connect(db.admin_url, autocommit=True) as admin:
        try:
            for name in (before, after):
                create_views(admin, app_role=APP_ROLE, schema=name)
            with psycopg.connect(db.app_url) as conn, conn.transaction(), \
                    conn.cursor() as cur, conn.pipeline():
                ViewApplier(before).apply(cur, [e for e in envelopes
                                                if e.recorded_at <= since])
                ViewApplier(after).apply(cur, envelopes)
            rows = _compare(admin, before, after, patient_id)
        finally:
            for name in (before, after):
                admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    sql.Identifier(name)))
    changes = [Recorded(position=e.position, recorded_at=e.recorded_at,
                        occurred_at=e.occurred_at, kind=e.kind, record_id=e.aggregate_id,
                        actor=e.actor)
               for e in envelopes if e.recorded_at > since]
    return PatientDiff(patient_id=patient_id, since=since, until=until, events=changes,
                       rows=rows)


def _compare(conn: psycopg.Connection[Any], before: str, after: str,
             patient_id: UUID) -> list[RowChange]:
    changes: list[RowChange] = []
    for projection in all_projections():
        for table in (t.name for t in projection.tables):
            columns = [r[0] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s"
                " AND table_name = %s ORDER BY ordinal_position", (before, table)).fetchall()]
            if "patient_id" not in columns:
                continue
            key = _primary_key(conn, before, table)
            old, new = (_rows(conn, schema, table, patient_id, key) for schema in (before, after))
            for k in sorted(old.keys() | new.keys(), key=str):
                if k not in new:
                    changes.append(RowChange(table, "removed", old[k], None))
                elif k not in old:
                    changes.append(RowChange(table, "added", None, new[k]))
                elif old[k] != new[k]:
                    changes.append(RowChange(table, "changed", old[k], new[k]))
    return changes


def _primary_key(conn: psycopg.Connection[Any], schema: str, table: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
        " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary"
        " ORDER BY array_position(i.indkey, a.attnum)",
        (f'"{schema}"."{table}"',)).fetchall()]


def _rows(conn: psycopg.Connection[Any], schema: str, table: str, patient_id: UUID,
          key: list[str]) -> dict[tuple[Any, ...], dict[str, Any]]:
    rows = conn.cursor(row_factory=dict_row).execute(
        sql.SQL("SELECT * FROM {}.{} WHERE patient_id = %s").format(
            sql.Identifier(schema), sql.Identifier(table)), (patient_id,)).fetchall()
    return {tuple(row[k] for k in key): row for row in rows}
