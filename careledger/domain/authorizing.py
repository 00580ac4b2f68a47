"""More visits for an episode: the referring physician's, or a payer's authorization.

The referral carries the first authorization; when its visits are used, the physician
(or the patient's insurer, through the clinic) authorizes more, and the episode goes on
with its certified plan, its goals and its progress, rather than a second referral.
What each authorization allows, and which visit uses which, is authorization.py's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from careledger.domain.authorization import Authorization, AuthorizationSource
from careledger.domain.clinical import aware
from careledger.domain.commands import Command, Decision, Handler, Reader, new_id
from careledger.domain.coverage import Coverage, in_force
from careledger.domain.episode import EpisodeState, Event, OnReferral, on_referral
from careledger.domain.errors import InvalidInput, InvariantViolated
from careledger.domain.network import Practitioner
from careledger.domain.patient import Patient

if TYPE_CHECKING:
    from careledger.domain.referral import Referral

#: Most visits one authorization may give (as the referral's own).
MAX_VISITS = 200
_CPT = re.compile(r"^[0-9]{5}$")


class VisitsAuthorized(Event):
    """Visits authorized after the referral's own: by its physician, or by a payer.
    Version 2 names the patient's coverage a payer's falls under (`coverage_id`)."""

    TOPIC = "careledger:Referral.VisitsAuthorized"
    class_version = 2
    authorization_id: str
    source: str
    visits: int
    starts_on: date
    ends_on: date | None
    payer: str | None
    number: str | None
    units: dict[str, int]
    physician_id: str | None
    coverage_id: str | None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["coverage_id"] = None

    def apply(self, referral: Referral) -> None:
        referral.authorizations.append(Authorization(
            authorization_id=self.authorization_id, source=AuthorizationSource(self.source),
            visits=self.visits, starts_on=self.starts_on, ends_on=self.ends_on,
            payer=self.payer, number=self.number, units=dict(self.units)).as_state())
        referral.authorized_visits += self.visits


@dataclass(frozen=True, kw_only=True)
class AuthorizeVisits(OnReferral):
    """`physician_id` for the referring physician's; `payer` and `number` for a payer's."""

    visits: int
    starts_on: date
    ends_on: date | None = None
    physician_id: UUID | None = None
    payer: str | None = None
    number: str | None = None
    units: Mapping[str, int] | None = None
    authorization_id: str | None = None
    #: The patient's coverage a payer's authorization falls under (its payer, if none given).
    coverage_id: str | None = None


class Authorizing(EpisodeState):
    """The episode's authorizations after the referral's own (part of `Referral`); the
    rule every visit is held to is the episode's (`EpisodeState.check_authorized`)."""

    def authorize_visits(self, *, authorization_id: str, visits: int, starts_on: date,
                         ends_on: date | None, physician: Practitioner | None,
                         payer: str | None, number: str | None, units: Mapping[str, int],
                         occurred_at: datetime, actor: str,
                         coverage: Coverage | None = None) -> None:
        self.check_open()
        if any(a["authorization_id"] == authorization_id for a in self.authorizations):
            raise InvariantViolated("an authorization with this id was already recorded")
        if physician is not None:
            if payer or number:
                raise InvalidInput("the physician's own authorization names no payer: "
                                   "the clinic records a payer's", field="payer")
            if physician.id != self.physician_id:
                raise InvariantViolated("the referring physician authorizes more visits")
            physician.check_may_refer(occurred_at.date())
            source = AuthorizationSource.PHYSICIAN
        else:
            if coverage is not None:
                if payer and payer.strip() != coverage.payer:
                    raise InvalidInput("the payer is the coverage's own", field="payer")
                payer = coverage.payer
            if not (payer and payer.strip()):
                raise InvalidInput("a payer's authorization names the payer", field="payer")
            if not (number and number.strip()):
                raise InvalidInput("a payer's authorization carries its number", field="number")
            if any(a["payer"] == payer.strip() and a["number"] == number.strip()
                   for a in self.authorizations):
                raise InvariantViolated("this payer's authorization was already recorded")
            source = AuthorizationSource.PAYER
        if not 1 <= visits <= MAX_VISITS:
            raise InvalidInput(f"authorized visits are 1 to {MAX_VISITS}", field="visits")
        if ends_on is not None and ends_on < starts_on:
            raise InvalidInput("an authorization ends on or after the day it starts",
                               field="ends_on")
        if starts_on < self.made_at.date():
            raise InvalidInput("an authorization starts on or after the referral's day",
                               field="starts_on")
        for code, n in units.items():
            if not _CPT.match(code) or not 1 <= n <= 999:
                raise InvalidInput("units are 1 to 999 per five-digit CPT code", field="units")
        self.trigger_event(
            VisitsAuthorized, authorization_id=authorization_id, source=str(source),
            visits=visits, starts_on=starts_on, ends_on=ends_on,
            payer=payer.strip() if payer else None, number=number.strip() if number else None,
            units=dict(units), physician_id=str(physician.id) if physician else None,
            coverage_id=coverage.coverage_id if coverage else None,
            occurred_at=occurred_at, actor=actor)


# ------------------------------------------------------------------ deciding


def authorize_visits(cmd: AuthorizeVisits, read: Reader[Any]) -> Decision:
    record_id = new_id(cmd.authorization_id)
    if cmd.coverage_id is not None and cmd.physician_id is not None:
        raise InvalidInput("the physician's own authorization names no coverage",
                           field="coverage_id")

    def coverage(referral: Referral) -> Coverage | None:
        if cmd.coverage_id is None:
            return None
        return in_force(read(Patient, referral.patient_id).coverage_held, cmd.coverage_id,
                        cmd.starts_on)

    return on_referral(cmd, lambda r: r.authorize_visits(
        authorization_id=record_id, visits=cmd.visits, starts_on=cmd.starts_on,
        ends_on=cmd.ends_on, payer=cmd.payer, number=cmd.number,
        physician=None if cmd.physician_id is None else read(Practitioner, cmd.physician_id),
        units=dict(cmd.units or {}), occurred_at=aware(cmd.occurred_at), actor=cmd.actor,
        coverage=coverage(r)))


#: This stage's commands, and what decides each.
HANDLERS: dict[type[Command], Handler] = {
    AuthorizeVisits: authorize_visits,
}
