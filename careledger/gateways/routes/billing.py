"""Billing: what a clinic has on file to bill (its billing provider, a fee schedule per
payer), and its claims for a period as FHIR or CSV, for its biller."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Annotated, Literal
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from pydantic import Strict

from careledger.access.log import ACCESS_LOG, Read
from careledger.access.policy import Basis, Denial
from careledger.access.tokens import Principal, Role
from careledger.domain.clinic_billing import RecordBillingProvider, SetFeeSchedule
from careledger.domain.clinical import Profession
from careledger.domain.errors import NotFound
from careledger.domain.fees import (
    MAX_FEE_CENTS,
    MAX_NOTE,
    DistinctModifier,
    FeeSchedule,
    UnitRule,
)
from careledger.domain.network import Clinic
from careledger.domain.referral import Referral
from careledger.gateways.claims.gather import MAX_DAYS, Gathered, gather
from careledger.gateways.claims.resources import COLUMNS, claims_bundle, session_rows
from careledger.gateways.commanding import Commands, occurred, principal_of, require_role
from careledger.gateways.problems import COMMAND_ERRORS, Problem, problem
from careledger.gateways.schemas import Day, OccurredIn, RecordedOut, ShortText
from careledger.projections import live_generation

FHIR_JSON = "application/fhir+json"
#: What the access log says a claims export read (with the clinic and the period).
ASKED = "claims:export"
#: Who keeps the clinic's billing on file, and who reads its claims.
KEEPS = {Role.CLINIC_ADMIN, Role.NETWORK_ADMIN}
BILLS = {Role.BILLER, Role.CLINIC_ADMIN}

Code = Annotated[str, Field(pattern=r"^[0-9]{5}$")]
#: How an export answers a caller it cannot serve.
PROBLEMS = {status: Problem for status in (401, 403, 404, 422, 503)}


def answered(what: str) -> dict[str, object]:
    """An export's 200 in the OpenAPI document: FHIR JSON, or CSV."""
    return {"responses": {200: {"description": what, "content": {
        FHIR_JSON: {"schema": {"type": "object"}},
        "text/csv": {"schema": {"type": "string"}}}}}}
MISSING_SESSION = "no session with that id"


class BillingProviderIn(OccurredIn):
    npi: Annotated[str, Field(pattern=r"^[0-9]{10}$", description="The clinic's own NPI")]
    tax_id: Annotated[str, Field(pattern=r"^[0-9]{2}-?[0-9]{7}$",
                                 description="The clinic's EIN, as 12-3456789")]


class FeeScheduleIn(OccurredIn):
    payer: ShortText
    unit_rule: UnitRule = Field(..., description=(
        "How the payer counts timed units: `cms_8_minute` (total timed minutes, Medicare "
        "and payers that follow it) or `substantial_portion` (each code's own minutes)"))
    distinct_modifier: DistinctModifier = DistinctModifier.MODIFIER_59
    fees: dict[Code, Annotated[int, Strict(), Field(gt=0, le=MAX_FEE_CENTS)]] = Field(
        ..., description="Cents per unit, by CPT code", max_length=30)
    effective_from: Day
    not_covered: dict[Code, Annotated[str, Field(min_length=1, max_length=MAX_NOTE)]] = Field(
        default_factory=dict, max_length=30,
        description="Codes the payer does not cover, each with the payer's note")
    professions: list[Profession] = Field(
        default_factory=list, max_length=4, description="The professions whose services "
        "the payer pays for (Medicare: physical_therapist, chiropractor); none: every one")


class ClaimsQuery(Schema):
    start: Day = Field(..., alias="from", description="The first day of service")
    end: Day = Field(..., alias="to", description="The last day of service")
    format: Literal["fhir", "csv"] = "fhir"


def _clinic_in_scope(commands: Commands, who: Principal, clinic_id: UUID) -> Clinic:
    """The clinic, for the network's administrators and the clinic's own staff; for
    anyone else a clinic that does not exist."""
    if who.role is not Role.NETWORK_ADMIN and clinic_id not in who.clinics:
        raise NotFound("no clinic with that id")
    return commands.services.app.load(Clinic, clinic_id)


def billing_routes(commands: Commands) -> Router:
    router = Router()
    responses = {201: RecordedOut, **COMMAND_ERRORS}

    @router.post("/clinics/{clinic_id}/billing-provider", response=responses,
                 operation_id="record_billing_provider")
    def record_billing_provider(request: HttpRequest, clinic_id: UUID,
                                body: BillingProviderIn) -> Status[RecordedOut]:
        who = require_role(request, KEEPS)
        _clinic_in_scope(commands, who, clinic_id)
        return commands.run(request, body, RecordBillingProvider(
            clinic_id=clinic_id, npi=body.npi, tax_id=body.tax_id, occurred_at=occurred(body),
            actor=who.actor))

    @router.post("/clinics/{clinic_id}/fee-schedules", response=responses,
                 operation_id="set_fee_schedule")
    def set_fee_schedule(request: HttpRequest, clinic_id: UUID,
                         body: FeeScheduleIn) -> Status[RecordedOut]:
        who = require_role(request, KEEPS)
        _clinic_in_scope(commands, who, clinic_id)
        schedule = FeeSchedule(
            payer=body.payer, unit_rule=body.unit_rule, fees=dict(body.fees),
            effective_from=body.effective_from, distinct_modifier=body.distinct_modifier,
            not_covered=dict(body.not_covered), professions=frozenset(body.professions))
        return commands.run(request, body, SetFeeSchedule(
            clinic_id=clinic_id, schedule=schedule, occurred_at=occurred(body),
            actor=who.actor))

    @router.get(
        "/clinics/{clinic_id}/claims",
        response=PROBLEMS, operation_id="export_claims",
        summary="The clinic's claims for a period, as FHIR Claims or CSV",
        description=(
            "Every session of the clinic whose day falls in the period: a professional "
            "`Claim` (CMS-1500 / 837P data) for each claimable one, in a `collection` "
            "Bundle with the billing provider, patients and coverages it names, and an "
            "`OperationOutcome` saying why each other session is not claimable; or the "
            "same as CSV, a row per claim line or session left off. For the clinic's "
            "billers and administrators; every patient it names is in the access log."),
        openapi_extra=answered("The claims"),
    )
    def export_claims(request: HttpRequest, clinic_id: UUID,
                      query: Query[ClaimsQuery]) -> HttpResponse:
        if query.end < query.start or query.end - query.start >= timedelta(days=MAX_DAYS):
            return problem(422, f"a period runs from its first day to its last, at most "
                                f"{MAX_DAYS} days: export a longer one in parts",
                           code="invalid_request")
        return _export(commands, request, clinic_id, query.start, query.end, query.format,
                       f"{ASKED} {clinic_id} {query.start}..{query.end}",
                       f"claims-{query.start}-{query.end}")

    @router.get(
        "/referrals/{referral_id}/sessions/{session_id}/claim",
        response=PROBLEMS, operation_id="export_session_claim",
        summary="One session's claim, as a FHIR Claim or CSV",
        description=(
            "The session's professional `Claim` as the clinic's export for its day has it, "
            "in a `collection` Bundle with the billing provider, patient and coverage, or "
            "an `OperationOutcome` saying why it is not claimable; or the same as CSV. For "
            "the billers and administrators of the referral's clinic; in the access log."),
        openapi_extra=answered("The claim"),
    )
    def export_session_claim(request: HttpRequest, referral_id: UUID, session_id: str,
                             format: Literal["fhir", "csv"] = "fhir") -> HttpResponse:
        try:
            referral = commands.services.app.load(Referral, referral_id)
        except NotFound:
            referral = None
        visit = referral.session_visits.get(session_id) if referral is not None else None
        if referral is None or visit is None:
            return problem(404, MISSING_SESSION, code="not_found")
        day = visit["on"]
        return _export(commands, request, referral.clinic_id, day, day, format,
                       f"{ASKED} {referral.clinic_id} session {session_id}",
                       f"claim-{day}", only=(referral_id, session_id), missing=MISSING_SESSION)

    return router


def _export(commands: Commands, request: HttpRequest, clinic_id: UUID, start: date,
            end: date, format: str, asked: str, filename: str,
            only: tuple[UUID, str] | None = None,
            missing: str = "no clinic with that id") -> HttpResponse:
    """Gather, log a read of each patient named, then write FHIR or CSV; for a caller who
    does not bill for the clinic, what is `missing` (logged as denied)."""
    who = principal_of(request)
    services = commands.services
    if who.role not in BILLS or clinic_id not in who.clinics:
        why = Denial.ROLE_BILLS_NOTHING if who.role not in BILLS else Denial.NOT_THIS_CLINIC
        with services.idempotency.pool.connection() as conn:  # the attempt, logged
            ACCESS_LOG.append(conn, [Read(who.subject, who.role.value, None, asked, False,
                                          None, str(why))])
        return problem(404, missing, code="not_found")
    clinic = services.app.load(Clinic, clinic_id)
    with services.idempotency.pool.connection() as conn:
        gathered = gather(conn, services.app, live_generation(conn)[0], clinic, start, end)
        if only is not None:
            gathered = gathered.only(*only)
            if not gathered.episodes:  # the views do not hold the session (yet)
                return problem(404, missing, code="not_found")
        # Logged before anything leaves: one read per patient the export names (an export
        # that names nobody is logged too, as a read of no patient).
        ACCESS_LOG.append(conn, [Read(who.subject, who.role.value, patient, asked, True,
                                      str(Basis.BILLING), None)
                                 for patient in gathered.patients or (None,)])
    if format == "csv":
        response = HttpResponse(_csv(gathered), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    else:
        response = HttpResponse(claims_bundle(gathered), content_type=FHIR_JSON)
    response["Cache-Control"] = "no-store"
    return response


def _cell(value: object) -> object:
    """A text a spreadsheet would run as a formula (a name, a note) is written as text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv(gathered: Gathered) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, restval="", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({k: _cell(v) for k, v in row.items()} for row in session_rows(gathered))
    return out.getvalue()

