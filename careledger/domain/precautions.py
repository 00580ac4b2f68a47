"""Coded precautions, and what each one forbids or cautions: one table, read by every check.

The referring physician picks precautions from `Precaution` (with the body site, for
those that hold in one place); each row of `RULES` says which techniques it
contraindicates and which it cautions, anywhere or only where (at the site, in the limb
the site lies on, near it, or in fixed regions). A plan or a session note is screened
against the episode's precautions: a contraindicated technique is refused unless the
therapist records an override with its reason, and a cautioned one is accepted with the
caution written on the event. The clinical source of each row is in the README
("Precautions"); tests/integration/test_precautions_api.py holds every row to it.

A technique whose sites are not stated may have been applied anywhere, so a precaution
that holds in one place applies to it: naming the sites is how a note shows it kept away.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from careledger.domain.body import LOWER_LIMB, BodyRegion, Site
from careledger.domain.clinical import Technique
from careledger.domain.errors import InvalidInput


class Precaution(StrEnum):
    DEEP_VEIN_THROMBOSIS = "deep_vein_thrombosis"
    ANTICOAGULANT_THERAPY = "anticoagulant_therapy"
    RECENT_SURGERY = "recent_surgery"
    LYMPHEDEMA = "lymphedema"
    OPEN_WOUND = "open_wound_or_skin_infection"
    FEVER = "fever"
    OSTEOPOROSIS = "osteoporosis"
    ACTIVE_CANCER_TREATMENT = "active_cancer_treatment"
    PREGNANCY = "pregnancy"
    PERIPHERAL_NEUROPATHY = "peripheral_neuropathy"
    UNCONTROLLED_HYPERTENSION = "uncontrolled_hypertension"

    @property
    def label(self) -> str:
        return RULES[self].label


class Level(StrEnum):
    CONTRAINDICATED = "contraindicated"
    CAUTIONED = "cautioned"


class Where(StrEnum):
    """Where on the body an effect holds, relative to the precaution's site."""

    ANYWHERE = "anywhere"
    AT_SITE = "at the site"
    IN_LIMB = "in the affected limb"
    NEAR_SITE = "near the site"
    IN_REGIONS = "in the regions named"


MASSAGE = frozenset({
    Technique.SWEDISH_MASSAGE, Technique.DEEP_TISSUE, Technique.MYOFASCIAL_RELEASE,
    Technique.TRIGGER_POINT, Technique.LYMPHATIC_DRAINAGE,
    Technique.SOFT_TISSUE_MOBILIZATION,
})
EVERY = frozenset(Technique)
#: Techniques that press deep into the tissue.
PRESSURE = frozenset({Technique.DEEP_TISSUE, Technique.TRIGGER_POINT,
                      Technique.MYOFASCIAL_RELEASE})


@dataclass(frozen=True)
class Effect:
    level: Level
    techniques: frozenset[Technique]
    where: Where
    why: str
    regions: frozenset[BodyRegion] = frozenset()


@dataclass(frozen=True)
class Rule:
    label: str
    #: It holds in one place: the physician names the site.
    regional: bool
    effects: tuple[Effect, ...]
    #: Techniques the precaution calls for, never cautioned by it.
    indicated: frozenset[Technique] = field(default=frozenset())


def _no(techniques: frozenset[Technique], where: Where, why: str,
        regions: Iterable[BodyRegion] = ()) -> Effect:
    return Effect(Level.CONTRAINDICATED, techniques, where, why, frozenset(regions))


def _care(techniques: frozenset[Technique], where: Where, why: str,
          regions: Iterable[BodyRegion] = ()) -> Effect:
    return Effect(Level.CAUTIONED, techniques, where, why, frozenset(regions))


#: The table (sources per row: README, "Precautions").
RULES: dict[Precaution, Rule] = {
    Precaution.DEEP_VEIN_THROMBOSIS: Rule("deep vein thrombosis", True, (
        _no(MASSAGE, Where.IN_LIMB, "massage may dislodge the clot"),)),
    Precaution.ANTICOAGULANT_THERAPY: Rule("anticoagulant therapy", False, (
        _care(PRESSURE, Where.ANYWHERE, "firm pressure bruises: use light pressure"),)),
    Precaution.RECENT_SURGERY: Rule("recent surgery", True, (
        _no(EVERY, Where.AT_SITE, "the surgical site is healing"),
        _care(frozenset({Technique.STRETCHING}), Where.NEAR_SITE,
              "stretch gently near the surgical site"))),
    Precaution.LYMPHEDEMA: Rule("lymphedema", True, (
        _no(frozenset({Technique.DEEP_TISSUE}), Where.AT_SITE,
            "deep work worsens the swelling"),
        _care(EVERY - {Technique.DEEP_TISSUE, Technique.LYMPHATIC_DRAINAGE}, Where.AT_SITE,
              "light pressure only in the affected region")),
        indicated=frozenset({Technique.LYMPHATIC_DRAINAGE})),
    Precaution.OPEN_WOUND: Rule("open wound or skin infection", True, (
        _no(EVERY, Where.AT_SITE, "no contact with broken or infected skin"),)),
    Precaution.FEVER: Rule("fever", False, (
        _no(EVERY, Where.ANYWHERE, "postpone the session until the fever has gone"),)),
    Precaution.OSTEOPOROSIS: Rule("osteoporosis", False, (
        _care(frozenset({Technique.DEEP_TISSUE, Technique.JOINT_MOBILIZATION,
                         Technique.STRETCHING}), Where.ANYWHERE,
              "fragile bone: gentle pressure and range"),)),
    Precaution.ACTIVE_CANCER_TREATMENT: Rule("active cancer treatment", True, (
        _no(frozenset({Technique.DEEP_TISSUE}), Where.AT_SITE,
            "no deep work over a treatment site"),
        _care(EVERY, Where.ANYWHERE,
              "adapt pressure and position to the treatment"))),
    Precaution.PREGNANCY: Rule("pregnancy", False, (
        _no(PRESSURE, Where.IN_REGIONS, "no deep abdominal work", {BodyRegion.ABDOMEN}),
        _care(EVERY, Where.ANYWHERE, "avoid prone positioning: side-lying or semi-reclined"),
        _care(frozenset({Technique.DEEP_TISSUE}), Where.IN_REGIONS,
              "no deep tissue work on the legs", LOWER_LIMB))),
    Precaution.PERIPHERAL_NEUROPATHY: Rule("peripheral neuropathy", True, (
        _care(PRESSURE, Where.AT_SITE,
              "reduced sensation: the patient may not feel pressure that harms"),)),
    Precaution.UNCONTROLLED_HYPERTENSION: Rule("uncontrolled hypertension", False, (
        _care(frozenset({Technique.DEEP_TISSUE}), Where.ANYWHERE,
              "deep work raises blood pressure"),)),
}


@dataclass(frozen=True, order=True)
class CodedPrecaution:
    """A precaution the physician picked, with its site when it holds in one place."""

    code: Precaution
    site: Site | None = None

    @classmethod
    def of(cls, code: str, site: Site | None, field: str = "coded_precautions"
           ) -> CodedPrecaution:
        try:
            precaution = Precaution(code)
        except ValueError:
            raise InvalidInput(f"a coded precaution is one of: {', '.join(Precaution)}",
                               field=field) from None
        rule = RULES[precaution]
        if rule.regional and site is None:
            raise InvalidInput(f"{rule.label} holds in one place: name its body site",
                               field=field)
        if not rule.regional and site is not None:
            raise InvalidInput(f"{rule.label} holds for the whole body: name no site",
                               field=field)
        return cls(precaution, site)

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> CodedPrecaution:
        site = data.get("site")
        return cls.of(str(data.get("code", "")), Site.parse(site) if site else None)

    def as_dict(self) -> dict[str, Any]:
        return {"code": str(self.code), "site": self.site.as_dict() if self.site else None}

    @property
    def label(self) -> str:
        name = RULES[self.code].label
        return f"{name} ({self.site.label})" if self.site else name


@dataclass(frozen=True)
class Applied:
    """A technique as a plan or a note gives it: where it was applied (none: not stated)."""

    technique: Technique
    sites: tuple[Site, ...] = ()


@dataclass(frozen=True)
class Finding:
    level: Level
    precaution: CodedPrecaution
    techniques: tuple[Technique, ...]
    why: str

    @property
    def sentence(self) -> str:
        names = ", ".join(str(t).replace("_", " ") for t in self.techniques)
        return f"{self.precaution.label}: {names} {self.level} ({self.why})"


@dataclass(frozen=True)
class Screening:
    contraindicated: tuple[Finding, ...]
    cautioned: tuple[Finding, ...]


def _holds(effect: Effect, precaution: CodedPrecaution, applied: Applied) -> bool:
    if applied.technique not in effect.techniques:
        return False
    if effect.where == Where.ANYWHERE or not applied.sites:
        return True  # sites not stated: it may have been applied anywhere
    if effect.where == Where.IN_REGIONS:
        return any(s.region in effect.regions for s in applied.sites)
    site = precaution.site
    assert site is not None  # a regional precaution always names its site
    area = {Where.AT_SITE: frozenset({site}), Where.IN_LIMB: site.limb(),
            Where.NEAR_SITE: site.near()}[effect.where]
    return any(s in area for s in applied.sites)


def screen(precautions: Sequence[CodedPrecaution], techniques: Sequence[Applied]) -> Screening:
    """What the episode's precautions say of these techniques, one finding per effect.
    Within a precaution, a technique it contraindicates is not also cautioned."""
    contra: list[Finding] = []
    caution: list[Finding] = []
    for precaution in sorted(set(precautions)):
        rule = RULES[precaution.code]
        forbidden: set[Technique] = set()
        for effect in (e for e in rule.effects if e.level == Level.CONTRAINDICATED):
            hit = tuple(dict.fromkeys(a.technique for a in techniques
                                      if _holds(effect, precaution, a)))
            if hit:
                forbidden.update(hit)
                contra.append(Finding(Level.CONTRAINDICATED, precaution, hit, effect.why))
        for effect in (e for e in rule.effects if e.level == Level.CAUTIONED):
            hit = tuple(dict.fromkeys(
                a.technique for a in techniques
                if a.technique not in forbidden and a.technique not in rule.indicated
                and _holds(effect, precaution, a)))
            if hit:
                caution.append(Finding(Level.CAUTIONED, precaution, hit, effect.why))
    return Screening(tuple(contra), tuple(caution))


def precautions_of(items: Iterable[Mapping[str, Any]] | None) -> list[CodedPrecaution]:
    """Coded precautions from their stored or sent form, each once, in a stable order."""
    return sorted({CodedPrecaution.parse(item) for item in items or ()})
