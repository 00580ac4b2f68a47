"""The care episode, from the physician's referral to the therapist's discharge.

One aggregate holds the whole episode because its rules span it: no plan without an
assessment, no visit beyond those authorized, nothing after discharge but amendments.
Its events are declared in referral_events.py and amendments.py and named here as the
episode's own (`Referral.Made`); its treatment plan is a value object (plan.py); what
falls due in it is decided in deadlines.py.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from eventsourcing.domain import Aggregate

from careledger.domain import amendments, deadlines
from careledger.domain import referral_events as events
from careledger.domain.amendments import AmendmentWorkflow
from careledger.domain.clinical import (
    Diagnosis,
    GoalOutcome,
    Technique,
    Urgency,
    aware,
)
from careledger.domain.errors import InvalidInput, InvariantViolated
from careledger.domain.network import Clinic, Practitioner
from careledger.domain.patient import Patient
from careledger.domain.plan import PlanStatus, TreatmentPlan
from careledger.domain.planning import Planning
from careledger.domain.referral_events import ReferralStatus, SessionStatus
from careledger.domain.treatment import Treatment

__all__ = ["PlanStatus", "Referral", "ReferralStatus", "SessionStatus"]


class Referral(Planning, Treatment, AmendmentWorkflow, Aggregate):
    """A referral and the episode of care it opens at one clinic of the network."""

    TOPIC = "careledger:Referral"
    #: Version 2 keeps the patient's amendment requests; version 3 holds the plan as a
    #: TreatmentPlan and the first treatment as a date. Older snapshots are upcast.
    class_version = 3

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["amendment_requests"] = {}

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        plan = state.get("plan")
        if isinstance(plan, dict):
            until = plan.get("certified_until")
            state["plan"] = TreatmentPlan(
                plan_id=plan["plan_id"], revision=int(plan["revision"]),
                goal_ids=tuple(plan["goal_ids"]),
                certified_until=date.fromisoformat(until) if until else None,
                certified_revision=plan.get("certified_revision"))
        first = state.get("first_treatment_on")
        if isinstance(first, str):
            state["first_treatment_on"] = date.fromisoformat(first)

    Event = events.Event
    Created = events.Created
    Made = events.Made
    Accepted = events.Accepted
    Declined = events.Declined
    Redirected = events.Redirected
    Cancelled = events.Cancelled
    AssessmentRecorded = events.AssessmentRecorded
    PlanDrafted = events.PlanDrafted
    PlanRevised = events.PlanRevised
    PlanCertified = events.PlanCertified
    PlanRecertified = events.PlanRecertified
    SessionScheduled = events.SessionScheduled
    SessionCompleted = events.SessionCompleted
    SessionCancelled = events.SessionCancelled
    PatientDidNotAttend = events.PatientDidNotAttend
    ProgressReported = events.ProgressReported
    Discharged = events.Discharged
    Amended = amendments.Amended
    AmendmentRequested = amendments.AmendmentRequested
    AmendmentAccepted = amendments.AmendmentAccepted
    AmendmentDenied = amendments.AmendmentDenied
    DisagreementFiled = amendments.DisagreementFiled

    # ------------------------------------------------------------------ making a referral

    @classmethod
    def make(
        cls,
        *,
        physician: Practitioner,
        patient: Patient,
        clinic: Clinic,
        discipline: str,
        diagnosis_codes: list[str],
        precautions: list[str],
        contraindications: list[Technique],
        urgency: Urgency,
        authorized_visits: int,
        reason: str,
        occurred_at: datetime,
        actor: str,
    ) -> Referral:
        aware(occurred_at)
        physician.check_may_refer(occurred_at.date())
        patient.check_shares()
        if not diagnosis_codes:
            raise InvalidInput("a referral carries at least one ICD-10 code", field="diagnoses")
        diagnoses = [Diagnosis.of(code) for code in diagnosis_codes]
        if not clinic.offers(discipline):
            raise InvariantViolated("the clinic does not offer the referred discipline")
        if not 1 <= authorized_visits <= 200:
            raise InvalidInput("authorized visits are 1 to 200", field="authorized_visits")
        return cls._create(
            cls.Made,
            patient_id=patient.id,
            physician_id=physician.id,
            clinic_id=clinic.id,
            discipline=discipline,
            diagnoses=[d.as_dict() for d in diagnoses],
            precautions=[p.strip() for p in precautions if p.strip()],
            contraindications=sorted({str(t) for t in contraindications}),
            urgency=str(urgency),
            authorized_visits=authorized_visits,
            reason=reason,
            occurred_at=occurred_at,
            actor=actor,
        )

    # ------------------------------------------------------------------ the clinic answers

    def accept(self, *, practitioner: Practitioner, occurred_at: datetime, actor: str) -> None:
        self.check_open()
        if self.status != ReferralStatus.PENDING:
            raise InvariantViolated("only a pending referral can be accepted")
        practitioner.check_may_treat(
            discipline=self.discipline, clinic_id=self.clinic_id, on=aware(occurred_at).date()
        )
        self.trigger_event(self.Accepted, practitioner_id=str(practitioner.id),
                           occurred_at=occurred_at, actor=actor)

    def decline(self, *, reason: str, occurred_at: datetime, actor: str) -> None:
        self.check_open()
        if self.status != ReferralStatus.PENDING:
            raise InvariantViolated("only a pending referral can be declined")
        if not reason.strip():
            raise InvalidInput("a decline states its reason", field="reason")
        self.trigger_event(
            self.Declined,
            clinic_id=str(self.clinic_id), reason=reason, occurred_at=aware(occurred_at),
            actor=actor,
        )

    def redirect(self, *, clinic: Clinic, reason: str, occurred_at: datetime, actor: str) -> None:
        """After a decline the physician sends the same referral to another clinic."""
        if self.status != ReferralStatus.DECLINED:
            raise InvariantViolated("only a declined referral can be redirected")
        if str(clinic.id) in self.declined_by:
            raise InvariantViolated("this clinic has already declined the referral")
        if not clinic.offers(self.discipline):
            raise InvariantViolated("the clinic does not offer the referred discipline")
        self.trigger_event(
            self.Redirected,
            clinic_id=str(clinic.id), reason=reason, occurred_at=aware(occurred_at), actor=actor
        )

    def cancel(self, *, reason: str, occurred_at: datetime, actor: str) -> None:
        self.check_open()
        if self.visits_completed:
            raise InvariantViolated("an episode with visits is discharged, not cancelled")
        if not reason.strip():
            raise InvalidInput("a cancellation states its reason", field="reason")
        self.trigger_event(self.Cancelled, reason=reason, occurred_at=aware(occurred_at),
                           actor=actor)

    # ------------------------------------------------------------------ reporting and closing

    def send_progress_report(
        self,
        *,
        report_id: str,
        practitioner: Practitioner,
        summary: str,
        goal_status: list[dict[str, Any]],
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.check_treating(practitioner, occurred_at)
        if not self.visits_completed:
            raise InvariantViolated("a progress report follows at least one visit")
        if not summary.strip():
            raise InvalidInput("a progress report has a summary", field="summary")
        self.trigger_event(
            self.ProgressReported,
            report_id=report_id,
            practitioner_id=str(practitioner.id),
            physician_id=str(self.physician_id),
            visits_to_date=self.visits_completed,
            summary=summary,
            goal_status=goal_status,
            occurred_at=occurred_at,
            actor=actor,
        )

    def discharge(
        self,
        *,
        practitioner: Practitioner,
        outcomes: dict[str, GoalOutcome],
        summary: str,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.check_treating(practitioner, occurred_at)
        plan = self.require_plan()
        if set(outcomes) != set(plan.goal_ids):
            raise InvalidInput("a discharge rates every goal of the plan", field="outcomes")
        self.trigger_event(
            self.Discharged,
            practitioner_id=str(practitioner.id),
            outcomes=[{"goal_id": g, "outcome": str(o)} for g, o in sorted(outcomes.items())],
            summary=summary,
            visits=self.visits_completed,
            occurred_at=occurred_at,
            actor=actor,
        )

    # ------------------------------------------------------------------ questions

    def certification_overdue(self, today: date) -> bool:
        """Past the certified period, or uncertified 30 days after the first treatment
        (deadlines.py: the rule the views and the physician's page use too)."""
        if self.plan is None:
            return False
        return deadlines.certification_overdue(
            certified=self.plan.certified, certified_until=self.plan.certified_until,
            first_treatment_on=self.first_treatment_on, today=today)

    def progress_report_due(self) -> bool:
        return deadlines.progress_report_due(self.visits_completed, self.visits_at_last_report)
