"""A patient treated at two clinics, with measured sessions: for the chart and the web page.

The network's physician refers the patient to both of its clinics: Riverside takes the
patient through a certified plan and two sessions (one at the patient's home); Hudson
has assessed and drafted a plan that waits for the physician's signature.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
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
from careledger.domain.planning import CertifyPlan, DraftPlan
from careledger.domain.referral import MakeReferral
from careledger.domain.treatment import CompleteSession, ScheduleSession
from tests.helpers.network import Network

DAY = timedelta(days=1)
SOAP = {"subjective": "less stiffness", "objective": "flexion improved",
        "assessment": "progressing", "plan": "continue"}


@dataclass
class Care:
    riverside: UUID
    hudson: UUID
    start: datetime


def goals(pain: int, score: float, instrument: str, due: datetime) -> list[Goal]:
    return [
        Goal(goal_id="pain", description="Reduce pain at rest", metric="NPRS",
             baseline=pain, target=max(pain - 4, 0), unit="points", due=due.date()),
        Goal(goal_id="function", description=f"Improve {instrument}", metric=instrument,
             baseline=score, target=score - 20, unit="%", due=due.date()),
    ]


def episode(app: CareLedger, network: Network, *, clinic: UUID, therapist: UUID,
            at: datetime, code: str, instrument: FunctionalInstrument, pain: int,
            score: float, reason: str) -> UUID:
    """Referred, accepted, assessed and planned (not yet certified)."""
    physician = f"physician:{network.physician}"
    rid = app.handle(MakeReferral(
        physician_id=network.physician, patient_id=network.patient, clinic_id=clinic,
        discipline=Discipline.MEDICAL_MASSAGE, diagnosis_codes=[code], precautions=[],
        contraindications=[Technique.DEEP_TISSUE], urgency=Urgency.ROUTINE,
        authorized_visits=8, reason=reason, occurred_at=at, actor=physician,
    )).aggregate_id
    actor = f"therapist:{therapist}"
    app.handle(AcceptReferral(referral_id=rid, practitioner_id=therapist, occurred_at=at + DAY,
                              actor=actor))
    app.handle(RecordAssessment(
        referral_id=rid, practitioner_id=therapist, history="pain for six weeks", pain_nprs=pain,
        range_of_motion=[], muscle_tests=[], functional_instrument=instrument,
        functional_score=score, findings="guarding", red_flags=[], occurred_at=at + 2 * DAY,
        actor=actor))
    app.handle(DraftPlan(
        referral_id=rid, practitioner_id=therapist, goals=goals(pain, score, instrument.value,
                                                                at + 60 * DAY),
        techniques=[Technique.MYOFASCIAL_RELEASE, Technique.TRIGGER_POINT],
        frequency_per_week=2, duration_weeks=6, override_reason=None,
        occurred_at=at + 2 * DAY, actor=actor))
    return rid


def session(app: CareLedger, rid: UUID, therapist: UUID, session_id: str, at: datetime, *,
            pain: int, score: float, home: bool = False,
            scheduled: bool = False) -> None:
    """A session scheduled two days ahead and completed with its note (valid time `at`)."""
    actor = f"therapist:{therapist}"
    location = SessionLocation.HOME if home else SessionLocation.CLINIC
    if not scheduled:
        schedule(app, rid, therapist, session_id, at, home=home)
    app.handle(CompleteSession(
        referral_id=rid, session_id=session_id, practitioner_id=therapist, soap=SOAP,
        techniques=[(Technique.MYOFASCIAL_RELEASE, 15), (Technique.TRIGGER_POINT, 10)],
        pain_before=pain + 1, pain_after=pain, location=location, functional_score=score,
        goal_measurements=[{"goal_id": "pain", "value": pain},
                           {"goal_id": "function", "value": score}],
        override_reason=None, occurred_at=at, actor=actor))


def schedule(app: CareLedger, rid: UUID, therapist: UUID, session_id: str, at: datetime, *,
             home: bool = False) -> None:
    app.handle(ScheduleSession(
        referral_id=rid, practitioner_id=therapist, scheduled_for=at,
        location=SessionLocation.HOME if home else SessionLocation.CLINIC,
        occurred_at=at - 2 * DAY, actor=f"therapist:{therapist}", session_id=session_id))


def two_clinic_care(app: CareLedger, network: Network, start: datetime) -> Care:
    riverside = episode(app, network, clinic=network.clinic, therapist=network.therapist,
                        at=start, code="M54.50", instrument=FunctionalInstrument.ODI, pain=7,
                        score=40.0, reason="low back pain: evaluate and treat")
    signed = (start + 3 * DAY).date()
    app.handle(CertifyPlan(referral_id=riverside, physician_id=network.physician,
                           certified_from=signed,
                           certified_until=signed + 60 * DAY, occurred_at=start + 3 * DAY,
                           actor=f"physician:{network.physician}"))
    session(app, riverside, network.therapist, "s01", start + 5 * DAY, pain=6, score=36.0)
    session(app, riverside, network.therapist, "s02", start + 9 * DAY, pain=5, score=31.0,
            home=True)
    hudson = episode(app, network, clinic=network.other_clinic,
                     therapist=network.other_therapist, at=start + 4 * DAY, code="M54.2",
                     instrument=FunctionalInstrument.NDI, pain=6, score=30.0,
                     reason="neck pain: evaluate and treat")
    return Care(riverside=riverside, hudson=hudson, start=start)
