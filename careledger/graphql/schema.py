"""The read API over the views (Strawberry): patients, worklists, audit.

Errors carry a code in `extensions` (NOT_FOUND, UNAUTHENTICATED, BAD_INPUT); anything
unexpected is masked, so no error ever echoes patient data.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import asdict
from datetime import date, datetime
from typing import Any
from uuid import UUID

import strawberry
from graphql import ASTValidationRule, GraphQLError
from psycopg import sql
from psycopg.rows import dict_row
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.scalars import JSON
from strawberry.types import Info

from careledger.audit.disclosures import disclosures
from careledger.domain.catalogue import record_of
from careledger.domain.patient import Patient as PatientRecord
from careledger.domain.referral import Referral
from careledger.gateways.auth import Principal
from careledger.graphql.access import MIN_REASON, PatientNotFound, authorize, may_audit
from careledger.graphql.access_log import ACCESS_LOG, Read
from careledger.graphql.chart import PatientChart
from careledger.graphql.context import (
    Context,
    PublicError,
    caught_up,
    live_views,
    principal_of,
    read_views,
)
from careledger.graphql.cursor import check_first, decode_cursor, encode_cursor
from careledger.graphql.directory import DirectoryQuery
from careledger.graphql.execution import PlainLeafExecutor
from careledger.graphql.viewer import ViewerQuery
from careledger.graphql.worklists import WorklistQuery
from careledger.infra import telemetry

log = logging.getLogger(__name__)

#: What a timeline event shows, in the order of TimelineEvent's fields.
TIMELINE_COLUMNS = ("position, kind, occurred_at, recorded_at, actor, clinic_id, practitioner_id,"
                    " referral_id, record_id, amends_record_id, data")

#: The most timeline events one page returns.
MAX_PAGE = 100
#: Bounds on one query's size: a few aliases are handy, hundreds are a scraping attempt.
MAX_ALIASES = 15
MAX_TOKENS = 2000
MAX_DEPTH = 8
#: Distinct query texts whose parse and validation are kept: clients send a few
#: dozen; a bound keeps made-up ones from growing memory.
CACHED_QUERIES = 256


def not_found() -> PublicError:
    return PublicError("no patient with that id", "NOT_FOUND")


@strawberry.type
class TimelineEvent:
    position: int
    kind: str
    occurred_at: datetime | None
    recorded_at: datetime
    actor: str | None
    clinic_id: UUID | None
    practitioner_id: UUID | None
    referral_id: UUID | None
    record_id: str | None
    amends_record_id: str | None
    data: JSON
    amendments: list[TimelineEvent] = strawberry.field(
        default_factory=list, description="Later amendments of this record, oldest first: "
        "the original stays as it was recorded.")


@strawberry.type
class TimelinePage:
    events: list[TimelineEvent]
    end_cursor: str | None
    has_next_page: bool


@strawberry.type
class GoalOutcome:
    referral_id: UUID
    plan_id: str
    goal_id: str
    description: str
    metric: str
    unit: str
    baseline: float
    target: float
    due: date | None
    latest: float | None
    measured_at: datetime | None
    percent_of_way: float | None
    outcome: str | None


@strawberry.type
class Patient(PatientChart):
    id: UUID

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Every event of the patient's care across clinics, in valid-time "
        "order. `asOf`: as the record stood at that moment (transaction time); "
        "`validAt`: what had happened by then.")
    def timeline(self, info: Info[Context, None], as_of: datetime | None = None,
                 valid_at: datetime | None = None, kinds: list[str] | None = None,
                 clinic_id: UUID | None = None, practitioner_id: UUID | None = None,
                 since: datetime | None = None, until: datetime | None = None,
                 first: int = 50, after: str | None = None) -> TimelinePage:
        check_first(first, MAX_PAGE)
        start = decode_cursor(after, int)
        query = sql.SQL(
            f"SELECT {TIMELINE_COLUMNS} FROM {{v}}.timeline"
            " WHERE patient_id = %(patient)s"
            " AND (%(as_of)s::timestamptz IS NULL OR recorded_at <= %(as_of)s)"
            " AND (%(valid_at)s::timestamptz IS NULL OR occurred_at <= %(valid_at)s)"
            " AND (%(kinds)s::text[] IS NULL OR kind = ANY(%(kinds)s))"
            " AND (%(clinic)s::uuid IS NULL OR clinic_id = %(clinic)s)"
            " AND (%(practitioner)s::uuid IS NULL OR practitioner_id = %(practitioner)s)"
            " AND (%(since)s::timestamptz IS NULL OR occurred_at >= %(since)s)"
            " AND (%(until)s::timestamptz IS NULL OR occurred_at < %(until)s)"
            # After the cursor, in (occurred_at, position) order with undated rows last.
            " AND (NOT %(paged)s OR CASE WHEN %(after_at)s::timestamptz IS NULL"
            " THEN occurred_at IS NULL AND position > %(after_position)s"
            " ELSE occurred_at IS NULL OR (occurred_at, position) >"
            " (%(after_at)s, %(after_position)s) END)"
            " ORDER BY occurred_at, position LIMIT %(limit)s"
        )
        with info.context.pool.connection() as conn:
            views = live_views(info, conn)
            rows = conn.cursor(row_factory=dict_row).execute(query.format(
                v=sql.Identifier(views)), {
                "patient": self.id, "as_of": as_of, "valid_at": valid_at, "kinds": kinds,
                "clinic": clinic_id, "practitioner": practitioner_id, "since": since,
                "until": until,
                "paged": start is not None, "after_at": start[0] if start else None,
                "after_position": start[1] if start else None, "limit": first + 1,
            }).fetchall()
            events = [TimelineEvent(**row) for row in rows[:first]]
            if _selects(info.selected_fields, ("timeline", "events", "amendments")):
                self._attach_amendments(conn, views, events, as_of)
        last = events[-1] if events else None
        return TimelinePage(
            events=events,
            end_cursor=encode_cursor(last.occurred_at, last.position) if last else None,
            has_next_page=len(rows) > first,
        )

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Each plan goal: baseline, latest measurement, target, how far along, "
        "and at discharge whether it was met.")
    def goals(self, info: Info[Context, None]) -> list[GoalOutcome]:
        rows = read_views(
            info, "SELECT referral_id, plan_id, goal_id, description, metric, unit, baseline,"
            " target, due, latest, measured_at, percent_of_way, outcome FROM {v}.goals"
            " WHERE patient_id = %s ORDER BY referral_id, goal_id", (self.id,))
        return [GoalOutcome(**row) for row in rows]

    def _attach_amendments(self, conn: Any, views: str, events: list[TimelineEvent],
                           as_of: datetime | None) -> None:
        """One query for the whole page (no query per event)."""
        records = {(e.referral_id, e.record_id): e for e in events if e.record_id}
        if not records:
            return
        rows = conn.cursor(row_factory=dict_row).execute(sql.SQL(
            f"SELECT {TIMELINE_COLUMNS} FROM {{v}}.timeline"
            " WHERE patient_id = %s AND amends_record_id = ANY(%s)"
            " AND (%s::timestamptz IS NULL OR recorded_at <= %s) ORDER BY position"
        ).format(v=sql.Identifier(views)), (self.id, [r for _, r in records], as_of, as_of)
        ).fetchall()
        for row in rows:
            original = records.get((row["referral_id"], row["amends_record_id"]))
            if original is not None:
                original.amendments.append(TimelineEvent(**row))


@strawberry.type
class PatientQuery:
    @strawberry.field(  # type: ignore[untyped-decorator]
        description="A patient you may see; anyone else is 'not found'. Outside the "
        "care team, `emergencyReason` breaks the glass for four hours, flagged for review. "
        "`minPosition` (or the CareLedger-Min-Position header) waits until the views hold "
        "that log position: read your own writes.")
    def patient(self, info: Info[Context, None], id: UUID,
                emergency_reason: str | None = None,
                min_position: int | None = None) -> Patient:
        principal = principal_of(info)
        caught_up(info, min_position)
        if emergency_reason is not None and len(emergency_reason.strip()) < MIN_REASON:
            raise PublicError(f"an emergency access states why, in at least {MIN_REASON}"
                              " characters", "BAD_INPUT")
        asked = ",".join(sorted(f.name for f in info.selected_fields[0].selections
                                if hasattr(f, "name")))
        with info.context.pool.connection() as conn:
            try:
                authorize(conn, live_views(info, conn), principal, id, f"patient:{asked}",
                          emergency_reason)
            except PatientNotFound:
                raise not_found() from None
        return Patient(id=id)


@strawberry.type
class AuditEvent:
    """An event exactly as the log holds it, with the store's stamps and hash chain."""

    position: int
    version: int
    type: str
    occurred_at: datetime | None
    recorded_at: datetime
    actor: str | None
    hash: str
    previous_hash: str
    state: JSON


@strawberry.type
class AccessEntry:
    at: datetime
    principal: UUID
    role: str
    fields: str
    allowed: bool
    basis: str | None
    reason: str | None
    hash: str


@strawberry.type
class AuditQuery:
    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Auditors: the raw events of one record (a patient, a referral, a "
        "clinic, a practitioner), oldest first.")
    def audit_trail(self, info: Info[Context, None], aggregate_id: UUID) -> list[AuditEvent]:
        principal = _auditor(info, "no record with that id")
        with info.context.pool.connection() as conn:
            rows = conn.cursor(row_factory=dict_row).execute(
                "SELECT notification_id AS position, originator_version AS version, topic,"
                " state, recorded_at, previous_hash, event_hash FROM careledger.careledger_events"
                " WHERE originator_id = %s ORDER BY originator_version", (aggregate_id,)
            ).fetchall()
            if not rows:
                raise PublicError("no record with that id", "NOT_FOUND")
            patient = _patient_of(info, conn, aggregate_id, rows[0]["topic"])
            ACCESS_LOG.append(conn, [Read(principal.subject, principal.role.value, patient,
                                          f"auditTrail:{aggregate_id}", True, "auditor",
                                          None)])
        return [_audit_event(row) for row in rows]

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Auditors: every read of a patient's data, allowed or denied (an "
        "accounting of disclosures), between two instants.")
    def access_report(self, info: Info[Context, None], patient_id: UUID,
                      since: datetime | None = None,
                      until: datetime | None = None) -> list[AccessEntry]:
        principal = _auditor(info, "no patient with that id")
        with info.context.pool.connection() as conn:
            found = disclosures(conn, patient_id, since=since, until=until,
                                asked_by=principal.subject, asked_as=principal.role.value,
                                asked="accessReport")
        return [AccessEntry(**asdict(d)) for d in found]


@strawberry.type
class EmergencyAccess:
    at: datetime
    principal: UUID
    role: str
    patient_id: UUID
    reason: str | None


@strawberry.type
class ReviewQuery:
    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Auditors: every emergency (break-the-glass) read since an instant, "
        "for review.")
    def emergency_accesses(self, info: Info[Context, None],
                           since: datetime | None = None) -> list[EmergencyAccess]:
        _auditor(info, "nothing to review")
        with info.context.pool.connection() as conn:
            rows = conn.execute(
                "SELECT at, principal, role, patient_id, reason FROM careledger.access_log"
                " WHERE basis = 'emergency' AND (%s::timestamptz IS NULL OR at >= %s)"
                " ORDER BY id", (since, since)).fetchall()
        return [EmergencyAccess(at=r[0], principal=r[1], role=r[2], patient_id=r[3],
                                reason=r[4]) for r in rows]


def _auditor(info: Info[Context, None], missing: str) -> Principal:
    principal = principal_of(info)
    if not may_audit(principal):
        raise PublicError(missing, "NOT_FOUND")  # as if there were nothing to see
    return principal


def _patient_of(info: Info[Context, None], conn: Any, aggregate_id: UUID,
                topic: str) -> UUID | None:
    record = record_of(topic)
    if record is PatientRecord:
        return aggregate_id
    if record is Referral:
        row = conn.execute(sql.SQL("SELECT patient_id FROM {v}.referrals WHERE referral_id = %s")
                           .format(v=sql.Identifier(live_views(info, conn))),
                           (aggregate_id,)).fetchone()
        return row[0] if row else None
    return None


def _audit_event(row: dict[str, Any]) -> AuditEvent:
    state = json.loads(bytes(row["state"]))
    occurred = state.get("occurred_at")
    if isinstance(occurred, dict):
        occurred = occurred.get("_data_")
    return AuditEvent(
        position=row["position"], version=row["version"], type=row["topic"],
        occurred_at=datetime.fromisoformat(occurred) if isinstance(occurred, str) else None,
        recorded_at=row["recorded_at"], actor=state.get("actor"),
        hash=bytes(row["event_hash"]).hex(), previous_hash=bytes(row["previous_hash"]).hex(),
        state=state,
    )


def _selects(selections: Any, path: tuple[str, ...]) -> bool:
    """Whether the query asks for a nested field (through fragments, too)."""
    for selection in selections:
        name = getattr(selection, "name", None)
        if name is None:  # a fragment: look inside it
            if _selects(selection.selections, path):
                return True
        elif name == path[0] and (len(path) == 1
                                  or _selects(selection.selections, path[1:])):
            return True
    return False


@strawberry.type
class Query(PatientQuery, AuditQuery, ReviewQuery, WorklistQuery, DirectoryQuery, ViewerQuery):
    """The read API."""


class Schema(strawberry.Schema):
    """Errors are logged by their code and path only: a query's text may hold patient data."""

    def process_errors(self, errors: list[GraphQLError],
                       execution_context: Any = None) -> None:
        for error in errors:
            original = error.original_error
            if original is None:
                log.info("graphql: an invalid query was refused")  # its text may quote data
            elif isinstance(original, PublicError):
                log.info("graphql: %s at %s", (original.extensions or {}).get("code"),
                         error.path)
            else:
                log.error("graphql: unexpected %s at %s", type(original).__name__, error.path)


#: Made once, so that a query's validation is cached under the same rules every time
#: (Strawberry's limiter extensions make new rule classes per request: never a hit).
LIMITS: list[type[ASTValidationRule]] = [depth_rule(MAX_DEPTH, None),
                                          aliases_rule(MAX_ALIASES)]


class Observed(SchemaExtension):
    """A span and a latency figure per operation, named by the operation (never its text)."""

    def on_operation(self) -> Iterator[None]:
        if not telemetry.enabled():
            yield
            return
        started = time.perf_counter()
        with telemetry.tracer.start_as_current_span("graphql") as span:
            yield
            name = self.execution_context.operation_name or "anonymous"
            span.update_name(f"graphql {name}")
            span.set_attribute("graphql.operation.name", name)
        telemetry.graphql_seconds.record(time.perf_counter() - started, {"operation": name})


class Limits(AddValidationRules):
    """Depth and alias limits, checked before any resolver runs."""

    def __init__(self) -> None:
        super().__init__(LIMITS)


schema = Schema(
    query=Query,
    execution_context_class=PlainLeafExecutor,
    extensions=[
        Observed,
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        Limits,
        lambda: ParserCache(maxsize=CACHED_QUERIES),
        lambda: ValidationCache(maxsize=CACHED_QUERIES),
        # Unexpected failures become "Unexpected error."; ours, and the validation
        # errors about the query text itself, pass through.
        lambda: MaskErrors(should_mask_error=lambda error: error.original_error is not None
                           and not isinstance(error.original_error, PublicError)),
    ],
)
