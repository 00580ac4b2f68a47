"""What a session bills to one payer: its codes, their units under the payer's unit rule,
the modifiers the payer needs, and their charges under the clinic's fee schedule.

Two ways of counting the units of timed codes (each unit 15 minutes) are in use, and the
clinic says per payer which one it has agreed to (README "Billing rules", with sources):

- the CMS 8-minute rule: the session's *total* timed minutes give its units (8 to 22
  minutes one, 23 to 37 two, ...), spread over the codes by their minutes (billing.py);
  Medicare, and the payers that follow it;
- the per-code "substantial portion" rule (AMA CPT: a unit is billed once more than half
  of it, 8 of its 15 minutes, is passed): each code's own minutes give its units, so two
  codes of 10 minutes are a unit each where the total rule gives one between them.

Untimed codes (an evaluation, chiropractic manipulation) bill one unit per session
whatever the minutes. Nothing here reads a clock or stores anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from careledger.domain.billing import spread_units, total_units
from careledger.domain.clinical import Profession, Technique
from careledger.domain.errors import InvalidInput

#: The most a fee may be, in cents (a guard against a typo, not a price control).
MAX_FEE_CENTS = 10_000_00
MAX_NOTE = 300


class UnitRule(StrEnum):
    CMS_8_MINUTE = "cms_8_minute"
    SUBSTANTIAL_PORTION = "substantial_portion"


class DistinctModifier(StrEnum):
    """How a payer wants a distinct procedural service shown: NCCI's 59, or the more
    specific XS (separate structure) that Medicare prefers since 2015."""

    MODIFIER_59 = "59"
    XS = "XS"


#: Untimed codes, one unit per session, and the profession that bills each.
UNTIMED: dict[str, tuple[str, Profession]] = {
    "97161": ("Physical therapy evaluation, low complexity", Profession.PHYSICAL_THERAPIST),
    "97162": ("Physical therapy evaluation, moderate complexity",
              Profession.PHYSICAL_THERAPIST),
    "97163": ("Physical therapy evaluation, high complexity", Profession.PHYSICAL_THERAPIST),
    "97164": ("Physical therapy re-evaluation", Profession.PHYSICAL_THERAPIST),
    "98940": ("Chiropractic manipulative treatment, spinal, 1-2 regions",
              Profession.CHIROPRACTOR),
    "98941": ("Chiropractic manipulative treatment, spinal, 3-4 regions",
              Profession.CHIROPRACTOR),
    "98942": ("Chiropractic manipulative treatment, spinal, 5 regions",
              Profession.CHIROPRACTOR),
}
EVALUATIONS = frozenset({"97161", "97162", "97163", "97164"})
MANIPULATION = frozenset({"98940", "98941", "98942"})
#: Timed codes NCCI pairs with chiropractic manipulation on one day: billed beside it,
#: each needs the distinct-service modifier (NCCI Policy Manual, chapter 11).
DISTINCT_FROM_MANIPULATION = frozenset({"97112", "97124", "97140", "97530"})
#: NCCI procedure-to-procedure pairs this network bills, as column 2 (the code that
#: carries the modifier) -> the column 1 codes it pairs with: billed on one day, the
#: column 2 code is a distinct service (another body region, another interval) only with
#: 59 or XS. Manipulation with the timed codes above; massage (97124) beside manual
#: therapy (97140). The clinic's coder checks the quarter's PTP table for new pairs.
DISTINCT_PAIRS: dict[str, frozenset[str]] = {
    **{code: MANIPULATION for code in DISTINCT_FROM_MANIPULATION},
    "97124": MANIPULATION | {"97140"},
}
#: Timed codes this network's techniques bill under (clinical.py), for a fee schedule.
TIMED = frozenset(t.cpt for t in Technique) | {"97112", "97530"}
#: Services under a therapy plan of care: the GP modifier (CMS, for physical therapy
#: and the massage and manual therapy given under its plan).
GP_PROFESSIONS = frozenset({Profession.PHYSICAL_THERAPIST,
                            Profession.MEDICAL_MASSAGE_THERAPIST})


def check_services(services: list[str], profession: Profession) -> list[str]:
    """The untimed services a session bills: known codes, the treating profession's own,
    at most one evaluation and one manipulation."""
    out = []
    for code in services:
        known = UNTIMED.get(str(code))
        if known is None:
            raise InvalidInput("an untimed service is one of " + ", ".join(sorted(UNTIMED)),
                               field="services")
        if known[1] is not profession:
            raise InvalidInput(f"{known[0].lower()} is billed by a {known[1].value}"
                               .replace("_", " "), field="services")
        out.append(str(code))
    if len(set(out)) != len(out) or len(EVALUATIONS & set(out)) > 1 \
            or len(MANIPULATION & set(out)) > 1:
        raise InvalidInput("a session bills one evaluation and one manipulation at most",
                           field="services")
    return sorted(out)


def timed_units(rule: UnitRule, minutes_by_code: Mapping[str, int]) -> dict[str, int]:
    """Each timed code's units under the rule (codes with none keep a 0)."""
    if rule is UnitRule.SUBSTANTIAL_PORTION:
        return {code: total_units(m) for code, m in minutes_by_code.items()}
    return spread_units(minutes_by_code)


@dataclass(frozen=True)
class FeeSchedule:
    """What a clinic charges one payer, from a day on, and how that payer counts units."""

    payer: str
    unit_rule: UnitRule
    #: Cents per unit, by CPT code.
    fees: Mapping[str, int]
    effective_from: date
    distinct_modifier: DistinctModifier = DistinctModifier.MODIFIER_59
    #: Codes the payer does not cover, with the payer's note (97124 often is one).
    not_covered: Mapping[str, str] = field(default_factory=dict)
    #: The professions whose services the payer pays for (none named: every one);
    #: Medicare enrols physical therapists and chiropractors, not massage therapists.
    professions: frozenset[Profession] = frozenset()

    def pays_for(self, profession: Profession) -> bool:
        return not self.professions or profession in self.professions

    def __post_init__(self) -> None:
        if not self.payer.strip() or len(self.payer) > 100:
            raise InvalidInput("a fee schedule names its payer (1-100 characters)",
                               field="payer")
        if not self.fees:
            raise InvalidInput("a fee schedule lists the fee of each code it bills",
                               field="fees")
        for code, cents in self.fees.items():
            if code not in TIMED and code not in UNTIMED:
                raise InvalidInput(f"no fee for an unknown code: the codes are "
                                   f"{', '.join(sorted(TIMED | set(UNTIMED)))}", field="fees")
            if not isinstance(cents, int) or not 0 < cents <= MAX_FEE_CENTS:
                raise InvalidInput("a fee is a whole number of cents, more than 0 and at "
                                   f"most {MAX_FEE_CENTS}", field="fees")
        for code, note in self.not_covered.items():
            if code not in TIMED and code not in UNTIMED:
                raise InvalidInput("a code not covered is one the schedule knows",
                                   field="not_covered")
            if not note.strip() or len(note) > MAX_NOTE:
                raise InvalidInput(f"say why the payer does not cover {code} "
                                   f"(1-{MAX_NOTE} characters)", field="not_covered")

    def as_state(self) -> dict[str, object]:
        return {"payer": self.payer, "unit_rule": str(self.unit_rule),
                "distinct_modifier": str(self.distinct_modifier), "fees": dict(self.fees),
                "effective_from": self.effective_from.isoformat(),
                "not_covered": dict(self.not_covered),
                "professions": sorted(str(p) for p in self.professions)}

    @classmethod
    def of(cls, state: Mapping[str, object]) -> FeeSchedule:
        return cls(payer=str(state["payer"]), unit_rule=UnitRule(str(state["unit_rule"])),
                   distinct_modifier=DistinctModifier(str(state["distinct_modifier"])),
                   fees=dict(state["fees"]),  # type: ignore[call-overload]
                   effective_from=date.fromisoformat(str(state["effective_from"])),
                   not_covered=dict(state["not_covered"]),  # type: ignore[call-overload]
                   professions=frozenset(Profession(str(p)) for p in state.get(  # type: ignore[attr-defined]
                       "professions", ())))


def schedule_for(schedules: list[FeeSchedule], payer: str, on: date) -> FeeSchedule | None:
    """The payer's schedule in effect on the day: the latest that started by then."""
    started = [s for s in schedules if s.payer == payer and s.effective_from <= on]
    return max(started, key=lambda s: s.effective_from, default=None)


@dataclass(frozen=True)
class Line:
    """One line of a claim: a code, its units, modifiers and charge."""

    cpt: str
    units: int
    minutes: int
    modifiers: tuple[str, ...]
    charge_cents: int


@dataclass(frozen=True)
class Priced:
    lines: list[Line]
    #: Codes left off the claim, with why (a code the payer does not cover, no units).
    left_off: dict[str, str]


def price(schedule: FeeSchedule, profession: Profession, minutes_by_code: Mapping[str, int],
          services: list[str]) -> Priced:
    """The session's lines for this payer: units by its rule, GP under a therapy plan,
    the distinct-service modifier on a code billed beside its NCCI pair, charges by the
    schedule. Only the minutes of services the payer covers count toward units (the
    8-minute rule's total is of covered timed services)."""
    covered = {c: m for c, m in minutes_by_code.items() if c not in schedule.not_covered}
    units = timed_units(schedule.unit_rule, covered)
    units.update({code: 1 for code in services})
    minutes = {**{code: 0 for code in services}, **minutes_by_code}
    left_off = {}
    for code in sorted(minutes):
        if code in schedule.not_covered:
            left_off[code] = f"not covered by {schedule.payer}: {schedule.not_covered[code]}"
        elif units[code] == 0:
            left_off[code] = (f"{minutes[code]} minutes bill no unit under "
                              f"{_RULE_NAMES[schedule.unit_rule]}")
        elif code not in schedule.fees:
            left_off[code] = f"the fee schedule for {schedule.payer} has no fee for {code}"
    billed = [code for code in sorted(minutes) if code not in left_off]
    lines = []
    for code in billed:
        modifiers: list[str] = []
        if profession in GP_PROFESSIONS and code not in MANIPULATION:
            modifiers.append("GP")
        if DISTINCT_PAIRS.get(code, frozenset()) & set(billed):
            modifiers.append(str(schedule.distinct_modifier))
        lines.append(Line(cpt=code, units=units[code], minutes=minutes[code],
                          modifiers=tuple(modifiers),
                          charge_cents=schedule.fees[code] * units[code]))
    return Priced(lines=lines, left_off=left_off)


_RULE_NAMES = {UnitRule.CMS_8_MINUTE: "the 8-minute rule",
               UnitRule.SUBSTANTIAL_PORTION: "the substantial-portion rule"}
