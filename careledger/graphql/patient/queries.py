"""A patient's record: found only if the token's care team may see it, logged before
anything is read; the timeline paged by valid time, `asOf` by transaction time."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import strawberry
from psycopg import sql
from psycopg.rows import dict_row

from careledger.access.people import actors_at
from careledger.access.policy import MIN_REASON, PatientNotFound, authorize
from careledger.domain.referral import Referral
from careledger.graphql.billing import PATIENT_LINES, PatientBilling, patient_billing
from careledger.graphql.context import (
    Info,
    PublicError,
    caught_up,
    live_views,
    principal_of,
    read_views,
)
from careledger.graphql.corrections import goal_corrections
from careledger.graphql.cursor import check_first, decode_cursor, encode_cursor
from careledger.graphql.patient.chart import PatientChart
from careledger.graphql.patient.coverage import PatientCoverage
from careledger.graphql.patient.documents import PatientDocuments
from careledger.graphql.patient.messages import PatientMessages
from careledger.graphql.patient.types import GoalOutcome, TimelineEvent, TimelinePage
from careledger.graphql.people import Person

#: What a timeline event shows, in the order of TimelineEvent's fields.
TIMELINE_COLUMNS = ("position, kind, occurred_at, recorded_at, actor, clinic_id, practitioner_id,"
                    " referral_id, record_id, amends_record_id, data")


#: The most timeline events one page returns.
MAX_PAGE = 100


def not_found() -> PublicError:
    return PublicError("no patient with that id", "NOT_FOUND")


@strawberry.type
class Patient(PatientChart, PatientMessages, PatientDocuments, PatientCoverage):
    id: UUID

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Every event of the patient's care across clinics, in valid-time "
        "order. `asOf`: as the record stood at that moment (transaction time); "
        "`validAt`: what had happened by then.")
    def timeline(self, info: Info, as_of: datetime | None = None,
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
            if any(_selects(info.selected_fields, ("timeline", "events", field))
                   for field in ("amendments", "current")):
                self._attach_amendments(conn, views, events, as_of)
            if any(_selects(info.selected_fields, ("timeline", "events", *path, "by"))
                   for path in ((), ("amendments",))):
                _attach_people(conn, views, events)
            for event in events:
                event.settle()
        last = events[-1] if events else None
        return TimelinePage(
            events=events,
            end_cursor=encode_cursor(last.occurred_at, last.position) if last else None,
            has_next_page=len(rows) > first,
        )

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Each completed session's billing lines (CPT, minutes, units: a code "
        "the 8-minute rule gives no units is not billable, its minutes shown) and each "
        "episode's totals, as the record now stands (after amendments).")
    def billing(self, info: Info) -> PatientBilling:
        return patient_billing(read_views(info, PATIENT_LINES, (self.id,)))

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Each plan goal: baseline, latest measurement, target, how far along, "
        "and at discharge whether it was met.")
    def goals(self, info: Info) -> list[GoalOutcome]:
        rows = read_views(
            info, "SELECT g.referral_id, g.plan_id, g.goal_id, g.description, g.metric,"
            " g.unit, g.baseline, g.target, g.due, g.latest, g.measured_at, g.percent_of_way,"
            " g.outcome, o.data AS measured_data, (SELECT json_agg(json_build_object("
            "'changes', a.data -> 'changes', 'reason', a.data ->> 'reason', 'at',"
            " a.recorded_at) ORDER BY a.position) FROM {v}.timeline a"
            " WHERE a.patient_id = g.patient_id AND a.referral_id = g.referral_id"
            " AND a.amends_record_id = g.measured_record AND a.kind = %s) AS amendments"
            " FROM {v}.goals g LEFT JOIN {v}.timeline o ON o.patient_id = g.patient_id"
            " AND o.referral_id = g.referral_id AND o.record_id = g.measured_record"
            " AND o.kind = %s WHERE g.patient_id = %s ORDER BY g.referral_id, g.goal_id",
            (Referral.Amended.KIND, Referral.SessionCompleted.KIND, self.id))
        return [GoalOutcome(**{k: v for k, v in row.items()
                               if k not in ("measured_data", "amendments")},
                            corrections=goal_corrections(row)) for row in rows]

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
    def patient(self, info: Info, id: UUID,
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


def _attach_people(conn: Any, views: str, events: list[TimelineEvent]) -> None:
    """Who recorded each event (and each amendment), as they were then: one query."""
    every = [*events, *(a for e in events for a in e.amendments)]
    people = actors_at(conn, views, [(e.actor, e.recorded_at) for e in every])
    for event in every:
        event.by = Person.of(people[(event.actor, event.recorded_at)])


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
