"""What a session bills a payer: units under each unit rule, the untimed services, the
modifiers, the fee schedule's charges and what it leaves off; and which sessions the
claims leave off, with why (claiming.py)."""

from __future__ import annotations

import random
from datetime import date
from uuid import uuid4

import pytest

from careledger.domain.authorization import Authorization, AuthorizationSource
from careledger.domain.billing import minutes_as_recorded, spread_units
from careledger.domain.claiming import Rendering, Service, Unclaimable, assess_episode
from careledger.domain.clinical import Profession
from careledger.domain.coverage import Coverage, Relation
from careledger.domain.episode import SessionStatus
from careledger.domain.errors import InvalidInput
from careledger.domain.fees import (
    DistinctModifier,
    FeeSchedule,
    UnitRule,
    check_services,
    price,
    schedule_for,
    timed_units,
)

CMS, PORTION = UnitRule.CMS_8_MINUTE, UnitRule.SUBSTANTIAL_PORTION
FEES = {"97124": 3000, "97140": 3500, "97110": 3200, "97112": 3300, "97161": 9000,
        "98940": 4500}


@pytest.mark.parametrize(("minutes", "units"), [(7, 0), (8, 1), (22, 1), (23, 2), (37, 2),
                                                (38, 3)])
@pytest.mark.parametrize("rule", [CMS, PORTION])
def test_one_code_bills_the_same_units_under_both_rules(rule: UnitRule, minutes: int,
                                                        units: int) -> None:
    assert timed_units(rule, {"97140": minutes}) == {"97140": units}


def test_two_codes_of_ten_minutes_bill_one_unit_in_total_or_one_each() -> None:
    assert timed_units(CMS, {"97110": 10, "97140": 10}) == {"97110": 1, "97140": 0}
    assert timed_units(PORTION, {"97110": 10, "97140": 10}) == {"97110": 1, "97140": 1}
    # Seven minutes of each: 14 in total bill one unit by the total; none by each code.
    assert sum(timed_units(CMS, {"97110": 7, "97140": 7}).values()) == 1
    assert timed_units(PORTION, {"97110": 7, "97140": 7}) == {"97110": 0, "97140": 0}


def _schedule(rule: UnitRule = CMS, **kw: object) -> FeeSchedule:
    return FeeSchedule(payer="Medicare", unit_rule=rule, fees=FEES,
                       effective_from=date(2026, 1, 1), **kw)  # type: ignore[arg-type]


def test_a_physical_therapists_evaluation_bills_once_beside_timed_codes_with_gp() -> None:
    services = check_services(["97161"], Profession.PHYSICAL_THERAPIST)
    priced = price(_schedule(), Profession.PHYSICAL_THERAPIST, {"97110": 23}, services)
    assert [(ln.cpt, ln.units, ln.modifiers, ln.charge_cents) for ln in priced.lines] == [
        ("97110", 2, ("GP",), 6400), ("97161", 1, ("GP",), 9000)]


def test_timed_codes_beside_a_manipulation_carry_the_distinct_service_modifier() -> None:
    for modifier in DistinctModifier:
        priced = price(_schedule(distinct_modifier=modifier), Profession.CHIROPRACTOR,
                       {"97140": 15, "97110": 15}, ["98940"])
        assert [(ln.cpt, ln.modifiers) for ln in priced.lines] == [
            ("97110", ()), ("97140", (str(modifier),)), ("98940", ())]


def test_a_code_the_payer_does_not_cover_or_that_bills_no_unit_is_left_off_with_why() -> None:
    schedule = _schedule(PORTION, not_covered={"97124": "massage is not a covered benefit"})
    priced = price(schedule, Profession.MEDICAL_MASSAGE_THERAPIST,
                   {"97124": 30, "97140": 5, "97112": 12}, [])
    assert [ln.cpt for ln in priced.lines] == ["97112"]
    assert priced.left_off == {
        "97124": "not covered by Medicare: massage is not a covered benefit",
        "97140": "5 minutes bill no unit under the substantial-portion rule"}


def test_only_covered_minutes_count_and_massage_beside_manual_therapy_is_distinct() -> None:
    """97124 not covered: its minutes do not take the unit 97140's minutes earn by the
    8-minute rule. Both covered: massage beside manual therapy carries the modifier."""
    excluding = _schedule(not_covered={"97124": "not a covered benefit"})
    priced = price(excluding, Profession.MEDICAL_MASSAGE_THERAPIST,
                   {"97124": 10, "97140": 10}, [])
    assert [(ln.cpt, ln.units, ln.modifiers) for ln in priced.lines] == [
        ("97140", 1, ("GP",))]
    both = price(_schedule(), Profession.MEDICAL_MASSAGE_THERAPIST,
                 {"97124": 15, "97140": 15}, [])
    assert [(ln.cpt, ln.modifiers) for ln in both.lines] == [
        ("97124", ("GP", "59")), ("97140", ("GP",))]
    # A partner left off (no unit) asks no modifier of the code billed beside it.
    alone = price(_schedule(PORTION), Profession.MEDICAL_MASSAGE_THERAPIST,
                  {"97124": 15, "97140": 5}, [])
    assert [(ln.cpt, ln.modifiers) for ln in alone.lines] == [("97124", ("GP",))]


def test_untimed_services_are_the_professions_own_and_one_of_a_kind() -> None:
    with pytest.raises(InvalidInput, match="billed by a physical therapist"):
        check_services(["97161"], Profession.MEDICAL_MASSAGE_THERAPIST)
    with pytest.raises(InvalidInput, match="one evaluation"):
        check_services(["97161", "97162"], Profession.PHYSICAL_THERAPIST)
    with pytest.raises(InvalidInput, match="an untimed service is one of"):
        check_services(["97140"], Profession.PHYSICAL_THERAPIST)


def test_a_fee_schedule_is_checked_and_the_one_in_effect_that_day_is_used() -> None:
    with pytest.raises(InvalidInput, match="unknown code"):
        FeeSchedule(payer="X", unit_rule=CMS, fees={"99999": 100},
                    effective_from=date(2026, 1, 1))
    with pytest.raises(InvalidInput, match="whole number of cents"):
        FeeSchedule(payer="X", unit_rule=CMS, fees={"97140": 0}, effective_from=date(2026, 1, 1))
    old, new = _schedule(), FeeSchedule(payer="Medicare", unit_rule=PORTION, fees=FEES,
                                        effective_from=date(2026, 7, 1))
    assert schedule_for([old, new], "Medicare", date(2026, 6, 30)) is old
    assert schedule_for([old, new], "Medicare", date(2026, 7, 1)) is new
    assert schedule_for([old, new], "Medicare", date(2025, 12, 31)) is None
    assert FeeSchedule.of(new.as_state()) == new


def test_each_session_left_off_says_why() -> None:
    therapist = uuid4()
    coverage = Coverage(coverage_id="mc", payer="Medicare", member_id="1EG4", plan=None,
                        group=None, subscriber=None, relation=Relation.SELF,
                        starts_on=date(2026, 1, 1), ends_on=date(2026, 3, 20), order=1)
    payer = Authorization("pa", AuthorizationSource.PAYER, 2, date(2026, 3, 1),
                          date(2026, 3, 31), payer="Medicare", number="PA-9",
                          units={"97140": 3})

    def visit(sid: str, day: int, status: SessionStatus = SessionStatus.COMPLETED,
              minutes: int = 30, certified: bool = True) -> Service:
        return Service(sid, date(2026, 3, day), status, "clinic", therapist,
                       {"97140": minutes}, (), certified)

    sessions = [visit("a", 2), visit("b", 3), visit("c", 4), visit("d", 5, certified=False),
                visit("e", 6, SessionStatus.NO_SHOW), visit("f", 21),
                visit("g", 7, minutes=5), visit("h", 8)]
    assessed = assess_episode(
        sessions, authorizations=[payer], placed={"a": "pa", "b": "pa", "h": "pa"},
        practitioners={therapist: Rendering(Profession.MEDICAL_MASSAGE_THERAPIST, "1234567893",
                                            (date(2026, 3, 7),))},
        coverages=[coverage], schedules=[_schedule()], billing_provider=True,
        today=date(2026, 4, 1))
    why = {a.service.session_id: [r.code for r in a.reasons] for a in assessed}
    assert why == {
        "a": [], "b": [Unclaimable.BEYOND_AUTHORIZATION],  # 2 + 2 units of 97140 > 3
        "c": [Unclaimable.BEYOND_AUTHORIZATION],  # not one of the payer's visits
        "d": [Unclaimable.OUTSIDE_CERTIFIED_PLAN, Unclaimable.BEYOND_AUTHORIZATION],
        "e": [Unclaimable.NOT_COMPLETED],
        "g": [Unclaimable.NOTHING_BILLABLE, Unclaimable.BEYOND_AUTHORIZATION],
        # The licence on file ended on the 7th; 2 + 2 units again.
        "h": [Unclaimable.LICENCE_NOT_VALID, Unclaimable.BEYOND_AUTHORIZATION],
        "f": [Unclaimable.LICENCE_NOT_VALID, Unclaimable.NO_COVERAGE]}
    (first,) = [a for a in assessed if a.claimable]
    assert first.authorization == payer and first.priced is not None
    assert [(ln.cpt, ln.units, ln.modifiers) for ln in first.priced.lines] == [
        ("97140", 2, ("GP",))]
    # A payer that pays for physical therapists and chiropractors only.
    (not_paid,) = assess_episode(
        [visit("a", 2)], authorizations=[], placed={},
        practitioners={therapist: Rendering(Profession.MEDICAL_MASSAGE_THERAPIST, "1234567893",
                                            (None,))},
        coverages=[coverage], billing_provider=True, today=date(2026, 4, 1),
        schedules=[_schedule(professions=frozenset({Profession.PHYSICAL_THERAPIST,
                                                    Profession.CHIROPRACTOR}))])
    assert [r.code for r in not_paid.reasons] == [Unclaimable.PROFESSION_NOT_PAID]
    assert "does not pay for a medical massage therapist's services" in \
        not_paid.reasons[0].text
    texts = {a.service.session_id: a.reasons[0].text for a in assessed if a.reasons}
    assert "PA-9" in texts["b"] and "ask Medicare for the next authorization" in texts["b"]
    assert "expired on 2026-03-07" in texts["h"]
    assert "did not attend on 2026-03-06" in texts["e"]


def test_minutes_read_back_in_any_order_bill_the_units_the_session_recorded() -> None:
    """The 8-minute rule gives a unit codes tie for to the code listed first: read back
    from the views in any order, a session's lines give the split it recorded."""
    rng = random.Random(21)
    for _ in range(5000):
        codes = rng.sample(["97110", "97112", "97124", "97140", "97530"], rng.randint(1, 4))
        minutes = {code: rng.randint(1, 40) for code in codes}
        recorded = spread_units(minutes)
        read_back = [(code, minutes[code], recorded[code]) for code in rng.sample(codes,
                                                                                  len(codes))]
        assert timed_units(CMS, minutes_as_recorded(read_back)) == recorded, minutes
