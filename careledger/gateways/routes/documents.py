"""Documents of the record: attached (multipart upload) and read back, under the rules
of the rest of the record (domain/documents.py; bytes in infra/documents.py)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from ninja import Field, File, Form, Router, Status, UploadedFile

from careledger.access.policy import Denial, PatientNotFound, authorize, basis_for
from careledger.access.tokens import Role
from careledger.domain.attaching import AttachDocument
from careledger.domain.documents import Document, DocumentCategory
from careledger.domain.errors import NotFound
from careledger.gateways import uploads
from careledger.gateways.commanding import Commands, occurred, principal_of, require_role
from careledger.gateways.problems import COMMAND_ERRORS, Problem, problem
from careledger.gateways.routes.episode import CARE_TEAM
from careledger.gateways.schemas import OccurredIn, RecordedOut, RecordId
from careledger.infra import documents
from careledger.projections import live_generation

SHA256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class AttachIn(OccurredIn):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    category: DocumentCategory = DocumentCategory.OTHER
    referral_id: UUID | None = Field(None, description="The episode it belongs to; none: "
                                     "the patient's own (a consent form)")
    message_id: RecordId | None = Field(None, description="A message of that episode")
    document_id: RecordId | None = None


class Attached(AttachIn):
    """What the idempotency record hashes: the form and the document's own hash."""

    sha256: str


def document_routes(commands: Commands) -> Router:
    router = Router()
    services = commands.services

    @router.post("/patients/{patient_id}/documents", response={201: RecordedOut,
                                                              **COMMAND_ERRORS,
                                                              415: Problem},
                 operation_id="attach_document")
    def attach_document(request: HttpRequest, patient_id: UUID, details: Form[AttachIn],
                        file: File[UploadedFile]) -> Status[RecordedOut]:
        """A PDF, PNG or JPEG of at most 10 MB, by a member of the patient's care team (a
        clinic's front desk for the patient's own documents, such as a signed consent form).
        It is read back at `/patients/{patient_id}/documents/{sha256}`, its SHA-256."""
        who = require_role(request, CARE_TEAM)
        if details.referral_id is not None:
            commands.scoped(request, details.referral_id, CARE_TEAM)
            # Checked before the bytes are stored under the patient the path names.
            if services.app.repository.get(details.referral_id).patient_id != patient_id:
                raise NotFound("no such referral for this patient")
        elif who.role is not Role.CLINIC_ADMIN:  # the front desk files a patient's forms,
            # as it records their consent, before any referral; the others, once on the team
            with services.idempotency.pool.connection() as conn:
                if isinstance(basis_for(conn, live_generation(conn)[0], who, patient_id),
                              Denial):
                    raise NotFound("no patient with that id")
        data, media_type = uploads.checked(file, "document")
        with services.idempotency.pool.connection() as conn:
            stored = documents.store(conn, patient_id, media_type, data)
        document = Document(sha256=stored.sha256, sha1=stored.sha1, media_type=media_type,
                            size=stored.size, title=details.title, category=details.category)
        return commands.run(request, Attached(**details.model_dump(), sha256=stored.sha256),
                            AttachDocument(
            patient_id=patient_id, document=document, referral_id=details.referral_id,
            message_id=details.message_id, document_id=details.document_id,
            occurred_at=occurred(details), actor=who.actor))

    @router.get("/patients/{patient_id}/documents/{sha256}",
                response={status: Problem for status in (401, 404, 422, 503)},
                operation_id="read_document",
                openapi_extra={"responses": {200: {"description": "The document's bytes",
                                                   "content": {
                    "application/pdf": {}, "image/png": {}, "image/jpeg": {}}}}})
    def read_document(request: HttpRequest, patient_id: UUID, sha256: SHA256) -> HttpResponse:
        """The bytes as attached, to whoever may read the patient's record (anyone else:
        the 404 of a document that does not exist); every read is in the access log."""
        principal = principal_of(request)
        with services.idempotency.pool.connection() as conn:
            try:
                authorize(conn, live_generation(conn)[0], principal, patient_id,
                          f"document {sha256}")
            except PatientNotFound:
                return problem(404, "no such document", code="not_found")
            found = documents.fetch(conn, patient_id, sha256)
        if found is None:
            return problem(404, "no such document", code="not_found")
        response = HttpResponse(found.data, content_type=found.media_type)
        response["Content-Disposition"] = f'attachment; filename="{sha256}"'
        response["Cache-Control"] = "no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response

    return router
