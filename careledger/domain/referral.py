"""The care episode, from the physician's referral to the therapist's discharge.

One aggregate holds the whole episode because its rules span it: no plan without an
assessment, no visit beyond those authorized, nothing after discharge but amendments.
It is made of one part per stage, each a module holding that stage's events, commands,
rules and handlers: intake.py, assessment.py, planning.py, treatment.py, closing.py,
amendments.py (the state they share is episode.py's). This module makes the referral
and names every event as the episode's own (`Referral.Made`); its treatment plan is a
value object (plan.py); what falls due in it is decided in deadlines.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from careledger.domain import (
    amendments,
    assessment,
    attaching,
    authorizing,
    closing,
    deadlines,
    icd10,
    intake,
    messaging,
    planning,
    treatment,
)
from careledger.domain.amendments import AmendmentWorkflow
from careledger.domain.assessment import Assessing
from careledger.domain.attaching import Attaching
from careledger.domain.authorization import referral_authorization
from careledger.domain.authorizing import Authorizing
from careledger.domain.clinical import (
    AmendableRecord,
    Diagnosis,
    Discipline,
    Technique,
    Urgency,
    aware,
)
from careledger.domain.closing import Closing
from careledger.domain.commands import Command, Create, Decision, Handler, Reader
from careledger.domain.documents import checked_name
from careledger.domain.episode import Created, Event, ReferralStatus, SessionStatus
from careledger.domain.errors import InvalidInput, InvariantViolated
from careledger.domain.intake import Intake
from careledger.domain.messaging import Messaging
from careledger.domain.network import Clinic, Practitioner
from careledger.domain.patient import Patient
from careledger.domain.plan import PlanStatus, TreatmentPlan
from careledger.domain.planning import Planning
from careledger.domain.precautions import CodedPrecaution
from careledger.domain.treatment import Treatment

__all__ = ["PlanStatus", "Referral", "ReferralStatus", "SessionStatus"]


class Made(Created):
    """The physician's referral. Version 2 carries diagnoses with their descriptions,
    version 3 the coded precautions (precautions.py) beside the free text and the signed
    referral (a document attached to the patient)."""

    TOPIC = "careledger:Referral.Made"
    class_version = 3

    patient_id: UUID
    physician_id: UUID
    clinic_id: UUID
    discipline: str
    diagnoses: list[dict[str, str]]
    precautions: list[str]
    coded_precautions: list[dict[str, Any]]
    contraindications: list[str]
    urgency: str
    authorized_visits: int
    reason: str
    #: The SHA-256 of the signed referral, a document attached to the patient.
    signed_form: str | None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """Version 1 stored bare codes under 'icd10_codes'."""
        codes = state.pop("icd10_codes")
        state["diagnoses"] = [{"code": c, "description": icd10.description(c)}
                              for c in codes]

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        state["coded_precautions"] = []
        state["signed_form"] = None

    def apply(self, referral: Referral) -> None:
        referral.patient_id = self.patient_id
        referral.physician_id = self.physician_id
        referral.clinic_id = self.clinic_id
        referral.discipline = self.discipline
        referral.diagnoses = list(self.diagnoses)
        referral.precautions = list(self.precautions)
        referral.coded_precautions = list(self.coded_precautions)
        referral.contraindications = list(self.contraindications)
        referral.urgency = self.urgency
        referral.authorized_visits = self.authorized_visits
        referral.made_at = self.occurred_at
        referral.authorizations = [referral_authorization(
            self.authorized_visits, self.occurred_at.date()).as_state()]
        referral.session_visits = {}
        referral.status = ReferralStatus.PENDING
        referral.practitioner_id = None
        referral.declined_by = []
        referral.assessment_ids = []
        referral.plan = None
        referral.sessions = {}
        referral.deviations = {}
        referral.messages = {}
        referral.documents = []
        referral.first_treatment_on = None
        referral.visits_completed = 0
        referral.visits_at_last_report = 0
        referral.records = {str(referral.id): AmendableRecord.REFERRAL.value}
        referral.amendment_requests = {}


@dataclass(frozen=True, kw_only=True)
class MakeReferral(Command):
    physician_id: UUID
    patient_id: UUID
    clinic_id: UUID
    discipline: Discipline
    diagnosis_codes: Sequence[str]
    precautions: Sequence[str]
    contraindications: Sequence[Technique]
    urgency: Urgency
    authorized_visits: int
    reason: str
    coded_precautions: Sequence[CodedPrecaution] = ()
    signed_form: str | None = None


class Referral(Intake, Assessing, Planning, Authorizing, Treatment, Closing, Messaging,
               Attaching, AmendmentWorkflow, Aggregate):
    """A referral and the episode of care it opens at one clinic of the network."""

    TOPIC = "careledger:Referral"
    #: Version 2 keeps the patient's amendment requests; version 3 holds the plan as a
    #: TreatmentPlan and the first treatment as a date; version 4 its authorizations, when
    #: it was made, and each visit's day; version 5 its coded precautions, what its
    #: sessions did beyond the plan and its messages. Older snapshots are upcast.
    class_version = 5

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

    @staticmethod
    def upcast_v3_v4(state: dict[str, Any]) -> None:
        """Before version 4 the referral's own authorization was the only one; its day
        was not kept, so the day the record was created stands for it (and for each
        visit's day, all of them under that one open-ended authorization)."""
        created = state["_created_on"]
        made_at = created if isinstance(created, datetime) else datetime.fromisoformat(created)
        state["made_at"] = made_at
        state["authorizations"] = [referral_authorization(
            int(state["authorized_visits"]), made_at.date()).as_state()]
        state["session_visits"] = {}

    @staticmethod
    def upcast_v4_v5(state: dict[str, Any]) -> None:
        """No coded precaution was recorded before version 5, nor any session beyond the
        plan, nor any message or document; its plan's techniques were not kept
        (TreatmentPlanAsDict leaves them None)."""
        state["coded_precautions"] = []
        state["deviations"] = {}
        state["messages"] = {}
        state["documents"] = []

    Event = Event
    Created = Created
    # Every event of the episode, named as its own: declared beside the rules of its stage
    # (the library gives a subclass new event classes for events it finds on a base).
    Made = Made
    Accepted = intake.Accepted
    Declined = intake.Declined
    Redirected = intake.Redirected
    Cancelled = intake.Cancelled
    AssessmentRecorded = assessment.AssessmentRecorded
    PlanDrafted = planning.PlanDrafted
    PlanRevised = planning.PlanRevised
    PlanCertified = planning.PlanCertified
    PlanRecertified = planning.PlanRecertified
    VisitsAuthorized = authorizing.VisitsAuthorized
    SessionScheduled = treatment.SessionScheduled
    SessionCompleted = treatment.SessionCompleted
    PlanDeviationAcknowledged = treatment.PlanDeviationAcknowledged
    SessionCancelled = treatment.SessionCancelled
    PatientDidNotAttend = treatment.PatientDidNotAttend
    ProgressReported = closing.ProgressReported
    Discharged = closing.Discharged
    Amended = amendments.Amended
    AmendmentRequested = amendments.AmendmentRequested
    AmendmentAccepted = amendments.AmendmentAccepted
    AmendmentDenied = amendments.AmendmentDenied
    DisagreementFiled = amendments.DisagreementFiled
    MessageSent = messaging.MessageSent
    MessageAcknowledged = messaging.MessageAcknowledged
    DocumentAttached = attaching.DocumentAttached

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
        coded_precautions: list[CodedPrecaution] = (),  # type: ignore[assignment]
        signed_form: str | None = None,
    ) -> Referral:
        aware(occurred_at)
        physician.check_may_refer(occurred_at.date())
        patient.check_shares(clinic.id, occurred_at.date())
        if not diagnosis_codes:
            raise InvalidInput("a referral carries at least one ICD-10 code", field="diagnoses")
        diagnoses = [Diagnosis.of(code) for code in diagnosis_codes]
        if not clinic.offers(discipline):
            raise InvariantViolated("the clinic does not offer the referred discipline")
        if not 1 <= authorized_visits <= 200:
            raise InvalidInput("authorized visits are 1 to 200", field="authorized_visits")
        return cls._create(
            Made,
            patient_id=patient.id,
            physician_id=physician.id,
            clinic_id=clinic.id,
            discipline=discipline,
            diagnoses=[d.as_dict() for d in diagnoses],
            precautions=[p.strip() for p in precautions if p.strip()],
            coded_precautions=[p.as_dict() for p in sorted(set(coded_precautions))],
            signed_form=None if signed_form is None else checked_name(
                signed_form, patient.documents, "signed_form"),
            contraindications=sorted({str(t) for t in contraindications}),
            urgency=str(urgency),
            authorized_visits=authorized_visits,
            reason=reason,
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


#: The event that writes each kind of record an amendment may correct (a revision writes
#: the plan anew): what `corrections.as_amended` applies the record's amendments over.
WRITES_RECORD: dict[type[Event], AmendableRecord] = {
    Referral.Made: AmendableRecord.REFERRAL,
    Referral.AssessmentRecorded: AmendableRecord.ASSESSMENT,
    Referral.PlanDrafted: AmendableRecord.PLAN,
    Referral.PlanRevised: AmendableRecord.PLAN,
    Referral.SessionCompleted: AmendableRecord.SESSION,
    Referral.ProgressReported: AmendableRecord.PROGRESS_REPORT,
    Referral.Discharged: AmendableRecord.DISCHARGE,
    Referral.MessageSent: AmendableRecord.MESSAGE,
}


def make_referral(cmd: MakeReferral, read: Reader[Any]) -> Decision:
    return Create(lambda: Referral.make(
        physician=read(Practitioner, cmd.physician_id), patient=read(Patient, cmd.patient_id),
        clinic=read(Clinic, cmd.clinic_id), discipline=str(cmd.discipline),
        diagnosis_codes=list(cmd.diagnosis_codes), precautions=list(cmd.precautions),
        contraindications=list(cmd.contraindications), urgency=cmd.urgency,
        authorized_visits=cmd.authorized_visits, reason=cmd.reason,
        occurred_at=cmd.occurred_at, actor=cmd.actor,
        coded_precautions=list(cmd.coded_precautions), signed_form=cmd.signed_form))


#: Making a referral (every later command is a stage's).
HANDLERS: dict[type[Command], Handler] = {
    MakeReferral: make_referral,
}
