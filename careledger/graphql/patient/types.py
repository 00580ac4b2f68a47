"""What a patient's record shows, as the API returns it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast
from uuid import UUID

import strawberry
from strawberry.scalars import JSON

from careledger.domain.clinical import late_entry
from careledger.domain.corrections import as_amended
from careledger.domain.referral import WRITES_RECORD
from careledger.graphql.corrections import Correction
from careledger.graphql.people import Person

#: By the kind the timeline names an event: the kind of record it writes.
RECORD_KINDS = {event.KIND: str(kind) for event, kind in WRITES_RECORD.items()}


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

    current: JSON = strawberry.field(
        default=None, description="The record as it now stands: `data` with each of "
        "`amendments` applied, oldest first (`data` itself stays as it was recorded).")
    late_entry: bool = strawberry.field(
        default=False, description="Recorded more than 24 hours after it happened: a late "
        "entry, as auditors and payers expect it flagged.")
    by: Person | None = strawberry.field(
        default=None, description="Who recorded it, by name, role and clinic as they were "
        "when it was recorded (`actor` names them by role and id).")

    def settle(self) -> TimelineEvent:
        """Fill the fields that follow from the rest, once the amendments are attached
        (plain attributes, so a page of events is still built in one loop)."""
        self.late_entry = late_entry(self.occurred_at, self.recorded_at)
        kind = RECORD_KINDS.get(self.kind)
        self.current = self.data
        if kind is not None and self.amendments:
            changes = [cast(dict[str, Any], a.data).get("changes") or {}
                       for a in self.amendments]
            self.current = cast(JSON, as_amended(kind, cast(dict[str, Any], self.data),
                                                 changes))
        for amendment in self.amendments:
            amendment.settle()
        return self


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
    corrections: list[Correction] = strawberry.field(
        default_factory=list, description="The original and each amendment of `latest` "
        "(which is as the record now stands), oldest first.")


@strawberry.type
class ProgressPoint:
    """One measurement: the assessment's (the baseline) or a completed session's."""

    occurred_at: datetime | None
    session_id: str | None = strawberry.field(description="None for the assessment.")
    pain_before: int | None
    pain_after: int | None = strawberry.field(description="NPRS 0-10; at the assessment, "
                                              "the pain it recorded.")
    functional_score: float | None = strawberry.field(
        description="The episode's functional instrument's score, on its scale (ODI, NDI "
        "and QuickDASH 0-100, lower is better; LEFS 0-80 and PSFS 0-10, higher is better).")
    tender_points: int | None = strawberry.field(
        default=None, description="Tender points of 18 (ACR 1990), when counted.")
    corrections: list[Correction] = strawberry.field(
        default_factory=list, description="The original and each amendment of these "
        "values, oldest first (the values above are as the record now stands).")


@strawberry.type
class GoalTarget:
    goal_id: str
    description: str
    metric: str
    unit: str
    baseline: float
    target: float
    due: date | None


@strawberry.type
class PlanProgress:
    """One episode's measurements against the goals of its latest plan."""

    referral_id: UUID
    clinic_id: UUID | None
    plan_id: str | None
    instrument: str | None = strawberry.field(description="ODI (low back) or NDI (neck).")
    points: list[ProgressPoint] = strawberry.field(description="In valid-time order.")
    goals: list[GoalTarget]


@strawberry.type
class Provider:
    """A clinic or a practitioner named in the patient's record."""

    id: UUID
    kind: str = strawberry.field(description="clinic or practitioner")
    name: str
    profession: str | None
