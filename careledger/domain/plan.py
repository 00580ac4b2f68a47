"""The treatment plan as the episode holds it: which revision, its goals, its signature."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum

from careledger.domain.body import Site, labels
from careledger.domain.deadlines import CERTIFICATION_MAX_DAYS
from careledger.domain.errors import InvalidInput, InvariantViolated
from careledger.domain.precautions import Applied


class PlanStatus(StrEnum):
    """What a plan waits for: the referring physician's signature, or nothing."""

    AWAITING_CERTIFICATION = "awaiting certification"
    CERTIFIED = "certified"


@dataclass(frozen=True)
class TreatmentPlan:
    """A drafted or revised plan; each revision needs the physician's signature again."""

    plan_id: str
    revision: int
    goal_ids: tuple[str, ...]
    certified_until: date | None = None
    #: The revision the latest certification signed (None: never certified).
    certified_revision: int | None = None
    #: Each technique of the revision and the sites it names (none: anywhere). None for
    #: a plan held in a snapshot from before plans kept them: sessions are then not
    #: compared with it until it is revised.
    techniques: Mapping[str, tuple[Site, ...]] | None = field(default=None, compare=False)

    @property
    def certified(self) -> bool:
        """This revision is signed (a revision since the last signature is not)."""
        return self.certified_until is not None and self.certified_revision == self.revision

    @property
    def status(self) -> PlanStatus:
        return PlanStatus.CERTIFIED if self.certified else PlanStatus.AWAITING_CERTIFICATION

    def revised(self, revision: int, goal_ids: tuple[str, ...],
                techniques: Mapping[str, tuple[Site, ...]]) -> TreatmentPlan:
        return TreatmentPlan(plan_id=self.plan_id, revision=revision, goal_ids=goal_ids,
                             techniques=techniques)

    def deviations(self, applied: Sequence[Applied]) -> list[str]:
        """What a note did beyond this plan: a technique it does not name, or a site
        outside those it names for the technique (a site not stated is not a deviation)."""
        if self.techniques is None:
            return []
        out = []
        for item in applied:
            name = str(item.technique).replace("_", " ")
            planned = self.techniques.get(str(item.technique))
            if planned is None:
                out.append(f"{name}: not in the plan")
                continue
            outside = [s for s in item.sites if planned and s not in planned]
            if outside:
                out.append(f"{name} on the {labels(outside)}: the plan names "
                           f"the {labels(planned)}")
        return list(dict.fromkeys(out))

    def certified_to(self, until: date) -> TreatmentPlan:
        return replace(self, certified_until=until, certified_revision=self.revision)

    def recertified_to(self, until: date) -> TreatmentPlan:
        return replace(self, certified_until=until)


def check_period(certified_from: date, certified_until: date) -> None:
    """A certification ends after it starts, and covers at most 90 days."""
    if certified_until < certified_from:
        raise InvalidInput("certification ends after it starts", field="certified_until")
    if (certified_until - certified_from).days > CERTIFICATION_MAX_DAYS:
        raise InvariantViolated(f"a certification covers at most {CERTIFICATION_MAX_DAYS} days")
