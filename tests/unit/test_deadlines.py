"""What falls due in an episode: one rule, the same whoever asks and wherever the clinic is.

The first treatment's day is the day its note states, in the clinic's own zone: a session
at 23:30 in New York on 1 March began the 30 days on 1 March, though it was 2 March in
UTC. The domain's aggregate, the views (the caseload's `first_treatment_on`, filled by its
handler from the same event) and the physician's status all read it so.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from careledger.domain import deadlines
from careledger.domain.application import CareLedger
from careledger.domain.authorization import (
    Visit,
    allocate,
    referral_authorization,
    visits_remaining,
)
from careledger.domain.clinical import SessionLocation, Technique
from careledger.domain.referral import Referral
from careledger.domain.treatment import CompleteSession, ScheduleSession
from careledger.graphql.worklists.types import CareStatus, care_status
from careledger.projections import all_projections
from careledger.projections.memory import MemoryViews
from tests.helpers.episode import assess, plan
from tests.helpers.log import envelopes
from tests.helpers.network import build_network, open_episode

ZONES = {"New York": timezone(timedelta(hours=-5)), "UTC": UTC,
         "Tokyo": timezone(timedelta(hours=9))}
SOAP = {"subjective": "s", "objective": "o", "assessment": "a", "plan": "p"}


@pytest.mark.parametrize("zone", sorted(ZONES))
def test_the_grace_period_counts_from_the_day_the_note_states(zone: str) -> None:
    from careledger.access.tokens import TokenService

    app = CareLedger()
    net = build_network(app, TokenService("unit-test-secret-0123456789"))
    rid = open_episode(app, net, accept=True)
    assess(app, net, rid)
    plan(app, net, rid)
    # Late in the evening of 2 March where the clinic is (after the referral, that morning
    # in UTC): another day in other zones.
    at = datetime(2026, 3, 2, 23, 30, tzinfo=ZONES[zone])
    app.handle(ScheduleSession(referral_id=rid, practitioner_id=net.therapist,
                               scheduled_for=at, location=SessionLocation.CLINIC,
                               occurred_at=at, actor="t", session_id="s1"))
    app.handle(CompleteSession(
        referral_id=rid, session_id="s1", practitioner_id=net.therapist, soap=SOAP,
        techniques=[(Technique.MYOFASCIAL_RELEASE, 20)], pain_before=5, pain_after=4,
        location=SessionLocation.CLINIC, functional_score=None, goal_measurements=[],
        override_reason=None, occurred_at=at, actor="t"))
    referral = app.load(Referral, rid)
    assert referral.first_treatment_on == date(2026, 3, 2)
    views = MemoryViews(all_projections())
    views.apply(envelopes(app))
    row = next(r for r in views.rows("referrals") if r["referral_id"] == rid)
    assert row["first_treatment_on"] == date(2026, 3, 2)
    last_day, first_late = date(2026, 4, 1), date(2026, 4, 2)
    for today, overdue in ((last_day, False), (first_late, True)):
        assert referral.certification_overdue(today) is overdue, (zone, today)
        status = care_status(row["status"], row["plan_status"], row["certified_until"],
                             row["first_treatment_on"], today)
        assert (status is CareStatus.CERTIFICATION_OVERDUE) is overdue, (zone, today)


def test_a_certified_plan_is_overdue_the_day_after_its_period() -> None:
    until = date(2026, 5, 31)
    kwargs = {"certified": True, "certified_until": until, "first_treatment_on": None}
    assert not deadlines.certification_overdue(today=until, **kwargs)  # type: ignore[arg-type]
    assert deadlines.certification_overdue(today=until + timedelta(days=1), **kwargs)  # type: ignore[arg-type]
    assert not deadlines.certification_overdue(certified=False, certified_until=None,
                                               first_treatment_on=None, today=until)


def test_recertification_is_due_14_days_before_the_period_ends() -> None:
    until = date(2026, 5, 31)
    assert not deadlines.recertification_due(until, until - timedelta(days=14))
    assert deadlines.recertification_due(until, until - timedelta(days=13))
    assert deadlines.recertification_due(until, until + timedelta(days=3))
    assert not deadlines.recertification_due(None, until)


def test_a_progress_report_is_due_every_ten_visits_and_visits_run_out() -> None:
    assert not deadlines.progress_report_due(9, 0)
    assert deadlines.progress_report_due(10, 0)
    assert not deadlines.progress_report_due(15, 10)
    # Visits left are the authorizations' (tests/unit/test_authorization.py has the rest).
    own = referral_authorization(12, date(2026, 3, 2))
    used = [Visit(f"s{i}", date(2026, 3, 2), True) for i in range(10)]
    assert visits_remaining(allocate([own], used), date(2026, 3, 2)) == 2
    over = [Visit(f"s{i}", date(2026, 3, 2), True) for i in range(6)]
    assert visits_remaining(allocate([referral_authorization(4, date(2026, 3, 2))], over),
                            date(2026, 3, 2)) == 0


def test_the_outcome_measure_is_due_two_visits_before_each_report_until_taken() -> None:
    from careledger.domain.deadlines import outcome_measure_due

    def due(visits: int, at_report: int, measured: bool) -> bool:
        return outcome_measure_due(visits_completed=visits, visits_at_last_report=at_report,
                                   measured_since_report=measured)

    assert [due(v, 0, False) for v in (1, 7, 8, 9, 10, 12)] == [
        False, False, True, True, True, True]
    assert not due(9, 0, True)  # taken since the assessment: the report has it
    assert not due(13, 10, False) and due(18, 10, False)  # counted from the last report
