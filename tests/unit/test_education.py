"""Where a practitioner stands for their licence's renewal: the hours of the courses in
the cycle that ends with the licence, against their board's rule (education.py)."""

from __future__ import annotations

from datetime import date

import pytest

from careledger.domain.clinical import Profession
from careledger.domain.education import RENEWAL_RULES, Standing, check_course, renewal, rule_for
from careledger.domain.errors import InvalidInput

NYSED = "NY State Education Department"
TODAY = date(2026, 12, 4)
LMT = Profession.MEDICAL_MASSAGE_THERAPIST


def _standing(expires: date | None, *courses: tuple[str, float],
              board: str | None = NYSED) -> tuple[Standing, float]:
    done = renewal(profession=LMT, board=board, licence_expires=expires, today=TODAY,
                   courses=[{"completed_on": on, "hours": h} for on, h in courses])
    return done.standing, done.hours_done


def test_current_short_expiring_and_expired() -> None:
    expires = date(2028, 6, 30)  # a three-year cycle from 1 July 2025
    assert _standing(expires, ("2026-01-10", 20), ("2026-09-01", 16)) == (Standing.CURRENT, 36)
    assert _standing(expires, ("2026-01-10", 20)) == (Standing.HOURS_SHORT, 20)
    # A course before the cycle began counts for the one before it.
    assert _standing(expires, ("2025-06-30", 30), ("2025-07-01", 6)) == (
        Standing.HOURS_SHORT, 6)
    assert _standing(date(2027, 1, 31), ("2026-01-10", 40))[0] is Standing.EXPIRING
    assert _standing(date(2026, 12, 3), ("2026-01-10", 40))[0] is Standing.EXPIRED
    assert _standing(None)[0] is Standing.NO_LICENCE
    # A licence that does not expire: the cycle that ends today counts.
    lifelong = renewal(profession=LMT, board=NYSED, licence_expires=None, licensed=True,
                       today=TODAY, courses=[{"completed_on": "2025-01-10", "hours": 36}])
    assert (lifelong.standing, lifelong.hours_done) == (Standing.CURRENT, 36)
    assert renewal(profession=LMT, board=NYSED, licence_expires=None, licensed=True,
                   today=TODAY, courses=[]).standing is Standing.HOURS_SHORT


def test_the_board_rule_or_the_professions_default() -> None:
    assert rule_for(NYSED, LMT) is RENEWAL_RULES[(NYSED, LMT)]
    assert rule_for("Vermont OPR", LMT) is RENEWAL_RULES[(None, LMT)]
    # The default two-year rule: 24 hours suffice where New York asks 36.
    expires = date(2027, 6, 30)
    assert _standing(expires, ("2026-01-10", 24), board="Vermont OPR")[0] is Standing.CURRENT
    assert _standing(expires, ("2026-01-10", 24))[0] is Standing.HOURS_SHORT
    assert all(rule.source for rule in RENEWAL_RULES.values())
    assert {p for _, p in RENEWAL_RULES} == set(Profession)


def test_a_course_is_checked() -> None:
    good = {"title": "Myofascial release II", "provider": "AMTA", "hours": 8,
            "completed_on": TODAY}
    check_course(**good, today=TODAY)  # type: ignore[arg-type]
    for change, field in (({"hours": 0}, "hours"), ({"hours": 101}, "hours"),
                          ({"completed_on": date(2026, 12, 5)}, "completed_on"),
                          ({"title": " "}, "title"), ({"provider": ""}, "provider")):
        with pytest.raises(InvalidInput) as refused:
            check_course(**{**good, **change}, today=TODAY)  # type: ignore[arg-type]
        assert refused.value.field == field
