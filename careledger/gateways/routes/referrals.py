"""Commands of the care episode: refer, accept, assess, plan, certify, treat, report, discharge."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from django.http import HttpRequest
from ninja import Router, Status

from careledger.access.tokens import Role
from careledger.domain.amendments import (
    AcceptAmendment,
    Amend,
    DenyAmendment,
    FileDisagreement,
    RequestAmendment,
)
from careledger.domain.assessment import RecordAssessment
from careledger.domain.clinical import Goal
from careledger.domain.closing import Discharge, SendProgressReport
from careledger.domain.intake import (
    AcceptReferral,
    CancelReferral,
    DeclineReferral,
    RedirectReferral,
)
from careledger.domain.planning import CertifyPlan, DraftPlan, RecertifyPlan, RevisePlan
from careledger.domain.referral import MakeReferral
from careledger.domain.treatment import (
    CancelSession,
    CompleteSession,
    RecordNoShow,
    ScheduleSession,
)
from careledger.gateways.commanding import Commands, occurred, require_role
from careledger.gateways.problems import COMMAND_ERRORS
from careledger.gateways.routes.episode_links import FOLLOWS
from careledger.gateways.schemas import (
    AcceptReferralIn,
    AmendIn,
    AmendmentRequestIn,
    CancelIn,
    CertifyPlanIn,
    CompleteSessionIn,
    DeclineReferralIn,
    DenyAmendmentIn,
    DisagreementIn,
    DischargeIn,
    GoalIn,
    MakeReferralIn,
    OccurredIn,
    PlanIn,
    ProgressReportIn,
    RecordAssessmentIn,
    RecordedOut,
    RedirectReferralIn,
    RevisePlanIn,
    ScheduleSessionIn,
)

RESPONSES = {201: RecordedOut, **COMMAND_ERRORS}
PHYSICIAN = {Role.PHYSICIAN}
THERAPIST = {Role.THERAPIST}
CLINIC = {Role.THERAPIST, Role.CLINIC_ADMIN}
CLINICIANS = {Role.PHYSICIAN, Role.THERAPIST}
#: Whoever the patient hands a written request or statement to.
CARE_TEAM = {Role.PHYSICIAN, Role.THERAPIST, Role.CLINIC_ADMIN}


def _goals(goals: list[GoalIn]) -> list[Goal]:
    return [
        Goal(goal_id=g.goal_id, description=g.description, metric=g.metric,
             baseline=g.baseline, target=g.target, unit=g.unit, due=g.due)
        for g in goals
    ]


Route = TypeVar("Route", bound=Callable[..., Status[RecordedOut]])


def _post(router: Router, path: str, operation: str) -> Callable[[Route], Route]:
    """One command's route: its path, its operation id, what may follow it."""
    register: Callable[[Route], Route] = router.post(
        path, response=RESPONSES, operation_id=operation, openapi_extra=FOLLOWS[operation])
    return register


def referral_routes(commands: Commands) -> Router:
    router = Router()
    scoped, run = commands.scoped, commands.run

    @_post(router, "/referrals", "make_referral")
    def make_referral(request: HttpRequest, body: MakeReferralIn) -> Status[RecordedOut]:
        who = require_role(request, PHYSICIAN)
        return run(request, body, MakeReferral(
            physician_id=who.subject, patient_id=body.patient_id, clinic_id=body.clinic_id,
            discipline=body.discipline, diagnosis_codes=body.diagnoses,
            precautions=body.precautions, contraindications=body.contraindications,
            urgency=body.urgency, authorized_visits=body.authorized_visits,
            reason=body.reason, occurred_at=occurred(body), actor=who.actor))

    @_post(router, "/referrals/{referral_id}/acceptance", "accept_referral")
    def accept_referral(request: HttpRequest, referral_id: UUID,
                        body: AcceptReferralIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, CLINIC)
        return run(request, body, AcceptReferral(
            referral_id=referral_id, practitioner_id=body.practitioner_id or who.subject,
            occurred_at=occurred(body), actor=who.actor))

    @_post(router, "/referrals/{referral_id}/decline", "decline_referral")
    def decline_referral(request: HttpRequest, referral_id: UUID,
                         body: DeclineReferralIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, CLINIC)
        return run(request, body, DeclineReferral(
            referral_id=referral_id, reason=body.reason, occurred_at=occurred(body),
            actor=who.actor))

    @_post(router, "/referrals/{referral_id}/redirect", "redirect_referral")
    def redirect_referral(request: HttpRequest, referral_id: UUID,
                          body: RedirectReferralIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, PHYSICIAN)
        return run(request, body, RedirectReferral(
            referral_id=referral_id, clinic_id=body.clinic_id, reason=body.reason,
            occurred_at=occurred(body), actor=who.actor))

    @_post(router, "/referrals/{referral_id}/cancellation", "cancel_referral")
    def cancel_referral(request: HttpRequest, referral_id: UUID,
                        body: CancelIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, PHYSICIAN)
        return run(request, body, CancelReferral(
            referral_id=referral_id, reason=body.reason, occurred_at=occurred(body),
            actor=who.actor))

    @_post(router, "/referrals/{referral_id}/assessments", "record_assessment")
    def record_assessment(request: HttpRequest, referral_id: UUID,
                          body: RecordAssessmentIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, THERAPIST)
        return run(request, body, RecordAssessment(
            referral_id=referral_id, practitioner_id=who.subject, history=body.history,
            pain_nprs=body.pain_nprs,
            range_of_motion=[r.model_dump() for r in body.range_of_motion],
            muscle_tests=[m.model_dump() for m in body.muscle_tests],
            functional_instrument=body.functional_instrument,
            functional_score=body.functional_score, findings=body.findings,
            red_flags=body.red_flags, occurred_at=occurred(body), actor=who.actor))

    @_post(router, "/referrals/{referral_id}/plan", "draft_plan")
    def draft_plan(request: HttpRequest, referral_id: UUID,
                   body: PlanIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, THERAPIST)
        return run(request, body, DraftPlan(
            referral_id=referral_id, practitioner_id=who.subject, goals=_goals(body.goals),
            techniques=body.techniques, frequency_per_week=body.frequency_per_week,
            duration_weeks=body.duration_weeks, override_reason=body.override_reason,
            occurred_at=occurred(body), actor=who.actor))

    @_post(router, "/referrals/{referral_id}/plan/revisions", "revise_plan")
    def revise_plan(request: HttpRequest, referral_id: UUID,
                    body: RevisePlanIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, THERAPIST)
        return run(request, body, RevisePlan(
            referral_id=referral_id, practitioner_id=who.subject, goals=_goals(body.goals),
            techniques=body.techniques, frequency_per_week=body.frequency_per_week,
            duration_weeks=body.duration_weeks, reason=body.reason,
            override_reason=body.override_reason, occurred_at=occurred(body),
            actor=who.actor))

    @_post(router, "/referrals/{referral_id}/plan/certification", "certify_plan")
    def certify_plan(request: HttpRequest, referral_id: UUID,
                     body: CertifyPlanIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, PHYSICIAN)
        return run(request, body, CertifyPlan(
            referral_id=referral_id, physician_id=who.subject,
            certified_from=body.certified_from, certified_until=body.certified_until,
            occurred_at=occurred(body), actor=who.actor))

    @_post(router, "/referrals/{referral_id}/plan/recertification", "recertify_plan")
    def recertify_plan(request: HttpRequest, referral_id: UUID,
                       body: CertifyPlanIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, PHYSICIAN)
        return run(request, body, RecertifyPlan(
            referral_id=referral_id, physician_id=who.subject,
            certified_from=body.certified_from, certified_until=body.certified_until,
            occurred_at=occurred(body), actor=who.actor))

    @_post(router, "/referrals/{referral_id}/sessions", "schedule_session")
    def schedule_session(request: HttpRequest, referral_id: UUID,
                         body: ScheduleSessionIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, THERAPIST)
        return run(request, body, ScheduleSession(
            referral_id=referral_id, practitioner_id=who.subject,
            scheduled_for=body.scheduled_for, location=body.location,
            session_id=body.session_id, occurred_at=occurred(body), actor=who.actor))

    @_post(router, "/referrals/{referral_id}/sessions/{session_id}/completion",
           "complete_session")
    def complete_session(request: HttpRequest, referral_id: UUID, session_id: str,
                         body: CompleteSessionIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, THERAPIST)
        return run(request, body, CompleteSession(
            referral_id=referral_id, session_id=session_id, practitioner_id=who.subject,
            soap=body.soap.model_dump(),
            techniques=[(t.technique, t.minutes) for t in body.techniques],
            pain_before=body.pain_before, pain_after=body.pain_after,
            location=body.location, functional_score=body.functional_score,
            goal_measurements=[m.model_dump() for m in body.goal_measurements],
            override_reason=body.override_reason, occurred_at=occurred(body),
            actor=who.actor))

    @_post(router, "/referrals/{referral_id}/sessions/{session_id}/cancellation",
           "cancel_session")
    def cancel_session(request: HttpRequest, referral_id: UUID, session_id: str,
                       body: CancelIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, CLINIC)
        return run(request, body, CancelSession(
            referral_id=referral_id, session_id=session_id, reason=body.reason,
            occurred_at=occurred(body), actor=who.actor))

    @_post(router, "/referrals/{referral_id}/sessions/{session_id}/no-show", "record_no_show")
    def record_no_show(request: HttpRequest, referral_id: UUID, session_id: str,
                       body: OccurredIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, CLINIC)
        return run(request, body, RecordNoShow(
            referral_id=referral_id, session_id=session_id, occurred_at=occurred(body),
            actor=who.actor))

    @_post(router, "/referrals/{referral_id}/progress-reports", "send_progress_report")
    def send_progress_report(request: HttpRequest, referral_id: UUID,
                             body: ProgressReportIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, THERAPIST)
        return run(request, body, SendProgressReport(
            referral_id=referral_id, practitioner_id=who.subject, summary=body.summary,
            goal_status=[g.model_dump() for g in body.goal_status],
            occurred_at=occurred(body), actor=who.actor))

    @_post(router, "/referrals/{referral_id}/discharge", "discharge")
    def discharge(request: HttpRequest, referral_id: UUID,
                  body: DischargeIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, THERAPIST)
        return run(request, body, Discharge(
            referral_id=referral_id, practitioner_id=who.subject, outcomes=body.outcomes,
            summary=body.summary, occurred_at=occurred(body), actor=who.actor))

    @_post(router, "/referrals/{referral_id}/amendments", "amend")
    def amend(request: HttpRequest, referral_id: UUID, body: AmendIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, CLINICIANS)
        return run(request, body, Amend(
            referral_id=referral_id, record_id=body.record_id, reason=body.reason,
            changes=body.changes, occurred_at=occurred(body), actor=who.actor))

    @_post(router, "/referrals/{referral_id}/amendment-requests", "request_amendment")
    def request_amendment(request: HttpRequest, referral_id: UUID,
                          body: AmendmentRequestIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, CARE_TEAM)
        return run(request, body, RequestAmendment(
            referral_id=referral_id, request_id=body.request_id, record_id=body.record_id,
            changes=body.changes, reason=body.reason, occurred_at=occurred(body),
            actor=who.actor))

    @_post(router, "/referrals/{referral_id}/amendment-requests/{request_id}/acceptance",
           "accept_amendment")
    def accept_amendment(request: HttpRequest, referral_id: UUID, request_id: str,
                         body: OccurredIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, CLINICIANS)
        return run(request, body, AcceptAmendment(
            referral_id=referral_id, request_id=request_id, occurred_at=occurred(body),
            actor=who.actor))

    @_post(router, "/referrals/{referral_id}/amendment-requests/{request_id}/denial",
           "deny_amendment")
    def deny_amendment(request: HttpRequest, referral_id: UUID, request_id: str,
                       body: DenyAmendmentIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, CLINICIANS)
        return run(request, body, DenyAmendment(
            referral_id=referral_id, request_id=request_id, basis=body.basis,
            explanation=body.explanation, occurred_at=occurred(body), actor=who.actor))

    @_post(router, "/referrals/{referral_id}/amendment-requests/{request_id}/disagreement",
           "file_disagreement")
    def file_disagreement(request: HttpRequest, referral_id: UUID, request_id: str,
                          body: DisagreementIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, CARE_TEAM)
        return run(request, body, FileDisagreement(
            referral_id=referral_id, request_id=request_id, statement=body.statement,
            occurred_at=occurred(body), actor=who.actor))

    return router
