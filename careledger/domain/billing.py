"""Billable units for timed CPT codes by the CMS 8-minute rule (what a visit holds of an
authorization; a claim counts them by its payer's rule, fees.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from careledger.domain.clinical import Technique


@dataclass(frozen=True)
class BillingLine:
    cpt: str
    minutes: int
    units: int

    def as_dict(self) -> dict[str, int | str]:
        return {"cpt": self.cpt, "minutes": self.minutes, "units": self.units}


def total_units(total_timed_minutes: int) -> int:
    """units = floor(T/15) + (1 if T mod 15 >= 8); under 8 minutes bills nothing."""
    if total_timed_minutes < 0:
        raise ValueError("minutes cannot be negative")
    return total_timed_minutes // 15 + (1 if total_timed_minutes % 15 >= 8 else 0)


def billing_lines(techniques: Iterable[tuple[Technique, int]]) -> list[BillingLine]:
    """A session's lines by the CMS rule, from its techniques and their minutes."""
    minutes_by_code: dict[str, int] = defaultdict(int)
    for technique, minutes in techniques:
        minutes_by_code[technique.cpt] += minutes
    units = spread_units(minutes_by_code)
    return [
        BillingLine(cpt=code, minutes=minutes_by_code[code], units=units[code])
        for code in sorted(minutes_by_code)
    ]


def service_lines(services: Iterable[str]) -> list[BillingLine]:
    """Untimed services (an evaluation, a manipulation: fees.py) bill a unit each, whatever
    the minutes: on the session's lines with none."""
    return [BillingLine(cpt=code, minutes=0, units=1) for code in sorted(services)]


def spread_units(minutes_by_code: Mapping[str, int]) -> dict[str, int]:
    """Spread the session's units over its codes the way CMS counts them.

    Units come from the total timed minutes, not per code; each code first gets
    its whole 15-minute units, then the units left go to the codes with the most
    remaining minutes (ties to the code listed first), so two 7-minute services
    bill one unit between them rather than none.
    """
    units = total_units(sum(minutes_by_code.values()))
    whole = {code: m // 15 for code, m in minutes_by_code.items()}
    left = units - sum(whole.values())
    remainders = sorted(minutes_by_code, key=lambda code: -(minutes_by_code[code] % 15))
    for code in remainders[: max(left, 0)]:
        whole[code] += 1
    return whole


def minutes_as_recorded(lines: Iterable[tuple[str, int, int]]) -> dict[str, int]:
    """Minutes by code from a session's recorded lines (code, minutes, units), in the order
    that gives `spread_units` the units it gave then: a unit codes tie for goes to the
    code listed first, so those that got one come first, whatever order the lines are
    read back in (a claim by the 8-minute rule bills what the session recorded)."""
    ordered = sorted(lines, key=lambda line: (line[1] // 15 - line[2], line[0]))
    return {code: minutes for code, minutes, _ in ordered}


def billed_units(lines: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """A note's units by CPT code (what an authorization may cap), codes with none left out."""
    return {str(line["cpt"]): int(line["units"]) for line in lines if int(line["units"])}
