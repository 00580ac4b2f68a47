"""Commands that say who may sign in: staff members of the directory, and the sign-ins
an identity provider vouches for, linked to them or to practitioners.

Only a network administrator links a sign-in; the first one is linked from the command
line (`careledger identity link`), by the operator who holds the database.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from django.http import HttpRequest
from ninja import Field, Router, Status
from pydantic import conlist

from careledger.access.tokens import Role
from careledger.domain.errors import InvalidInput
from careledger.domain.identity import (
    LinkSignIn,
    PersonKind,
    RegisterStaffMember,
    StaffRole,
    UnlinkSignIn,
)
from careledger.gateways.commanding import Commands, occurred, require_role
from careledger.gateways.problems import COMMAND_ERRORS
from careledger.gateways.schemas import OccurredIn, RecordedOut, ShortText

#: An issuer is the provider's URL, exactly as its tokens' `iss` spells it.
Issuer = Annotated[str, Field(min_length=8, max_length=300, pattern=r"^https?://[^\s?#]+$")]
#: A subject is the provider's own identifier: opaque, never reused (OIDC Core §2).
Subject = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^\s]+$")]


class RegisterStaffMemberIn(OccurredIn):
    name: ShortText
    role: StaffRole
    clinic_ids: conlist(UUID, max_length=50) = Field(  # type: ignore[valid-type]
        default_factory=list, description="the clinics a clinic administrator or a biller "
        "acts for; none for a network administrator or an auditor")


class LinkSignInIn(OccurredIn):
    issuer: Issuer
    subject: Subject
    practitioner_id: UUID | None = Field(None, description="who signs in: a practitioner…")
    staff_member_id: UUID | None = Field(None, description="…or a staff member (one of the two)")


class UnlinkSignInIn(OccurredIn):
    issuer: Issuer
    subject: Subject


RESPONSES = {201: RecordedOut, **COMMAND_ERRORS}
ADMIN = {Role.NETWORK_ADMIN}


def identity_routes(commands: Commands) -> Router:
    router = Router()

    @router.post("/staff", response=RESPONSES, operation_id="register_staff_member")
    def register_staff_member(request: HttpRequest,
                              body: RegisterStaffMemberIn) -> Status[RecordedOut]:
        who = require_role(request, ADMIN)
        return commands.run(request, body, RegisterStaffMember(
            name=body.name, role=body.role, clinic_ids=body.clinic_ids,
            occurred_at=occurred(body), actor=who.actor))

    @router.post("/sign-ins", response=RESPONSES, operation_id="link_sign_in")
    def link_sign_in(request: HttpRequest, body: LinkSignInIn) -> Status[RecordedOut]:
        who = require_role(request, ADMIN)
        return commands.run(request, body, link_command(body, actor=who.actor))

    @router.post("/sign-ins/unlink", response=RESPONSES, operation_id="unlink_sign_in")
    def unlink_sign_in(request: HttpRequest, body: UnlinkSignInIn) -> Status[RecordedOut]:
        who = require_role(request, ADMIN)
        return commands.run(request, body, UnlinkSignIn(
            issuer=body.issuer, subject=body.subject, occurred_at=occurred(body),
            actor=who.actor))

    return router


def link_command(body: LinkSignInIn, *, actor: str) -> LinkSignIn:
    """The command a body asks for: exactly one of the two people must be named."""
    named = [(person, kind) for person, kind in (
        (body.practitioner_id, PersonKind.PRACTITIONER), (body.staff_member_id, PersonKind.STAFF))
        if person is not None]
    if len(named) != 1:
        raise InvalidInput("name exactly one of practitioner_id and staff_member_id",
                           field="practitioner_id")
    person, kind = named[0]
    return LinkSignIn(issuer=body.issuer, subject=body.subject, person_id=person,
                      person_kind=kind, occurred_at=occurred(body), actor=actor)
