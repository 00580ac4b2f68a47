"""The body's map and the precautions' rule, without a database: what "the affected limb"
and "near the site" cover, and how a screening reads (contraindicated wins within a
precaution, an indicated technique is never cautioned, a site not stated is anywhere)."""

from __future__ import annotations

import pytest

from careledger.domain.body import BodyRegion, Side, Site, sites_of
from careledger.domain.clinical import Technique
from careledger.domain.errors import InvalidInput
from careledger.domain.plan import TreatmentPlan
from careledger.domain.precautions import (
    RULES,
    Applied,
    CodedPrecaution,
    Level,
    Precaution,
    Where,
    screen,
)

LEFT_KNEE = Site(BodyRegion.KNEE, Side.LEFT)


def test_a_limb_is_its_regions_on_one_side_and_the_trunk_has_no_sides() -> None:
    assert LEFT_KNEE.limb() == {Site(r, Side.LEFT) for r in (
        BodyRegion.HIP, BodyRegion.THIGH, BodyRegion.KNEE, BodyRegion.LOWER_LEG,
        BodyRegion.FOOT)}
    assert Site(BodyRegion.LUMBAR).limb() == {Site(BodyRegion.LUMBAR)}
    assert LEFT_KNEE.near() == {LEFT_KNEE, Site(BodyRegion.THIGH, Side.LEFT),
                                Site(BodyRegion.LOWER_LEG, Side.LEFT)}
    assert Site(BodyRegion.SACRAL).near() >= {Site(BodyRegion.HIP, Side.LEFT),
                                              Site(BodyRegion.HIP, Side.RIGHT)}
    with pytest.raises(InvalidInput, match="left or right"):
        Site.of("knee")
    with pytest.raises(InvalidInput, match="no side"):
        Site.of("abdomen", "left")
    with pytest.raises(InvalidInput, match="body region is one of"):
        Site.of("elbow", "left")
    assert sites_of([{"region": "neck"}, {"region": "neck", "side": None}]) == [
        Site(BodyRegion.NECK)]


def test_every_region_borders_regions_that_border_it_back() -> None:
    for region in BodyRegion:
        for side in (Side.LEFT,) if region.paired else (None,):
            here = Site(region, side)
            for there in here.near() - {here}:
                assert any(s.region == region for s in there.near()), (here, there)


def test_each_row_of_the_table_is_placed_as_its_precaution_is() -> None:
    for precaution, rule in RULES.items():
        assert rule.effects, precaution
        placed = {e.where for e in rule.effects} - {Where.ANYWHERE, Where.IN_REGIONS}
        assert not placed or rule.regional, f"{precaution} needs a site for {placed}"
        assert not rule.indicated & {t for e in rule.effects for t in e.techniques
                                     if e.level == Level.CONTRAINDICATED}


def test_within_a_precaution_a_contraindication_is_not_also_a_caution() -> None:
    cancer = CodedPrecaution.of("active_cancer_treatment", Site(BodyRegion.CHEST))
    at_site = screen([cancer], [Applied(Technique.DEEP_TISSUE, (Site(BodyRegion.CHEST),))])
    assert [f.level for f in at_site.contraindicated] == [Level.CONTRAINDICATED]
    assert at_site.cautioned == ()
    elsewhere = screen([cancer], [Applied(Technique.DEEP_TISSUE, (Site(BodyRegion.LUMBAR),))])
    assert elsewhere.contraindicated == () and len(elsewhere.cautioned) == 1


def test_a_technique_whose_sites_are_not_stated_may_have_been_anywhere() -> None:
    clot = CodedPrecaution.of("deep_vein_thrombosis", Site(BodyRegion.LOWER_LEG, Side.RIGHT))
    assert screen([clot], [Applied(Technique.SWEDISH_MASSAGE)]).contraindicated
    assert not screen([clot], [Applied(Technique.SWEDISH_MASSAGE,
                                       (Site(BodyRegion.NECK),))]).contraindicated


def test_one_finding_per_effect_names_every_technique_it_holds_for() -> None:
    (finding,) = screen([CodedPrecaution(Precaution.ANTICOAGULANT_THERAPY)], [
        Applied(Technique.DEEP_TISSUE), Applied(Technique.TRIGGER_POINT),
        Applied(Technique.SWEDISH_MASSAGE)]).cautioned
    assert finding.techniques == (Technique.DEEP_TISSUE, Technique.TRIGGER_POINT)
    assert finding.sentence == ("anticoagulant therapy: deep tissue, trigger point cautioned "
                                "(firm pressure bruises: use light pressure)")


def test_a_plan_names_what_a_session_may_do_and_where() -> None:
    plan = TreatmentPlan(plan_id="p", revision=1, goal_ids=("g",), techniques={
        "myofascial_release": (Site(BodyRegion.LUMBAR),), "stretching": ()})
    assert plan.deviations([Applied(Technique.MYOFASCIAL_RELEASE, (Site(BodyRegion.LUMBAR),)),
                            Applied(Technique.STRETCHING, (LEFT_KNEE,)),
                            Applied(Technique.MYOFASCIAL_RELEASE)]) == []
    assert plan.deviations([Applied(Technique.TRIGGER_POINT),
                            Applied(Technique.MYOFASCIAL_RELEASE, (LEFT_KNEE,))]) == [
        "trigger point: not in the plan",
        "myofascial release on the left knee: the plan names the lumbar"]
    unknown = TreatmentPlan(plan_id="p", revision=1, goal_ids=("g",))
    assert unknown.deviations([Applied(Technique.TRIGGER_POINT)]) == []
