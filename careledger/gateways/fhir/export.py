"""Export a patient's record: authorize and log the read, read the log, build, validate.

The data comes from the event log, the record itself, not from the views: an export
shows exactly what was recorded, up to the moment it was read. Only the authorization
reads the views, through the same `authorize()` as GraphQL's `patient(id)`, so a denied
export is told apart from a patient that does not exist by nobody, and every attempt is
in the access log before any data leaves.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle, BundleEntry

from careledger.access.policy import authorize
from careledger.access.tokens import Principal
from careledger.consumers.envelopes import Streams, envelope_of
from careledger.domain.application import CareLedger
from careledger.gateways.fhir.record import PatientRecord
from careledger.gateways.fhir.vocabulary import SID_EXPORT, resource_id
from careledger.infra.eventstore import LogEntry, read_patient_log

#: What the access log says was read, by each way in.
ASKED_HTTP = "fhir:export"
ASKED_CLI = "cli:fhir:export"


def build_bundle(app: CareLedger, patient_id: UUID, entries: list[LogEntry],
                 *, now: datetime | None = None) -> str:
    """Fold the entries into resources, validate each, and collect them in a Bundle: the
    Bundle's JSON, exactly as `Bundle.model_dump_json()` writes it.

    Each resource is validated and written out on its own, then let go: a long record
    never has every resource's model in memory at once (measured: a Bundle of 1,500
    resources held 40 MB of models at its peak, more than the rest of an API worker's
    growth).
    """
    streams = Streams(app)
    record = PatientRecord(str(patient_id))
    for entry in entries:
        record.add(envelope_of(app, streams, entry))
    written = []
    for resource in record.resources():
        model = get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        written.append(BundleEntry.model_validate(
            {"fullUrl": f"urn:uuid:{resource['id']}", "resource": model}).model_dump_json())
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": resource_id("Bundle", patient_id, record.last_position),
        "identifier": {"system": SID_EXPORT, "value": f"{patient_id}@{record.last_position}"},
        "type": "collection",
        "timestamp": now or datetime.now(UTC),
    }
    if record.last_recorded is not None:
        bundle["meta"] = {"lastUpdated": record.last_recorded}
    head = Bundle.model_validate(bundle).model_dump_json()
    if not written:
        return head
    # `entry` is the last field a Bundle writes here (nothing the export sets comes after).
    return f'{head[:-1]},"entry":[{",".join(written)}]}}'


def export_patient(conn: psycopg.Connection[Any], app: CareLedger, *, views: str,
                   principal: Principal, patient_id: UUID, asked: str,
                   emergency_reason: str | None = None) -> str:
    """The patient's Bundle (its JSON) for this caller; `PatientNotFound` when denied or
    absent.

    The decision is appended to the access log first, whether or not it allows the read.
    """
    authorize(conn, views, principal, patient_id, asked, emergency_reason)
    return build_bundle(app, patient_id, read_patient_log(conn, patient_id))
