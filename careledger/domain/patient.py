"""The patient: who they are, and whether they let the network share their record."""

from __future__ import annotations

from datetime import date, datetime

from eventsourcing.domain import Aggregate, event

from careledger.domain.errors import InvalidInput, InvariantViolated


class Patient(Aggregate):
    """Demographics and consent; consent gates referrals and, later, who may read."""

    TOPIC = "careledger:Patient"

    class Event(Aggregate.Event):
        TOPIC = "careledger:Patient.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "careledger:Patient.Created"

    @event("Registered", topic="careledger:Patient.Registered")
    def __init__(
        self,
        given_name: str,
        family_name: str,
        birth_date: date,
        sex: str,
        address: str,
        latitude: float | None,
        longitude: float | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.given_name = given_name
        self.family_name = family_name
        self.birth_date = birth_date
        self.sex = sex
        self.address = address
        self.latitude = latitude
        self.longitude = longitude
        self.consent_granted = False

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
        return cls(
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
        self._consent_granted(scope="network", occurred_at=occurred_at, actor=actor)

    @event("ConsentGranted", topic="careledger:Patient.ConsentGranted")
    def _consent_granted(self, scope: str, occurred_at: datetime, actor: str) -> None:
        self.consent_granted = True

    def revoke_consent(self, *, reason: str, occurred_at: datetime, actor: str) -> None:
        if not self.consent_granted:
            raise InvariantViolated("there is no consent to revoke")
        self._consent_revoked(reason=reason, occurred_at=occurred_at, actor=actor)

    @event("ConsentRevoked", topic="careledger:Patient.ConsentRevoked")
    def _consent_revoked(self, reason: str, occurred_at: datetime, actor: str) -> None:
        self.consent_granted = False

    def check_shares(self) -> None:
        if not self.consent_granted:
            raise InvariantViolated("the patient has not consented to sharing with the network")
