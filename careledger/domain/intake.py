"""The clinic's intake of a referral: accepted or declined (then redirected by the
physician), or cancelled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from careledger.domain.clinical import (
    aware,
)
from careledger.domain.commands import Command, Decision, Handler, Reader
from careledger.domain.episode import EpisodeState, Event, OnReferral, ReferralStatus, on_referral
from careledger.domain.errors import InvalidInput, InvariantViolated
from careledger.domain.network import Clinic, Practitioner
from careledger.domain.patient import Patient

if TYPE_CHECKING:
    from careledger.domain.referral import Referral


class Accepted(Event):
    TOPIC = "careledger:Referral.Accepted"
    practitioner_id: str

    def apply(self, referral: Referral) -> None:
        referral.status = ReferralStatus.ACCEPTED
        referral.practitioner_id = self.practitioner_id


class Declined(Event):
    TOPIC = "careledger:Referral.Declined"
    clinic_id: str
    reason: str

    def apply(self, referral: Referral) -> None:
        referral.status = ReferralStatus.DECLINED
        referral.declined_by.append(self.clinic_id)


class Redirected(Event):
    TOPIC = "careledger:Referral.Redirected"
    clinic_id: str
    reason: str

    def apply(self, referral: Referral) -> None:
        referral.clinic_id = UUID(self.clinic_id)
        referral.status = ReferralStatus.PENDING


class Cancelled(Event):
    TOPIC = "careledger:Referral.Cancelled"
    reason: str

    def apply(self, referral: Referral) -> None:
        referral.status = ReferralStatus.CANCELLED


@dataclass(frozen=True, kw_only=True)
class AcceptReferral(OnReferral):
    practitioner_id: UUID


@dataclass(frozen=True, kw_only=True)
class DeclineReferral(OnReferral):
    reason: str


@dataclass(frozen=True, kw_only=True)
class RedirectReferral(OnReferral):
    clinic_id: UUID
    reason: str


@dataclass(frozen=True, kw_only=True)
class CancelReferral(OnReferral):
    reason: str


class Intake(EpisodeState):
    """The clinic answers the referral; the physician may send it elsewhere or cancel it
    (part of `Referral`)."""

    def accept(self, *, practitioner: Practitioner, occurred_at: datetime, actor: str) -> None:
        self.check_open()
        if self.status != ReferralStatus.PENDING:
            raise InvariantViolated("only a pending referral can be accepted")
        practitioner.check_may_treat(
            discipline=self.discipline, clinic_id=self.clinic_id, on=aware(occurred_at).date()
        )
        self.trigger_event(Accepted, practitioner_id=str(practitioner.id),
                           occurred_at=occurred_at, actor=actor)

    def decline(self, *, reason: str, occurred_at: datetime, actor: str) -> None:
        self.check_open()
        if self.status != ReferralStatus.PENDING:
            raise InvariantViolated("only a pending referral can be declined")
        if not reason.strip():
            raise InvalidInput("a decline states its reason", field="reason")
        self.trigger_event(
            Declined,
            clinic_id=str(self.clinic_id), reason=reason, occurred_at=aware(occurred_at),
            actor=actor,
        )

    def redirect(self, *, clinic: Clinic, patient: Patient, reason: str, occurred_at: datetime,
                 actor: str) -> None:
        """After a decline the physician sends the same referral to another clinic (one the
        patient consents to share with)."""
        if self.status != ReferralStatus.DECLINED:
            raise InvariantViolated("only a declined referral can be redirected")
        if str(clinic.id) in self.declined_by:
            raise InvariantViolated("this clinic has already declined the referral")
        if not clinic.offers(self.discipline):
            raise InvariantViolated("the clinic does not offer the referred discipline")
        patient.check_shares(clinic.id, aware(occurred_at).date())
        self.trigger_event(
            Redirected,
            clinic_id=str(clinic.id), reason=reason, occurred_at=aware(occurred_at), actor=actor
        )

    def cancel(self, *, reason: str, occurred_at: datetime, actor: str) -> None:
        self.check_open()
        if self.visits_completed:
            raise InvariantViolated("an episode with visits is discharged, not cancelled")
        if not reason.strip():
            raise InvalidInput("a cancellation states its reason", field="reason")
        self.trigger_event(Cancelled, reason=reason, occurred_at=aware(occurred_at),
                           actor=actor)


# ------------------------------------------------------------------ deciding


def accept_referral(cmd: AcceptReferral, read: Reader[Any]) -> Decision:
    return on_referral(cmd, lambda r: r.accept(
        practitioner=read(Practitioner, cmd.practitioner_id), occurred_at=cmd.occurred_at,
        actor=cmd.actor))


def decline_referral(cmd: DeclineReferral, read: Reader[Any]) -> Decision:
    return on_referral(cmd, lambda r: r.decline(
        reason=cmd.reason, occurred_at=cmd.occurred_at, actor=cmd.actor))


def redirect_referral(cmd: RedirectReferral, read: Reader[Any]) -> Decision:
    return on_referral(cmd, lambda r: r.redirect(
        clinic=read(Clinic, cmd.clinic_id), patient=read(Patient, r.patient_id),
        reason=cmd.reason, occurred_at=cmd.occurred_at, actor=cmd.actor))


def cancel_referral(cmd: CancelReferral, read: Reader[Any]) -> Decision:
    return on_referral(cmd, lambda r: r.cancel(
        reason=cmd.reason, occurred_at=cmd.occurred_at, actor=cmd.actor))


#: This stage's commands, and what decides each.
HANDLERS: dict[type[Command], Handler] = {
    AcceptReferral: accept_referral,
    DeclineReferral: decline_referral,
    RedirectReferral: redirect_referral,
    CancelReferral: cancel_referral,
}
