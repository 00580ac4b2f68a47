"""Commands of the care episode: refer, accept, assess, plan, certify, treat, report, discharge."""

from __future__ import annotations

from uuid import UUID

from django.http import HttpRequest
from ninja import Router, Status

from careledger.domain.clinical import Goal
from careledger.gateways import services
from careledger.gateways.auth import Principal, Role
from careledger.gateways.commanding import (
    execute,
    occurred,
    referral_in_scope,
    require_role,
)
from careledger.gateways.links import ANSWERED_ID, Links, link, then
from careledger.gateways.problems import COMMAND_ERRORS
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

router = Router()
RESPONSES = {201: RecordedOut, **COMMAND_ERRORS}
PHYSICIAN = {Role.PHYSICIAN}
THERAPIST = {Role.THERAPIST}
CLINIC = {Role.THERAPIST, Role.CLINIC_ADMIN}
CLINICIANS = {Role.PHYSICIAN, Role.THERAPIST}
#: Whoever the patient hands a written request or statement to.
CARE_TEAM = {Role.PHYSICIAN, Role.THERAPIST, Role.CLINIC_ADMIN}




def _next(*operations: str) -> Links:
    """Commands on the same referral (every answer's id is the referral's)."""
    return link(*operations, referral_id=ANSWERED_ID)


#: A session just scheduled, and a request to amend just made, by the ids the request chose.
SESSION = link("complete_session", "cancel_session", "record_no_show", referral_id=ANSWERED_ID,
               session_id="$request.body#/session_id")
AMENDMENT_REQUEST = link("accept_amendment", "deny_amendment", referral_id=ANSWERED_ID,
                         request_id="$request.body#/request_id")
#: What may follow each step of the episode (the usual next steps, not every one allowed).
FOLLOWS = {
    "make_referral": then(_next("accept_referral", "decline_referral", "cancel_referral")),
    "accept_referral": then(_next("record_assessment", "cancel_referral")),
    "decline_referral": then(_next("redirect_referral", "cancel_referral")),
    "redirect_referral": then(_next("accept_referral", "decline_referral")),
    "cancel_referral": {},
    "record_assessment": then(_next("draft_plan")),
    "draft_plan": then(_next("certify_plan", "revise_plan")),
    "revise_plan": then(_next("certify_plan")),
    "certify_plan": then(_next("schedule_session", "recertify_plan")),
    "recertify_plan": then(_next("schedule_session")),
    "schedule_session": then(SESSION),
    "complete_session": then(_next("schedule_session", "send_progress_report", "discharge",
                                   "request_amendment")),
    "cancel_session": then(_next("schedule_session")),
    "record_no_show": then(_next("schedule_session")),
    "send_progress_report": then(_next("schedule_session", "discharge")),
    "discharge": then(_next("amend", "request_amendment")),
    "amend": {},
    "request_amendment": then(AMENDMENT_REQUEST),
    "deny_amendment": then(link("file_disagreement", referral_id=ANSWERED_ID,
                                request_id="$request.path.request_id")),
    "accept_amendment": {},
    "file_disagreement": {},
}


def _scoped(request: HttpRequest, referral_id: UUID, roles: set[Role]) -> Principal:
    who = require_role(request, roles)
    referral_in_scope(who, referral_id)
    return who


def _goals(goals: list[GoalIn]) -> list[Goal]:
    return [
        Goal(goal_id=g.goal_id, description=g.description, metric=g.metric,
             baseline=g.baseline, target=g.target, unit=g.unit, due=g.due)
        for g in goals
    ]


@router.post("/referrals", response=RESPONSES, operation_id="make_referral",
             openapi_extra=FOLLOWS["make_referral"])
def make_referral(request: HttpRequest, body: MakeReferralIn) -> Status[RecordedOut]:
    who = require_role(request, PHYSICIAN)
    return execute(
        request, command="make_referral", body=body,
        run=lambda version, idem: services.get().app.make_referral(
            physician_id=who.subject, patient_id=body.patient_id, clinic_id=body.clinic_id,
            discipline=body.discipline, diagnosis_codes=body.diagnoses,
            precautions=body.precautions, contraindications=body.contraindications,
            urgency=body.urgency, authorized_visits=body.authorized_visits,
            reason=body.reason, occurred_at=occurred(body), actor=who.actor, idempotency=idem,
        ),
    )


@router.post("/referrals/{referral_id}/acceptance", response=RESPONSES,
             operation_id="accept_referral",
             openapi_extra=FOLLOWS["accept_referral"])
def accept_referral(
    request: HttpRequest, referral_id: UUID, body: AcceptReferralIn
) -> Status[RecordedOut]:
    who = _scoped(request, referral_id, CLINIC)
    practitioner_id = body.practitioner_id or who.subject
    return execute(
        request, command="accept_referral", body=body,
        run=lambda version, idem: services.get().app.accept_referral(
            referral_id, practitioner_id=practitioner_id, occurred_at=occurred(body),
            actor=who.actor, expected_version=version, idempotency=idem,
        ),
    )


@router.post("/referrals/{referral_id}/decline", response=RESPONSES,
             operation_id="decline_referral",
             openapi_extra=FOLLOWS["decline_referral"])
def decline_referral(
    request: HttpRequest, referral_id: UUID, body: DeclineReferralIn
) -> Status[RecordedOut]:
    who = _scoped(request, referral_id, CLINIC)
    return execute(
        request, command="decline_referral", body=body,
        run=lambda version, idem: services.get().app.decline_referral(
            referral_id, reason=body.reason, occurred_at=occurred(body), actor=who.actor,
            expected_version=version, idempotency=idem,
        ),
    )


@router.post("/referrals/{referral_id}/redirect", response=RESPONSES,
             operation_id="redirect_referral",
             openapi_extra=FOLLOWS["redirect_referral"])
def redirect_referral(
    request: HttpRequest, referral_id: UUID, body: RedirectReferralIn
) -> Status[RecordedOut]:
    who = _scoped(request, referral_id, PHYSICIAN)
    return execute(
        request, command="redirect_referral", body=body,
        run=lambda version, idem: services.get().app.redirect_referral(
            referral_id, clinic_id=body.clinic_id, reason=body.reason,
            occurred_at=occurred(body), actor=who.actor, expected_version=version,
            idempotency=idem,
        ),
    )


@router.post("/referrals/{referral_id}/cancellation", response=RESPONSES,
             operation_id="cancel_referral",
             openapi_extra=FOLLOWS["cancel_referral"])
def cancel_referral(
    request: HttpRequest, referral_id: UUID, body: CancelIn
) -> Status[RecordedOut]:
    who = _scoped(request, referral_id, PHYSICIAN)
    return execute(
        request, command="cancel_referral", body=body,
        run=lambda version, idem: services.get().app.cancel_referral(
            referral_id, reason=body.reason, occurred_at=occurred(body), actor=who.actor,
            expected_version=version, idempotency=idem,
        ),
    )


@router.post("/referrals/{referral_id}/assessments", response=RESPONSES,
             operation_id="record_assessment",
             openapi_extra=FOLLOWS["record_assessment"])
def record_assessment(
    request: HttpRequest, referral_id: UUID, body: RecordAssessmentIn
) -> Status[RecordedOut]:
    who = _scoped(request, referral_id, THERAPIST)
    return execute(
        request, command="record_assessment", body=body,
        run=lambda version, idem: services.get().app.record_assessment(
            referral_id, practitioner_id=who.subject, history=body.history,
            pain_nprs=body.pain_nprs,
            range_of_motion=[r.model_dump() for r in body.range_of_motion],
            muscle_tests=[m.model_dump() for m in body.muscle_tests],
            functional_instrument=body.functional_instrument,
            functional_score=body.functional_score, findings=body.findings,
            red_flags=body.red_flags, occurred_at=occurred(body), actor=who.actor,
            expected_version=version, idempotency=idem,
        ),
    )


@router.post("/referrals/{referral_id}/plan", response=RESPONSES, operation_id="draft_plan",
             openapi_extra=FOLLOWS["draft_plan"])
def draft_plan(request: HttpRequest, referral_id: UUID, body: PlanIn) -> Status[RecordedOut]:
    who = _scoped(request, referral_id, THERAPIST)
    return execute(
        request, command="draft_plan", body=body,
        run=lambda version, idem: services.get().app.draft_plan(
            referral_id, practitioner_id=who.subject, goals=_goals(body.goals),
            techniques=body.techniques, frequency_per_week=body.frequency_per_week,
            duration_weeks=body.duration_weeks, override_reason=body.override_reason,
            occurred_at=occurred(body), actor=who.actor, expected_version=version,
            idempotency=idem,
        ),
    )


@router.post("/referrals/{referral_id}/plan/revisions", response=RESPONSES,
             operation_id="revise_plan",
             openapi_extra=FOLLOWS["revise_plan"])
def revise_plan(
    request: HttpRequest, referral_id: UUID, body: RevisePlanIn
) -> Status[RecordedOut]:
    who = _scoped(request, referral_id, THERAPIST)
    return execute(
        request, command="revise_plan", body=body,
        run=lambda version, idem: services.get().app.revise_plan(
            referral_id, practitioner_id=who.subject, goals=_goals(body.goals),
            techniques=body.techniques, frequency_per_week=body.frequency_per_week,
            duration_weeks=body.duration_weeks, reason=body.reason,
            override_reason=body.override_reason, occurred_at=occurred(body),
            actor=who.actor, expected_version=version, idempotency=idem,
        ),
    )


def _sign(request: HttpRequest, referral_id: UUID, body: CertifyPlanIn, *,
          recertify: bool) -> Status[RecordedOut]:
    who = _scoped(request, referral_id, PHYSICIAN)
    return execute(
        request, command="recertify_plan" if recertify else "certify_plan", body=body,
        run=lambda version, idem: services.get().app.certify_plan(
            referral_id, physician_id=who.subject, certified_from=body.certified_from,
            certified_until=body.certified_until, occurred_at=occurred(body),
            actor=who.actor, expected_version=version, idempotency=idem, recertify=recertify,
        ),
    )


@router.post("/referrals/{referral_id}/plan/certification", response=RESPONSES,
             operation_id="certify_plan",
             openapi_extra=FOLLOWS["certify_plan"])
def certify_plan(
    request: HttpRequest, referral_id: UUID, body: CertifyPlanIn
) -> Status[RecordedOut]:
    return _sign(request, referral_id, body, recertify=False)


@router.post("/referrals/{referral_id}/plan/recertification", response=RESPONSES,
             operation_id="recertify_plan",
             openapi_extra=FOLLOWS["recertify_plan"])
def recertify_plan(
    request: HttpRequest, referral_id: UUID, body: CertifyPlanIn
) -> Status[RecordedOut]:
    return _sign(request, referral_id, body, recertify=True)


@router.post("/referrals/{referral_id}/sessions", response=RESPONSES,
             operation_id="schedule_session",
             openapi_extra=FOLLOWS["schedule_session"])
def schedule_session(
    request: HttpRequest, referral_id: UUID, body: ScheduleSessionIn
) -> Status[RecordedOut]:
    who = _scoped(request, referral_id, THERAPIST)
    return execute(
        request, command="schedule_session", body=body,
        run=lambda version, idem: services.get().app.schedule_session(
            referral_id, practitioner_id=who.subject, scheduled_for=body.scheduled_for,
            location=body.location, occurred_at=occurred(body), actor=who.actor,
            expected_version=version, idempotency=idem, session_id=body.session_id,
        ),
    )


@router.post("/referrals/{referral_id}/sessions/{session_id}/completion", response=RESPONSES,
             operation_id="complete_session",
             openapi_extra=FOLLOWS["complete_session"])
def complete_session(
    request: HttpRequest, referral_id: UUID, session_id: str, body: CompleteSessionIn
) -> Status[RecordedOut]:
    who = _scoped(request, referral_id, THERAPIST)
    return execute(
        request, command="complete_session", body=body,
        run=lambda version, idem: services.get().app.complete_session(
            referral_id, session_id=session_id, practitioner_id=who.subject,
            soap=body.soap.model_dump(),
            techniques=[(t.technique, t.minutes) for t in body.techniques],
            pain_before=body.pain_before, pain_after=body.pain_after, location=body.location,
            functional_score=body.functional_score,
            goal_measurements=[m.model_dump() for m in body.goal_measurements],
            override_reason=body.override_reason, occurred_at=occurred(body),
            actor=who.actor, expected_version=version, idempotency=idem,
        ),
    )


@router.post("/referrals/{referral_id}/sessions/{session_id}/cancellation", response=RESPONSES,
             operation_id="cancel_session",
             openapi_extra=FOLLOWS["cancel_session"])
def cancel_session(
    request: HttpRequest, referral_id: UUID, session_id: str, body: CancelIn
) -> Status[RecordedOut]:
    who = _scoped(request, referral_id, CLINIC)
    return execute(
        request, command="cancel_session", body=body,
        run=lambda version, idem: services.get().app.cancel_session(
            referral_id, session_id=session_id, reason=body.reason,
            occurred_at=occurred(body), actor=who.actor, expected_version=version,
            idempotency=idem,
        ),
    )


@router.post("/referrals/{referral_id}/sessions/{session_id}/no-show", response=RESPONSES,
             operation_id="record_no_show",
             openapi_extra=FOLLOWS["record_no_show"])
def record_no_show(
    request: HttpRequest, referral_id: UUID, session_id: str, body: OccurredIn
) -> Status[RecordedOut]:
    who = _scoped(request, referral_id, CLINIC)
    return execute(
        request, command="record_no_show", body=body,
        run=lambda version, idem: services.get().app.record_no_show(
            referral_id, session_id=session_id, occurred_at=occurred(body), actor=who.actor,
            expected_version=version, idempotency=idem,
        ),
    )


@router.post("/referrals/{referral_id}/progress-reports", response=RESPONSES,
             operation_id="send_progress_report",
             openapi_extra=FOLLOWS["send_progress_report"])
def send_progress_report(
    request: HttpRequest, referral_id: UUID, body: ProgressReportIn
) -> Status[RecordedOut]:
    who = _scoped(request, referral_id, THERAPIST)
    return execute(
        request, command="send_progress_report", body=body,
        run=lambda version, idem: services.get().app.send_progress_report(
            referral_id, practitioner_id=who.subject, summary=body.summary,
            goal_status=[g.model_dump() for g in body.goal_status],
            occurred_at=occurred(body), actor=who.actor, expected_version=version,
            idempotency=idem,
        ),
    )


@router.post("/referrals/{referral_id}/discharge", response=RESPONSES, operation_id="discharge",
             openapi_extra=FOLLOWS["discharge"])
def discharge(
    request: HttpRequest, referral_id: UUID, body: DischargeIn
) -> Status[RecordedOut]:
    who = _scoped(request, referral_id, THERAPIST)
    return execute(
        request, command="discharge", body=body,
        run=lambda version, idem: services.get().app.discharge(
            referral_id, practitioner_id=who.subject, outcomes=body.outcomes,
            summary=body.summary, occurred_at=occurred(body), actor=who.actor,
            expected_version=version, idempotency=idem,
        ),
    )


@router.post("/referrals/{referral_id}/amendments", response=RESPONSES, operation_id="amend",
             openapi_extra=FOLLOWS["amend"])
def amend(request: HttpRequest, referral_id: UUID, body: AmendIn) -> Status[RecordedOut]:
    who = _scoped(request, referral_id, CLINICIANS)
    return execute(
        request, command="amend", body=body,
        run=lambda version, idem: services.get().app.amend(
            referral_id, record_id=body.record_id, reason=body.reason, changes=body.changes,
            occurred_at=occurred(body), actor=who.actor, expected_version=version,
            idempotency=idem,
        ),
    )


@router.post("/referrals/{referral_id}/amendment-requests", response=RESPONSES,
             operation_id="request_amendment",
             openapi_extra=FOLLOWS["request_amendment"])
def request_amendment(
    request: HttpRequest, referral_id: UUID, body: AmendmentRequestIn
) -> Status[RecordedOut]:
    who = _scoped(request, referral_id, CARE_TEAM)
    return execute(
        request, command="request_amendment", body=body,
        run=lambda version, idem: services.get().app.request_amendment(
            referral_id, request_id=body.request_id, record_id=body.record_id,
            changes=body.changes, reason=body.reason, occurred_at=occurred(body),
            actor=who.actor, expected_version=version, idempotency=idem,
        ),
    )


@router.post("/referrals/{referral_id}/amendment-requests/{request_id}/acceptance",
             response=RESPONSES, operation_id="accept_amendment",
             openapi_extra=FOLLOWS["accept_amendment"])
def accept_amendment(
    request: HttpRequest, referral_id: UUID, request_id: str, body: OccurredIn
) -> Status[RecordedOut]:
    who = _scoped(request, referral_id, CLINICIANS)
    return execute(
        request, command="accept_amendment", body=body,
        run=lambda version, idem: services.get().app.accept_amendment(
            referral_id, request_id=request_id, occurred_at=occurred(body), actor=who.actor,
            expected_version=version, idempotency=idem,
        ),
    )


@router.post("/referrals/{referral_id}/amendment-requests/{request_id}/denial",
             response=RESPONSES, operation_id="deny_amendment",
             openapi_extra=FOLLOWS["deny_amendment"])
def deny_amendment(
    request: HttpRequest, referral_id: UUID, request_id: str, body: DenyAmendmentIn
) -> Status[RecordedOut]:
    who = _scoped(request, referral_id, CLINICIANS)
    return execute(
        request, command="deny_amendment", body=body,
        run=lambda version, idem: services.get().app.deny_amendment(
            referral_id, request_id=request_id, basis=body.basis,
            explanation=body.explanation, occurred_at=occurred(body), actor=who.actor,
            expected_version=version, idempotency=idem,
        ),
    )


@router.post("/referrals/{referral_id}/amendment-requests/{request_id}/disagreement",
             response=RESPONSES, operation_id="file_disagreement",
             openapi_extra=FOLLOWS["file_disagreement"])
def file_disagreement(
    request: HttpRequest, referral_id: UUID, request_id: str, body: DisagreementIn
) -> Status[RecordedOut]:
    who = _scoped(request, referral_id, CARE_TEAM)
    return execute(
        request, command="file_disagreement", body=body,
        run=lambda version, idem: services.get().app.file_disagreement(
            referral_id, request_id=request_id, statement=body.statement,
            occurred_at=occurred(body), actor=who.actor, expected_version=version,
            idempotency=idem,
        ),
    )
