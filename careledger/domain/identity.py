"""Who signs in: the staff the directory lists besides practitioners, and the sign-ins
an identity provider vouches for, each linked to one person of the directory.

An identity provider says only *who* someone is (its issuer and a subject it never
reuses); what they may do comes from here: a practitioner's profession and affiliations,
or a staff member's role and clinics. A claim the provider could mint (a role, a clinic)
is never believed. A sign-in's record id is drawn from its issuer and subject, so
finding it at each request is one read by id, and the same sign-in cannot be linked twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from careledger.domain.commands import Change, Command, Create, Decision, Handler, Reader
from careledger.domain.errors import InvalidInput, InvariantViolated, NotFound
from careledger.domain.events import CareEvent
from careledger.domain.network import Clinic, Practitioner

#: The namespace sign-in record ids are drawn in (uuid5 of issuer and subject).
SIGN_IN_NAMESPACE = UUID("6f1c2a4e-3b7d-5e8f-9a0b-1c2d3e4f5a6b")


class StaffRole(StrEnum):
    """Who works for the network without treating or referring."""

    CLINIC_ADMIN = "clinic_admin"
    NETWORK_ADMIN = "network_admin"
    AUDITOR = "auditor"
    BILLER = "biller"

    @property
    def works_at_clinics(self) -> bool:
        """A clinic administrator and a biller act for their clinics; the others for none."""
        return self in (StaffRole.CLINIC_ADMIN, StaffRole.BILLER)


class PersonKind(StrEnum):
    PRACTITIONER = "practitioner"
    STAFF = "staff"


class StaffMember(Aggregate):
    """An administrator, biller or auditor of the network: a name, a role, clinics."""

    TOPIC = "careledger:StaffMember"

    class Event(CareEvent):
        TOPIC = "careledger:StaffMember.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "careledger:StaffMember.Created"

    class Registered(Created):
        TOPIC = "careledger:StaffMember.Registered"
        name: str
        role: str
        clinic_ids: list[UUID]

        def apply(self, member: StaffMember) -> None:
            member.name = self.name
            member.role = self.role
            member.clinic_ids = list(self.clinic_ids)

    if TYPE_CHECKING:
        name: str
        role: str
        clinic_ids: list[UUID]

    @classmethod
    def register(cls, *, name: str, role: StaffRole, clinics: Sequence[Clinic],
                 occurred_at: datetime, actor: str) -> StaffMember:
        if not name.strip():
            raise InvalidInput("a staff member has a name", field="name")
        if role.works_at_clinics and not clinics:
            raise InvalidInput(f"a {role.value.replace('_', ' ')} works for at least one "
                               "clinic: name it", field="clinic_ids")
        if clinics and not role.works_at_clinics:
            raise InvalidInput(f"a {role.value.replace('_', ' ')} acts for the whole "
                               "network: name no clinic", field="clinic_ids")
        return cls._create(cls.Registered, name=name.strip(), role=role.value,
                           clinic_ids=[c.id for c in clinics], occurred_at=occurred_at,
                           actor=actor)


class SignIn(Aggregate):
    """One identity at one provider (issuer, subject), linked to a person of the directory.

    Unlinked, it signs nobody in; linked again (to the same person or another), it
    does from then on. Its history says who could sign in as whom, and when.
    """

    TOPIC = "careledger:SignIn"

    class Event(CareEvent):
        TOPIC = "careledger:SignIn.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "careledger:SignIn.Created"

    class Linked(Created):
        TOPIC = "careledger:SignIn.Linked"
        issuer: str
        subject: str
        person_id: UUID
        person_kind: str

        def apply(self, sign_in: SignIn) -> None:
            sign_in.issuer = self.issuer
            sign_in.subject = self.subject
            sign_in.person_id = self.person_id
            sign_in.person_kind = self.person_kind
            sign_in.linked = True

    class Relinked(Event):
        """Linked again after being unlinked, to this person."""

        TOPIC = "careledger:SignIn.Relinked"
        person_id: UUID
        person_kind: str

        def apply(self, sign_in: SignIn) -> None:
            sign_in.person_id = self.person_id
            sign_in.person_kind = self.person_kind
            sign_in.linked = True

    class Unlinked(Event):
        TOPIC = "careledger:SignIn.Unlinked"

        def apply(self, sign_in: SignIn) -> None:
            sign_in.linked = False

    if TYPE_CHECKING:
        issuer: str
        subject: str
        person_id: UUID
        person_kind: str
        linked: bool

    @classmethod
    def link(cls, *, issuer: str, subject: str, person_id: UUID, person_kind: PersonKind,
             occurred_at: datetime, actor: str) -> SignIn:
        return cls._create(cls.Linked, id=sign_in_id(issuer, subject), issuer=issuer,
                           subject=subject, person_id=person_id,
                           person_kind=person_kind.value, occurred_at=occurred_at,
                           actor=actor)

    def relink(self, *, person_id: UUID, person_kind: PersonKind, occurred_at: datetime,
               actor: str) -> None:
        if self.linked:
            raise InvariantViolated("this sign-in is already linked to someone: unlink "
                                    "it first")
        self.trigger_event(self.Relinked, person_id=person_id, person_kind=person_kind.value,
                           occurred_at=occurred_at, actor=actor)

    def unlink(self, *, occurred_at: datetime, actor: str) -> None:
        if not self.linked:
            raise InvariantViolated("this sign-in is not linked to anyone")
        self.trigger_event(self.Unlinked, occurred_at=occurred_at, actor=actor)


def sign_in_id(issuer: str, subject: str) -> UUID:
    """The record id of (issuer, subject): the same pair always names the same record.
    A newline cannot occur in an issuer URL, so no two pairs give the same text."""
    return uuid.uuid5(SIGN_IN_NAMESPACE, f"{issuer}\n{subject}")


# ------------------------------------------------------------------ commands


@dataclass(frozen=True, kw_only=True)
class RegisterStaffMember(Command):
    name: str
    role: StaffRole
    clinic_ids: Sequence[UUID] = ()


@dataclass(frozen=True, kw_only=True)
class LinkSignIn(Command):
    """Let (issuer, subject) sign in as a practitioner or a staff member."""

    issuer: str
    subject: str
    person_id: UUID
    person_kind: PersonKind


@dataclass(frozen=True, kw_only=True)
class UnlinkSignIn(Command):
    issuer: str
    subject: str


# ------------------------------------------------------------------ deciding


def register_staff_member(cmd: RegisterStaffMember, read: Reader[Any]) -> Decision:
    return Create(lambda: StaffMember.register(
        name=cmd.name, role=cmd.role, clinics=[read(Clinic, c) for c in cmd.clinic_ids],
        occurred_at=cmd.occurred_at, actor=cmd.actor))


def link_sign_in(cmd: LinkSignIn, read: Reader[Any]) -> Decision:
    read(Practitioner if cmd.person_kind is PersonKind.PRACTITIONER else StaffMember,
         cmd.person_id)  # the person must be in the directory (404 otherwise)
    record_id = sign_in_id(cmd.issuer, cmd.subject)
    try:
        read(SignIn, record_id)
    except NotFound:
        return Create(lambda: SignIn.link(
            issuer=cmd.issuer, subject=cmd.subject, person_id=cmd.person_id,
            person_kind=cmd.person_kind, occurred_at=cmd.occurred_at, actor=cmd.actor))
    return Change(SignIn, record_id, lambda s: s.relink(
        person_id=cmd.person_id, person_kind=cmd.person_kind, occurred_at=cmd.occurred_at,
        actor=cmd.actor))


def unlink_sign_in(cmd: UnlinkSignIn, read: Reader[Any]) -> Decision:
    return Change(SignIn, sign_in_id(cmd.issuer, cmd.subject), lambda s: s.unlink(
        occurred_at=cmd.occurred_at, actor=cmd.actor))


#: The commands of this record, and what decides each.
HANDLERS: dict[type[Command], Handler] = {
    RegisterStaffMember: register_staff_member,
    LinkSignIn: link_sign_in,
    UnlinkSignIn: unlink_sign_in,
}
