"""A realistic demo network: clinics, physicians, therapists, 200 patients, whole episodes.

Built through the application's own commands, so every invariant holds for the
demo data too. The same seed gives the same network (names, conditions, episode
shapes, times); ids are fresh each run.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from careledger.domain.application import CareLedger
from careledger.domain.assessment import RecordAssessment
from careledger.domain.body import BodyRegion, Side, Site
from careledger.domain.clinical import (
    CredentialKind,
    Discipline,
    FunctionalInstrument,
    Goal,
    GoalOutcome,
    Profession,
    SessionLocation,
    Technique,
    Urgency,
)
from careledger.domain.closing import Discharge, SendProgressReport
from careledger.domain.intake import AcceptReferral
from careledger.domain.messaging import MessageKind, MessageUrgency, Party, SendMessage
from careledger.domain.network import (
    AddCredential,
    Affiliate,
    OfferHomeVisits,
    RecordExperience,
    RegisterClinic,
    RegisterPractitioner,
)
from careledger.domain.patient import GrantConsent, RegisterPatient
from careledger.domain.planning import CertifyPlan, DraftPlan
from careledger.domain.referral import MakeReferral
from careledger.domain.treatment import CompleteSession, ScheduleSession
from careledger.main.demo_data import CLINICS, CODED, CONDITIONS, FAMILY, GIVEN, SITES
from careledger.main.seed_billing import npi, record_billing, record_education

SEEDER = "network_admin:seed"



@dataclass
class DemoNetwork:
    """The principals the demo prints tokens for, and what was built."""

    clinic_ids: list[str] = field(default_factory=list)
    physician_ids: list[str] = field(default_factory=list)
    therapist_ids: dict[str, list[str]] = field(default_factory=dict)  # clinic -> therapists
    patient_ids: list[str] = field(default_factory=list)
    referral_ids: list[str] = field(default_factory=list)
    demo_physician: str = ""
    demo_therapist: str = ""
    demo_therapist_clinic: str = ""
    demo_patient: str = ""
    #: Principals without a record of their own in the network: they exist as tokens.
    demo_clinic_admin: str = ""
    demo_auditor: str = ""
    demo_biller: str = ""
    commands: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Progress = Callable[[int], None]


def seed_network(
    app: CareLedger, *, patients: int = 200, seed: int = 7, progress: Progress | None = None,
    today: date | None = None,
) -> DemoNetwork:
    rng = random.Random(seed)
    today = today or datetime.now(UTC).date()
    start = datetime.combine(today - timedelta(days=180), datetime.min.time(), UTC)
    net = DemoNetwork()
    tick = progress or (lambda _n: None)

    def run(result: Any) -> Any:
        net.commands += 1
        return result

    for name, disciplines, address, lat, lon, radius in CLINICS:
        clinic = run(app.handle(RegisterClinic(
            name=name, disciplines=disciplines, address=address, latitude=lat, longitude=lon,
            home_visit_radius_km=radius, occurred_at=start, actor=SEEDER)))
        net.clinic_ids.append(str(clinic.aggregate_id))
        net.therapist_ids[str(clinic.aggregate_id)] = []

    licence_expiry = today + timedelta(days=365)
    for i in range(5):
        doc = run(app.handle(RegisterPractitioner(
            name=f"Dr. {GIVEN[i * 3 % 20]} {FAMILY[i * 7 % 20]}", profession=Profession.PHYSICIAN,
            occurred_at=start, actor=SEEDER))).aggregate_id
        run(app.handle(AddCredential(practitioner_id=doc, kind=CredentialKind.NPI,
                                     number=npi(1000000 + i),
                                     issuer="CMS NPPES", expires_on=None, occurred_at=start,
                                     actor=SEEDER)))
        run(app.handle(AddCredential(practitioner_id=doc, kind=CredentialKind.STATE_LICENSE,
                                     number=f"MD-{204000 + i}",
                                     issuer="NY State Education Department",
                                     expires_on=licence_expiry, occurred_at=start, actor=SEEDER)))
        net.physician_ids.append(str(doc))

    professions = {
        Discipline.MEDICAL_MASSAGE: Profession.MEDICAL_MASSAGE_THERAPIST,
        Discipline.PHYSICAL_THERAPY: Profession.PHYSICAL_THERAPIST,
        Discipline.CHIROPRACTIC: Profession.CHIROPRACTOR,
    }
    count = 0
    for clinic_id, (_name, disciplines, *_rest) in zip(net.clinic_ids, CLINICS, strict=True):
        for discipline in disciplines:
            for _ in range(2):
                count += 1
                profession = professions[discipline]
                tid = run(app.handle(RegisterPractitioner(
                    name=f"{GIVEN[(count * 5) % 20]} {FAMILY[(count * 3 + 1) % 20]}",
                    profession=profession, occurred_at=start, actor=SEEDER))).aggregate_id
                run(app.handle(AddCredential(
                    practitioner_id=tid, kind=CredentialKind.STATE_LICENSE,
                    number=f"{discipline.value[:2].upper()}"
                    f"-{31000 + count}", issuer="NY State Education Department",
                    expires_on=licence_expiry, occurred_at=start, actor=SEEDER)))
                if discipline is Discipline.MEDICAL_MASSAGE and count % 2:
                    run(app.handle(AddCredential(
                        practitioner_id=tid, kind=CredentialKind.AMMA_CERTIFICATION,
                        number=f"AMMA-{5100 + count}",
                        issuer="AMMA", expires_on=today + timedelta(days=700), occurred_at=start,
                        actor=SEEDER)))
                run(app.handle(Affiliate(practitioner_id=tid, clinic_id=UUID(clinic_id),
                                         occurred_at=start,
                                         actor=SEEDER)))
                run(app.handle(RecordExperience(
                    practitioner_id=tid, conditions=sorted({c for cond in rng.sample(CONDITIONS, 3)
                                                            for c in cond[1]}),
                    occurred_at=start, actor=SEEDER)))
                if discipline is not Discipline.CHIROPRACTIC and count % 3 == 0:
                    run(app.handle(OfferHomeVisits(practitioner_id=tid, radius_km=15.0,
                                                   occurred_at=start,
                                                   actor=SEEDER)))
                net.therapist_ids[clinic_id].append(f"{tid}:{discipline.value}")

    for n in range(patients):
        _episode(app, net, rng, n, start, today, run)
        tick(1)

    _second_clinic(app, net, today, run)
    record_billing(app, clinic_ids=net.clinic_ids, patient_ids=net.patient_ids,
                   therapist_ids=[t.split(":")[0] for ts in net.therapist_ids.values()
                                  for t in ts],
                   since=start.date(), run=run,
                   at=datetime.combine(today - timedelta(days=1), datetime.min.time(), UTC))
    record_education(app, therapist_ids=[t.split(":")[0] for ts in net.therapist_ids.values()
                                         for t in ts], on=today - timedelta(days=30), run=run)
    net.demo_physician = net.physician_ids[0]
    first_clinic = net.clinic_ids[0]
    net.demo_therapist, _ = net.therapist_ids[first_clinic][0].split(":")
    net.demo_therapist_clinic = first_clinic
    net.demo_clinic_admin, net.demo_auditor, net.demo_biller = (
        str(uuid4()), str(uuid4()), str(uuid4()))
    return net


def _episode(
    app: CareLedger, net: DemoNetwork, rng: random.Random, n: int, start: datetime,
    today: date, run: Callable[[Any], Any],
) -> None:
    condition, codes, instrument, techniques, contraindicated = CONDITIONS[n % len(CONDITIONS)]
    physician = UUID(net.physician_ids[n % len(net.physician_ids)])
    began = start + timedelta(days=rng.randint(0, 120), hours=rng.randint(8, 16))
    patient = run(app.handle(RegisterPatient(
        given_name=GIVEN[rng.randrange(20)], family_name=FAMILY[rng.randrange(20)],
        birth_date=date(rng.randint(1945, 2004), rng.randint(1, 12), rng.randint(1, 28)),
        sex=rng.choice(["female", "male"]), address=f"{rng.randint(1, 999)} Main St",
        latitude=42.6 + rng.random() / 2, longitude=-73.9 + rng.random() / 2,
        occurred_at=began, actor=f"physician:{physician}"))).aggregate_id
    net.patient_ids.append(str(patient))
    if not net.demo_patient and n == 0:
        net.demo_patient = str(patient)
    run(app.handle(GrantConsent(patient_id=patient, occurred_at=began,
                                actor=f"physician:{physician}")))

    discipline = Discipline.MEDICAL_MASSAGE if condition in {
        "fibromyalgia", "lymphedema", "low back pain", "neck pain"} else rng.choice(
        [Discipline.PHYSICAL_THERAPY, Discipline.CHIROPRACTIC, Discipline.MEDICAL_MASSAGE])
    if condition == "post-surgical knee recovery":
        discipline = Discipline.PHYSICAL_THERAPY
    candidates = [
        (cid, t) for cid, ts in net.therapist_ids.items() for t in ts
        if t.endswith(":" + discipline.value)
    ]
    clinic_id, therapist_entry = candidates[(n // len(CONDITIONS)) % len(candidates)]
    if n == 0:  # the demo patient sits with the demo therapist's clinic
        clinic_id, therapist_entry = net.clinic_ids[0], net.therapist_ids[net.clinic_ids[0]][0]
    therapist = UUID(therapist_entry.split(":")[0])
    visits = rng.randint(8, 16)
    physician_actor = f"physician:{physician}"
    therapist_actor = f"therapist:{therapist}"
    referral = run(app.handle(MakeReferral(
        physician_id=physician, patient_id=patient, clinic_id=UUID(clinic_id),
        discipline=discipline, diagnosis_codes=codes,
        precautions=[], coded_precautions=CODED.get(condition, []),
        contraindications=contraindicated, urgency=rng.choice(list(Urgency)),
        authorized_visits=visits, reason=f"{condition}: evaluate and treat",
        occurred_at=began, actor=physician_actor))).aggregate_id
    net.referral_ids.append(str(referral))

    stage = rng.random()
    if stage < 0.06:
        return  # still waiting for the clinic
    moment = began + timedelta(days=rng.randint(1, 3))
    run(app.handle(AcceptReferral(referral_id=referral, practitioner_id=therapist,
                                  occurred_at=moment,
                                  actor=therapist_actor)))
    moment += timedelta(days=rng.randint(2, 6))
    pain = rng.randint(5, 9)
    score = float(rng.randint(30, 70))
    # Fibromyalgia's tender points (of 18) are counted at the assessment and each visit.
    # (from an rng of their own: the rest of the demo stays as it was without them)
    counting = random.Random(f"tender points {n}")
    tender = counting.randint(11, 16) if condition == "fibromyalgia" else None
    run(app.handle(RecordAssessment(
        referral_id=referral, practitioner_id=therapist,
        history=f"{condition} for {rng.randint(2, 40)} weeks",
        pain_nprs=pain, range_of_motion=[{"joint": "lumbar spine" if instrument ==
                                          FunctionalInstrument.ODI else "cervical spine",
                                          "movement": "flexion", "degrees": rng.randint(20, 50),
                                          "normal_degrees": 60}],
        muscle_tests=[{"muscle": "erector spinae", "grade": rng.randint(3, 4)}],
        functional_instrument=instrument, functional_score=score,
        findings="tenderness and guarding", red_flags=[], occurred_at=moment,
        tender_points=tender, pain_locations=SITES[condition], actor=therapist_actor)))
    if stage < 0.12:
        return
    goals = [
        Goal(goal_id="pain", description="Reduce pain at rest", metric="NPRS",
             baseline=pain, target=max(pain - 4, 0), unit="points",
             due=(moment + timedelta(days=56)).date()),
        Goal(goal_id="function", description=f"Improve {instrument.value}",
             metric=instrument.value, baseline=score, target=max(score - 20, 0), unit="%",
             due=(moment + timedelta(days=56)).date()),
    ]
    plan_day = moment
    run(app.handle(DraftPlan(
        referral_id=referral, practitioner_id=therapist, goals=goals, techniques=techniques,
        sites={t: SITES[condition] for t in techniques}, frequency_per_week=2,
        duration_weeks=6, override_reason=None, occurred_at=moment,
        actor=therapist_actor)))
    certified = stage > 0.2
    if certified:
        sign = plan_day + timedelta(days=rng.randint(1, 5))
        run(app.handle(CertifyPlan(
            referral_id=referral, physician_id=physician, certified_from=sign.date(),
            certified_until=sign.date() + timedelta(days=rng.choice([60, 90])), occurred_at=sign,
            actor=physician_actor)))
    done = visits if stage > 0.45 else rng.randint(1, visits - 1)
    for visit in range(done):
        upcoming = moment + timedelta(days=rng.choice([3, 4]))
        if upcoming.date() >= today:
            break  # nothing is recorded as having happened later than today
        moment = upcoming
        session_id = f"s{visit + 1:02d}"
        location = SessionLocation.HOME if visit % 5 == 4 else SessionLocation.CLINIC
        run(app.handle(ScheduleSession(
            referral_id=referral, practitioner_id=therapist, scheduled_for=moment,
            location=location,
            occurred_at=moment - timedelta(days=2), actor=therapist_actor,
            session_id=session_id)))
        pain = max(pain - rng.choice([0, 0, 1]), 0)
        score = max(score - rng.choice([0, 2, 3]), 0.0)
        tender = None if tender is None else max(tender - counting.choice([0, 0, 1]), 0)
        minutes = [(t, rng.choice([8, 10, 15, 20]), SITES[condition]) for t in techniques[:2]]
        # Some notes are written up days later: valid time and transaction time differ.
        run(app.handle(CompleteSession(
            referral_id=referral, session_id=session_id, practitioner_id=therapist,
            soap={"subjective": "reports less stiffness", "objective": "improved ROM",
                  "assessment": "progressing toward goals", "plan": "continue plan"},
            techniques=minutes, pain_before=min(pain + 1, 10), pain_after=pain,
            location=location, functional_score=score,
            goal_measurements=[{"goal_id": "pain", "value": pain},
                               {"goal_id": "function", "value": score}],
            override_reason=None, occurred_at=moment, actor=therapist_actor,
            tender_points=tender, services=_services(discipline, visit))))
        if (visit + 1) % 10 == 0:
            run(app.handle(SendProgressReport(
                referral_id=referral, practitioner_id=therapist, summary="steady progress",
                goal_status=[{"goal_id": "pain", "latest": pain, "note": ""}],
                occurred_at=moment, actor=therapist_actor)))
    if stage > 0.45 and certified:
        run(app.handle(SendProgressReport(
            referral_id=referral, practitioner_id=therapist,
            summary="episode summary before discharge",
            goal_status=[{"goal_id": "pain", "latest": pain, "note": ""}],
            occurred_at=moment, actor=therapist_actor)))
        outcome = {
            "pain": GoalOutcome.MET if pain <= goals[0].target else GoalOutcome.PARTIALLY_MET,
            "function": GoalOutcome.MET if score <= goals[1].target
            else rng.choice([GoalOutcome.PARTIALLY_MET, GoalOutcome.NOT_MET]),
        }
        run(app.handle(Discharge(referral_id=referral, practitioner_id=therapist, outcomes=outcome,
                                 summary="discharged to home program", occurred_at=moment,
                                 actor=therapist_actor)))


def _services(discipline: Discipline, visit: int) -> list[str]:
    """Untimed services: a physical therapist evaluates at the first visit, a chiropractor
    manipulates at every one (fees.py)."""
    if discipline is Discipline.PHYSICAL_THERAPY:
        return ["97162"] if visit == 0 else []
    return ["98940"] if discipline is Discipline.CHIROPRACTIC else []


def _second_clinic(app: CareLedger, net: DemoNetwork, today: date,
                   run: Callable[[Any], Any]) -> None:
    """The demo patient is also in physical therapy at the second clinic, referred by the
    same physician: the shared timeline spans two clinics, and that plan waits for the
    physician's signature. Made after every other episode, so the seed's random draws (and
    with them the rest of the network) stay as they were."""
    if not net.demo_patient:
        return  # no patients seeded
    patient = UUID(net.demo_patient)
    physician = UUID(net.physician_ids[0])
    clinic = net.clinic_ids[1]
    therapist = next(UUID(t.split(":")[0]) for t in net.therapist_ids[clinic]
                     if t.endswith(":" + Discipline.PHYSICAL_THERAPY.value))
    began = datetime.combine(today - timedelta(days=21), datetime.min.time(), UTC) + timedelta(
        hours=10)
    therapist_actor = f"therapist:{therapist}"
    referral = run(app.handle(MakeReferral(
        physician_id=physician, patient_id=patient, clinic_id=UUID(clinic),
        discipline=Discipline.PHYSICAL_THERAPY, diagnosis_codes=["M54.50"], precautions=[],
        contraindications=[], urgency=Urgency.ROUTINE, authorized_visits=8,
        reason="low back pain: strengthening and a home program", occurred_at=began,
        actor=f"physician:{physician}"))).aggregate_id
    net.referral_ids.append(str(referral))
    run(app.handle(AcceptReferral(referral_id=referral, practitioner_id=therapist, occurred_at=began
                                  + timedelta(days=1), actor=therapist_actor)))
    assessed = began + timedelta(days=2)
    run(app.handle(RecordAssessment(
        referral_id=referral, practitioner_id=therapist, history="low back pain for 10 weeks",
        pain_nprs=6, range_of_motion=[{"joint": "lumbar spine", "movement": "flexion",
                                       "degrees": 35, "normal_degrees": 60}],
        muscle_tests=[{"muscle": "gluteus medius", "grade": 4}],
        functional_instrument=FunctionalInstrument.ODI, functional_score=38.0,
        findings="weak hip abductors", red_flags=[], occurred_at=assessed,
        actor=therapist_actor)))
    run(app.handle(DraftPlan(
        referral_id=referral, practitioner_id=therapist, goals=[
            Goal(goal_id="pain", description="Reduce pain at rest", metric="NPRS",
                 baseline=6, target=2, unit="points", due=(assessed + timedelta(days=42)).date()),
            Goal(goal_id="function", description="Improve ODI", metric="ODI", baseline=38.0,
                 target=18.0, unit="%", due=(assessed + timedelta(days=42)).date()),
        ], techniques=[Technique.THERAPEUTIC_EXERCISE, Technique.STRETCHING],
        frequency_per_week=2, duration_weeks=6, override_reason=None, occurred_at=assessed,
        actor=therapist_actor)))
    for visit, (day, pain, score) in enumerate([(5, 5, 35.0), (9, 5, 32.0), (13, 4, 30.0),
                                                (17, 3, 27.0)]):
        moment = began + timedelta(days=day)
        session_id = f"pt{visit + 1:02d}"
        location = SessionLocation.HOME if visit == 2 else SessionLocation.CLINIC
        # The last visit did what the plan does not name: it waits for the physician.
        beyond: list[tuple[Technique, int, list[Site]]] = [] if visit < 3 else [
            (Technique.SOFT_TISSUE_MOBILIZATION, 8, [Site(BodyRegion.HIP, Side.LEFT)])]
        reason = "hip flexors too tight to exercise until released" if beyond else None
        run(app.handle(ScheduleSession(
            referral_id=referral, practitioner_id=therapist, scheduled_for=moment,
            location=location,
            occurred_at=moment - timedelta(days=2), actor=therapist_actor,
            session_id=session_id)))
        run(app.handle(CompleteSession(
            referral_id=referral, session_id=session_id, practitioner_id=therapist,
            soap={"subjective": "less pain bending", "objective": "hip abduction 4+/5",
                  "assessment": "progressing toward goals", "plan": "progress the exercises"},
            techniques=[(Technique.THERAPEUTIC_EXERCISE, 25), (Technique.STRETCHING, 10),
                        *beyond], pain_before=pain + 1, pain_after=pain, location=location,
            functional_score=score,
            goal_measurements=[{"goal_id": "pain", "value": pain},
                               {"goal_id": "function", "value": score}],
            override_reason=None, off_plan_reason=reason, occurred_at=moment,
            actor=therapist_actor)))
    # ...and the therapist asks the physician about it: on the physician's worklist.
    run(app.handle(SendMessage(
        referral_id=referral, sender=Party.THERAPIST, sender_id=therapist,
        kind=MessageKind.QUESTION, urgency=MessageUrgency.SOON, about=["pt04"],
        body="The hip flexors were too tight to exercise today, so I released them first. "
        "May I add soft-tissue mobilization to the plan?", message_id="question-1",
        occurred_at=moment + timedelta(hours=2), actor=therapist_actor)))

