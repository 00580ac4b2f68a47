"""Which visit uses which authorization: placed whenever any placement could be, counted
once, and running out when the clinic should ask for more."""

from __future__ import annotations

import itertools
import random
from datetime import date, timedelta

import pytest

from careledger.domain.authorization import (
    Authorization,
    AuthorizationSource,
    Visit,
    allocate,
    referral_authorization,
    refusal,
    running_out,
    visits_remaining,
)

DAY0 = date(2026, 3, 2)


def _auth(i: int, visits: int, start: int, end: int | None) -> Authorization:
    return Authorization(f"a{i}", AuthorizationSource.PAYER, visits,
                         DAY0 + timedelta(start), None if end is None else DAY0 + timedelta(end))


def _fits_somehow(auths: list[Authorization], visits: list[Visit]) -> bool:
    """Brute force: some assignment of visits to covering authorizations within capacity."""
    choices = [[a for a in auths if a.covers(v.on)] for v in visits]
    for pick in itertools.product(*choices):
        counts: dict[str, int] = {}
        for a in pick:
            counts[a.authorization_id] = counts.get(a.authorization_id, 0) + 1
        if all(counts.get(a.authorization_id, 0) <= a.visits for a in auths):
            return True
    return not visits


def test_visits_are_placed_whenever_any_placement_could_place_them() -> None:
    rng = random.Random(17)
    for _ in range(400):
        auths = []
        for i in range(rng.randint(1, 3)):
            start = rng.randint(0, 6)
            end = rng.choice([None, start + rng.randint(0, 6)])
            auths.append(_auth(i, rng.randint(1, 3), start, end))
        visits = [Visit(f"s{j}", DAY0 + timedelta(rng.randint(0, 12)), rng.random() < 0.5)
                  for j in range(rng.randint(0, 6))]
        allocation = allocate(auths, visits)
        assert (not allocation.unplaced) == _fits_somehow(auths, visits), (auths, visits)
        placed = len(visits) - len(allocation.unplaced)
        assert sum(s.used + s.booked for s in allocation.standings) == placed
        for s in allocation.standings:
            assert s.used + s.booked <= s.authorization.visits
            for sid, aid in allocation.placed.items():
                if aid == s.authorization.authorization_id:
                    assert s.authorization.covers(next(v.on for v in visits
                                                       if v.session_id == sid))


def test_a_visit_uses_the_authorization_ending_soonest() -> None:
    own = referral_authorization(4, DAY0)
    payer = _auth(1, 4, 0, 10)
    allocation = allocate([own, payer], [Visit("s1", DAY0 + timedelta(3), True)])
    assert allocation.placed == {"s1": "a1"}  # the open-ended one still covers later days
    assert allocation.standing("a1").used == 1 and allocation.standing("referral").used == 0


def test_units_are_capped_per_code_under_the_authorization_that_names_them() -> None:
    capped = Authorization("a1", AuthorizationSource.PAYER, 10, DAY0, units={"97124": 3})
    two = {"97124": 2}
    allocation = allocate([capped], [Visit("s1", DAY0, True, two), Visit("s2", DAY0, True, two)])
    assert [v.session_id for v in allocation.unplaced] == ["s2"]
    assert "units billed exceed" in refusal(allocation, allocation.unplaced[0])
    assert allocation.standing("a1").units_used == {"97124": 2}
    free = allocate([capped], [Visit("s1", DAY0, True, {"97140": 4})])
    assert not free.unplaced  # a code it does not name is held to its visits only


def test_a_refusal_says_what_ran_out_and_what_to_do() -> None:
    ended = _auth(1, 5, 0, 5)
    allocation = allocate([ended], [Visit("s1", DAY0 + timedelta(9), False)])
    assert refusal(allocation, allocation.unplaced[0]) == (
        "no authorization with visits left covers 2026-03-11; the last ended on 2026-03-07: "
        "record the next authorization first")
    full = allocate([_auth(1, 1, 0, None)], [Visit("s1", DAY0, True), Visit("s2", DAY0, False)])
    assert refusal(full, full.unplaced[0]) == (
        "all 1 authorized visits are used or booked: record the next authorization first")
    later = allocate([_auth(1, 2, 5, None)], [Visit("s1", DAY0, False)])
    assert "the next starts on 2026-03-07" in refusal(later, later.unplaced[0])


def test_running_out_at_two_visits_left_or_a_week_before_the_last_end() -> None:
    today = DAY0 + timedelta(20)
    three = allocate([_auth(1, 3, 0, None)], [])
    assert visits_remaining(three, today) == 3 and not running_out(three, today)
    two = allocate([_auth(1, 3, 0, None)], [Visit("s1", DAY0, True)])
    assert running_out(two, today)
    ending = allocate([_auth(1, 9, 0, 27)], [])
    assert running_out(ending, today)  # ends in 7 days
    assert not running_out(allocate([_auth(1, 9, 0, 28)], []), today)
    # An ended authorization's visits are not left: only those in force count.
    ended = allocate([_auth(1, 9, 0, 19), _auth(2, 2, 0, None)], [])
    assert visits_remaining(ended, today) == 2 and running_out(ended, today)


def test_corrected_minutes_are_held_to_the_units_an_authorization_allows() -> None:
    from careledger.access.tokens import TokenService
    from careledger.domain.amendments import Amend
    from careledger.domain.application import CareLedger
    from careledger.domain.authorizing import AuthorizeVisits
    from careledger.domain.clinical import SessionLocation, Technique
    from careledger.domain.errors import InvariantViolated
    from careledger.domain.referral import Referral
    from careledger.domain.treatment import CompleteSession, ScheduleSession
    from tests.helpers.network import NOW, build_network, open_episode

    app = CareLedger()
    net = build_network(app, TokenService("unit-test-secret-0123456789"))
    rid = open_episode(app, net, accept=True, authorized_visits=1)
    app.handle(AuthorizeVisits(referral_id=rid, visits=4, starts_on=NOW.date(), payer="Acme",
                               number="PA-1", units={"97140": 2}, occurred_at=NOW, actor="c"))
    app.handle(ScheduleSession(referral_id=rid, practitioner_id=net.therapist, scheduled_for=NOW,
                               location=SessionLocation.CLINIC, occurred_at=NOW, actor="t",
                               session_id="s1"))
    app.handle(ScheduleSession(referral_id=rid, practitioner_id=net.therapist, scheduled_for=NOW,
                               location=SessionLocation.CLINIC, occurred_at=NOW, actor="t",
                               session_id="s2"))
    app.handle(CompleteSession(
        referral_id=rid, session_id="s2", practitioner_id=net.therapist,
        soap={"subjective": "a", "objective": "b", "assessment": "c", "plan": "d"},
        techniques=[(Technique.MYOFASCIAL_RELEASE, 20)], pain_before=5, pain_after=4,
        location=SessionLocation.CLINIC, functional_score=None, goal_measurements=[],
        override_reason=None, occurred_at=NOW, actor="t"))
    referral = app.load(Referral, rid)
    placed = allocate([Authorization.of(a) for a in referral.authorizations],
                      referral.visits_held())
    assert placed.placed["s2"] != "referral"  # the referral's one visit went to s1
    assert placed.standing(placed.placed["s2"]).units_used == {"97140": 1}
    with pytest.raises(InvariantViolated, match="units billed exceed"):
        app.handle(Amend(referral_id=rid, record_id="s2", reason="it was 45 minutes",
                         changes={"techniques": [{"technique": "myofascial_release",
                                                  "minutes": 45}]},
                         occurred_at=NOW, actor="t"))
    app.handle(Amend(referral_id=rid, record_id="s2", reason="it was 30 minutes",
                     changes={"techniques": [{"technique": "myofascial_release", "minutes": 30}]},
                     occurred_at=NOW, actor="t"))
    assert app.load(Referral, rid).session_visits["s2"]["units"] == {"97140": 2}
