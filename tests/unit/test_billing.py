"""The CMS 8-minute rule, and how units spread over codes."""

from __future__ import annotations

import pytest

from careledger.domain.billing import billing_lines, total_units
from careledger.domain.clinical import Technique


@pytest.mark.parametrize(
    ("minutes", "units"),
    [(0, 0), (7, 0), (8, 1), (15, 1), (22, 1), (23, 2), (37, 2), (38, 3), (52, 3), (53, 4)],
)
def test_units_follow_the_eight_minute_rule(minutes: int, units: int) -> None:
    assert total_units(minutes) == units


def test_two_short_services_bill_one_unit_to_the_longer() -> None:
    lines = billing_lines([(Technique.SWEDISH_MASSAGE, 7), (Technique.MYOFASCIAL_RELEASE, 8)])
    assert {line.cpt: line.units for line in lines} == {"97124": 0, "97140": 1}


def test_techniques_under_one_code_add_up() -> None:
    lines = billing_lines([(Technique.MYOFASCIAL_RELEASE, 10), (Technique.TRIGGER_POINT, 10),
                           (Technique.THERAPEUTIC_EXERCISE, 20)])
    # 40 timed minutes bill 3 units; the leftover unit goes to the code listed first.
    assert [(line.cpt, line.minutes, line.units) for line in lines] == [
        ("97110", 20, 1), ("97140", 20, 2)
    ]


def test_units_never_exceed_the_total() -> None:
    for a in range(0, 40, 3):
        for b in range(0, 40, 4):
            lines = billing_lines([(Technique.DEEP_TISSUE, a), (Technique.STRETCHING, b)])
            assert sum(line.units for line in lines) == total_units(a + b)
