"""Steps of an episode on the in-memory store, with sensible clinical defaults."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from careledger.domain.application import CareLedger
from careledger.domain.assessment import RecordAssessment
from careledger.domain.clinical import (
    Discipline,
    FunctionalInstrument,
    Goal,
    SessionLocation,
    Technique,
    Urgency,
)
from careledger.domain.intake import AcceptReferral
from careledger.domain.planning import DraftPlan
from careledger.domain.referral import MakeReferral
from careledger.domain.treatment import CompleteSession, ScheduleSession
from tests.helpers.network import NOW

SOAP = {"subjective": "better", "objective": "ROM up", "assessment": "progressing",
        "plan": "continue"}
GOAL = Goal(goal_id="pain", description="less pain", metric="NPRS", baseline=7, target=3,
            unit="points", due=date(2026, 5, 1))



def refer(app: CareLedger, net, **overrides) -> UUID:  # type: ignore[no-untyped-def]
    args = dict(
        physician_id=net.physician, patient_id=net.patient, clinic_id=net.clinic,
        discipline=Discipline.MEDICAL_MASSAGE, diagnosis_codes=["M54.50"], precautions=[],
        contraindications=[Technique.DEEP_TISSUE], urgency=Urgency.ROUTINE,
        authorized_visits=2, reason="low back pain", occurred_at=NOW, actor="physician:x",
    )
    args.update(overrides)
    return app.handle(MakeReferral(**args)).aggregate_id


def accepted(app: CareLedger, net, **overrides) -> UUID:  # type: ignore[no-untyped-def]
    rid = refer(app, net, **overrides)
    app.handle(AcceptReferral(referral_id=rid, practitioner_id=net.therapist, occurred_at=NOW,
                              actor="t"))
    return rid


def assess(app: CareLedger, net, rid: UUID,
           who: UUID | None = None) -> None:  # type: ignore[no-untyped-def]
    app.handle(RecordAssessment(
        referral_id=rid, practitioner_id=who or net.therapist, history="6 weeks", pain_nprs=7,
        range_of_motion=[], muscle_tests=[{"muscle": "psoas", "grade": 4}],
        functional_instrument=FunctionalInstrument.ODI, functional_score=42, findings="",
        red_flags=[], occurred_at=NOW, actor="t",
    ))


def plan(app: CareLedger, net, rid: UUID, goals=(GOAL,),  # type: ignore[no-untyped-def]
         techniques=(Technique.MYOFASCIAL_RELEASE,), override: str | None = None) -> None:
    app.handle(DraftPlan(referral_id=rid, practitioner_id=net.therapist, goals=list(goals),
                         techniques=list(techniques), frequency_per_week=2, duration_weeks=6,
                         override_reason=override, occurred_at=NOW, actor="t", plan_id="plan-1"))


def session(app: CareLedger, net, rid: UUID, sid: str,  # type: ignore[no-untyped-def]
            techniques=None, override: str | None = None,
            off_plan: str | None = None) -> None:
    app.handle(ScheduleSession(referral_id=rid, practitioner_id=net.therapist, scheduled_for=NOW,
                               location=SessionLocation.CLINIC, occurred_at=NOW, actor="t",
                               session_id=sid))
    app.handle(CompleteSession(
        referral_id=rid, session_id=sid, practitioner_id=net.therapist, soap=SOAP,
        techniques=techniques or [(Technique.MYOFASCIAL_RELEASE, 23)], pain_before=6,
        pain_after=4, location=SessionLocation.CLINIC, functional_score=40,
        goal_measurements=[{"goal_id": "pain", "value": 4}], override_reason=override,
        off_plan_reason=off_plan, occurred_at=NOW, actor="t",
    ))
