"""The referral and its plan: refer, accept or decline, redirect, cancel, assess, plan, certify."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from django.http import HttpRequest
from ninja import Field, Router, Status
from pydantic import Strict, conlist, model_validator

from careledger.domain.assessment import RecordAssessment
from careledger.domain.body import Site
from careledger.domain.clinical import (
    TENDER_POINTS,
    Discipline,
    FunctionalInstrument,
    Goal,
    Technique,
    Urgency,
)
from careledger.domain.intake import (
    AcceptReferral,
    CancelReferral,
    DeclineReferral,
    RedirectReferral,
)
from careledger.domain.planning import CertifyPlan, DraftPlan, RecertifyPlan, RevisePlan
from careledger.domain.precautions import CodedPrecaution, Precaution
from careledger.domain.referral import MakeReferral
from careledger.gateways.commanding import Commands, occurred, require_role
from careledger.gateways.links import then
from careledger.gateways.routes.episode import (
    CLINIC,
    NOTHING_FOLLOWS,
    PHYSICIAN,
    THERAPIST,
    next_steps,
    post,
)
from careledger.gateways.schemas import (
    CancelIn,
    Day,
    In,
    Number,
    OccurredIn,
    Pain,
    Percent,
    Reason,
    RecordedOut,
    RecordId,
    ShortText,
    SiteIn,
    Sites,
    Text,
    as_schema_error,
)

# ------------------------------------------------------------------ bodies


class CodedPrecautionIn(In):
    code: Precaution
    site: SiteIn | None = None

    @model_validator(mode="after")
    def _placed(self) -> CodedPrecautionIn:
        as_schema_error(self.precaution)
        return self

    def precaution(self) -> CodedPrecaution:
        return CodedPrecaution.of(self.code, self.site.site() if self.site else None)


class MakeReferralIn(OccurredIn):
    patient_id: UUID
    clinic_id: UUID
    discipline: Discipline
    diagnoses: conlist(Annotated[str, Field(min_length=3, max_length=8)],  # type: ignore[valid-type]
                       min_length=1, max_length=12) = Field(
        ..., description="ICD-10-CM codes, billable (e.g. M54.50)"
    )
    precautions: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list,
                                                                    max_length=20)
    contraindications: list[Technique] = Field(default_factory=list, max_length=9)
    coded_precautions: list[CodedPrecautionIn] = Field(
        default_factory=list, max_length=20,
        description="From the vocabulary; each names its body site when it holds in one place")
    urgency: Urgency = Urgency.ROUTINE
    signed_form: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = Field(
        None, description="The signed referral: the SHA-256 of a document attached to the "
        "patient (POST /patients/{patient_id}/documents)")
    authorized_visits: Annotated[int, Strict(), Field(ge=1, le=200)]
    reason: Text = ""


class AcceptReferralIn(OccurredIn):
    practitioner_id: UUID | None = Field(
        None, description="Who will treat; a therapist accepting for themself may omit it."
    )


class DeclineReferralIn(OccurredIn):
    reason: Reason


class RedirectReferralIn(OccurredIn):
    clinic_id: UUID
    reason: Text = ""


class RangeOfMotionIn(In):
    joint: ShortText
    movement: ShortText
    degrees: Annotated[float, Strict(), Field(ge=0, le=360)]
    normal_degrees: Annotated[float, Strict(), Field(ge=0, le=360)] | None = None


class MuscleTestIn(In):
    muscle: ShortText
    grade: Annotated[int, Strict(), Field(ge=0, le=5)]


class RecordAssessmentIn(OccurredIn):
    assessment_id: RecordId | None = None
    history: Text
    pain_nprs: Pain
    range_of_motion: list[RangeOfMotionIn] = Field(default_factory=list, max_length=40)
    muscle_tests: list[MuscleTestIn] = Field(default_factory=list, max_length=40)
    functional_instrument: FunctionalInstrument
    functional_score: Percent
    findings: Text = ""
    red_flags: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list,
                                                                  max_length=20)
    tender_points: Annotated[int, Strict(), Field(ge=0, le=TENDER_POINTS)] | None = Field(
        None, description="Of the 18 points the ACR 1990 criteria examine; none: not examined")
    pain_locations: Sites = Field(default_factory=list, description="Where the patient hurts")


class GoalIn(In):
    goal_id: RecordId
    description: Text
    metric: ShortText
    baseline: Number
    target: Number
    unit: Annotated[str, Field(min_length=1, max_length=40)]
    due: Day


class PlanIn(OccurredIn):
    goals: list[GoalIn] = Field(..., max_length=20)
    techniques: conlist(Technique, min_length=1, max_length=9)  # type: ignore[valid-type]
    sites: dict[Technique, Sites] = Field(
        default_factory=dict, max_length=9,
        description="The body sites each technique is planned on; a technique not named: anywhere")
    frequency_per_week: Annotated[int, Strict(), Field(ge=1, le=7)]
    duration_weeks: Annotated[int, Strict(), Field(ge=1, le=52)]
    override_reason: Annotated[str, Field(max_length=2000)] | None = None


class RevisePlanIn(PlanIn):
    reason: Reason


class CertifyPlanIn(OccurredIn):
    certified_from: Day
    certified_until: Day


def _sites(sites: dict[Technique, list[SiteIn]]) -> dict[Technique, list[Site]]:
    return {t: [s.site() for s in where] for t, where in sites.items()}


def _goals(goals: list[GoalIn]) -> list[Goal]:
    return [
        Goal(goal_id=g.goal_id, description=g.description, metric=g.metric,
             baseline=g.baseline, target=g.target, unit=g.unit, due=g.due)
        for g in goals
    ]


def referral_routes(commands: Commands) -> Router:
    router = Router()
    scoped, run = commands.scoped, commands.run

    @post(router, "/referrals", "make_referral",
          then(next_steps("accept_referral", "decline_referral", "cancel_referral")))
    def make_referral(request: HttpRequest, body: MakeReferralIn) -> Status[RecordedOut]:
        who = require_role(request, PHYSICIAN)
        return run(request, body, MakeReferral(
            physician_id=who.subject, patient_id=body.patient_id, clinic_id=body.clinic_id,
            discipline=body.discipline, diagnosis_codes=body.diagnoses,
            precautions=body.precautions, contraindications=body.contraindications,
            coded_precautions=[p.precaution() for p in body.coded_precautions],
            signed_form=body.signed_form,
            urgency=body.urgency, authorized_visits=body.authorized_visits,
            reason=body.reason, occurred_at=occurred(body), actor=who.actor))

    @post(router, "/referrals/{referral_id}/acceptance", "accept_referral",
          then(next_steps("record_assessment", "cancel_referral")))
    def accept_referral(request: HttpRequest, referral_id: UUID,
                        body: AcceptReferralIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, CLINIC)
        return run(request, body, AcceptReferral(
            referral_id=referral_id, practitioner_id=body.practitioner_id or who.subject,
            occurred_at=occurred(body), actor=who.actor))

    @post(router, "/referrals/{referral_id}/decline", "decline_referral",
          then(next_steps("redirect_referral", "cancel_referral")))
    def decline_referral(request: HttpRequest, referral_id: UUID,
                         body: DeclineReferralIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, CLINIC)
        return run(request, body, DeclineReferral(
            referral_id=referral_id, reason=body.reason, occurred_at=occurred(body),
            actor=who.actor))

    @post(router, "/referrals/{referral_id}/redirect", "redirect_referral",
          then(next_steps("accept_referral", "decline_referral")))
    def redirect_referral(request: HttpRequest, referral_id: UUID,
                          body: RedirectReferralIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, PHYSICIAN)
        return run(request, body, RedirectReferral(
            referral_id=referral_id, clinic_id=body.clinic_id, reason=body.reason,
            occurred_at=occurred(body), actor=who.actor))

    @post(router, "/referrals/{referral_id}/cancellation", "cancel_referral",
          NOTHING_FOLLOWS)
    def cancel_referral(request: HttpRequest, referral_id: UUID,
                        body: CancelIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, PHYSICIAN)
        return run(request, body, CancelReferral(
            referral_id=referral_id, reason=body.reason, occurred_at=occurred(body),
            actor=who.actor))

    @post(router, "/referrals/{referral_id}/assessments", "record_assessment",
          then(next_steps("draft_plan")))
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
            red_flags=body.red_flags, assessment_id=body.assessment_id,
            tender_points=body.tender_points,
            pain_locations=[s.site() for s in body.pain_locations],
            occurred_at=occurred(body), actor=who.actor))

    @post(router, "/referrals/{referral_id}/plan", "draft_plan",
          then(next_steps("certify_plan", "revise_plan")))
    def draft_plan(request: HttpRequest, referral_id: UUID,
                   body: PlanIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, THERAPIST)
        return run(request, body, DraftPlan(
            referral_id=referral_id, practitioner_id=who.subject, goals=_goals(body.goals),
            techniques=body.techniques, sites=_sites(body.sites),
            frequency_per_week=body.frequency_per_week,
            duration_weeks=body.duration_weeks, override_reason=body.override_reason,
            occurred_at=occurred(body), actor=who.actor))

    @post(router, "/referrals/{referral_id}/plan/revisions", "revise_plan",
          then(next_steps("certify_plan")))
    def revise_plan(request: HttpRequest, referral_id: UUID,
                    body: RevisePlanIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, THERAPIST)
        return run(request, body, RevisePlan(
            referral_id=referral_id, practitioner_id=who.subject, goals=_goals(body.goals),
            techniques=body.techniques, sites=_sites(body.sites),
            frequency_per_week=body.frequency_per_week,
            duration_weeks=body.duration_weeks, reason=body.reason,
            override_reason=body.override_reason, occurred_at=occurred(body),
            actor=who.actor))

    @post(router, "/referrals/{referral_id}/plan/certification", "certify_plan",
          then(next_steps("schedule_session", "recertify_plan")))
    def certify_plan(request: HttpRequest, referral_id: UUID,
                     body: CertifyPlanIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, PHYSICIAN)
        return run(request, body, CertifyPlan(
            referral_id=referral_id, physician_id=who.subject,
            certified_from=body.certified_from, certified_until=body.certified_until,
            occurred_at=occurred(body), actor=who.actor))

    @post(router, "/referrals/{referral_id}/plan/recertification", "recertify_plan",
          then(next_steps("schedule_session")))
    def recertify_plan(request: HttpRequest, referral_id: UUID,
                       body: CertifyPlanIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, PHYSICIAN)
        return run(request, body, RecertifyPlan(
            referral_id=referral_id, physician_id=who.subject,
            certified_from=body.certified_from, certified_until=body.certified_until,
            occurred_at=occurred(body), actor=who.actor))

    return router
