"""A practitioner's continuing education: the courses they completed, and the copies of
their certificates (a PDF or an image, kept by its SHA-256)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from ninja import Field, File, Router, Schema, Status, UploadedFile
from pydantic import Strict

from careledger.access.tokens import Principal, Role
from careledger.domain.education import MAX_COURSE_HOURS, Category, RecordContinuingEducation
from careledger.domain.errors import InvalidInput, NotFound
from careledger.domain.network import Practitioner
from careledger.gateways import uploads
from careledger.gateways.commanding import Commands, occurred, principal_of
from careledger.gateways.links import ANSWERED_ID, link, then
from careledger.gateways.problems import COMMAND_ERRORS, Problem, problem
from careledger.gateways.schemas import Day, OccurredIn, RecordedOut, ShortText
from careledger.infra import certificates

SHA256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class ContinuingEducationIn(OccurredIn):
    title: ShortText
    provider: ShortText
    hours: Annotated[float, Strict(), Field(gt=0, le=MAX_COURSE_HOURS)]
    category: Category = Category.CLINICAL
    completed_on: Day
    certificate: ShortText | None = Field(None, description="The certificate's number or "
                                          "reference, as its provider issued it")
    certificate_sha256: SHA256 | None = Field(None, description="The copy of the "
                                              "certificate uploaded to "
                                              "`/practitioners/{id}/certificates`")


class CertificateOut(Schema):
    sha256: str
    size: int
    media_type: str


def _may_keep(commands: Commands, who: Principal, practitioner_id: UUID,
              reads: bool = False) -> None:
    """The practitioner, an administrator of a clinic they work at, the network's
    administrator (and, to read, an auditor); to anyone else, no such practitioner."""
    if who.role in (Role.PHYSICIAN, Role.THERAPIST) and who.subject == practitioner_id:
        return
    if who.role is Role.NETWORK_ADMIN or (reads and who.role is Role.AUDITOR):
        return
    if who.role is Role.CLINIC_ADMIN:
        practitioner = commands.services.app.load(Practitioner, practitioner_id)
        if {str(c) for c in who.clinics} & set(practitioner.clinic_ids):
            return
    raise NotFound("no practitioner with that id")


def education_routes(commands: Commands) -> Router:
    router = Router()
    services = commands.services

    @router.post("/practitioners/{practitioner_id}/continuing-education",
                 response={201: RecordedOut, **COMMAND_ERRORS},
                 operation_id="record_continuing_education", openapi_extra=then(link(
                     "record_continuing_education", practitioner_id=ANSWERED_ID)))
    def record_continuing_education(
        request: HttpRequest, practitioner_id: UUID, body: ContinuingEducationIn
    ) -> Status[RecordedOut]:
        """A course the practitioner completed: by the practitioner, an administrator of a
        clinic they work at, or the network's administrator."""
        who = principal_of(request)
        _may_keep(commands, who, practitioner_id)
        if body.certificate_sha256 is not None:
            with services.idempotency.pool.connection() as conn:
                if not certificates.held(conn, practitioner_id, body.certificate_sha256):
                    raise InvalidInput("no such certificate for this practitioner: upload "
                                       "it first", field="certificate_sha256")
        return commands.run(request, body, RecordContinuingEducation(
            practitioner_id=practitioner_id, title=body.title, provider=body.provider,
            hours=body.hours, category=body.category, completed_on=body.completed_on,
            certificate=body.certificate, certificate_sha256=body.certificate_sha256,
            occurred_at=occurred(body), actor=who.actor))

    @router.post("/practitioners/{practitioner_id}/certificates",
                 response={201: CertificateOut, **COMMAND_ERRORS, 415: Problem},
                 operation_id="upload_certificate")
    def upload_certificate(request: HttpRequest, practitioner_id: UUID,
                           file: File[UploadedFile]) -> Status[CertificateOut]:
        """A copy of a course's certificate (a PDF, PNG or JPEG of at most 10 MB), kept by
        its SHA-256, which the course then names."""
        who = principal_of(request)
        _may_keep(commands, who, practitioner_id)
        data, media_type = uploads.checked(file, "certificate")
        with services.idempotency.pool.connection() as conn:
            sha256 = certificates.store(conn, practitioner_id, media_type, data)
        return Status(201, CertificateOut(sha256=sha256, size=len(data),
                                          media_type=media_type))

    @router.get("/practitioners/{practitioner_id}/certificates/{sha256}",
                response={status: Problem for status in (401, 404, 422, 503)},
                operation_id="read_certificate",
                openapi_extra={"responses": {200: {"description": "The certificate's bytes",
                                                   "content": {"application/pdf": {},
                                                               "image/png": {},
                                                               "image/jpeg": {}}}}})
    def read_certificate(request: HttpRequest, practitioner_id: UUID,
                         sha256: SHA256) -> HttpResponse:
        try:
            _may_keep(commands, principal_of(request), practitioner_id, reads=True)
        except NotFound:
            return problem(404, "no such certificate", code="not_found")
        with services.idempotency.pool.connection() as conn:
            found = certificates.fetch(conn, practitioner_id, sha256)
        if found is None:
            return problem(404, "no such certificate", code="not_found")
        response = HttpResponse(found.data, content_type=found.media_type)
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "no-store"
        return response

    return router
