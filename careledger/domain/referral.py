"""The care episode, from the physician's referral to the therapist's discharge.

One aggregate holds the whole episode because its rules span it: no plan without an
assessment, no visit beyond those authorized, nothing after discharge but amendments.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

import simple_icd_10_cm as icd10
from eventsourcing.domain import Aggregate, event

from careledger.domain.billing import billing_lines
from careledger.domain.clinical import (
    AmendableRecord,
    DenialBasis,
    Diagnosis,
    FunctionalInstrument,
    Goal,
    GoalOutcome,
    SessionLocation,
    Technique,
    Urgency,
    aware,
    pain_score,
    percent_score,
)
from careledger.domain.errors import InvalidInput, InvariantViolated
from careledger.domain.network import Clinic, Practitioner
from careledger.domain.patient import Patient

#: A certification covers at most 90 days of care, then the plan is recertified.
CERTIFICATION_MAX_DAYS = 90
#: A plan still uncertified 30 days after the first treatment is flagged.
CERTIFICATION_GRACE_DAYS = 30
#: The referring physician hears from the therapist at least every 10 visits.
PROGRESS_REPORT_EVERY_VISITS = 10


class Status:
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    DISCHARGED = "discharged"


class Request:
    """Where a patient's request to amend a record stands."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    DENIED = "denied"
    DISPUTED = "disputed"  # denied, and the patient filed a statement of disagreement


class Referral(Aggregate):
    """A referral and the episode of care it opens at one clinic of the network."""

    TOPIC = "careledger:Referral"
    #: Version 2 keeps the patient's amendment requests; older snapshots start with none.
    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["amendment_requests"] = {}

    class Event(Aggregate.Event):
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
        occurred_at: datetime
        actor: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Version 1 stored bare codes under 'icd10_codes'."""
            codes = state.pop("icd10_codes")
            state["diagnoses"] = [
                {"code": c, "description": str(icd10.get_description(c))} for c in codes
            ]

    @event(Made)
    def __init__(
        self,
        patient_id: UUID,
        physician_id: UUID,
        clinic_id: UUID,
        discipline: str,
        diagnoses: list[dict[str, str]],
        precautions: list[str],
        contraindications: list[str],
        urgency: str,
        authorized_visits: int,
        reason: str,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.patient_id = patient_id
        self.physician_id = physician_id
        self.clinic_id = clinic_id
        self.discipline = discipline
        self.diagnoses = list(diagnoses)
        self.precautions = list(precautions)
        self.contraindications = list(contraindications)
        self.urgency = urgency
        self.authorized_visits = authorized_visits
        self.status = Status.PENDING
        self.practitioner_id: str | None = None
        self.declined_by: list[str] = []
        self.assessment_ids: list[str] = []
        self.plan: dict[str, Any] | None = None
        self.sessions: dict[str, str] = {}
        self.first_treatment_on: str | None = None
        self.visits_completed = 0
        self.visits_at_last_report = 0
        self.records: dict[str, str] = {str(self.id): AmendableRecord.REFERRAL.value}
        self.amendment_requests: dict[str, dict[str, Any]] = {}

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
        return cls(
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
        if self.status != Status.PENDING:
            raise InvariantViolated("only a pending referral can be accepted")
        practitioner.check_may_treat(
            discipline=self.discipline, clinic_id=self.clinic_id, on=aware(occurred_at).date()
        )
        self._accepted(practitioner_id=str(practitioner.id), occurred_at=occurred_at, actor=actor)

    @event("Accepted", topic="careledger:Referral.Accepted")
    def _accepted(self, practitioner_id: str, occurred_at: datetime, actor: str) -> None:
        self.status = Status.ACCEPTED
        self.practitioner_id = practitioner_id

    def decline(self, *, reason: str, occurred_at: datetime, actor: str) -> None:
        self.check_open()
        if self.status != Status.PENDING:
            raise InvariantViolated("only a pending referral can be declined")
        if not reason.strip():
            raise InvalidInput("a decline states its reason", field="reason")
        self._declined(
            clinic_id=str(self.clinic_id), reason=reason, occurred_at=aware(occurred_at),
            actor=actor,
        )

    @event("Declined", topic="careledger:Referral.Declined")
    def _declined(self, clinic_id: str, reason: str, occurred_at: datetime, actor: str) -> None:
        self.status = Status.DECLINED
        self.declined_by.append(clinic_id)

    def redirect(self, *, clinic: Clinic, reason: str, occurred_at: datetime, actor: str) -> None:
        """After a decline the physician sends the same referral to another clinic."""
        if self.status != Status.DECLINED:
            raise InvariantViolated("only a declined referral can be redirected")
        if str(clinic.id) in self.declined_by:
            raise InvariantViolated("this clinic has already declined the referral")
        if not clinic.offers(self.discipline):
            raise InvariantViolated("the clinic does not offer the referred discipline")
        self._redirected(
            clinic_id=str(clinic.id), reason=reason, occurred_at=aware(occurred_at), actor=actor
        )

    @event("Redirected", topic="careledger:Referral.Redirected")
    def _redirected(self, clinic_id: str, reason: str, occurred_at: datetime, actor: str) -> None:
        self.clinic_id = UUID(clinic_id)
        self.status = Status.PENDING

    def cancel(self, *, reason: str, occurred_at: datetime, actor: str) -> None:
        self.check_open()
        if self.visits_completed:
            raise InvariantViolated("an episode with visits is discharged, not cancelled")
        if not reason.strip():
            raise InvalidInput("a cancellation states its reason", field="reason")
        self._cancelled(reason=reason, occurred_at=aware(occurred_at), actor=actor)

    @event("Cancelled", topic="careledger:Referral.Cancelled")
    def _cancelled(self, reason: str, occurred_at: datetime, actor: str) -> None:
        self.status = Status.CANCELLED

    # ------------------------------------------------------------------ assessment and plan

    def record_assessment(
        self,
        *,
        assessment_id: str,
        practitioner: Practitioner,
        history: str,
        pain_nprs: int,
        range_of_motion: list[dict[str, Any]],
        muscle_tests: list[dict[str, Any]],
        functional_instrument: FunctionalInstrument,
        functional_score: float,
        findings: str,
        red_flags: list[str],
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.check_treating(practitioner, occurred_at)
        for test in muscle_tests:
            if not 0 <= int(test.get("grade", -1)) <= 5:
                raise InvalidInput("muscle tests are graded 0-5", field="muscle_tests")
        self._assessment_recorded(
            assessment_id=assessment_id,
            practitioner_id=str(practitioner.id),
            history=history,
            pain_nprs=pain_score(pain_nprs, "pain_nprs"),
            range_of_motion=range_of_motion,
            muscle_tests=muscle_tests,
            functional_instrument=str(functional_instrument),
            functional_score=percent_score(functional_score, "functional_score"),
            findings=findings,
            red_flags=red_flags,
            occurred_at=occurred_at,
            actor=actor,
        )

    @event("AssessmentRecorded", topic="careledger:Referral.AssessmentRecorded")
    def _assessment_recorded(
        self,
        assessment_id: str,
        practitioner_id: str,
        history: str,
        pain_nprs: int,
        range_of_motion: list[dict[str, Any]],
        muscle_tests: list[dict[str, Any]],
        functional_instrument: str,
        functional_score: float,
        findings: str,
        red_flags: list[str],
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.assessment_ids.append(assessment_id)
        self.records[assessment_id] = AmendableRecord.ASSESSMENT.value

    def draft_plan(
        self,
        *,
        plan_id: str,
        practitioner: Practitioner,
        goals: list[Goal],
        techniques: list[Technique],
        frequency_per_week: int,
        duration_weeks: int,
        override_reason: str | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.check_treating(practitioner, occurred_at)
        if not self.assessment_ids:
            raise InvariantViolated("a plan needs an assessment first")
        if self.plan is not None:
            raise InvariantViolated("the episode has a plan: revise it instead")
        self._check_plan(goals, techniques, frequency_per_week, duration_weeks, override_reason)
        self._plan_drafted(
            plan_id=plan_id,
            practitioner_id=str(practitioner.id),
            goals=[g.as_dict() for g in goals],
            techniques=[str(t) for t in techniques],
            frequency_per_week=frequency_per_week,
            duration_weeks=duration_weeks,
            override_reason=override_reason,
            occurred_at=occurred_at,
            actor=actor,
        )

    @event("PlanDrafted", topic="careledger:Referral.PlanDrafted")
    def _plan_drafted(
        self,
        plan_id: str,
        practitioner_id: str,
        goals: list[dict[str, Any]],
        techniques: list[str],
        frequency_per_week: int,
        duration_weeks: int,
        override_reason: str | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.plan = {
            "plan_id": plan_id,
            "revision": 1,
            "goal_ids": [g["goal_id"] for g in goals],
            "certified_until": None,
        }
        self.records[plan_id] = AmendableRecord.PLAN.value

    def revise_plan(
        self,
        *,
        practitioner: Practitioner,
        goals: list[Goal],
        techniques: list[Technique],
        frequency_per_week: int,
        duration_weeks: int,
        reason: str,
        override_reason: str | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        """A revised plan needs the physician's signature again."""
        self.check_treating(practitioner, occurred_at)
        plan = self.require_plan()
        self._check_plan(goals, techniques, frequency_per_week, duration_weeks, override_reason)
        self._plan_revised(
            plan_id=plan["plan_id"],
            revision=int(plan["revision"]) + 1,
            goals=[g.as_dict() for g in goals],
            techniques=[str(t) for t in techniques],
            frequency_per_week=frequency_per_week,
            duration_weeks=duration_weeks,
            reason=reason,
            override_reason=override_reason,
            occurred_at=occurred_at,
            actor=actor,
        )

    @event("PlanRevised", topic="careledger:Referral.PlanRevised")
    def _plan_revised(
        self,
        plan_id: str,
        revision: int,
        goals: list[dict[str, Any]],
        techniques: list[str],
        frequency_per_week: int,
        duration_weeks: int,
        reason: str,
        override_reason: str | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        assert self.plan is not None
        self.plan = {
            "plan_id": plan_id,
            "revision": revision,
            "goal_ids": [g["goal_id"] for g in goals],
            "certified_until": None,
        }

    def _check_plan(
        self,
        goals: list[Goal],
        techniques: list[Technique],
        frequency_per_week: int,
        duration_weeks: int,
        override_reason: str | None,
    ) -> None:
        if not goals:
            raise InvariantViolated("a plan has at least one measurable goal")
        if len({g.goal_id for g in goals}) != len(goals):
            raise InvalidInput("goal ids are unique within a plan", field="goals")
        if not techniques:
            raise InvalidInput("a plan names its techniques", field="techniques")
        if not 1 <= frequency_per_week <= 7 or not 1 <= duration_weeks <= 52:
            raise InvalidInput("frequency is 1-7 a week for 1-52 weeks", field="frequency_per_week")
        self.check_contraindications([str(t) for t in techniques], override_reason)

    def certify_plan(
        self,
        *,
        physician: Practitioner,
        certified_from: date,
        certified_until: date,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.check_open()
        plan = self.require_plan()
        if physician.id != self.physician_id:
            raise InvariantViolated("the referring physician certifies the plan")
        physician.check_may_refer(aware(occurred_at).date())
        if plan["certified_until"] is not None and plan.get("certified_revision") == plan[
            "revision"
        ]:
            raise InvariantViolated("this revision is already certified: recertify it")
        self._check_period(certified_from, certified_until)
        self._plan_certified(
            plan_id=plan["plan_id"],
            revision=plan["revision"],
            physician_id=str(physician.id),
            certified_from=certified_from,
            certified_until=certified_until,
            occurred_at=occurred_at,
            actor=actor,
        )

    @event("PlanCertified", topic="careledger:Referral.PlanCertified")
    def _plan_certified(
        self,
        plan_id: str,
        revision: int,
        physician_id: str,
        certified_from: date,
        certified_until: date,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        assert self.plan is not None
        self.plan["certified_until"] = certified_until.isoformat()
        self.plan["certified_revision"] = revision

    def recertify_plan(
        self,
        *,
        physician: Practitioner,
        certified_from: date,
        certified_until: date,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.check_open()
        plan = self.require_plan()
        if physician.id != self.physician_id:
            raise InvariantViolated("the referring physician recertifies the plan")
        physician.check_may_refer(aware(occurred_at).date())
        if plan.get("certified_revision") != plan["revision"]:
            raise InvariantViolated("this revision was never certified: certify it first")
        self._check_period(certified_from, certified_until)
        self._plan_recertified(
            plan_id=plan["plan_id"],
            revision=plan["revision"],
            physician_id=str(physician.id),
            certified_from=certified_from,
            certified_until=certified_until,
            occurred_at=occurred_at,
            actor=actor,
        )

    @event("PlanRecertified", topic="careledger:Referral.PlanRecertified")
    def _plan_recertified(
        self,
        plan_id: str,
        revision: int,
        physician_id: str,
        certified_from: date,
        certified_until: date,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        assert self.plan is not None
        self.plan["certified_until"] = certified_until.isoformat()

    @staticmethod
    def _check_period(certified_from: date, certified_until: date) -> None:
        if certified_until < certified_from:
            raise InvalidInput("certification ends after it starts", field="certified_until")
        if (certified_until - certified_from).days > CERTIFICATION_MAX_DAYS:
            raise InvariantViolated(
                f"a certification covers at most {CERTIFICATION_MAX_DAYS} days"
            )

    # ------------------------------------------------------------------ sessions

    def schedule_session(
        self,
        *,
        session_id: str,
        practitioner: Practitioner,
        scheduled_for: datetime,
        location: SessionLocation,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.check_treating(practitioner, occurred_at)
        if session_id in self.sessions:
            raise InvariantViolated("this session is already on the schedule")
        self.check_visits_left()
        self._session_scheduled(
            session_id=session_id,
            practitioner_id=str(practitioner.id),
            scheduled_for=aware(scheduled_for, "scheduled_for"),
            location=str(location),
            occurred_at=occurred_at,
            actor=actor,
        )

    @event("SessionScheduled", topic="careledger:Referral.SessionScheduled")
    def _session_scheduled(
        self,
        session_id: str,
        practitioner_id: str,
        scheduled_for: datetime,
        location: str,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.sessions[session_id] = "scheduled"

    def complete_session(
        self,
        *,
        session_id: str,
        practitioner: Practitioner,
        soap: dict[str, str],
        techniques: list[tuple[Technique, int]],
        pain_before: int,
        pain_after: int,
        location: SessionLocation,
        functional_score: float | None,
        goal_measurements: list[dict[str, Any]],
        override_reason: str | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.check_treating(practitioner, occurred_at)
        if self.sessions.get(session_id) != "scheduled":
            raise InvariantViolated("only a scheduled session can be completed")
        missing = {"subjective", "objective", "assessment", "plan"} - {
            k for k, v in soap.items() if v.strip()
        }
        if missing:
            raise InvalidInput(
                f"the SOAP note lacks: {', '.join(sorted(missing))}", field="soap"
            )
        if not techniques or any(minutes <= 0 for _, minutes in techniques):
            raise InvalidInput("list the techniques with their minutes", field="techniques")
        self.check_contraindications([str(t) for t, _ in techniques], override_reason)
        known_goals = set(self.plan["goal_ids"]) if self.plan else set()
        for measurement in goal_measurements:
            if measurement.get("goal_id") not in known_goals:
                raise InvalidInput("a measurement names a goal of the plan", field="goals")
        lines = billing_lines(techniques)
        self._session_completed(
            session_id=session_id,
            practitioner_id=str(practitioner.id),
            soap={k: soap[k] for k in ("subjective", "objective", "assessment", "plan")},
            techniques=[{"technique": str(t), "minutes": m} for t, m in techniques],
            pain_before=pain_score(pain_before, "pain_before"),
            pain_after=pain_score(pain_after, "pain_after"),
            location=str(location),
            functional_score=(
                None if functional_score is None
                else percent_score(functional_score, "functional_score")
            ),
            goal_measurements=goal_measurements,
            billing_lines=[line.as_dict() for line in lines],
            total_timed_minutes=sum(m for _, m in techniques),
            total_units=sum(line.units for line in lines),
            override_reason=override_reason,
            occurred_at=occurred_at,
            actor=actor,
        )

    @event("SessionCompleted", topic="careledger:Referral.SessionCompleted")
    def _session_completed(
        self,
        session_id: str,
        practitioner_id: str,
        soap: dict[str, str],
        techniques: list[dict[str, Any]],
        pain_before: int,
        pain_after: int,
        location: str,
        functional_score: float | None,
        goal_measurements: list[dict[str, Any]],
        billing_lines: list[dict[str, Any]],
        total_timed_minutes: int,
        total_units: int,
        override_reason: str | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.sessions[session_id] = "completed"
        self.visits_completed += 1
        if self.first_treatment_on is None:
            self.first_treatment_on = occurred_at.date().isoformat()
        self.records[session_id] = AmendableRecord.SESSION.value

    def cancel_session(
        self, *, session_id: str, reason: str, occurred_at: datetime, actor: str
    ) -> None:
        self.check_open()
        if self.sessions.get(session_id) != "scheduled":
            raise InvariantViolated("only a scheduled session can be cancelled")
        self._session_cancelled(
            session_id=session_id, reason=reason, occurred_at=aware(occurred_at), actor=actor
        )

    @event("SessionCancelled", topic="careledger:Referral.SessionCancelled")
    def _session_cancelled(
        self, session_id: str, reason: str, occurred_at: datetime, actor: str
    ) -> None:
        self.sessions[session_id] = "cancelled"

    def record_no_show(self, *, session_id: str, occurred_at: datetime, actor: str) -> None:
        self.check_open()
        if self.sessions.get(session_id) != "scheduled":
            raise InvariantViolated("only a scheduled session can be a no-show")
        self._patient_did_not_attend(
            session_id=session_id, occurred_at=aware(occurred_at), actor=actor
        )

    @event("PatientDidNotAttend", topic="careledger:Referral.PatientDidNotAttend")
    def _patient_did_not_attend(self, session_id: str, occurred_at: datetime, actor: str) -> None:
        self.sessions[session_id] = "no_show"

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
        self._progress_reported(
            report_id=report_id,
            practitioner_id=str(practitioner.id),
            physician_id=str(self.physician_id),
            visits_to_date=self.visits_completed,
            summary=summary,
            goal_status=goal_status,
            occurred_at=occurred_at,
            actor=actor,
        )

    @event("ProgressReported", topic="careledger:Referral.ProgressReported")
    def _progress_reported(
        self,
        report_id: str,
        practitioner_id: str,
        physician_id: str,
        visits_to_date: int,
        summary: str,
        goal_status: list[dict[str, Any]],
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.visits_at_last_report = visits_to_date
        self.records[report_id] = AmendableRecord.PROGRESS_REPORT.value

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
        if set(outcomes) != set(plan["goal_ids"]):
            raise InvalidInput("a discharge rates every goal of the plan", field="outcomes")
        self._discharged(
            practitioner_id=str(practitioner.id),
            outcomes=[{"goal_id": g, "outcome": str(o)} for g, o in sorted(outcomes.items())],
            summary=summary,
            visits=self.visits_completed,
            occurred_at=occurred_at,
            actor=actor,
        )

    @event("Discharged", topic="careledger:Referral.Discharged")
    def _discharged(
        self,
        practitioner_id: str,
        outcomes: list[dict[str, str]],
        summary: str,
        visits: int,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.status = Status.DISCHARGED
        self.records["discharge"] = AmendableRecord.DISCHARGE.value

    # ------------------------------------------------------------------ amendments

    def amend(
        self,
        *,
        record_id: str,
        reason: str,
        changes: dict[str, Any],
        author: str,
        occurred_at: datetime,
    ) -> None:
        """A correction appended beside the original, never over it (HIPAA 164.526)."""
        kind = self.records.get(record_id)
        if kind is None:
            raise InvariantViolated("there is no such record in this episode to amend")
        if not reason.strip():
            raise InvalidInput("an amendment states its reason", field="reason")
        if not changes:
            raise InvalidInput("an amendment states what it changes", field="changes")
        self._amended(
            record_kind=kind,
            record_id=record_id,
            reason=reason,
            changes=changes,
            occurred_at=aware(occurred_at),
            actor=author,
        )

    @event("Amended", topic="careledger:Referral.Amended")
    def _amended(
        self,
        record_kind: str,
        record_id: str,
        reason: str,
        changes: dict[str, Any],
        occurred_at: datetime,
        actor: str,
    ) -> None:
        pass

    # A patient may ask for a record to be corrected (HIPAA 164.526). The request is
    # recorded on the patient's behalf; the clinic accepts it (the record is amended)
    # or denies it on one of the grounds the rule allows, and the patient may answer a
    # denial with a statement of disagreement. Every step stays beside the record.

    def request_amendment(
        self,
        *,
        request_id: str,
        record_id: str,
        changes: dict[str, Any],
        reason: str,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        kind = self.records.get(record_id)
        if kind is None:
            raise InvariantViolated("there is no such record in this episode to amend")
        if request_id in self.amendment_requests:
            raise InvariantViolated("an amendment request with this id was already made")
        if not reason.strip():
            raise InvalidInput("a request to amend states why", field="reason")
        if not changes:
            raise InvalidInput("a request to amend states what should change", field="changes")
        self._amendment_requested(
            request_id=request_id, record_kind=kind, record_id=record_id, changes=changes,
            reason=reason, occurred_at=aware(occurred_at), actor=actor,
        )

    @event("AmendmentRequested", topic="careledger:Referral.AmendmentRequested")
    def _amendment_requested(
        self,
        request_id: str,
        record_kind: str,
        record_id: str,
        changes: dict[str, Any],
        reason: str,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.amendment_requests[request_id] = {
            "record_kind": record_kind, "record_id": record_id, "changes": changes,
            "status": Request.PENDING,
        }

    def accept_amendment(self, *, request_id: str, occurred_at: datetime, actor: str) -> None:
        """The clinic agrees: the request is closed and the record amended as asked."""
        request = self._pending(request_id)
        at = aware(occurred_at)
        self._amendment_accepted(request_id=request_id, record_id=request["record_id"],
                                 occurred_at=at, actor=actor)
        self._amended(record_kind=request["record_kind"], record_id=request["record_id"],
                      reason=f"the patient's request {request_id}, accepted",
                      changes=request["changes"], occurred_at=at, actor=actor)

    @event("AmendmentAccepted", topic="careledger:Referral.AmendmentAccepted")
    def _amendment_accepted(self, request_id: str, record_id: str, occurred_at: datetime,
                            actor: str) -> None:
        self.amendment_requests[request_id]["status"] = Request.ACCEPTED

    def deny_amendment(
        self,
        *,
        request_id: str,
        basis: DenialBasis,
        explanation: str,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        request = self._pending(request_id)
        if not explanation.strip():
            raise InvalidInput("a denial explains itself to the patient", field="explanation")
        self._amendment_denied(request_id=request_id, record_id=request["record_id"],
                               basis=str(DenialBasis(basis)), explanation=explanation,
                               occurred_at=aware(occurred_at), actor=actor)

    @event("AmendmentDenied", topic="careledger:Referral.AmendmentDenied")
    def _amendment_denied(self, request_id: str, record_id: str, basis: str,
                          explanation: str, occurred_at: datetime, actor: str) -> None:
        self.amendment_requests[request_id]["status"] = Request.DENIED

    def file_disagreement(self, *, request_id: str, statement: str, occurred_at: datetime,
                          actor: str) -> None:
        """The patient's statement of disagreement with a denial, kept with the record."""
        request = self.amendment_requests.get(request_id)
        if request is None:
            raise InvariantViolated("there is no such amendment request in this episode")
        if request["status"] != Request.DENIED:
            raise InvariantViolated("a statement of disagreement answers a denied request")
        if not statement.strip():
            raise InvalidInput("the statement of disagreement is empty", field="statement")
        self._disagreement_filed(request_id=request_id, record_id=request["record_id"],
                                 statement=statement, occurred_at=aware(occurred_at),
                                 actor=actor)

    @event("DisagreementFiled", topic="careledger:Referral.DisagreementFiled")
    def _disagreement_filed(self, request_id: str, record_id: str, statement: str,
                            occurred_at: datetime, actor: str) -> None:
        self.amendment_requests[request_id]["status"] = Request.DISPUTED

    def _pending(self, request_id: str) -> dict[str, Any]:
        request = self.amendment_requests.get(request_id)
        if request is None:
            raise InvariantViolated("there is no such amendment request in this episode")
        if request["status"] != Request.PENDING:
            raise InvariantViolated(f"the amendment request was already {request['status']}")
        return request

    # ------------------------------------------------------------------ rules

    CLOSED: ClassVar[frozenset[str]] = frozenset(
        {Status.DISCHARGED, Status.CANCELLED}
    )

    def check_open(self) -> None:
        if self.status in self.CLOSED:
            raise InvariantViolated(
                f"the episode is {self.status}: only amendments may follow"
            )

    def check_treating(self, practitioner: Practitioner, occurred_at: datetime) -> None:
        self.check_open()
        if self.status != Status.ACCEPTED:
            raise InvariantViolated("the referral has not been accepted")
        practitioner.check_may_treat(
            discipline=self.discipline, clinic_id=self.clinic_id, on=aware(occurred_at).date()
        )

    def check_visits_left(self) -> None:
        booked = sum(1 for s in self.sessions.values() if s in {"scheduled", "completed"})
        if booked >= self.authorized_visits:
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

    def require_plan(self) -> dict[str, Any]:
        if self.plan is None:
            raise InvariantViolated("the episode has no plan yet")
        return self.plan

    # ------------------------------------------------------------------ questions

    def certification_overdue(self, today: date) -> bool:
        """Uncertified 30 days after the first treatment, or past the certified period."""
        if self.plan is None or self.first_treatment_on is None:
            return False
        until = self.plan.get("certified_until")
        if until is not None and self.plan.get("certified_revision") == self.plan["revision"]:
            return date.fromisoformat(until) < today
        first = date.fromisoformat(self.first_treatment_on)
        return today > first + timedelta(days=CERTIFICATION_GRACE_DAYS)

    def progress_report_due(self) -> bool:
        return self.visits_completed - self.visits_at_last_report >= PROGRESS_REPORT_EVERY_VISITS
