"""The network's clinics and practitioners: who may refer, who may treat, where."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from careledger.domain.clinical import CredentialKind, Discipline, Profession
from careledger.domain.errors import InvalidInput, InvariantViolated


class Clinic(Aggregate):
    """A clinic of the network: the disciplines it offers, where it is, how far it travels."""

    TOPIC = "careledger:Clinic"

    class Event(Aggregate.Event):
        TOPIC = "careledger:Clinic.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "careledger:Clinic.Created"

    @event("Registered", topic="careledger:Clinic.Registered")
    def __init__(
        self,
        name: str,
        disciplines: list[str],
        address: str,
        latitude: float,
        longitude: float,
        home_visit_radius_km: float,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.name = name
        self.disciplines = list(disciplines)
        self.address = address
        self.latitude = latitude
        self.longitude = longitude
        self.home_visit_radius_km = home_visit_radius_km

    @classmethod
    def register(
        cls,
        *,
        name: str,
        disciplines: list[Discipline],
        address: str,
        latitude: float,
        longitude: float,
        home_visit_radius_km: float,
        occurred_at: datetime,
        actor: str,
    ) -> Clinic:
        if not disciplines:
            raise InvalidInput("a clinic offers at least one discipline", field="disciplines")
        if home_visit_radius_km < 0:
            raise InvalidInput("a radius cannot be negative", field="home_visit_radius_km")
        return cls(
            name=name,
            disciplines=[str(d) for d in disciplines],
            address=address,
            latitude=latitude,
            longitude=longitude,
            home_visit_radius_km=home_visit_radius_km,
            occurred_at=occurred_at,
            actor=actor,
        )

    def offers(self, discipline: str) -> bool:
        return discipline in self.disciplines


class Practitioner(Aggregate):
    """A physician or therapist with credentials, affiliations and conditions of experience."""

    TOPIC = "careledger:Practitioner"

    class Event(Aggregate.Event):
        TOPIC = "careledger:Practitioner.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "careledger:Practitioner.Created"

    @event("Registered", topic="careledger:Practitioner.Registered")
    def __init__(
        self, name: str, profession: str, occurred_at: datetime, actor: str
    ) -> None:
        self.name = name
        self.profession = profession
        self.credentials: list[dict[str, Any]] = []
        self.clinic_ids: list[str] = []
        self.conditions: list[str] = []
        self.home_visit_radius_km: float | None = None

    @classmethod
    def register(
        cls, *, name: str, profession: Profession, occurred_at: datetime, actor: str
    ) -> Practitioner:
        if not name.strip():
            raise InvalidInput("a practitioner has a name", field="name")
        return cls(name=name, profession=str(profession), occurred_at=occurred_at, actor=actor)

    # --- credentials -------------------------------------------------------------------

    def add_credential(
        self,
        *,
        kind: CredentialKind,
        number: str,
        issuer: str,
        expires_on: date | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        if not number.strip() or not issuer.strip():
            raise InvalidInput("a credential names its number and issuer", field="number")
        if kind is CredentialKind.NPI and not valid_npi(number):
            raise InvalidInput("an NPI is 10 digits with a valid check digit", field="number")
        if kind is CredentialKind.STATE_LICENSE and expires_on is None:
            raise InvalidInput("a state license has an expiry date", field="expires_on")
        self._credential_added(
            kind=str(kind),
            number=number,
            issuer=issuer,
            expires_on=expires_on.isoformat() if expires_on else None,
            occurred_at=occurred_at,
            actor=actor,
        )

    @event("CredentialAdded", topic="careledger:Practitioner.CredentialAdded")
    def _credential_added(
        self,
        kind: str,
        number: str,
        issuer: str,
        expires_on: str | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        # A renewal of the same credential replaces the earlier entry.
        self.credentials = [
            c for c in self.credentials if (c["kind"], c["number"]) != (kind, number)
        ]
        self.credentials.append(
            {"kind": kind, "number": number, "issuer": issuer, "expires_on": expires_on}
        )

    def has_valid(self, kind: CredentialKind, on: date) -> bool:
        for credential in self.credentials:
            if credential["kind"] != kind:
                continue
            expires = credential["expires_on"]
            if expires is None or date.fromisoformat(expires) >= on:
                return True
        return False

    @property
    def npi(self) -> str | None:
        for credential in self.credentials:
            if credential["kind"] == CredentialKind.NPI:
                return str(credential["number"])
        return None

    # --- affiliations, experience, home visits -----------------------------------------

    def affiliate(self, *, clinic: Clinic, occurred_at: datetime, actor: str) -> None:
        discipline = Profession(self.profession).discipline
        if discipline is not None and not clinic.offers(discipline):
            raise InvariantViolated("the clinic does not offer this practitioner's discipline")
        if str(clinic.id) in self.clinic_ids:
            raise InvariantViolated("the practitioner is already affiliated with this clinic")
        self._affiliated(clinic_id=str(clinic.id), occurred_at=occurred_at, actor=actor)

    @event("Affiliated", topic="careledger:Practitioner.Affiliated")
    def _affiliated(self, clinic_id: str, occurred_at: datetime, actor: str) -> None:
        self.clinic_ids.append(clinic_id)

    def end_affiliation(self, *, clinic_id: UUID, occurred_at: datetime, actor: str) -> None:
        if str(clinic_id) not in self.clinic_ids:
            raise InvariantViolated("the practitioner is not affiliated with this clinic")
        self._affiliation_ended(clinic_id=str(clinic_id), occurred_at=occurred_at, actor=actor)

    @event("AffiliationEnded", topic="careledger:Practitioner.AffiliationEnded")
    def _affiliation_ended(self, clinic_id: str, occurred_at: datetime, actor: str) -> None:
        self.clinic_ids.remove(clinic_id)

    def record_experience(
        self, *, conditions: list[str], occurred_at: datetime, actor: str
    ) -> None:
        if not conditions:
            raise InvalidInput("name at least one condition", field="conditions")
        self._experience_recorded(
            conditions=sorted({c.strip().upper() for c in conditions}),
            occurred_at=occurred_at,
            actor=actor,
        )

    @event("ExperienceRecorded", topic="careledger:Practitioner.ExperienceRecorded")
    def _experience_recorded(
        self, conditions: list[str], occurred_at: datetime, actor: str
    ) -> None:
        self.conditions = sorted(set(self.conditions) | set(conditions))

    def offer_home_visits(self, *, radius_km: float, occurred_at: datetime, actor: str) -> None:
        if self.profession == Profession.PHYSICIAN:
            raise InvariantViolated("home visits are offered by treating practitioners")
        if radius_km <= 0:
            raise InvalidInput("a home-visit radius is positive", field="radius_km")
        self._home_visits_offered(radius_km=radius_km, occurred_at=occurred_at, actor=actor)

    @event("HomeVisitsOffered", topic="careledger:Practitioner.HomeVisitsOffered")
    def _home_visits_offered(self, radius_km: float, occurred_at: datetime, actor: str) -> None:
        self.home_visit_radius_km = radius_km

    # --- the questions other aggregates ask --------------------------------------------

    def check_may_refer(self, on: date) -> None:
        """Only a credentialed physician refers: NPI on file and a current license."""
        if self.profession != Profession.PHYSICIAN:
            raise InvariantViolated("only a physician refers")
        if self.npi is None:
            raise InvariantViolated("the physician has no NPI on file")
        if not self.has_valid(CredentialKind.STATE_LICENSE, on):
            raise InvariantViolated("the physician's license is expired or missing")

    def check_may_treat(self, *, discipline: str, clinic_id: UUID, on: date) -> None:
        """Of the requested discipline, affiliated with the clinic, license unexpired."""
        own = Profession(self.profession).discipline
        if own is None or own != discipline:
            raise InvariantViolated("the practitioner does not practise the referred discipline")
        if str(clinic_id) not in self.clinic_ids:
            raise InvariantViolated("the practitioner is not affiliated with the clinic")
        if not self.has_valid(CredentialKind.STATE_LICENSE, on):
            raise InvariantViolated("the practitioner's license is expired or missing")


def valid_npi(number: str) -> bool:
    """The NPI check digit is Luhn over '80840' + the first nine digits."""
    if len(number) != 10 or not number.isdigit():
        return False
    digits = [int(d) for d in "80840" + number]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0
