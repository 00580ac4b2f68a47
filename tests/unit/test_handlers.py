"""The projections' handlers on a seeded network, in memory: no PostgreSQL, no broker.

The rows they give are held against what the domain itself says of the same records
(a referral's status and visits, a practitioner's clinics, a patient's consent), and a
few hand-worked cases (units by the 8-minute rule, percent of the way to a goal, a late
certification). `tests/test_golden_master.py` and `tests/test_relay_and_views.py` hold
the same handlers to the rows the live views hold.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pytest

from careledger.access.tokens import TokenService
from careledger.domain.application import CareLedger
from careledger.domain.assessment import RecordAssessment
from careledger.domain.clinical import (
    CredentialKind,
    Discipline,
    SessionLocation,
    Technique,
    Urgency,
)
from careledger.domain.intake import AcceptReferral
from careledger.domain.network import Practitioner
from careledger.domain.patient import Patient
from careledger.domain.planning import CertifyPlan, DraftPlan
from careledger.domain.referral import MakeReferral, Referral
from careledger.domain.treatment import CompleteSession, ScheduleSession
from careledger.main.seed import seed_network
from careledger.projections import all_projections
from careledger.projections.envelope import Envelope
from careledger.projections.goals import percent_of_way
from careledger.projections.memory import MemoryViews
from tests.helpers.log import envelopes
from tests.helpers.network import NOW, build_network

RECORDED = datetime(2026, 12, 1, tzinfo=UTC)
SOAP = {"subjective": "s", "objective": "o", "assessment": "a", "plan": "p"}


@pytest.fixture(scope="module")
def seeded() -> tuple[CareLedger, MemoryViews, list[Envelope]]:
    app = CareLedger()
    seed_network(app, patients=21, seed=7, today=date(2026, 11, 30))
    log = envelopes(app)
    views = MemoryViews(all_projections())
    views.apply(log)
    return app, views, log


def by_kind(log: list[Envelope]) -> Counter[str]:
    return Counter(e.kind for e in log)


def test_every_patient_event_is_one_timeline_row(seeded: tuple) -> None:  # type: ignore[type-arg]
    _app, views, log = seeded
    rows = views.rows("timeline")
    assert len(rows) == sum(1 for e in log if e.patient_id is not None)
    assert {r["position"] for r in rows} == {e.position for e in log if e.patient_id}
    assert Counter(r["kind"] for r in rows)[Referral.SessionCompleted.KIND] == by_kind(
        log)[Referral.SessionCompleted.KIND]


def test_each_referral_row_says_what_the_referral_says(seeded: tuple) -> None:  # type: ignore[type-arg]
    app, views, _log = seeded
    rows = views.rows("referrals")
    assert rows
    for row in rows:
        referral = app.load(Referral, row["referral_id"])
        assert row["status"] == referral.status
        assert row["visits_used"] == referral.visits_completed
        assert row["visits_authorized"] == referral.authorized_visits
        assert row["clinic_id"] == referral.clinic_id
        assert row["patient_id"] == referral.patient_id
        plan = referral.plan
        if plan is not None and plan.certified:
            assert row["plan_status"] == "certified"
            assert row["certified_until"] == plan.certified_until


def test_the_care_team_and_consent_follow_the_referrals(seeded: tuple) -> None:  # type: ignore[type-arg]
    app, views, _log = seeded
    team = {(r["referral_id"], r["member_kind"]): r for r in views.rows("care_team")}
    for row in views.rows("referrals"):
        assert team[(row["referral_id"], "physician")]["member_id"] == row["physician_id"]
        assert team[(row["referral_id"], "clinic")]["member_id"] == row["clinic_id"]
    for consent in views.rows("consent"):
        assert consent["granted"] == app.load(Patient, consent["patient_id"]).consent_granted


def test_the_directory_holds_the_practitioners_as_registered(seeded: tuple) -> None:  # type: ignore[type-arg]
    app, views, _log = seeded
    for row in views.rows("practitioners"):
        practitioner = app.load(Practitioner, row["practitioner_id"])
        assert row["clinic_ids"] == [UUID(c) for c in practitioner.clinic_ids]
        assert row["conditions"] == practitioner.conditions
        assert len(row["credentials"]) == len(practitioner.credentials)
        licenses = [date.fromisoformat(c["expires_on"]) for c in practitioner.credentials
                    if c["kind"] == CredentialKind.STATE_LICENSE]
        assert row["license_valid_until"] == (max(licenses) if licenses else None)


def test_billing_lines_carry_every_billed_unit(seeded: tuple) -> None:  # type: ignore[type-arg]
    _app, views, log = seeded
    billed = sum(e.data["total_units"] for e in log if e.type == Referral.SessionCompleted.TOPIC)
    assert sum(r["units"] for r in views.rows("billing_lines")) == billed > 0


def test_goals_measure_the_way_from_baseline_to_target(seeded: tuple) -> None:  # type: ignore[type-arg]
    _app, views, _log = seeded
    measured = [g for g in views.rows("goals") if g["latest"] is not None]
    assert measured
    for goal in measured:
        assert goal["percent_of_way"] == percent_of_way(goal["latest"], goal["baseline"],
                                                        goal["target"])


def test_percent_of_the_way_rounds_as_postgresql_rounded() -> None:
    assert percent_of_way(7, 7, 3) == 0.0 and str(percent_of_way(7, 7, 3)) == "0.0"
    assert percent_of_way(5, 7, 3) == 50.0
    assert percent_of_way(40.0, 44.0, 24.0) == 20.0
    assert percent_of_way(1, 0, 3) == 33.3 and percent_of_way(2, 0, 3) == 66.7
    assert percent_of_way(0.125, 0, 1) == 12.5 and percent_of_way(1, 0, 8) == 12.5
    assert percent_of_way(3, 3, 3) is None


def test_a_late_certification_covers_the_visits_of_its_period() -> None:
    app = CareLedger()
    net = build_network(app, TokenService("unit-test-secret-0123456789"))
    actor = "t"
    rid = app.handle(MakeReferral(
        physician_id=net.physician, patient_id=net.patient, clinic_id=net.clinic,
        discipline=Discipline.MEDICAL_MASSAGE, diagnosis_codes=["M54.50"], precautions=[],
        contraindications=[], urgency=Urgency.ROUTINE, authorized_visits=4, reason="",
        occurred_at=NOW, actor=actor)).aggregate_id
    app.handle(AcceptReferral(referral_id=rid, practitioner_id=net.therapist, occurred_at=NOW,
                              actor=actor))
    app.handle(RecordAssessment(referral_id=rid, practitioner_id=net.therapist, history="",
                                pain_nprs=6,
                                range_of_motion=[], muscle_tests=[], functional_instrument="ODI",  # type: ignore[arg-type]
                                functional_score=40, findings="", red_flags=[], occurred_at=NOW,
                                actor=actor))
    from careledger.domain.clinical import Goal

    app.handle(DraftPlan(referral_id=rid, practitioner_id=net.therapist, goals=[Goal(
        goal_id="pain", description="", metric="NPRS", baseline=6, target=2, unit="points",
        due=NOW.date() + timedelta(days=30))], techniques=[Technique.MYOFASCIAL_RELEASE],
        frequency_per_week=2, duration_weeks=4, override_reason=None, occurred_at=NOW,
        actor=actor))
    for n, minutes in enumerate((7, 23), start=1):
        at = NOW + timedelta(days=n)
        app.handle(ScheduleSession(referral_id=rid, practitioner_id=net.therapist, scheduled_for=at,
                                   location=SessionLocation.CLINIC, occurred_at=NOW, actor=actor,
                                   session_id=f"s{n}"))
        app.handle(CompleteSession(
            referral_id=rid, session_id=f"s{n}", practitioner_id=net.therapist, soap=SOAP,
            techniques=[(Technique.MYOFASCIAL_RELEASE, minutes)], pain_before=6, pain_after=4,
            location=SessionLocation.CLINIC, functional_score=None,
            goal_measurements=[{"goal_id": "pain", "value": 4}], override_reason=None,
            occurred_at=at, actor=actor))
    views = MemoryViews(all_projections())
    views.apply(envelopes(app))
    lines = {r["session_id"]: r for r in views.rows("billing_lines")}
    assert (lines["s1"]["minutes"], lines["s1"]["units"]) == (7, 0), "7 minutes bill nothing"
    assert (lines["s2"]["units"], lines["s2"]["certified"]) == (2, False)
    app.handle(CertifyPlan(referral_id=rid, physician_id=net.physician, certified_from=NOW.date(),
                           certified_until=NOW.date() + timedelta(days=60),
                           occurred_at=NOW + timedelta(days=5), actor=actor))
    views = MemoryViews(all_projections())
    views.apply(envelopes(app))
    assert [r["certified"] for r in views.rows("billing_lines") if r["units"]] == [True]
    goal = views.rows("goals")[0]
    assert (goal["latest"], goal["percent_of_way"]) == (4.0, 50.0)
    progress = views.rows("referral_progress")[0]
    assert (progress["baseline_pain"], progress["latest_pain"],
            progress["latest_function"], progress["visits_measured"]) == (6, 4, 40.0, 2)
