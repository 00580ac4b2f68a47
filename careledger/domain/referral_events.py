"""The events of a care episode, from the physician's referral to the discharge.

Each is declared once, with its stable topic, its fields and what it changes (`apply`);
`Referral` (referral.py) names them as its own (`Referral.Made`), so they are stored and
found under those names. The patient's requests to amend are in amendments.py.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from careledger.domain import icd10
from careledger.domain.clinical import AmendableRecord
from careledger.domain.events import CareEvent
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


class Made(Created):
    """The physician's referral. Version 2 carries diagnoses with their descriptions."""

    TOPIC = "careledger:Referral.Made"
    class_version = 2

    patient_id: UUID
    physician_id: UUID
    clinic_id: UUID
    discipline: str
    diagnoses: list[dict[str, str]]
    precautions: list[str]
    contraindications: list[str]
    urgency: str
    authorized_visits: int
    reason: str

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """Version 1 stored bare codes under 'icd10_codes'."""
        codes = state.pop("icd10_codes")
        state["diagnoses"] = [{"code": c, "description": icd10.description(c)}
                              for c in codes]

    def apply(self, referral: Referral) -> None:
        referral.patient_id = self.patient_id
        referral.physician_id = self.physician_id
        referral.clinic_id = self.clinic_id
        referral.discipline = self.discipline
        referral.diagnoses = list(self.diagnoses)
        referral.precautions = list(self.precautions)
        referral.contraindications = list(self.contraindications)
        referral.urgency = self.urgency
        referral.authorized_visits = self.authorized_visits
        referral.status = ReferralStatus.PENDING
        referral.practitioner_id = None
        referral.declined_by = []
        referral.assessment_ids = []
        referral.plan = None
        referral.sessions = {}
        referral.first_treatment_on = None
        referral.visits_completed = 0
        referral.visits_at_last_report = 0
        referral.records = {str(referral.id): AmendableRecord.REFERRAL.value}
        referral.amendment_requests = {}


class Accepted(Event):
    TOPIC = "careledger:Referral.Accepted"
    practitioner_id: str

    def apply(self, referral: Referral) -> None:
        referral.status = ReferralStatus.ACCEPTED
        referral.practitioner_id = self.practitioner_id


class Declined(Event):
    TOPIC = "careledger:Referral.Declined"
    clinic_id: str
    reason: str

    def apply(self, referral: Referral) -> None:
        referral.status = ReferralStatus.DECLINED
        referral.declined_by.append(self.clinic_id)


class Redirected(Event):
    TOPIC = "careledger:Referral.Redirected"
    clinic_id: str
    reason: str

    def apply(self, referral: Referral) -> None:
        referral.clinic_id = UUID(self.clinic_id)
        referral.status = ReferralStatus.PENDING


class Cancelled(Event):
    TOPIC = "careledger:Referral.Cancelled"
    reason: str

    def apply(self, referral: Referral) -> None:
        referral.status = ReferralStatus.CANCELLED


class AssessmentRecorded(Event):
    TOPIC = "careledger:Referral.AssessmentRecorded"
    assessment_id: str
    practitioner_id: str
    history: str
    pain_nprs: int
    range_of_motion: list[dict[str, Any]]
    muscle_tests: list[dict[str, Any]]
    functional_instrument: str
    functional_score: float
    findings: str
    red_flags: list[str]

    def apply(self, referral: Referral) -> None:
        referral.assessment_ids.append(self.assessment_id)
        referral.records[self.assessment_id] = AmendableRecord.ASSESSMENT.value


class PlanDrafted(Event):
    TOPIC = "careledger:Referral.PlanDrafted"
    plan_id: str
    practitioner_id: str
    goals: list[dict[str, Any]]
    techniques: list[str]
    frequency_per_week: int
    duration_weeks: int
    override_reason: str | None

    def apply(self, referral: Referral) -> None:
        referral.plan = TreatmentPlan(plan_id=self.plan_id, revision=1,
                                      goal_ids=tuple(g["goal_id"] for g in self.goals))
        referral.records[self.plan_id] = AmendableRecord.PLAN.value


class PlanRevised(Event):
    """A revised plan, which needs the physician's signature again. It names no
    practitioner: the episode's is the one who revised it."""

    TOPIC = "careledger:Referral.PlanRevised"
    plan_id: str
    revision: int
    goals: list[dict[str, Any]]
    techniques: list[str]
    frequency_per_week: int
    duration_weeks: int
    reason: str
    override_reason: str | None

    def apply(self, referral: Referral) -> None:
        referral.plan = referral.require_plan().revised(
            self.revision, tuple(g["goal_id"] for g in self.goals))


class PlanCertified(Event):
    TOPIC = "careledger:Referral.PlanCertified"
    plan_id: str
    revision: int
    physician_id: str
    certified_from: date
    certified_until: date

    def apply(self, referral: Referral) -> None:
        referral.plan = referral.require_plan().certified_to(self.certified_until)


class PlanRecertified(Event):
    TOPIC = "careledger:Referral.PlanRecertified"
    plan_id: str
    revision: int
    physician_id: str
    certified_from: date
    certified_until: date

    def apply(self, referral: Referral) -> None:
        referral.plan = referral.require_plan().recertified_to(self.certified_until)


class SessionScheduled(Event):
    TOPIC = "careledger:Referral.SessionScheduled"
    session_id: str
    practitioner_id: str
    scheduled_for: datetime
    location: str

    def apply(self, referral: Referral) -> None:
        referral.sessions[self.session_id] = SessionStatus.SCHEDULED


class SessionCompleted(Event):
    TOPIC = "careledger:Referral.SessionCompleted"
    session_id: str
    practitioner_id: str
    soap: dict[str, str]
    techniques: list[dict[str, Any]]
    pain_before: int
    pain_after: int
    location: str
    functional_score: float | None
    goal_measurements: list[dict[str, Any]]
    billing_lines: list[dict[str, Any]]
    total_timed_minutes: int
    total_units: int
    override_reason: str | None

    def apply(self, referral: Referral) -> None:
        referral.sessions[self.session_id] = SessionStatus.COMPLETED
        referral.visits_completed += 1
        if referral.first_treatment_on is None:  # the day as the note states it
            referral.first_treatment_on = self.occurred_at.date()
        referral.records[self.session_id] = AmendableRecord.SESSION.value


class SessionCancelled(Event):
    TOPIC = "careledger:Referral.SessionCancelled"
    session_id: str
    reason: str

    def apply(self, referral: Referral) -> None:
        referral.sessions[self.session_id] = SessionStatus.CANCELLED


class PatientDidNotAttend(Event):
    TOPIC = "careledger:Referral.PatientDidNotAttend"
    session_id: str

    def apply(self, referral: Referral) -> None:
        referral.sessions[self.session_id] = SessionStatus.NO_SHOW


class ProgressReported(Event):
    TOPIC = "careledger:Referral.ProgressReported"
    report_id: str
    practitioner_id: str
    physician_id: str
    visits_to_date: int
    summary: str
    goal_status: list[dict[str, Any]]

    def apply(self, referral: Referral) -> None:
        referral.visits_at_last_report = self.visits_to_date
        referral.records[self.report_id] = AmendableRecord.PROGRESS_REPORT.value


class Discharged(Event):
    TOPIC = "careledger:Referral.Discharged"
    practitioner_id: str
    outcomes: list[dict[str, str]]
    summary: str
    visits: int

    def apply(self, referral: Referral) -> None:
        referral.status = ReferralStatus.DISCHARGED
        referral.records["discharge"] = AmendableRecord.DISCHARGE.value
