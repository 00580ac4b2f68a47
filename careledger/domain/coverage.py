"""The patient's insurance coverage: who pays, under which member id and plan, for whom,
over which period, in which order when there are several (primary, secondary...).

Recorded on the patient (`Patient.CoverageRecorded`) by a clinic's front desk or the
referring physician; a payer's authorization of visits names the coverage it falls
under (authorizing.py), and the claim a biller sends names it as its insurance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from careledger.domain.errors import InvalidInput, InvariantViolated

#: The most coverages in force together that an order may rank (primary to ninth).
MAX_ORDER = 9
MAX_TEXT = 100


class Relation(StrEnum):
    """The patient's relation to the subscriber (FHIR's subscriber-relationship codes)."""

    SELF = "self"
    SPOUSE = "spouse"
    CHILD = "child"
    OTHER = "other"


@dataclass(frozen=True)
class Coverage:
    coverage_id: str
    payer: str
    member_id: str
    plan: str | None
    group: str | None
    #: The subscriber's name when the patient is not the subscriber.
    subscriber: str | None
    relation: Relation
    starts_on: date
    ends_on: date | None
    order: int

    def __post_init__(self) -> None:
        for name in ("payer", "member_id"):
            value = getattr(self, name)
            if not value.strip() or len(value) > MAX_TEXT:
                raise InvalidInput(f"a coverage names its {name.replace('_', ' ')} "
                                   f"(1-{MAX_TEXT} characters)", field=name)
        if self.relation != Relation.SELF and not (self.subscriber or "").strip():
            raise InvalidInput("name the subscriber when the patient is their "
                               f"{self.relation}", field="subscriber")
        if self.ends_on is not None and self.ends_on < self.starts_on:
            raise InvalidInput("a coverage ends on or after its first day", field="ends_on")
        if not 1 <= self.order <= MAX_ORDER:
            raise InvalidInput(f"a coverage's order is 1 (primary) to {MAX_ORDER}",
                               field="order")

    def in_force(self, on: date) -> bool:
        return self.starts_on <= on and (self.ends_on is None or on <= self.ends_on)

    def overlaps(self, other: Coverage) -> bool:
        return (self.starts_on <= (other.ends_on or date.max)
                and other.starts_on <= (self.ends_on or date.max))

    def as_state(self) -> dict[str, Any]:
        return {**asdict(self), "relation": str(self.relation)}

    @classmethod
    def of_state(cls, state: dict[str, Any]) -> Coverage:
        def day(value: Any) -> date | None:
            return value if isinstance(value, date) or value is None else \
                date.fromisoformat(value)
        return cls(**{**state, "relation": Relation(state["relation"]),
                      "starts_on": day(state["starts_on"]), "ends_on": day(state["ends_on"])})


def check_order(held: list[Coverage], new: Coverage) -> None:
    """Two coverages in force together do not share an order; an id is recorded once."""
    if any(c.coverage_id == new.coverage_id for c in held):
        raise InvariantViolated("a coverage with this id was already recorded")
    clash = next((c for c in held if c.order == new.order and c.overlaps(new)), None)
    if clash is not None:
        raise InvariantViolated(f"another coverage is number {new.order} over part of this "
                                "period: give this one another order")


def in_force(held: list[Coverage], coverage_id: str, on: date) -> Coverage:
    """The coverage a payer's authorization names, which must be in force on its first day."""
    found = next((c for c in held if c.coverage_id == coverage_id), None)
    if found is None:
        raise InvalidInput("no such coverage for this patient: record it first",
                           field="coverage_id")
    if not found.in_force(on):
        raise InvariantViolated("that coverage is not in force on the authorization's "
                                "first day")
    return found
