"""The care episode, from the physician's referral to the therapist's discharge.

One aggregate holds the whole episode because its rules span it: no plan without an
assessment, no visit beyond those authorized, nothing after discharge but amendments.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from careledger.domain import icd10
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
from careledger.domain.events import CareEvent
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
            referral.status = Status.PENDING
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
            referral.status = Status.ACCEPTED
            referral.practitioner_id = self.practitioner_id

    class Declined(Event):
        TOPIC = "careledger:Referral.Declined"
        clinic_id: str
        reason: str

        def apply(self, referral: Referral) -> None:
            referral.status = Status.DECLINED
            referral.declined_by.append(self.clinic_id)

    class Redirected(Event):
        TOPIC = "careledger:Referral.Redirected"
        clinic_id: str
        reason: str

        def apply(self, referral: Referral) -> None:
            referral.clinic_id = UUID(self.clinic_id)
            referral.status = Status.PENDING

    class Cancelled(Event):
        TOPIC = "careledger:Referral.Cancelled"
        reason: str

        def apply(self, referral: Referral) -> None:
            referral.status = Status.CANCELLED

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
            referral.plan = {"plan_id": self.plan_id, "revision": 1,
                             "goal_ids": [g["goal_id"] for g in self.goals],
                             "certified_until": None}
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
            referral.plan = {"plan_id": self.plan_id, "revision": self.revision,
                             "goal_ids": [g["goal_id"] for g in self.goals],
                             "certified_until": None}

    class PlanCertified(Event):
        TOPIC = "careledger:Referral.PlanCertified"
        plan_id: str
        revision: int
        physician_id: str
        certified_from: date
        certified_until: date

        def apply(self, referral: Referral) -> None:
            plan = referral.require_plan()
            plan["certified_until"] = self.certified_until.isoformat()
            plan["certified_revision"] = self.revision

    class PlanRecertified(Event):
        TOPIC = "careledger:Referral.PlanRecertified"
        plan_id: str
        revision: int
        physician_id: str
        certified_from: date
        certified_until: date

        def apply(self, referral: Referral) -> None:
            referral.require_plan()["certified_until"] = self.certified_until.isoformat()

    class SessionScheduled(Event):
        TOPIC = "careledger:Referral.SessionScheduled"
        session_id: str
        practitioner_id: str
        scheduled_for: datetime
        location: str

        def apply(self, referral: Referral) -> None:
            referral.sessions[self.session_id] = "scheduled"

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
            referral.sessions[self.session_id] = "completed"
            referral.visits_completed += 1
            if referral.first_treatment_on is None:
                referral.first_treatment_on = self.occurred_at.date().isoformat()
            referral.records[self.session_id] = AmendableRecord.SESSION.value

    class SessionCancelled(Event):
        TOPIC = "careledger:Referral.SessionCancelled"
        session_id: str
        reason: str

        def apply(self, referral: Referral) -> None:
            referral.sessions[self.session_id] = "cancelled"

    class PatientDidNotAttend(Event):
        TOPIC = "careledger:Referral.PatientDidNotAttend"
        session_id: str

        def apply(self, referral: Referral) -> None:
            referral.sessions[self.session_id] = "no_show"

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
            referral.status = Status.DISCHARGED
            referral.records["discharge"] = AmendableRecord.DISCHARGE.value

    class Amended(Event):
        """A correction beside the record it names; `actor` is its author."""

        TOPIC = "careledger:Referral.Amended"
        record_kind: str
        record_id: str
        reason: str
        changes: dict[str, Any]

    class AmendmentRequested(Event):
        TOPIC = "careledger:Referral.AmendmentRequested"
        request_id: str
        record_kind: str
        record_id: str
        changes: dict[str, Any]
        reason: str

        def apply(self, referral: Referral) -> None:
            referral.amendment_requests[self.request_id] = {
                "record_kind": self.record_kind, "record_id": self.record_id,
                "changes": self.changes, "status": Request.PENDING,
            }

    class AmendmentAccepted(Event):
        TOPIC = "careledger:Referral.AmendmentAccepted"
        request_id: str
        record_id: str

        def apply(self, referral: Referral) -> None:
            referral.amendment_requests[self.request_id]["status"] = Request.ACCEPTED

    class AmendmentDenied(Event):
        TOPIC = "careledger:Referral.AmendmentDenied"
        request_id: str
        record_id: str
        basis: str
        explanation: str

        def apply(self, referral: Referral) -> None:
            referral.amendment_requests[self.request_id]["status"] = Request.DENIED

    class DisagreementFiled(Event):
        TOPIC = "careledger:Referral.DisagreementFiled"
        request_id: str
        record_id: str
        statement: str

        def apply(self, referral: Referral) -> None:
            referral.amendment_requests[self.request_id]["status"] = Request.DISPUTED

    if TYPE_CHECKING:  # set by the events (annotations here would make a dataclass)
        patient_id: UUID
        physician_id: UUID
        clinic_id: UUID
        discipline: str
        diagnoses: list[dict[str, str]]
        precautions: list[str]
        contraindications: list[str]
        urgency: str
        authorized_visits: int
        status: str
        practitioner_id: str | None
        declined_by: list[str]
        assessment_ids: list[str]
        plan: dict[str, Any] | None
        sessions: dict[str, str]
        first_treatment_on: str | None
        visits_completed: int
        visits_at_last_report: int
        records: dict[str, str]
        amendment_requests: dict[str, dict[str, Any]]

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
        if self.status != Status.PENDING:
            raise InvariantViolated("only a pending referral can be accepted")
        practitioner.check_may_treat(
            discipline=self.discipline, clinic_id=self.clinic_id, on=aware(occurred_at).date()
        )
        self.trigger_event(self.Accepted, practitioner_id=str(practitioner.id),
                           occurred_at=occurred_at, actor=actor)

    def decline(self, *, reason: str, occurred_at: datetime, actor: str) -> None:
        self.check_open()
        if self.status != Status.PENDING:
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
        if self.status != Status.DECLINED:
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
        self.trigger_event(
            self.AssessmentRecorded,
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
        self.trigger_event(
            self.PlanDrafted,
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
        self.trigger_event(
            self.PlanRevised,
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
        self.trigger_event(
            self.PlanCertified,
            plan_id=plan["plan_id"],
            revision=plan["revision"],
            physician_id=str(physician.id),
            certified_from=certified_from,
            certified_until=certified_until,
            occurred_at=occurred_at,
            actor=actor,
        )

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
        self.trigger_event(
            self.PlanRecertified,
            plan_id=plan["plan_id"],
            revision=plan["revision"],
            physician_id=str(physician.id),
            certified_from=certified_from,
            certified_until=certified_until,
            occurred_at=occurred_at,
            actor=actor,
        )

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
        self.trigger_event(
            self.SessionScheduled,
            session_id=session_id,
            practitioner_id=str(practitioner.id),
            scheduled_for=aware(scheduled_for, "scheduled_for"),
            location=str(location),
            occurred_at=occurred_at,
            actor=actor,
        )

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
        self.trigger_event(
            self.SessionCompleted,
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

    def cancel_session(
        self, *, session_id: str, reason: str, occurred_at: datetime, actor: str
    ) -> None:
        self.check_open()
        if self.sessions.get(session_id) != "scheduled":
            raise InvariantViolated("only a scheduled session can be cancelled")
        self.trigger_event(
            self.SessionCancelled,
            session_id=session_id, reason=reason, occurred_at=aware(occurred_at), actor=actor
        )

    def record_no_show(self, *, session_id: str, occurred_at: datetime, actor: str) -> None:
        self.check_open()
        if self.sessions.get(session_id) != "scheduled":
            raise InvariantViolated("only a scheduled session can be a no-show")
        self.trigger_event(
            self.PatientDidNotAttend,
            session_id=session_id, occurred_at=aware(occurred_at), actor=actor
        )

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
        if set(outcomes) != set(plan["goal_ids"]):
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
        self.trigger_event(
            self.Amended,
            record_kind=kind,
            record_id=record_id,
            reason=reason,
            changes=changes,
            occurred_at=aware(occurred_at),
            actor=author,
        )

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
        self.trigger_event(
            self.AmendmentRequested,
            request_id=request_id, record_kind=kind, record_id=record_id, changes=changes,
            reason=reason, occurred_at=aware(occurred_at), actor=actor,
        )

    def accept_amendment(self, *, request_id: str, occurred_at: datetime, actor: str) -> None:
        """The clinic agrees: the request is closed and the record amended as asked."""
        request = self._pending(request_id)
        at = aware(occurred_at)
        self.trigger_event(self.AmendmentAccepted, request_id=request_id,
                           record_id=request["record_id"], occurred_at=at, actor=actor)
        self.trigger_event(self.Amended, record_kind=request["record_kind"],
                           record_id=request["record_id"],
                           reason=f"the patient's request {request_id}, accepted",
                           changes=request["changes"], occurred_at=at, actor=actor)

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
        self.trigger_event(self.AmendmentDenied, request_id=request_id,
                           record_id=request["record_id"], basis=str(DenialBasis(basis)),
                           explanation=explanation, occurred_at=aware(occurred_at), actor=actor)

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
        self.trigger_event(self.DisagreementFiled, request_id=request_id,
                           record_id=request["record_id"], statement=statement,
                           occurred_at=aware(occurred_at), actor=actor)

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
