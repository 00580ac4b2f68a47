"""Authorizations: how many visits an episode may have, when, and which visit uses which.

This is the one definition. An episode's visits come from its authorizations: the
referral's own (its visits, from the day it was made, open-ended), then each later one,
by the referring physician or by a payer (with the payer's authorization number), for a
number of visits from a start date, optionally to an end date, optionally capping the
units billed under some CPT codes. The episode's rules, the caseload and the physician's
worklist all ask `allocate` which authorization each visit uses, and `running_out`
whether the clinic should ask for the next one, so no view decides it again.

A visit uses a visit of an authorization in force on its day: the one ending soonest
(so visits are not spent from an authorization that would still cover later days).
Given visits on days and authorizations over periods, that greedy choice places every
visit whenever any choice could (the deadline-first rule of interval scheduling).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

#: The authorization the referral itself carries is named by this id.
REFERRAL_AUTHORIZATION = "referral"
#: An episode whose authorizations leave this many visits or fewer is running out...
RUNNING_OUT_VISITS = 2
#: ...as is one whose authorizations all end within this many days.
RUNNING_OUT_DAYS = 7


class AuthorizationSource(StrEnum):
    """Who authorized the visits."""

    REFERRAL = "referral"  # the referring physician, in the referral itself
    PHYSICIAN = "physician"  # the referring physician, later
    PAYER = "payer"  # the patient's insurer, with its authorization number


@dataclass(frozen=True)
class Authorization:
    authorization_id: str
    source: AuthorizationSource
    visits: int
    starts_on: date
    ends_on: date | None = None
    payer: str | None = None
    number: str | None = None
    #: Units billable under each CPT code it names; codes it does not name are capped
    #: by its visits alone.
    units: Mapping[str, int] = field(default_factory=dict)

    def covers(self, day: date) -> bool:
        return self.starts_on <= day and (self.ends_on is None or day <= self.ends_on)

    def as_state(self) -> dict[str, Any]:
        return {"authorization_id": self.authorization_id, "source": str(self.source),
                "visits": self.visits, "starts_on": self.starts_on, "ends_on": self.ends_on,
                "payer": self.payer, "number": self.number, "units": dict(self.units)}

    @classmethod
    def of(cls, state: Mapping[str, Any]) -> Authorization:
        """From the episode's state, or from a view's row (dates as ISO text there)."""
        return cls(authorization_id=str(state["authorization_id"]),
                   source=AuthorizationSource(state["source"]), visits=int(state["visits"]),
                   starts_on=_day(state["starts_on"]), ends_on=_day(state.get("ends_on")),
                   payer=state.get("payer"), number=state.get("number"),
                   units={str(k): int(v) for k, v in (state.get("units") or {}).items()})


def referral_authorization(visits: int, made_on: date) -> Authorization:
    """The referral's own: its visits, from the day it was made, with no end."""
    return Authorization(REFERRAL_AUTHORIZATION, AuthorizationSource.REFERRAL, visits, made_on)


@dataclass(frozen=True)
class Visit:
    """A session that holds a visit: scheduled (booked) or completed (used), on its day."""

    session_id: str
    on: date
    completed: bool
    units: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Standing:
    """Where one authorization stands after its visits are placed."""

    authorization: Authorization
    used: int
    booked: int
    units_used: Mapping[str, int]

    @property
    def remaining(self) -> int:
        return max(0, self.authorization.visits - self.used - self.booked)


@dataclass(frozen=True)
class Allocation:
    standings: tuple[Standing, ...]
    #: Session id -> the authorization its visit uses.
    placed: Mapping[str, str]
    #: Visits no authorization could take, in the order they were met.
    unplaced: tuple[Visit, ...]

    def standing(self, authorization_id: str) -> Standing:
        return next(s for s in self.standings
                    if s.authorization.authorization_id == authorization_id)

    @property
    def authorized(self) -> int:
        return sum(s.authorization.visits for s in self.standings)


def allocate(authorizations: Sequence[Authorization], visits: Sequence[Visit]) -> Allocation:
    """Which authorization each visit uses (visits in day order, a day's by session id, so
    that the domain and the views, which hold them in different orders, agree)."""
    used = {a.authorization_id: 0 for a in authorizations}
    booked = dict(used)
    units: dict[str, dict[str, int]] = {a.authorization_id: {} for a in authorizations}
    placed: dict[str, str] = {}
    unplaced: list[Visit] = []
    order = {a.authorization_id: i for i, a in enumerate(authorizations)}
    for visit in sorted(visits, key=lambda v: (v.on, v.session_id)):
        fits = [a for a in authorizations if a.covers(visit.on)
                and used[a.authorization_id] + booked[a.authorization_id] < a.visits
                and _units_fit(a, units[a.authorization_id], visit)]
        if not fits:
            unplaced.append(visit)
            continue
        chosen = min(fits, key=lambda a: (a.ends_on or date.max, order[a.authorization_id]))
        key = chosen.authorization_id
        placed[visit.session_id] = key
        if visit.completed:
            used[key] += 1
            for code, n in visit.units.items():
                units[key][code] = units[key].get(code, 0) + n
        else:
            booked[key] += 1
    return Allocation(
        standings=tuple(Standing(a, used[a.authorization_id], booked[a.authorization_id],
                                 units[a.authorization_id]) for a in authorizations),
        placed=placed, unplaced=tuple(unplaced))


def in_force(allocation: Allocation, today: date) -> list[Standing]:
    """The authorizations not yet ended (one starting later counts: it is already given)."""
    return [s for s in allocation.standings
            if s.authorization.ends_on is None or s.authorization.ends_on >= today]


def visits_remaining(allocation: Allocation, today: date) -> int:
    """Visits still to schedule under the authorizations in force."""
    return sum(s.remaining for s in in_force(allocation, today))


def running_out(allocation: Allocation, today: date) -> bool:
    """2 or fewer visits left in the authorizations still in force, or all of them ending
    within 7 days: time to ask for the next authorization."""
    current = in_force(allocation, today)
    if sum(s.remaining for s in current) <= RUNNING_OUT_VISITS:
        return True
    ends = [s.authorization.ends_on for s in current]
    return all(end is not None and end <= today + timedelta(days=RUNNING_OUT_DAYS)
               for end in ends)


def refusal(allocation: Allocation, visit: Visit) -> str:
    """Why a visit could not be placed, and what to do next, in the clinic's words."""
    then = "record the next authorization first"
    if any(s.authorization.covers(visit.on) and s.remaining for s in allocation.standings):
        return f"the units billed exceed what the authorization allows for a code: {then}"
    left = [s.authorization for s in allocation.standings if s.remaining]
    if not left:
        return f"all {allocation.authorized} authorized visits are used or booked: {then}"
    ended = [a.ends_on for a in left if a.ends_on is not None and a.ends_on < visit.on]
    starts = [a.starts_on for a in left if a.starts_on > visit.on]
    when = (f"; the last ended on {max(ended).isoformat()}" if ended else
            f"; the next starts on {min(starts).isoformat()}" if starts else "")
    return f"no authorization with visits left covers {visit.on.isoformat()}{when}: {then}"


def _units_fit(a: Authorization, taken: Mapping[str, int], visit: Visit) -> bool:
    return all(taken.get(code, 0) + n <= a.units[code]
               for code, n in visit.units.items() if code in a.units)


def _day(value: Any) -> Any:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
