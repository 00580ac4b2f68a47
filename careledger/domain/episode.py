"""What every part of the episode's aggregate shares: its state and its rules.

`Referral` is one aggregate made of parts, one per stage of the episode (intake.py,
assessment.py, planning.py, treatment.py, closing.py, amendments.py). Each declares its
stage's events, its commands, the rules that decide them and their handlers; they all
decide on the state declared here, by the rules below, and the events keep it up to
date. referral.py names every event as the episode's own (`Referral.PlanDrafted`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from careledger.domain import deadlines
from careledger.domain.clinical import aware
from careledger.domain.commands import Change, Command
from careledger.domain.errors import InvariantViolated
from careledger.domain.events import CareEvent
from careledger.domain.network import Practitioner
from careledger.domain.plan import TreatmentPlan

if TYPE_CHECKING:
    from careledger.domain.referral import Referral


class ReferralStatus(StrEnum):
    """Where the referral stands with the clinic it was sent to."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    DISCHARGED = "discharged"


class SessionStatus(StrEnum):
    SCHEDULED = "scheduled"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


class Event(CareEvent):
    TOPIC = "careledger:Referral.Event"


class Created(Event, Aggregate.Created):
    TOPIC = "careledger:Referral.Created"


class EpisodeState:
    """The episode's state (set by its events) and the rules every command checks."""

    if TYPE_CHECKING:  # set by the events (annotations here would make a dataclass)
        id: UUID
        patient_id: UUID
        physician_id: UUID
        clinic_id: UUID
        discipline: str
        diagnoses: list[dict[str, str]]
        precautions: list[str]
        contraindications: list[str]
        urgency: str
        authorized_visits: int
        status: ReferralStatus
        practitioner_id: str | None
        declined_by: list[str]
        assessment_ids: list[str]
        plan: TreatmentPlan | None
        sessions: dict[str, SessionStatus]
        first_treatment_on: date | None
        visits_completed: int
        visits_at_last_report: int
        records: dict[str, str]
        amendment_requests: dict[str, dict[str, Any]]

        def trigger_event(self, event_class: Any, **kwargs: Any) -> None: ...

    CLOSED: ClassVar[frozenset[str]] = frozenset(
        {ReferralStatus.DISCHARGED, ReferralStatus.CANCELLED}
    )

    def check_open(self) -> None:
        if self.status in self.CLOSED:
            raise InvariantViolated(
                f"the episode is {self.status}: only amendments may follow"
            )

    def check_treating(self, practitioner: Practitioner, occurred_at: datetime) -> None:
        self.check_open()
        if self.status != ReferralStatus.ACCEPTED:
            raise InvariantViolated("the referral has not been accepted")
        practitioner.check_may_treat(
            discipline=self.discipline, clinic_id=self.clinic_id, on=aware(occurred_at).date()
        )

    def check_visits_left(self) -> None:
        booked = sum(1 for s in self.sessions.values()
                     if s in (SessionStatus.SCHEDULED, SessionStatus.COMPLETED))
        if not deadlines.visits_left(self.authorized_visits, booked):
            raise InvariantViolated(
                f"all {self.authorized_visits} authorized visits are used or booked"
            )

    def check_contraindications(self, techniques: list[str], override_reason: str | None) -> None:
        flagged = sorted(set(techniques) & set(self.contraindications))
        if flagged and not (override_reason and override_reason.strip()):
            raise InvariantViolated(
                f"contraindicated by the referral: {', '.join(flagged)}; "
                "record an override with a reason to proceed"
            )

    def require_plan(self) -> TreatmentPlan:
        if self.plan is None:
            raise InvariantViolated("the episode has no plan yet")
        return self.plan


@dataclass(frozen=True, kw_only=True)
class OnReferral(Command):
    """A command on an episode that exists: it names its referral."""

    referral_id: UUID


def on_referral(command: OnReferral, decide: Callable[[Referral], None]) -> Change:
    """A decision on the command's episode (what every stage's handlers answer)."""
    from careledger.domain.referral import Referral  # the aggregate these parts make up

    return Change(Referral, command.referral_id, decide)
