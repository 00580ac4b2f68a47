"""Reads for other systems: a patient's record as a FHIR R4 Bundle."""

from __future__ import annotations

from uuid import UUID

from django.http import HttpRequest, HttpResponse
from ninja import Router
from ninja.errors import HttpError

from careledger.access.policy import MIN_REASON, PatientNotFound
from careledger.gateways.commanding import principal_of
from careledger.gateways.fhir.export import ASKED_HTTP, export_patient
from careledger.gateways.problems import Problem, problem
from careledger.gateways.services import Services
from careledger.projections import live_generation

FHIR_JSON = "application/fhir+json"
#: Outside the care team, a stated reason breaks the glass, as GraphQL's emergencyReason.
EMERGENCY_HEADER = "CareLedger-Emergency-Reason"


DESCRIPTION = (
    "A `collection` Bundle (`application/fhir+json`) built from the event log: "
    "ServiceRequest, Condition, Observation, CarePlan, Goal, Encounter, Procedure and a "
    "Provenance per recorded event. Who may read it is decided exactly as for GraphQL's "
    "`patient(id)`: anyone else gets the 404 of a patient that does not exist, and every "
    f"attempt is in the access log. Outside the care team, a `{EMERGENCY_HEADER}` header "
    f"(at least {MIN_REASON} characters) breaks the glass for four hours, flagged for review."
)


def fhir_routes(services: Services) -> Router:
    router = Router()

    @router.get(
        "/patients/{patient_id}/fhir",
        response={status: Problem for status in (401, 404, 422, 503)},
        operation_id="export_patient_fhir",
        summary="The patient's record as a FHIR R4 Bundle",
        description=DESCRIPTION,
        openapi_extra={"responses": {200: {"description": "The Bundle", "content": {
            FHIR_JSON: {"schema": {"type": "object"}}}}}},
    )
    def export_patient_fhir(request: HttpRequest, patient_id: UUID) -> HttpResponse:
        principal = principal_of(request)
        reason = request.headers.get(EMERGENCY_HEADER)
        if reason is not None and len(reason.strip()) < MIN_REASON:
            raise HttpError(422, f"an emergency access states why, in at least {MIN_REASON} "
                                 "characters")
        with services.idempotency.pool.connection() as conn:
            try:
                bundle = export_patient(conn, services.app, views=live_generation(conn)[0],
                                        principal=principal, patient_id=patient_id,
                                        asked=ASKED_HTTP, emergency_reason=reason)
            except PatientNotFound:
                return problem(404, "no patient with that id", code="not_found")
        response = HttpResponse(bundle, content_type=FHIR_JSON)
        response["Cache-Control"] = "no-store"
        return response

    return router
