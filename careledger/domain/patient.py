"""The patient: who they are, and whether they let the network share their record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from careledger.domain.commands import Change, Command, Create, Decision, Handler, Reader
from careledger.domain.errors import InvalidInput, InvariantViolated
from careledger.domain.events import CareEvent


class Patient(Aggregate):
    """Demographics and consent; consent gates referrals and, later, who may read."""

    TOPIC = "careledger:Patient"

    class Event(CareEvent):
        TOPIC = "careledger:Patient.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "careledger:Patient.Created"

    class Registered(Created):
        TOPIC = "careledger:Patient.Registered"
        given_name: str
        family_name: str
        birth_date: date
        sex: str
        address: str
        latitude: float | None
        longitude: float | None

        def apply(self, patient: Patient) -> None:
            patient.given_name = self.given_name
            patient.family_name = self.family_name
            patient.birth_date = self.birth_date
            patient.sex = self.sex
            patient.address = self.address
            patient.latitude = self.latitude
            patient.longitude = self.longitude
            patient.consent_granted = False

    class ConsentGranted(Event):
        TOPIC = "careledger:Patient.ConsentGranted"
        scope: str

        def apply(self, patient: Patient) -> None:
            patient.consent_granted = True

    class ConsentRevoked(Event):
        TOPIC = "careledger:Patient.ConsentRevoked"
        reason: str

        def apply(self, patient: Patient) -> None:
            patient.consent_granted = False

    if TYPE_CHECKING:  # set by the events (annotations here would make a dataclass)
        given_name: str
        family_name: str
        birth_date: date
        sex: str
        address: str
        latitude: float | None
        longitude: float | None
        consent_granted: bool

    @classmethod
    def register(
        cls,
        *,
        given_name: str,
        family_name: str,
        birth_date: date,
        sex: str,
        address: str,
        latitude: float | None,
        longitude: float | None,
        occurred_at: datetime,
        actor: str,
    ) -> Patient:
        if not given_name.strip() or not family_name.strip():
            raise InvalidInput("a patient has a given and a family name", field="family_name")
        if birth_date > occurred_at.date():
            raise InvalidInput("a birth date cannot be in the future", field="birth_date")
        if sex not in {"female", "male", "other", "unknown"}:
            raise InvalidInput("sex is female, male, other or unknown", field="sex")
        return cls._create(
            cls.Registered,
            given_name=given_name,
            family_name=family_name,
            birth_date=birth_date,
            sex=sex,
            address=address,
            latitude=latitude,
            longitude=longitude,
            occurred_at=occurred_at,
            actor=actor,
        )

    def grant_consent(self, *, occurred_at: datetime, actor: str) -> None:
        if self.consent_granted:
            raise InvariantViolated("consent is already granted")
        self.trigger_event(self.ConsentGranted, scope="network", occurred_at=occurred_at,
                           actor=actor)

    def revoke_consent(self, *, reason: str, occurred_at: datetime, actor: str) -> None:
        if not self.consent_granted:
            raise InvariantViolated("there is no consent to revoke")
        self.trigger_event(self.ConsentRevoked, reason=reason, occurred_at=occurred_at,
                           actor=actor)

    def check_shares(self) -> None:
        if not self.consent_granted:
            raise InvariantViolated("the patient has not consented to sharing with the network")


# ------------------------------------------------------------------ commands


@dataclass(frozen=True, kw_only=True)
class RegisterPatient(Command):
    given_name: str
    family_name: str
    birth_date: date
    sex: str
    address: str
    latitude: float | None
    longitude: float | None


@dataclass(frozen=True, kw_only=True)
class GrantConsent(Command):
    patient_id: UUID


@dataclass(frozen=True, kw_only=True)
class RevokeConsent(Command):
    patient_id: UUID
    reason: str


# ------------------------------------------------------------------ deciding


def register_patient(cmd: RegisterPatient, read: Reader[Any]) -> Decision:
    return Create(lambda: Patient.register(
        given_name=cmd.given_name, family_name=cmd.family_name, birth_date=cmd.birth_date,
        sex=cmd.sex, address=cmd.address, latitude=cmd.latitude, longitude=cmd.longitude,
        occurred_at=cmd.occurred_at, actor=cmd.actor))


def grant_consent(cmd: GrantConsent, read: Reader[Any]) -> Decision:
    return Change(Patient, cmd.patient_id, lambda p: p.grant_consent(
        occurred_at=cmd.occurred_at, actor=cmd.actor))


def revoke_consent(cmd: RevokeConsent, read: Reader[Any]) -> Decision:
    return Change(Patient, cmd.patient_id, lambda p: p.revoke_consent(
        reason=cmd.reason, occurred_at=cmd.occurred_at, actor=cmd.actor))


#: The commands of this record, and what decides each.
HANDLERS: dict[type[Command], Handler] = {
    RegisterPatient: register_patient,
    GrantConsent: grant_consent,
    RevokeConsent: revoke_consent,
}
