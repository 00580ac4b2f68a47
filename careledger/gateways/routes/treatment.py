"""Treatment: the visits authorized, sessions scheduled, completed with their note,
cancelled or missed; progress reports to the physician; the discharge."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from django.http import HttpRequest
from ninja import Field, Router, Status
from pydantic import Strict, conlist

from careledger.access.tokens import Role
from careledger.domain.authorizing import MAX_VISITS, AuthorizeVisits
from careledger.domain.clinical import TENDER_POINTS, GoalOutcome, SessionLocation, Technique
from careledger.domain.closing import Discharge, SendProgressReport
from careledger.domain.treatment import (
    AcknowledgePlanDeviation,
    CancelSession,
    CompleteSession,
    RecordNoShow,
    ScheduleSession,
)
from careledger.gateways.commanding import Commands, occurred
from careledger.gateways.links import ANSWERED_ID, link, then
from careledger.gateways.routes.episode import (
    CLINIC,
    PHYSICIAN,
    THERAPIST,
    next_steps,
    post,
)
from careledger.gateways.schemas import (
    CancelIn,
    Day,
    In,
    Moment,
    Number,
    OccurredIn,
    Pain,
    Percent,
    RecordedOut,
    RecordId,
    Sites,
    Text,
)

#: A session just scheduled, by the id the request chose.
SESSION = link("complete_session", "cancel_session", "record_no_show", referral_id=ANSWERED_ID,
               session_id="$request.body#/session_id")


# ------------------------------------------------------------------ bodies

CptCode = Annotated[str, Field(pattern=r"^[0-9]{5}$")]
#: An untimed service's code (fees.UNTIMED); whose profession bills it, the domain checks.
UntimedCode = Annotated[str, Field(pattern=r"^(9716[1-4]|9894[0-2])$")]


class AuthorizeVisitsIn(OccurredIn):
    """The referring physician's (no payer), or a payer's as the clinic received it."""

    authorization_id: RecordId | None = None
    visits: Annotated[int, Strict(), Field(ge=1, le=MAX_VISITS)]
    starts_on: Day
    ends_on: Day | None = None
    payer: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    number: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    units: dict[CptCode, Annotated[int, Strict(), Field(ge=1, le=999)]] = Field(
        default_factory=dict, max_length=20)
    coverage_id: RecordId | None = Field(None, description="The patient's coverage a "
                                         "payer's authorization falls under")



class ScheduleSessionIn(OccurredIn):
    session_id: RecordId | None = None
    scheduled_for: Moment
    location: SessionLocation = SessionLocation.CLINIC


class SoapIn(In):
    subjective: Text
    objective: Text
    assessment: Text
    plan: Text


class TechniqueMinutesIn(In):
    technique: Technique
    minutes: Annotated[int, Strict(), Field(ge=1, le=240)]
    sites: Sites = Field(default_factory=list, max_length=16,
                         description="Where it was applied; none stated: anywhere")


class GoalMeasurementIn(In):
    goal_id: RecordId
    value: Number


class CompleteSessionIn(OccurredIn):
    soap: SoapIn
    techniques: conlist(TechniqueMinutesIn, min_length=0, max_length=12) = Field(  # type: ignore[valid-type]
        ..., description="The timed techniques and their minutes; empty only for a session "
        "that was an evaluation or a manipulation alone")
    services: conlist(UntimedCode, max_length=2) = Field(  # type: ignore[valid-type]
        default_factory=list, description="Untimed services billed once each: a physical "
        "therapist's evaluation (97161-97163) or re-evaluation (97164), a chiropractor's "
        "spinal manipulation (98940-98942)")
    pain_before: Pain
    pain_after: Pain
    location: SessionLocation = SessionLocation.CLINIC
    functional_score: Percent | None = None
    goal_measurements: list[GoalMeasurementIn] = Field(default_factory=list, max_length=20)
    override_reason: Annotated[str, Field(max_length=2000)] | None = None
    off_plan_reason: Annotated[str, Field(max_length=2000)] | None = Field(
        None, description="Why the session did what the plan does not name")
    tender_points: Annotated[int, Strict(), Field(ge=0, le=TENDER_POINTS)] | None = Field(
        None, description="Of the 18 points the ACR 1990 criteria examine; none: not examined")


class AcknowledgeDeviationIn(OccurredIn):
    note: Annotated[str, Field(max_length=2000)] = ""


class GoalStatusIn(In):
    goal_id: RecordId
    latest: Number | None = None
    note: Annotated[str, Field(max_length=400)] = ""


class ProgressReportIn(OccurredIn):
    summary: Text
    goal_status: list[GoalStatusIn] = Field(default_factory=list, max_length=20)


class DischargeIn(OccurredIn):
    outcomes: dict[Annotated[str, Field(max_length=64)], GoalOutcome] = Field(..., max_length=20)
    summary: Text


def treatment_routes(commands: Commands) -> Router:
    router = Router()
    scoped, run = commands.scoped, commands.run

    @post(router, "/referrals/{referral_id}/authorizations", "authorize_visits",
          then(next_steps("schedule_session")))
    def authorize_visits(request: HttpRequest, referral_id: UUID,
                         body: AuthorizeVisitsIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, PHYSICIAN | CLINIC)
        return run(request, body, AuthorizeVisits(
            referral_id=referral_id, authorization_id=body.authorization_id,
            visits=body.visits, starts_on=body.starts_on, ends_on=body.ends_on,
            physician_id=who.subject if who.role == Role.PHYSICIAN else None,
            payer=body.payer, number=body.number, units=body.units,
            coverage_id=body.coverage_id, occurred_at=occurred(body), actor=who.actor))

    @post(router, "/referrals/{referral_id}/sessions", "schedule_session",
          then(SESSION))
    def schedule_session(request: HttpRequest, referral_id: UUID,
                         body: ScheduleSessionIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, THERAPIST)
        return run(request, body, ScheduleSession(
            referral_id=referral_id, practitioner_id=who.subject,
            scheduled_for=body.scheduled_for, location=body.location,
            session_id=body.session_id, occurred_at=occurred(body), actor=who.actor))

    @post(router, "/referrals/{referral_id}/sessions/{session_id}/completion",
          "complete_session",
          then(next_steps("schedule_session", "send_progress_report", "discharge",
                          "request_amendment")))
    def complete_session(request: HttpRequest, referral_id: UUID, session_id: str,
                         body: CompleteSessionIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, THERAPIST)
        return run(request, body, CompleteSession(
            referral_id=referral_id, session_id=session_id, practitioner_id=who.subject,
            soap=body.soap.model_dump(),
            techniques=[(t.technique, t.minutes, [s.site() for s in t.sites])
                        for t in body.techniques],
            pain_before=body.pain_before, pain_after=body.pain_after,
            location=body.location, functional_score=body.functional_score,
            goal_measurements=[m.model_dump() for m in body.goal_measurements],
            override_reason=body.override_reason, off_plan_reason=body.off_plan_reason,
            tender_points=body.tender_points, services=list(body.services),
            occurred_at=occurred(body), actor=who.actor))

    @post(router, "/referrals/{referral_id}/sessions/{session_id}/deviation-acknowledgement",
          "acknowledge_plan_deviation", then(next_steps("revise_plan")))
    def acknowledge_plan_deviation(request: HttpRequest, referral_id: UUID, session_id: str,
                                   body: AcknowledgeDeviationIn) -> Status[RecordedOut]:
        """The referring physician has seen what the session did beyond the plan."""
        who = scoped(request, referral_id, PHYSICIAN)
        return run(request, body, AcknowledgePlanDeviation(
            referral_id=referral_id, physician_id=who.subject, session_id=session_id,
            note=body.note, occurred_at=occurred(body), actor=who.actor))

    @post(router, "/referrals/{referral_id}/sessions/{session_id}/cancellation",
          "cancel_session",
          then(next_steps("schedule_session")))
    def cancel_session(request: HttpRequest, referral_id: UUID, session_id: str,
                       body: CancelIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, CLINIC)
        return run(request, body, CancelSession(
            referral_id=referral_id, session_id=session_id, reason=body.reason,
            occurred_at=occurred(body), actor=who.actor))

    @post(router, "/referrals/{referral_id}/sessions/{session_id}/no-show", "record_no_show",
          then(next_steps("schedule_session")))
    def record_no_show(request: HttpRequest, referral_id: UUID, session_id: str,
                       body: OccurredIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, CLINIC)
        return run(request, body, RecordNoShow(
            referral_id=referral_id, session_id=session_id, occurred_at=occurred(body),
            actor=who.actor))

    @post(router, "/referrals/{referral_id}/progress-reports", "send_progress_report",
          then(next_steps("schedule_session", "discharge")))
    def send_progress_report(request: HttpRequest, referral_id: UUID,
                             body: ProgressReportIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, THERAPIST)
        return run(request, body, SendProgressReport(
            referral_id=referral_id, practitioner_id=who.subject, summary=body.summary,
            goal_status=[g.model_dump() for g in body.goal_status],
            occurred_at=occurred(body), actor=who.actor))

    @post(router, "/referrals/{referral_id}/discharge", "discharge",
          then(next_steps("amend", "request_amendment")))
    def discharge(request: HttpRequest, referral_id: UUID,
                  body: DischargeIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, THERAPIST)
        return run(request, body, Discharge(
            referral_id=referral_id, practitioner_id=who.subject, outcomes=body.outcomes,
            summary=body.summary, occurred_at=occurred(body), actor=who.actor))

    return router
