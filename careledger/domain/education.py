"""Continuing education, and where each practitioner stands for their licence's renewal.

A licence is renewed every cycle on the hours of continuing education its board asks
for. The boards' rules are one table (`RENEWAL_RULES`, by board and profession; a
profession's default where a board is not listed): hours per cycle and the cycle's
length. A practitioner's standing follows from their licence on file and the courses
recorded in the cycle that ends with it: current, hours short, licence expiring within
60 days, or expired (treatment is refused on an expired licence, network.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from careledger.domain.clinical import Profession
from careledger.domain.commands import Change, Command, Decision, Handler, Reader, new_id
from careledger.domain.errors import InvalidInput

#: A licence expiring within this many days wants attention whatever the hours.
EXPIRING_WITHIN_DAYS = 60
MAX_COURSE_HOURS = 100.0


class Category(StrEnum):
    """What a course counts toward (boards ask for some hours of each)."""

    CLINICAL = "clinical"
    ETHICS = "ethics"
    LAWS_AND_RULES = "laws_and_rules"
    OTHER = "other"


@dataclass(frozen=True)
class RenewalRule:
    hours: float
    cycle_years: int
    #: Where the rule comes from, for whoever keeps the table.
    source: str


#: The boards' renewal rules, by (board, profession); (None, profession) is the default.
RENEWAL_RULES: dict[tuple[str | None, Profession], RenewalRule] = {
    ("NY State Education Department", Profession.MEDICAL_MASSAGE_THERAPIST): RenewalRule(
        36, 3, "NYSED Office of the Professions, Massage Therapy: 36 hours per 3-year "
        "registration"),
    ("NY State Education Department", Profession.PHYSICAL_THERAPIST): RenewalRule(
        36, 3, "NYSED Physical Therapy: 36 hours per 3-year registration"),
    ("NY State Education Department", Profession.CHIROPRACTOR): RenewalRule(
        36, 3, "NYSED Chiropractic: 36 hours per 3-year registration"),
    (None, Profession.MEDICAL_MASSAGE_THERAPIST): RenewalRule(24, 2, "a common two-year rule"),
    (None, Profession.PHYSICAL_THERAPIST): RenewalRule(30, 2, "a common two-year rule"),
    (None, Profession.CHIROPRACTOR): RenewalRule(24, 2, "a common two-year rule"),
    (None, Profession.PHYSICIAN): RenewalRule(50, 2, "AMA PRA Category 1, a common rule"),
}


class Standing(StrEnum):
    CURRENT = "current"
    HOURS_SHORT = "hours_short"
    EXPIRING = "licence_expiring"
    EXPIRED = "licence_expired"
    NO_LICENCE = "no_licence"


@dataclass(frozen=True)
class Renewal:
    standing: Standing
    hours_done: float
    hours_needed: float
    cycle_from: date | None
    licence_expires: date | None

    @property
    def needs_attention(self) -> bool:
        return self.standing is not Standing.CURRENT


def rule_for(board: str | None, profession: Profession) -> RenewalRule:
    return RENEWAL_RULES.get((board, profession)) or RENEWAL_RULES[(None, profession)]


def renewal(*, profession: Profession, board: str | None, licence_expires: date | None,
            courses: Iterable[Mapping[str, Any]], today: date,
            licensed: bool | None = None) -> Renewal:
    """Where the practitioner stands: the hours of the courses completed in the cycle that
    ends when the licence does, against the board's rule. A licence on file that does
    not expire (`licensed`, no expiry) counts the cycle that ends today."""
    rule = rule_for(board, profession)
    if licence_expires is None and not licensed:
        return Renewal(Standing.NO_LICENCE, 0.0, rule.hours, None, None)
    cycle_end = licence_expires or today
    cycle_from = _years_before(cycle_end, rule.cycle_years) + timedelta(days=1)
    done = sum(float(c["hours"]) for c in courses
               if cycle_from <= _day(c["completed_on"]) <= cycle_end)
    if licence_expires is None:
        standing = Standing.HOURS_SHORT if done < rule.hours else Standing.CURRENT
    elif licence_expires < today:
        standing = Standing.EXPIRED
    elif licence_expires <= today + timedelta(days=EXPIRING_WITHIN_DAYS):
        standing = Standing.EXPIRING
    elif done < rule.hours:
        standing = Standing.HOURS_SHORT
    else:
        standing = Standing.CURRENT
    return Renewal(standing, done, rule.hours, cycle_from, licence_expires)


def check_course(*, title: str, provider: str, hours: float, completed_on: date,
                 today: date) -> None:
    if not title.strip() or len(title) > 200:
        raise InvalidInput("a course has a title (1-200 characters)", field="title")
    if not provider.strip() or len(provider) > 200:
        raise InvalidInput("say who gave the course (1-200 characters)", field="provider")
    if not 0 < hours <= MAX_COURSE_HOURS:
        raise InvalidInput(f"a course's hours are more than 0 and at most "
                           f"{MAX_COURSE_HOURS:g}", field="hours")
    if completed_on > today:
        raise InvalidInput("a course is recorded once it is completed, not before",
                           field="completed_on")


def _years_before(day: date, years: int) -> date:
    """The same day `years` before (28 February for a 29th that year lacks)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


@dataclass(frozen=True, kw_only=True)
class RecordContinuingEducation(Command):
    practitioner_id: UUID
    title: str
    provider: str
    hours: float
    category: Category
    completed_on: date
    certificate: str | None = None
    certificate_sha256: str | None = None
    course_id: str | None = None


def record_continuing_education(cmd: RecordContinuingEducation, read: Reader[Any]) -> Decision:
    from careledger.domain.network import Practitioner

    return Change(Practitioner, cmd.practitioner_id, lambda p: p.record_course(
        course_id=new_id(cmd.course_id), title=cmd.title, provider=cmd.provider, hours=cmd.hours,
        category=cmd.category, completed_on=cmd.completed_on, certificate=cmd.certificate,
        certificate_sha256=cmd.certificate_sha256, occurred_at=cmd.occurred_at,
        actor=cmd.actor))


HANDLERS: dict[type[Command], Handler] = {
    RecordContinuingEducation: record_continuing_education,
}
