"""The treatment plan as the episode holds it: which revision, its goals, its signature."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from careledger.domain.deadlines import CERTIFICATION_MAX_DAYS
from careledger.domain.errors import InvalidInput, InvariantViolated


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

    @property
    def certified(self) -> bool:
        """This revision is signed (a revision since the last signature is not)."""
        return self.certified_until is not None and self.certified_revision == self.revision

    @property
    def status(self) -> PlanStatus:
        return PlanStatus.CERTIFIED if self.certified else PlanStatus.AWAITING_CERTIFICATION

    def revised(self, revision: int, goal_ids: tuple[str, ...]) -> TreatmentPlan:
        return TreatmentPlan(plan_id=self.plan_id, revision=revision, goal_ids=goal_ids)

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
