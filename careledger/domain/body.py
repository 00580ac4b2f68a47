"""Where on the body a technique is applied: a small coded list of regions, with a side.

A precaution that holds in one place ("no massage of the affected leg", "not over the
surgical site") can only be checked if each technique says where it went. The list is
the one clinics chart with; the limbs and the regions next to each other are what the
precaution rules (precautions.py) speak of: "the affected limb", "near the site".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from careledger.domain.errors import InvalidInput


class BodyRegion(StrEnum):
    HEAD = "head"
    NECK = "neck"
    SHOULDER = "shoulder"
    UPPER_ARM = "upper_arm"
    FOREARM = "forearm"
    HAND = "hand"
    THORACIC = "thoracic"
    LUMBAR = "lumbar"
    SACRAL = "sacral"
    HIP = "hip"
    THIGH = "thigh"
    KNEE = "knee"
    LOWER_LEG = "lower_leg"
    FOOT = "foot"
    ABDOMEN = "abdomen"
    CHEST = "chest"

    @property
    def paired(self) -> bool:
        """A limb's region has a left and a right; the trunk's and the head's do not."""
        return self in UPPER_LIMB or self in LOWER_LIMB

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class Side(StrEnum):
    LEFT = "left"
    RIGHT = "right"


UPPER_LIMB = (BodyRegion.SHOULDER, BodyRegion.UPPER_ARM, BodyRegion.FOREARM, BodyRegion.HAND)
LOWER_LIMB = (BodyRegion.HIP, BodyRegion.THIGH, BodyRegion.KNEE, BodyRegion.LOWER_LEG,
              BodyRegion.FOOT)

#: The regions that border each region (for "near the site"), whatever the side.
_NEXT_TO: dict[BodyRegion, tuple[BodyRegion, ...]] = {
    BodyRegion.HEAD: (BodyRegion.NECK,),
    BodyRegion.NECK: (BodyRegion.HEAD, BodyRegion.SHOULDER, BodyRegion.THORACIC,
                      BodyRegion.CHEST),
    BodyRegion.SHOULDER: (BodyRegion.NECK, BodyRegion.UPPER_ARM, BodyRegion.THORACIC,
                          BodyRegion.CHEST),
    BodyRegion.UPPER_ARM: (BodyRegion.SHOULDER, BodyRegion.FOREARM),
    BodyRegion.FOREARM: (BodyRegion.UPPER_ARM, BodyRegion.HAND),
    BodyRegion.HAND: (BodyRegion.FOREARM,),
    BodyRegion.THORACIC: (BodyRegion.NECK, BodyRegion.SHOULDER, BodyRegion.LUMBAR,
                          BodyRegion.CHEST),
    BodyRegion.LUMBAR: (BodyRegion.THORACIC, BodyRegion.SACRAL, BodyRegion.ABDOMEN,
                        BodyRegion.HIP),
    BodyRegion.SACRAL: (BodyRegion.LUMBAR, BodyRegion.HIP),
    BodyRegion.HIP: (BodyRegion.LUMBAR, BodyRegion.SACRAL, BodyRegion.THIGH,
                     BodyRegion.ABDOMEN),
    BodyRegion.THIGH: (BodyRegion.HIP, BodyRegion.KNEE),
    BodyRegion.KNEE: (BodyRegion.THIGH, BodyRegion.LOWER_LEG),
    BodyRegion.LOWER_LEG: (BodyRegion.KNEE, BodyRegion.FOOT),
    BodyRegion.FOOT: (BodyRegion.LOWER_LEG,),
    BodyRegion.ABDOMEN: (BodyRegion.CHEST, BodyRegion.LUMBAR, BodyRegion.HIP),
    BodyRegion.CHEST: (BodyRegion.NECK, BodyRegion.SHOULDER, BodyRegion.THORACIC,
                       BodyRegion.ABDOMEN),
}


@dataclass(frozen=True, order=True)
class Site:
    """A region, and its side when it has one (the left lower leg; the lumbar spine)."""

    region: BodyRegion
    side: Side | None = None

    @classmethod
    def of(cls, region: str, side: str | None = None, field: str = "sites") -> Site:
        try:
            where = BodyRegion(region)
            which = Side(side) if side else None
        except ValueError:
            raise InvalidInput(f"a body region is one of: {', '.join(BodyRegion)}; "
                               "a side is left or right", field=field) from None
        if where.paired and which is None:
            raise InvalidInput(f"say which {where.label}: left or right", field=field)
        if not where.paired and which is not None:
            raise InvalidInput(f"the {where.label} has no side", field=field)
        return cls(where, which)

    @classmethod
    def parse(cls, data: Mapping[str, Any], field: str = "sites") -> Site:
        return cls.of(str(data.get("region", "")), data.get("side"), field)

    def as_dict(self) -> dict[str, str | None]:
        return {"region": str(self.region), "side": str(self.side) if self.side else None}

    @property
    def label(self) -> str:
        return f"{self.side} {self.region.label}" if self.side else self.region.label

    def limb(self) -> frozenset[Site]:
        """The whole limb this site lies on, on its side (the site alone off the limbs)."""
        for limb in (UPPER_LIMB, LOWER_LIMB):
            if self.region in limb:
                return frozenset(Site(r, self.side) for r in limb)
        return frozenset({self})

    def near(self) -> frozenset[Site]:
        """The site and the regions bordering it: on its side, or both sides of a limb's
        region that borders the trunk."""
        out = {self}
        for region in _NEXT_TO[self.region]:
            if not region.paired:
                out.add(Site(region))
            elif self.side is not None:
                out.add(Site(region, self.side))
            else:
                out.update(Site(region, side) for side in Side)
        return frozenset(out)


def sites_of(items: Iterable[Mapping[str, Any]] | None, field: str = "sites") -> list[Site]:
    """Sites from their stored or sent form, checked, each once, in a stable order."""
    return sorted({Site.parse(item, field) for item in items or ()})


def labels(sites: Iterable[Site]) -> str:
    return ", ".join(site.label for site in sites)
