"""The documents attached to a patient's record, from the timeline: what each is, and
where to read its bytes (the API's document route, which checks access and logs again).

A field of `Patient`: read only after `patient(id)` authorized the caller and logged it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import strawberry

from careledger.domain.catalogue import kinds
from careledger.domain.patient import Patient
from careledger.domain.referral import Referral
from careledger.graphql.context import Info, read_views

ATTACHED = kinds(Patient.DocumentAttached, Referral.DocumentAttached)


@strawberry.type
class AttachedDocument:
    document_id: str
    referral_id: UUID | None = strawberry.field(description="None: the patient's own.")
    message_id: str | None
    title: str
    category: str = strawberry.field(description="consent_form, referral_letter, "
                                     "imaging_report or other")
    media_type: str
    size: int = strawberry.field(description="In bytes.")
    sha256: str
    url: str = strawberry.field(description="Where its bytes are read (a bearer token, "
                                "the same access rules, logged).")
    attached_at: datetime | None


@strawberry.type
class PatientDocuments:
    id: UUID

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Documents attached to the patient, their episodes and messages, "
        "oldest first.")
    def documents(self, info: Info) -> list[AttachedDocument]:
        rows = read_views(info, "SELECT referral_id, occurred_at, data FROM {v}.timeline"
                          " WHERE patient_id = %s AND kind = ANY(%s)"
                          " ORDER BY occurred_at, position", (self.id, ATTACHED))
        return [_document(self.id, row) for row in rows]


def _document(patient: UUID, row: dict[str, Any]) -> AttachedDocument:
    d = row["data"]
    return AttachedDocument(
        document_id=d["document_id"], referral_id=row["referral_id"],
        message_id=d.get("message_id"), title=d["title"], category=d["category"],
        media_type=d["media_type"], size=d["size"], sha256=d["sha256"],
        url=f"/api/v1/patients/{patient}/documents/{d['sha256']}",
        attached_at=row["occurred_at"])
