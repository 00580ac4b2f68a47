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

from careledger.domain.authorization import Authorization, Visit, allocate, refusal
from careledger.domain.clinical import FunctionalInstrument, aware
from careledger.domain.commands import Change, Command
from careledger.domain.errors import InvalidInput, InvariantViolated
from careledger.domain.events import CareEvent
from careledger.domain.network import Practitioner
from careledger.domain.plan import TreatmentPlan
from careledger.domain.precautions import Applied, precautions_of, screen

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
        #: CodedPrecaution.as_dict() of each the physician picked (precautions.py).
        coded_precautions: list[dict[str, Any]]
        urgency: str
        authorized_visits: int
        #: When the referral was made, as the physician states it.
        made_at: datetime
        #: Authorization.as_state() of each, the referral's own first (authorization.py).
        authorizations: list[dict[str, Any]]
        status: ReferralStatus
        practitioner_id: str | None
        declined_by: list[str]
        assessment_ids: list[str]
        #: The instrument the latest assessment chose (read through `instrument`).
        functional_instrument: str
        plan: TreatmentPlan | None
        sessions: dict[str, SessionStatus]
        #: Per session, what it did beyond the plan, until acknowledged or the plan revised.
        deviations: dict[str, list[str]]
        #: Per message: its thread, kind, sender and recipient, answered, acknowledged.
        messages: dict[str, dict[str, Any]]
        #: The SHA-256 of each document attached to the episode or its messages.
        documents: list[str]
        #: Per session: the day its visit falls on ("on") and, once done, its units by code.
        session_visits: dict[str, dict[str, Any]]
        first_treatment_on: date | None
        visits_completed: int
        visits_at_last_report: int
        records: dict[str, str]
        amendment_requests: dict[str, dict[str, Any]]

        def trigger_event(self, event_class: Any, **kwargs: Any) -> None: ...

    CLOSED: ClassVar[frozenset[str]] = frozenset(
        {ReferralStatus.DISCHARGED, ReferralStatus.CANCELLED}
    )

    @property
    def instrument(self) -> FunctionalInstrument | None:
        """The functional instrument the assessment chose (its scale holds every later
        score); none before the assessment, or in a snapshot taken before it was kept."""
        chosen = self.__dict__.get("functional_instrument")
        return FunctionalInstrument(chosen) if chosen else None

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

    def check_authorized(self, visit: Visit) -> None:
        """The visit fits the authorizations beside every other booked or used visit
        (authorization.py decides which uses which)."""
        others = [v for v in self.visits_held() if v.session_id != visit.session_id]
        allocation = allocate([Authorization.of(a) for a in self.authorizations],
                              [*others, visit])
        if allocation.unplaced:  # this one, or one it would displace: all fitted before
            raise InvariantViolated(refusal(allocation, visit))

    def visits_held(self) -> list[Visit]:
        """Every session that holds a visit: scheduled or completed, on its day."""
        held = []
        for session_id, status in self.sessions.items():
            if status not in (SessionStatus.SCHEDULED, SessionStatus.COMPLETED):
                continue
            visit = self.session_visits.get(session_id, {})
            held.append(Visit(session_id=session_id, on=visit.get("on", self.made_at.date()),
                              completed=status == SessionStatus.COMPLETED,
                              units=dict(visit.get("units", {}))))
        return held

    def check_after_referral(self, occurred_at: datetime, field: str = "occurred_at") -> None:
        """Nothing of the episode happened before the referral that opened it."""
        if aware(occurred_at, field) < self.made_at:
            raise InvalidInput("this happened before the referral it belongs to: "
                               "check the date and time", field=field)

    def screen_techniques(self, applied: list[Applied], override_reason: str | None
                          ) -> dict[str, list[str]]:
        """The referral's contraindicated techniques and its coded precautions
        (precautions.py) applied to a plan's or a note's techniques: what they forbid is
        refused without an override and its reason; what they caution, and what the
        override overrode, go on the event (its `cautions` and `overridden`)."""
        flagged = sorted({str(a.technique) for a in applied} & set(self.contraindications))
        screening = screen(precautions_of(self.coded_precautions), applied)
        refused = [f"contraindicated by the referral: {', '.join(flagged)}"] if flagged else []
        refused += [finding.sentence for finding in screening.contraindicated]
        if refused and not (override_reason and override_reason.strip()):
            unstated = "" if all(a.sites for a in applied) else (
                "; name the body sites of each technique to show where it was applied")
            raise InvariantViolated(
                f"{'; '.join(refused)}{unstated}; record an override with a reason to proceed")
        return {"overridden": refused,
                "cautions": [finding.sentence for finding in screening.cautioned]}

    def require_plan(self) -> TreatmentPlan:
        if self.plan is None:
            raise InvariantViolated("the episode has no plan yet")
        return self.plan


@dataclass(frozen=True, kw_only=True)
class OnReferral(Command):
    """A command on an episode that exists: it names its referral."""

    referral_id: UUID


def on_referral(command: OnReferral, decide: Callable[[Referral], None]) -> Change:
    """A decision on the command's episode (what every stage's handlers answer), which
    nothing precedes: whatever it records happened after the referral."""
    from careledger.domain.referral import Referral  # the aggregate these parts make up

    def deciding(referral: Referral) -> None:
        referral.check_after_referral(command.occurred_at)
        decide(referral)

    return Change(Referral, command.referral_id, deciding)
