"""What every part of the episode's aggregate shares: its state and its rules.

`Referral` is one aggregate made of parts that each hold one stage's commands (planning.py,
treatment.py, amendments.py); they all decide on the state declared here and by the
rules below, which the events (referral_events.py) keep up to date.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from careledger.domain import deadlines
from careledger.domain.clinical import aware
from careledger.domain.errors import InvariantViolated
from careledger.domain.network import Practitioner
from careledger.domain.plan import TreatmentPlan
from careledger.domain.referral_events import ReferralStatus, SessionStatus


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
