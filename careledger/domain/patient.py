"""The patient: who they are, and whom they let share their record (consent.py's rule)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from careledger.domain.commands import (
    Change,
    Command,
    Create,
    Decision,
    Handler,
    Reader,
    new_id,
)
from careledger.domain.consent import (
    ConsentDecision,
    Purpose,
    check_period,
    clinic_permitted,
    utc_day,
)
from careledger.domain.coverage import Coverage, Relation, check_order
from careledger.domain.documents import Document, checked_name, is_document_name
from careledger.domain.errors import InvalidInput, InvariantViolated
from careledger.domain.events import CareEvent

#: Longest reference to a signed consent form.
MAX_FORM_REFERENCE = 200


class Patient(Aggregate):
    """Demographics and consent; consent gates referrals and, later, who may read."""

    TOPIC = "careledger:Patient"
    #: Version 2 keeps consent decisions, version 3 the documents attached to the patient
    #: and their coverages.
    class_version = 3

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """Before version 2 consent was one network-wide flag; the day it was granted is
        not in a snapshot, so a grant stands from the earliest day."""
        state["consent_decisions"] = [ConsentDecision(
            decision_id="network", clinic_id=None, purpose=Purpose.TREATMENT, permit=True,
            starts_on=date.min, ends_on=None, form_reference=None).as_state()
        ] if state.get("consent_granted") else []

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        state["documents"] = []
        state["coverages"] = []

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
            patient.consent_decisions = []
            patient.documents = []
            patient.coverages = []

    class ConsentGranted(Event):
        """Consent to share with the whole network, for treatment, from this day."""

        TOPIC = "careledger:Patient.ConsentGranted"
        scope: str

        def apply(self, patient: Patient) -> None:
            patient.decided(ConsentDecision(
                decision_id=f"network-{self.originator_version}", clinic_id=None,
                purpose=Purpose.TREATMENT, permit=True, starts_on=utc_day(self.occurred_at),
                ends_on=None, form_reference=None))

    class ConsentRevoked(Event):
        """The network-wide consent withdrawn, from this day."""

        TOPIC = "careledger:Patient.ConsentRevoked"
        reason: str

        def apply(self, patient: Patient) -> None:
            patient.decided(ConsentDecision(
                decision_id=f"network-{self.originator_version}", clinic_id=None,
                purpose=Purpose.TREATMENT, permit=False, starts_on=utc_day(self.occurred_at),
                ends_on=None, form_reference=None))

    class ConsentDecided(Event):
        """A decision of the patient's, for one clinic or the network, for a purpose and
        a period, on a signed form, recorded on their behalf."""

        TOPIC = "careledger:Patient.ConsentDecided"
        decision_id: str
        clinic_id: str | None
        purpose: str
        permit: bool
        starts_on: date
        ends_on: date | None
        form_reference: str

        def apply(self, patient: Patient) -> None:
            patient.decided(ConsentDecision(
                decision_id=self.decision_id, clinic_id=self.clinic_id,
                purpose=Purpose(self.purpose), permit=self.permit, starts_on=self.starts_on,
                ends_on=self.ends_on, form_reference=self.form_reference))

    class DocumentAttached(Event):
        """A document of the patient's (their signed consent form, a letter), its bytes
        stored apart under its SHA-256 (documents.py)."""

        TOPIC = "careledger:Patient.DocumentAttached"
        document_id: str
        sha256: str
        sha1: str
        media_type: str
        size: int
        title: str
        category: str

        def apply(self, patient: Patient) -> None:
            patient.documents.append(self.sha256)

    class CoverageRecorded(Event):
        """An insurance coverage of the patient's (coverage.py)."""

        TOPIC = "careledger:Patient.CoverageRecorded"
        coverage_id: str
        payer: str
        member_id: str
        plan: str | None
        group: str | None
        subscriber: str | None
        relation: str
        starts_on: date
        ends_on: date | None
        order: int

        def apply(self, patient: Patient) -> None:
            patient.coverages.append(Coverage(
                coverage_id=self.coverage_id, payer=self.payer, member_id=self.member_id,
                plan=self.plan, group=self.group, subscriber=self.subscriber,
                relation=Relation(self.relation), starts_on=self.starts_on,
                ends_on=self.ends_on, order=self.order).as_state())

    if TYPE_CHECKING:  # set by the events (annotations here would make a dataclass)
        given_name: str
        family_name: str
        birth_date: date
        sex: str
        address: str
        latitude: float | None
        longitude: float | None
        consent_granted: bool
        consent_decisions: list[dict[str, Any]]
        #: The SHA-256 of each document attached to the patient.
        documents: list[str]
        #: Coverage.as_state() of each coverage recorded.
        coverages: list[dict[str, Any]]

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

    def decided(self, decision: ConsentDecision) -> None:
        self.consent_decisions.append(decision.as_state())
        if decision.clinic_id is None:  # the network-wide flag the older commands keep
            self.consent_granted = decision.permit

    @property
    def decisions(self) -> list[ConsentDecision]:
        return [ConsentDecision.of_state(d) for d in self.consent_decisions]

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

    def decide_consent(self, *, decision_id: str, clinic_id: UUID | None, purpose: Purpose,
                       permit: bool, starts_on: date, ends_on: date | None,
                       form_reference: str, occurred_at: datetime, actor: str) -> None:
        check_period(starts_on, ends_on)
        reference = form_reference.strip()
        if not reference or len(reference) > MAX_FORM_REFERENCE:
            raise InvalidInput("a consent decision names its signed form (1-200 characters)",
                               field="form_reference")
        if is_document_name(reference):  # the signed form itself, attached to the patient
            checked_name(reference, self.documents, "form_reference")
        if any(d["decision_id"] == decision_id for d in self.consent_decisions):
            raise InvariantViolated("a consent decision with this id was already recorded")
        self.trigger_event(
            self.ConsentDecided, decision_id=decision_id,
            clinic_id=str(clinic_id) if clinic_id else None, purpose=str(purpose),
            permit=permit, starts_on=starts_on, ends_on=ends_on, form_reference=reference,
            occurred_at=occurred_at, actor=actor)

    def attach_document(self, *, document_id: str, document: Document, occurred_at: datetime,
                        actor: str) -> None:
        self.trigger_event(self.DocumentAttached, document_id=document_id, **document.fields(),
                           occurred_at=occurred_at, actor=actor)

    def record_coverage(self, *, coverage: Coverage, occurred_at: datetime, actor: str) -> None:
        check_order(self.coverage_held, coverage)
        self.trigger_event(self.CoverageRecorded, **coverage.as_state(),
                           occurred_at=occurred_at, actor=actor)

    @property
    def coverage_held(self) -> list[Coverage]:
        return [Coverage.of_state(c) for c in self.coverages]

    def check_shares(self, clinic_id: UUID, on: date) -> None:
        """A referral to a clinic needs the patient's consent to share with it."""
        if not clinic_permitted(self.decisions, str(clinic_id), on):
            raise InvariantViolated("the patient has not consented to sharing with this "
                                    "clinic: record their consent first")


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


@dataclass(frozen=True, kw_only=True)
class RecordCoverage(Command):
    patient_id: UUID
    coverage: Coverage


@dataclass(frozen=True, kw_only=True)
class DecideConsent(Command):
    """`clinic_id` None: the whole network."""

    patient_id: UUID
    clinic_id: UUID | None
    purpose: Purpose
    permit: bool
    starts_on: date
    ends_on: date | None
    form_reference: str
    decision_id: str | None = None


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


def decide_consent(cmd: DecideConsent, read: Reader[Any]) -> Decision:
    decision_id = new_id(cmd.decision_id)
    return Change(Patient, cmd.patient_id, lambda p: p.decide_consent(
        decision_id=decision_id, clinic_id=cmd.clinic_id, purpose=cmd.purpose,
        permit=cmd.permit, starts_on=cmd.starts_on, ends_on=cmd.ends_on,
        form_reference=cmd.form_reference, occurred_at=cmd.occurred_at, actor=cmd.actor))


def record_coverage(cmd: RecordCoverage, read: Reader[Any]) -> Decision:
    return Change(Patient, cmd.patient_id, lambda p: p.record_coverage(
        coverage=cmd.coverage, occurred_at=cmd.occurred_at, actor=cmd.actor))


#: The commands of this record, and what decides each.
HANDLERS: dict[type[Command], Handler] = {
    RecordCoverage: record_coverage,
    RegisterPatient: register_patient,
    GrantConsent: grant_consent,
    RevokeConsent: revoke_consent,
    DecideConsent: decide_consent,
}
