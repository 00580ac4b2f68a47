"""Commands that build the network: clinics, practitioners, credentials, affiliations."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from django.http import HttpRequest
from ninja import Field, Router, Status
from pydantic import Strict, conlist

from careledger.access.tokens import Role
from careledger.domain.clinical import CredentialKind, Discipline, Profession
from careledger.domain.network import (
    AddCredential,
    Affiliate,
    OfferHomeVisits,
    RecordExperience,
    RegisterClinic,
    RegisterPractitioner,
)
from careledger.domain.staffing import EndAffiliation, RenamePractitioner
from careledger.gateways.commanding import Commands, occurred, require_role
from careledger.gateways.links import ANSWERED_ID, link, then
from careledger.gateways.problems import COMMAND_ERRORS
from careledger.gateways.schemas import Day, Latitude, Longitude, OccurredIn, RecordedOut, ShortText

# ------------------------------------------------------------------ bodies


class RegisterClinicIn(OccurredIn):
    name: ShortText
    disciplines: conlist(Discipline, min_length=1, max_length=3)  # type: ignore[valid-type]
    address: ShortText
    latitude: Latitude
    longitude: Longitude
    home_visit_radius_km: Annotated[float, Strict(), Field(ge=0, le=500)] = 0


class RegisterPractitionerIn(OccurredIn):
    name: ShortText
    profession: Profession


class AddCredentialIn(OccurredIn):
    kind: CredentialKind
    number: ShortText
    issuer: ShortText
    expires_on: Day | None = None


class AffiliateIn(OccurredIn):
    clinic_id: UUID


class RecordExperienceIn(OccurredIn):
    conditions: conlist(Annotated[str, Field(min_length=1, max_length=100)],  # type: ignore[valid-type]
                        min_length=1, max_length=50) = Field(
        ..., description="ICD-10-CM codes (a category, such as M54, covers its codes), or "
        "the words of a code's description (`fibromyalgia`), resolved to the code; words "
        "that match several codes are refused with the codes to choose from")


class OfferHomeVisitsIn(OccurredIn):
    radius_km: Annotated[float, Strict(), Field(gt=0, le=500)]


class RenamePractitionerIn(OccurredIn):
    name: ShortText


class EndAffiliationIn(OccurredIn):
    pass


RESPONSES = {201: RecordedOut, **COMMAND_ERRORS}
ADMIN = {Role.NETWORK_ADMIN}
#: What may follow for a practitioner just registered or changed.
PRACTITIONER = then(link("add_credential", "affiliate_practitioner", "record_experience",
                         "offer_home_visits", "rename_practitioner",
                         practitioner_id=ANSWERED_ID))
#: After an affiliation: what follows for the practitioner, and its end.
AFFILIATED = then(PRACTITIONER["responses"][201]["links"], link(
    "end_affiliation", practitioner_id=ANSWERED_ID, clinic_id="$request.body#/clinic_id"))


def network_routes(commands: Commands) -> Router:
    router = Router()

    @router.post("/clinics", response=RESPONSES, operation_id="register_clinic")
    def register_clinic(request: HttpRequest, body: RegisterClinicIn) -> Status[RecordedOut]:
        who = require_role(request, ADMIN)
        return commands.run(request, body, RegisterClinic(
            name=body.name, disciplines=body.disciplines, address=body.address,
            latitude=body.latitude, longitude=body.longitude,
            home_visit_radius_km=body.home_visit_radius_km, occurred_at=occurred(body),
            actor=who.actor))

    @router.post("/practitioners", response=RESPONSES, operation_id="register_practitioner",
                 openapi_extra=PRACTITIONER)
    def register_practitioner(
        request: HttpRequest, body: RegisterPractitionerIn
    ) -> Status[RecordedOut]:
        who = require_role(request, ADMIN)
        return commands.run(request, body, RegisterPractitioner(
            name=body.name, profession=body.profession, occurred_at=occurred(body),
            actor=who.actor))

    @router.post("/practitioners/{practitioner_id}/credentials", response=RESPONSES,
                 operation_id="add_credential", openapi_extra=PRACTITIONER)
    def add_credential(
        request: HttpRequest, practitioner_id: UUID, body: AddCredentialIn
    ) -> Status[RecordedOut]:
        who = require_role(request, ADMIN)
        return commands.run(request, body, AddCredential(
            practitioner_id=practitioner_id, kind=body.kind, number=body.number,
            issuer=body.issuer, expires_on=body.expires_on, occurred_at=occurred(body),
            actor=who.actor))

    @router.post("/practitioners/{practitioner_id}/affiliations", response=RESPONSES,
                 operation_id="affiliate_practitioner", openapi_extra=AFFILIATED)
    def affiliate_practitioner(
        request: HttpRequest, practitioner_id: UUID, body: AffiliateIn
    ) -> Status[RecordedOut]:
        who = require_role(request, ADMIN)
        return commands.run(request, body, Affiliate(
            practitioner_id=practitioner_id, clinic_id=body.clinic_id,
            occurred_at=occurred(body), actor=who.actor))

    @router.post("/practitioners/{practitioner_id}/experience", response=RESPONSES,
                 operation_id="record_experience", openapi_extra=PRACTITIONER)
    def record_experience(
        request: HttpRequest, practitioner_id: UUID, body: RecordExperienceIn
    ) -> Status[RecordedOut]:
        who = require_role(request, ADMIN)
        return commands.run(request, body, RecordExperience(
            practitioner_id=practitioner_id, conditions=body.conditions,
            occurred_at=occurred(body), actor=who.actor))

    @router.post("/practitioners/{practitioner_id}/home-visits", response=RESPONSES,
                 operation_id="offer_home_visits", openapi_extra=PRACTITIONER)
    def offer_home_visits(
        request: HttpRequest, practitioner_id: UUID, body: OfferHomeVisitsIn
    ) -> Status[RecordedOut]:
        who = require_role(request, ADMIN)
        return commands.run(request, body, OfferHomeVisits(
            practitioner_id=practitioner_id, radius_km=body.radius_km,
            occurred_at=occurred(body), actor=who.actor))

    @router.post("/practitioners/{practitioner_id}/name", response=RESPONSES,
                 operation_id="rename_practitioner", openapi_extra=PRACTITIONER)
    def rename_practitioner(
        request: HttpRequest, practitioner_id: UUID, body: RenamePractitionerIn
    ) -> Status[RecordedOut]:
        """The name they go by from now on; what was recorded or read under the earlier
        one keeps it."""
        who = require_role(request, ADMIN)
        return commands.run(request, body, RenamePractitioner(
            practitioner_id=practitioner_id, name=body.name, occurred_at=occurred(body),
            actor=who.actor))

    @router.post("/practitioners/{practitioner_id}/affiliations/{clinic_id}/end",
                 response=RESPONSES, operation_id="end_affiliation", openapi_extra=PRACTITIONER)
    def end_affiliation(
        request: HttpRequest, practitioner_id: UUID, clinic_id: UUID, body: EndAffiliationIn
    ) -> Status[RecordedOut]:
        """The practitioner no longer works at the clinic; their earlier records there
        still show them at it."""
        who = require_role(request, ADMIN)
        return commands.run(request, body, EndAffiliation(
            practitioner_id=practitioner_id, clinic_id=clinic_id,
            occurred_at=occurred(body), actor=who.actor))

    return router
