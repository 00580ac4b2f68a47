"""The network's clinics and practitioners: who may refer, who may treat, where."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from careledger.domain import clinic_billing, icd10
from careledger.domain.clinical import CredentialKind, Discipline, Profession
from careledger.domain.commands import Change, Command, Create, Decision, Handler, Reader
from careledger.domain.errors import InvalidInput, InvariantViolated
from careledger.domain.events import CareEvent


class Clinic(clinic_billing.ClinicBilling, Aggregate):
    """A clinic of the network: the disciplines it offers, where it is, how far it travels,
    and what it needs on file to bill (clinic_billing.py)."""

    TOPIC = "careledger:Clinic"

    Event = clinic_billing.Event

    class Created(clinic_billing.Event, Aggregate.Created):
        TOPIC = "careledger:Clinic.Created"

    class Registered(Created):
        TOPIC = "careledger:Clinic.Registered"
        name: str
        disciplines: list[str]
        address: str
        latitude: float
        longitude: float
        home_visit_radius_km: float

        def apply(self, clinic: Clinic) -> None:
            clinic.name = self.name
            clinic.disciplines = list(self.disciplines)
            clinic.address = self.address
            clinic.latitude = self.latitude
            clinic.longitude = self.longitude
            clinic.home_visit_radius_km = self.home_visit_radius_km
            clinic.billing = None
            clinic.fee_schedules = []

    BillingProviderRecorded = clinic_billing.BillingProviderRecorded
    FeeScheduleSet = clinic_billing.FeeScheduleSet

    if TYPE_CHECKING:  # set by the events (annotations here would make a dataclass)
        name: str
        disciplines: list[str]
        address: str
        latitude: float
        longitude: float
        home_visit_radius_km: float

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
        return cls._create(
            cls.Registered,
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

    class Event(CareEvent):
        TOPIC = "careledger:Practitioner.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "careledger:Practitioner.Created"

    class Registered(Created):
        TOPIC = "careledger:Practitioner.Registered"
        name: str
        profession: str

        def apply(self, practitioner: Practitioner) -> None:
            practitioner.name = self.name
            practitioner.profession = self.profession
            practitioner.credentials = []
            practitioner.clinic_ids = []
            practitioner.conditions = []
            practitioner.home_visit_radius_km = None
            practitioner.courses = []

    class Renamed(Event):
        """The name the practitioner goes by from now on; what was recorded under the
        earlier one keeps it (the directory's history says who was who, and when)."""

        TOPIC = "careledger:Practitioner.Renamed"
        name: str

        def apply(self, practitioner: Practitioner) -> None:
            practitioner.name = self.name

    class CredentialAdded(Event):
        TOPIC = "careledger:Practitioner.CredentialAdded"
        kind: str
        number: str
        issuer: str
        expires_on: str | None

        def apply(self, practitioner: Practitioner) -> None:
            # A renewal of the same credential replaces the earlier entry.
            practitioner.credentials = [
                c for c in practitioner.credentials
                if (c["kind"], c["number"]) != (self.kind, self.number)
            ]
            practitioner.credentials.append({"kind": self.kind, "number": self.number,
                                             "issuer": self.issuer,
                                             "expires_on": self.expires_on})

    class Affiliated(Event):
        TOPIC = "careledger:Practitioner.Affiliated"
        clinic_id: str

        def apply(self, practitioner: Practitioner) -> None:
            practitioner.clinic_ids.append(self.clinic_id)

    class AffiliationEnded(Event):
        TOPIC = "careledger:Practitioner.AffiliationEnded"
        clinic_id: str

        def apply(self, practitioner: Practitioner) -> None:
            practitioner.clinic_ids.remove(self.clinic_id)

    class ExperienceRecorded(Event):
        TOPIC = "careledger:Practitioner.ExperienceRecorded"
        conditions: list[str]

        def apply(self, practitioner: Practitioner) -> None:
            practitioner.conditions = sorted(set(practitioner.conditions) | set(self.conditions))

    class HomeVisitsOffered(Event):
        TOPIC = "careledger:Practitioner.HomeVisitsOffered"
        radius_km: float

        def apply(self, practitioner: Practitioner) -> None:
            practitioner.home_visit_radius_km = self.radius_km

    class ContinuingEducationRecorded(Event):
        """A continuing-education course the practitioner completed (education.py)."""

        TOPIC = "careledger:Practitioner.ContinuingEducationRecorded"
        course_id: str
        title: str
        provider: str
        hours: float
        category: str
        completed_on: date
        #: The certificate's reference (its number), and the SHA-256 of its copy.
        certificate: str | None
        certificate_sha256: str | None

        def apply(self, practitioner: Practitioner) -> None:
            practitioner.courses.append({"course_id": self.course_id, "hours": self.hours,
                                         "completed_on": self.completed_on.isoformat()})

    if TYPE_CHECKING:  # set by the events (annotations here would make a dataclass)
        name: str
        profession: str
        credentials: list[dict[str, Any]]
        clinic_ids: list[str]
        conditions: list[str]
        home_visit_radius_km: float | None
        #: Continuing-education courses: id, hours, the day completed.
        courses: list[dict[str, Any]]

    @classmethod
    def register(
        cls, *, name: str, profession: Profession, occurred_at: datetime, actor: str
    ) -> Practitioner:
        if not name.strip():
            raise InvalidInput("a practitioner has a name", field="name")
        return cls._create(cls.Registered, name=name, profession=str(profession),
                           occurred_at=occurred_at, actor=actor)

    def rename(self, *, name: str, occurred_at: datetime, actor: str) -> None:
        if not name.strip():
            raise InvalidInput("a practitioner has a name", field="name")
        if name.strip() == self.name:
            raise InvariantViolated("the practitioner already goes by this name")
        self.trigger_event(self.Renamed, name=name.strip(), occurred_at=occurred_at,
                           actor=actor)

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
        self.trigger_event(
            self.CredentialAdded,
            kind=str(kind),
            number=number,
            issuer=issuer,
            expires_on=expires_on.isoformat() if expires_on else None,
            occurred_at=occurred_at,
            actor=actor,
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
        self.trigger_event(self.Affiliated, clinic_id=str(clinic.id), occurred_at=occurred_at,
                           actor=actor)

    def end_affiliation(self, *, clinic_id: UUID, occurred_at: datetime, actor: str) -> None:
        if str(clinic_id) not in self.clinic_ids:
            raise InvariantViolated("the practitioner is not affiliated with this clinic")
        self.trigger_event(self.AffiliationEnded, clinic_id=str(clinic_id),
                           occurred_at=occurred_at, actor=actor)

    def record_experience(
        self, *, conditions: list[str], occurred_at: datetime, actor: str
    ) -> None:
        """Each condition as an ICD-10-CM code (a category too: M54 is experience with
        every dorsalgia), from its code or the words of its description (icd10.resolve)."""
        if not conditions:
            raise InvalidInput("name at least one condition", field="conditions")
        self.trigger_event(
            self.ExperienceRecorded,
            conditions=sorted({icd10.resolve(c)[0] for c in conditions}),
            occurred_at=occurred_at,
            actor=actor,
        )

    def record_course(self, *, course_id: str, title: str, provider: str, hours: float,
                      category: str, completed_on: date, certificate: str | None,
                      certificate_sha256: str | None, occurred_at: datetime,
                      actor: str) -> None:
        from careledger.domain.education import Category, check_course

        check_course(title=title, provider=provider, hours=hours, completed_on=completed_on,
                     today=occurred_at.date())
        if any(c["course_id"] == course_id for c in self.courses):
            raise InvariantViolated("this course is recorded already")
        self.trigger_event(self.ContinuingEducationRecorded, course_id=course_id,
                           title=title.strip(), provider=provider.strip(), hours=float(hours),
                           category=str(Category(category)), completed_on=completed_on,
                           certificate=certificate.strip() if certificate else None,
                           certificate_sha256=certificate_sha256,
                           occurred_at=occurred_at, actor=actor)

    def offer_home_visits(self, *, radius_km: float, occurred_at: datetime, actor: str) -> None:
        if self.profession == Profession.PHYSICIAN:
            raise InvariantViolated("home visits are offered by treating practitioners")
        if radius_km <= 0:
            raise InvalidInput("a home-visit radius is positive", field="radius_km")
        self.trigger_event(self.HomeVisitsOffered, radius_km=radius_km,
                           occurred_at=occurred_at, actor=actor)

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


# ------------------------------------------------------------------ commands


@dataclass(frozen=True, kw_only=True)
class RegisterClinic(Command):
    name: str
    disciplines: Sequence[Discipline]
    address: str
    latitude: float
    longitude: float
    home_visit_radius_km: float


@dataclass(frozen=True, kw_only=True)
class RegisterPractitioner(Command):
    name: str
    profession: Profession


@dataclass(frozen=True, kw_only=True)
class AddCredential(Command):
    practitioner_id: UUID
    kind: CredentialKind
    number: str
    issuer: str
    expires_on: date | None


@dataclass(frozen=True, kw_only=True)
class Affiliate(Command):
    NAME = "affiliate_practitioner"  # as its idempotency records have always named it

    practitioner_id: UUID
    clinic_id: UUID


@dataclass(frozen=True, kw_only=True)
class RecordExperience(Command):
    practitioner_id: UUID
    conditions: Sequence[str]


@dataclass(frozen=True, kw_only=True)
class OfferHomeVisits(Command):
    practitioner_id: UUID
    radius_km: float


# ------------------------------------------------------------------ deciding


def register_clinic(cmd: RegisterClinic, read: Reader[Any]) -> Decision:
    return Create(lambda: Clinic.register(
        name=cmd.name, disciplines=list(cmd.disciplines), address=cmd.address,
        latitude=cmd.latitude, longitude=cmd.longitude,
        home_visit_radius_km=cmd.home_visit_radius_km, occurred_at=cmd.occurred_at,
        actor=cmd.actor))


def register_practitioner(cmd: RegisterPractitioner, read: Reader[Any]) -> Decision:
    return Create(lambda: Practitioner.register(
        name=cmd.name, profession=cmd.profession, occurred_at=cmd.occurred_at,
        actor=cmd.actor))


def add_credential(cmd: AddCredential, read: Reader[Any]) -> Decision:
    return Change(Practitioner, cmd.practitioner_id, lambda p: p.add_credential(
        kind=cmd.kind, number=cmd.number, issuer=cmd.issuer, expires_on=cmd.expires_on,
        occurred_at=cmd.occurred_at, actor=cmd.actor))


def affiliate(cmd: Affiliate, read: Reader[Any]) -> Decision:
    return Change(Practitioner, cmd.practitioner_id, lambda p: p.affiliate(
        clinic=read(Clinic, cmd.clinic_id), occurred_at=cmd.occurred_at, actor=cmd.actor))


def record_experience(cmd: RecordExperience, read: Reader[Any]) -> Decision:
    return Change(Practitioner, cmd.practitioner_id, lambda p: p.record_experience(
        conditions=list(cmd.conditions), occurred_at=cmd.occurred_at, actor=cmd.actor))


def offer_home_visits(cmd: OfferHomeVisits, read: Reader[Any]) -> Decision:
    return Change(Practitioner, cmd.practitioner_id, lambda p: p.offer_home_visits(
        radius_km=cmd.radius_km, occurred_at=cmd.occurred_at, actor=cmd.actor))


#: The commands of this record, and what decides each.
HANDLERS: dict[type[Command], Handler] = {
    RegisterClinic: register_clinic,
    RegisterPractitioner: register_practitioner,
    AddCredential: add_credential,
    Affiliate: affiliate,
    RecordExperience: record_experience,
    OfferHomeVisits: offer_home_visits,
}
