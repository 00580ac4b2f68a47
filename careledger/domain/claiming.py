"""Which sessions a clinic may bill to whom, and why the others may not.

A biller trusts an export only if it never puts on a claim what the payer will deny
and says, for each session it leaves off, what is wrong and what to do. The rules a
session must pass, each a reason of its own (`Unclaimable`):

- it was given: a session scheduled and never completed, cancelled, or not attended
  bills nothing;
- the rendering therapist was licensed that day and has an NPI on file;
- it falls in a certified plan period (the physician's certification covers its day);
- the patient had coverage in force that day (the primary one is billed), the clinic
  has its billing provider and a fee schedule for that payer on file, and the payer pays
  for the rendering profession's services (Medicare enrols no massage therapists);
- it is within the payer's authorization: when the payer authorized visits for the
  episode, the visit is one of them, and the units it bills under the payer's unit
  rule fit what the authorization allows each code, after the visits billed before it;
- something on it is billable (fees.py leaves off what the payer does not cover).

Pure: the gateway gathers the facts (the record and the views) and writes the claims.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from uuid import UUID

from careledger.domain.authorization import Authorization, AuthorizationSource
from careledger.domain.clinical import CredentialKind, Profession
from careledger.domain.coverage import Coverage
from careledger.domain.episode import SessionStatus
from careledger.domain.fees import FeeSchedule, Priced, price, schedule_for


class Unclaimable(StrEnum):
    """Why a session is left off the claims (the export's code for it)."""

    NOT_COMPLETED = "not-completed"
    LICENCE_NOT_VALID = "licence-not-valid"
    NO_RENDERING_NPI = "no-rendering-npi"
    OUTSIDE_CERTIFIED_PLAN = "outside-certified-plan"
    NO_COVERAGE = "no-coverage"
    NO_BILLING_PROVIDER = "no-billing-provider"
    NO_FEE_SCHEDULE = "no-fee-schedule"
    PROFESSION_NOT_PAID = "profession-not-paid"
    BEYOND_AUTHORIZATION = "beyond-authorization"
    NOTHING_BILLABLE = "nothing-billable"


@dataclass(frozen=True)
class Reason:
    code: Unclaimable
    #: In the biller's words, with what to do next.
    text: str


@dataclass(frozen=True)
class Service:
    """One session of an episode as billing sees it."""

    session_id: str
    on: date
    status: SessionStatus
    location: str | None
    practitioner_id: UUID | None
    #: Timed codes and their minutes, as corrected.
    minutes: Mapping[str, int] = field(default_factory=dict)
    #: Untimed services billed once each.
    services: tuple[str, ...] = ()
    #: A certification of the plan covers its day.
    certified: bool = False


@dataclass(frozen=True)
class Rendering:
    """The rendering practitioner, as the directory has them now (a licence corrected
    since the session counts as corrected)."""

    profession: Profession
    npi: str | None
    #: The expiry of each state licence on file (None: one that does not expire).
    licences: tuple[date | None, ...]

    def licensed(self, on: date) -> bool:
        return any(end is None or on <= end for end in self.licences)

    @property
    def last_expiry(self) -> date | None:
        return max((end for end in self.licences if end is not None), default=None)


@dataclass(frozen=True)
class Assessed:
    service: Service
    reasons: tuple[Reason, ...]
    coverage: Coverage | None = None
    schedule: FeeSchedule | None = None
    priced: Priced | None = None
    #: The payer's authorization the visit is billed under, if the payer gave one.
    authorization: Authorization | None = None

    @property
    def claimable(self) -> bool:
        return not self.reasons


def rendering(profession: str, credentials: Sequence[Mapping[str, object]],
              npi: str | None) -> Rendering:
    """From a practitioner's credentials on file."""
    return Rendering(Profession(profession), npi, tuple(
        None if c["expires_on"] is None else date.fromisoformat(str(c["expires_on"]))
        for c in credentials if c["kind"] == CredentialKind.STATE_LICENSE))


def primary(coverages: Sequence[Coverage], on: date) -> Coverage | None:
    """The coverage billed first that day: the lowest order in force."""
    held = [c for c in coverages if c.in_force(on)]
    return min(held, key=lambda c: c.order, default=None)


def assess_episode(services: Sequence[Service], *, authorizations: Sequence[Authorization],
                   placed: Mapping[str, str], practitioners: Mapping[UUID, Rendering],
                   coverages: Sequence[Coverage], schedules: Sequence[FeeSchedule],
                   billing_provider: bool, today: date) -> list[Assessed]:
    """Every session of one episode, in day order; units a payer's authorization allows
    are spent by the claimable sessions before each one (those outside the export's
    period too, so pass the episode's sessions up to its end)."""
    spent: dict[str, dict[str, int]] = {}
    out = []
    for service in sorted(services, key=lambda s: (s.on, s.session_id)):
        done = _assess(service, authorizations, placed, practitioners, coverages,
                       schedules, billing_provider, today, spent)
        if done.claimable and done.authorization is not None and done.priced is not None:
            used = spent.setdefault(done.authorization.authorization_id, {})
            for line in done.priced.lines:
                used[line.cpt] = used.get(line.cpt, 0) + line.units
        out.append(done)
    return out


def _assess(service: Service, authorizations: Sequence[Authorization],
            placed: Mapping[str, str], practitioners: Mapping[UUID, Rendering],
            coverages: Sequence[Coverage], schedules: Sequence[FeeSchedule],
            billing_provider: bool, today: date,
            spent: Mapping[str, Mapping[str, int]]) -> Assessed:
    day = service.on.isoformat()
    if service.status is not SessionStatus.COMPLETED:
        return Assessed(service, (Reason(Unclaimable.NOT_COMPLETED, _NOT_GIVEN[service.status]
                                         .format(day=day, when="is" if service.on >= today
                                                 else "was")),))
    reasons: list[Reason] = []
    who = practitioners.get(service.practitioner_id) if service.practitioner_id else None
    if who is None or not who.licensed(service.on):
        expired = who.last_expiry.isoformat() if who and who.last_expiry else None
        reasons.append(Reason(Unclaimable.LICENCE_NOT_VALID, (
            f"the rendering therapist's licence was not valid on {day}"
            + (f" (the licence on file expired on {expired})" if expired else
               " (no licence on file)") + ": correct the licence on file, or do not bill")))
    if who is not None and who.npi is None:
        reasons.append(Reason(Unclaimable.NO_RENDERING_NPI,
                              "the rendering therapist has no NPI on file: add it to their "
                              "credentials before billing"))
    if not service.certified:
        reasons.append(Reason(Unclaimable.OUTSIDE_CERTIFIED_PLAN, (
            f"outside the certified plan period: no certification of the plan covers {day}"
            " (ask the physician to certify or recertify the plan)")))
    coverage = primary(coverages, service.on)
    if coverage is None:
        reasons.append(Reason(Unclaimable.NO_COVERAGE, (
            f"the patient had no insurance coverage in force on {day}: record the "
            "patient's coverage, or bill the patient")))
    if not billing_provider:
        reasons.append(Reason(Unclaimable.NO_BILLING_PROVIDER, (
            "the clinic has no billing provider on file: record its NPI and tax id")))
    if coverage is None or who is None:
        return Assessed(service, tuple(reasons), coverage)
    schedule = schedule_for(list(schedules), coverage.payer, service.on)
    if schedule is None:
        reasons.append(Reason(Unclaimable.NO_FEE_SCHEDULE, (
            f"the clinic has no fee schedule for {coverage.payer} in effect on {day}: set one")))
        return Assessed(service, tuple(reasons), coverage)
    if not schedule.pays_for(who.profession):
        reasons.append(Reason(Unclaimable.PROFESSION_NOT_PAID, (
            f"{coverage.payer} does not pay for a {who.profession.value.replace('_', ' ')}'s "
            "services: bill the patient, or a coverage that pays for them")))
        return Assessed(service, tuple(reasons), coverage, schedule)
    priced = price(schedule, who.profession, service.minutes, list(service.services))
    if not priced.lines:
        reasons.append(Reason(Unclaimable.NOTHING_BILLABLE, "nothing on it is billable: "
                              + "; ".join(priced.left_off[c] for c in sorted(priced.left_off))))
    authorization, beyond = _authorized(service, coverage, priced, authorizations, placed,
                                        spent)
    if beyond:
        reasons.append(Reason(Unclaimable.BEYOND_AUTHORIZATION, beyond))
    return Assessed(service, tuple(reasons), coverage, schedule, priced, authorization)


def _authorized(service: Service, coverage: Coverage, priced: Priced,
                authorizations: Sequence[Authorization], placed: Mapping[str, str],
                spent: Mapping[str, Mapping[str, int]]) -> tuple[Authorization | None, str]:
    """The payer's authorization the visit falls under, or why it falls beyond it."""
    payers = [a for a in authorizations
              if a.source is AuthorizationSource.PAYER and a.payer == coverage.payer]
    if not payers:  # the payer asked for no prior authorization in this episode
        return None, ""
    then = f"ask {coverage.payer} for the next authorization"
    under = next((a for a in payers if a.authorization_id == placed.get(service.session_id)),
                 None)
    if under is None:
        numbers = ", ".join(sorted(a.number or "without a number" for a in payers))
        return None, (f"beyond {coverage.payer}'s authorization ({numbers}): the visit on "
                      f"{service.on.isoformat()} is not one of the visits it allows: {then}")
    used = spent.get(under.authorization_id, {})
    for line in priced.lines:
        cap = under.units.get(line.cpt)
        if cap is not None and used.get(line.cpt, 0) + line.units > cap:
            left = max(cap - used.get(line.cpt, 0), 0)
            return under, (f"beyond authorization {under.number or ''}".rstrip()
                           + f": {line.units} units of {line.cpt} under {coverage.payer}'s "
                           f"unit rule, where {left} of its {cap} remain: {then}")
    return under, ""


_NOT_GIVEN = {
    SessionStatus.SCHEDULED: "scheduled for {day} and never completed: nothing was given "
                             "to bill (complete its note if it took place)",
    SessionStatus.CANCELLED: "cancelled: the session on {day} {when} not given",
    SessionStatus.NO_SHOW: "the patient did not attend on {day}: nothing was given to bill",
}
