"""The episode's documents, print-ready: the plan of care for the physician's signature,
a progress report, the discharge summary, the records packet an insurer asks for."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema

from careledger.access.policy import PatientNotFound
from careledger.gateways.commanding import principal_of
from careledger.gateways.printouts.pages import Asked, Printout, print_page
from careledger.gateways.problems import Problem, problem
from careledger.gateways.services import Services
from careledger.projections import live_generation

DESCRIPTION = (
    "A print-ready HTML page (A4, its own print stylesheet, no navigation) from the "
    "episode's record: patient, diagnoses, goals with baseline, latest and target, visits "
    "used and authorized, attendance, outcome measures over time, techniques and regions, "
    "precautions, the therapist's and physician's names and NPIs, the certification and "
    "its signature. `records-packet` holds the referral, assessment, plan, certification, "
    "every session note (late entries flagged), the progress reports and the discharge. "
    "Read as the patient's record is: anyone else gets the 404 of a referral that does "
    "not exist. Every printout is in the access log as a disclosure, with `recipient` "
    "when it is handed to one (an insurer).")


class PrintoutQuery(Schema):
    recipient: Annotated[str, Field(min_length=1, max_length=120)] | None = Field(
        None, description="Who it is handed to (an insurer's name), for the disclosure")
    report: Annotated[int, Field(ge=1, le=1000)] | None = Field(
        None, description="Which progress report (1 the first); none: the latest")


def printout_routes(services: Services) -> Router:
    router = Router()

    @router.get(
        "/referrals/{referral_id}/printouts/{kind}",
        response={status: Problem for status in (401, 404, 422, 503)},
        operation_id="print_document", summary="A document of the episode, to print",
        description=DESCRIPTION,
        openapi_extra={"responses": {200: {"description": "The page", "content": {
            "text/html": {"schema": {"type": "string"}}}}}},
    )
    def print_document(request: HttpRequest, referral_id: UUID, kind: Printout,
                       query: Query[PrintoutQuery]) -> HttpResponse:
        if query.report is not None and kind is not Printout.PROGRESS_REPORT:
            return problem(422, "`report` names one of the progress reports: ask for "
                           "printouts/progress-report", code="invalid_request")
        asked = Asked(kind, recipient=query.recipient.strip() if query.recipient else None,
                      report=query.report)
        with services.idempotency.pool.connection() as conn:
            try:
                page = print_page(conn, services.app, live_generation(conn)[0],
                                  principal_of(request), referral_id, asked)
            except PatientNotFound:
                return problem(404, "no referral with that id", code="not_found")
        response = HttpResponse(page, content_type="text/html; charset=utf-8")
        response["Cache-Control"] = "no-store"
        return response

    return router
