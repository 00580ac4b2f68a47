"""Commands about the patient: registration, consent to share (with the network, or per
clinic and purpose), and their insurance coverage."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID, uuid4

from django.http import HttpRequest
from ninja import Field, Router, Status
from pydantic import Strict

from careledger.access.policy import referred_by
from careledger.access.tokens import Principal, Role
from careledger.domain.consent import Purpose, utc_day
from careledger.domain.coverage import MAX_ORDER, Coverage, Relation
from careledger.domain.errors import NotFound
from careledger.domain.patient import (
    DecideConsent,
    GrantConsent,
    RecordCoverage,
    RegisterPatient,
    RevokeConsent,
)
from careledger.gateways.commanding import Commands, occurred, require_role
from careledger.gateways.links import ANSWERED_ID, link, then
from careledger.gateways.problems import COMMAND_ERRORS
from careledger.gateways.schemas import (
    Day,
    Latitude,
    Longitude,
    OccurredIn,
    Reason,
    RecordedOut,
    RecordId,
    ShortText,
)
from careledger.projections import live_generation

# ------------------------------------------------------------------ bodies


class RegisterPatientIn(OccurredIn):
    given_name: ShortText
    family_name: ShortText
    birth_date: Day
    sex: Annotated[str, Field(pattern=r"^(female|male|other|unknown)$")]
    address: Annotated[str, Field(max_length=400)] = ""
    latitude: Latitude | None = None
    longitude: Longitude | None = None


class RevokeConsentIn(OccurredIn):
    reason: Reason


class DecideConsentIn(OccurredIn):
    """One consent decision of the patient's, from their signed form."""

    clinic_id: UUID | None = Field(None, description="The clinic it concerns; none for the "
                                   "whole network.")
    purpose: Purpose = Purpose.TREATMENT
    decision: Literal["permit", "deny"]
    starts_on: Day | None = Field(None, description="The first day it is in force; the "
                                  "day it happened if none (the UTC day, as access counts "
                                  "days).")
    ends_on: Day | None = Field(None, description="The last day it is in force; none for "
                                "until a later decision.")
    form_reference: ShortText = Field(description="The signed consent form it comes from: "
                                      "its reference, or the SHA-256 of the document "
                                      "attached to the patient")


class CoverageIn(OccurredIn):
    """One insurance coverage of the patient's, from their card."""

    coverage_id: RecordId | None = None
    payer: Annotated[str, Field(min_length=1, max_length=100)]
    member_id: Annotated[str, Field(min_length=1, max_length=100)]
    plan: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    group: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    relation: Relation = Field(Relation.SELF, description="The patient's relation to the "
                               "subscriber")
    subscriber: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        None, description="The subscriber's name, when not the patient")
    starts_on: Day
    ends_on: Day | None = None
    order: Annotated[int, Strict(), Field(ge=1, le=MAX_ORDER)] = Field(
        1, description="1 for the primary coverage, 2 the secondary...")


RESPONSES = {201: RecordedOut, **COMMAND_ERRORS}
FRONT_DESK = {Role.PHYSICIAN, Role.CLINIC_ADMIN}
#: What may follow for a patient: consent first; with consent, a referral.
REGISTERED = then(link("grant_consent", "decide_consent", "export_patient_fhir",
                        patient_id=ANSWERED_ID))
CONSENTED = then(link("revoke_consent", "export_patient_fhir", patient_id=ANSWERED_ID),
                 link("make_referral", body={"patient_id": ANSWERED_ID}))
REVOKED = then(link("grant_consent", "export_patient_fhir", patient_id=ANSWERED_ID))
DECIDED = then(link("decide_consent", "export_patient_fhir", patient_id=ANSWERED_ID))
COVERED = then(link("record_coverage", "export_patient_fhir", patient_id=ANSWERED_ID))


def patient_routes(commands: Commands) -> Router:
    router = Router()

    @router.post("/patients", response=RESPONSES, operation_id="register_patient",
                 openapi_extra=REGISTERED)
    def register_patient(request: HttpRequest, body: RegisterPatientIn) -> Status[RecordedOut]:
        who = require_role(request, FRONT_DESK)
        return commands.run(request, body, RegisterPatient(
            given_name=body.given_name, family_name=body.family_name,
            birth_date=body.birth_date, sex=body.sex, address=body.address,
            latitude=body.latitude, longitude=body.longitude, occurred_at=occurred(body),
            actor=who.actor))

    @router.post("/patients/{patient_id}/consent", response=RESPONSES,
                 operation_id="grant_consent", openapi_extra=CONSENTED)
    def grant_consent(
        request: HttpRequest, patient_id: UUID, body: OccurredIn
    ) -> Status[RecordedOut]:
        who = require_role(request, FRONT_DESK)
        return commands.run(request, body, GrantConsent(
            patient_id=patient_id, occurred_at=occurred(body), actor=who.actor))

    @router.post("/patients/{patient_id}/consent/revocation", response=RESPONSES,
                 operation_id="revoke_consent", openapi_extra=REVOKED)
    def revoke_consent(
        request: HttpRequest, patient_id: UUID, body: RevokeConsentIn
    ) -> Status[RecordedOut]:
        who = require_role(request, FRONT_DESK)
        return commands.run(request, body, RevokeConsent(
            patient_id=patient_id, reason=body.reason, occurred_at=occurred(body),
            actor=who.actor))

    @router.post("/patients/{patient_id}/consent-decisions", response=RESPONSES,
                 operation_id="decide_consent", openapi_extra=DECIDED)
    def decide_consent(
        request: HttpRequest, patient_id: UUID, body: DecideConsentIn
    ) -> Status[RecordedOut]:
        """The patient's decision for one clinic or the network, recorded on their behalf
        by a clinic's front desk or the referring physician. A revocation holds for every
        read that begins after this answers."""
        who = front_desk(request, patient_id)
        at = occurred(body)
        return commands.run(request, body, DecideConsent(
            patient_id=patient_id, clinic_id=body.clinic_id, purpose=body.purpose,
            permit=body.decision == "permit", starts_on=body.starts_on or utc_day(at),
            ends_on=body.ends_on, form_reference=body.form_reference, occurred_at=at,
            actor=who.actor))

    @router.post("/patients/{patient_id}/coverage", response=RESPONSES,
                 operation_id="record_coverage", openapi_extra=COVERED)
    def record_coverage(
        request: HttpRequest, patient_id: UUID, body: CoverageIn
    ) -> Status[RecordedOut]:
        """A coverage from the patient's card, by a clinic's front desk or the referring
        physician; a payer's authorization names it (`coverage_id`)."""
        who = front_desk(request, patient_id)
        coverage = Coverage(
            coverage_id=body.coverage_id or str(uuid4()), payer=body.payer,
            member_id=body.member_id, plan=body.plan, group=body.group,
            subscriber=body.subscriber, relation=body.relation, starts_on=body.starts_on,
            ends_on=body.ends_on, order=body.order)
        return commands.run(request, body, RecordCoverage(
            patient_id=patient_id, coverage=coverage, occurred_at=occurred(body),
            actor=who.actor))

    def front_desk(request: HttpRequest, patient_id: UUID) -> Principal:
        """A clinic's front desk, or the physician who referred the patient (any other
        physician finds no such patient)."""
        who = require_role(request, FRONT_DESK)
        if who.role is Role.PHYSICIAN:
            with commands.services.idempotency.pool.connection() as conn:
                if not referred_by(conn, live_generation(conn)[0], who.subject, patient_id):
                    raise NotFound("no patient with that id")  # theirs, or as if none
        return who

    return router
