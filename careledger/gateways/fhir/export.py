"""Export a patient's record: authorize and log the read, read the log, build, validate.

The data comes from the event log, the record itself, not from the views: an export
shows exactly what was recorded, up to the moment it was read. Only the authorization
reads the views, through the same `authorize()` as GraphQL's `patient(id)`, so a denied
export is told apart from a patient that does not exist by nobody, and every attempt is
in the access log before any data leaves.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle, BundleEntry

from careledger.access.people import Person, actors_at
from careledger.access.policy import authorize
from careledger.access.tokens import Principal
from careledger.consumers.envelopes import Streams, envelope_of
from careledger.domain.application import CareLedger
from careledger.gateways.fhir.record import PatientRecord
from careledger.gateways.fhir.versions import (
    amended_through,
    amendments_of,
    depth_of,
    with_history,
)
from careledger.gateways.fhir.vocabulary import SID_EXPORT, resource_id
from careledger.infra.eventstore import LogEntry, read_patient_log

#: Who each (actor, recorded time) was then: `access.people.actors_at` over the views.
People = Callable[[list[tuple[str | None, datetime]]], dict[tuple[str | None, datetime], Person]]

#: What the access log says was read, by each way in.
ASKED_HTTP = "fhir:export"
ASKED_CLI = "cli:fhir:export"


def build_bundle(app: CareLedger, patient_id: UUID, entries: list[LogEntry],
                 *, now: datetime | None = None, people: People | None = None) -> str:
    """Fold the entries into resources, validate each, and collect them in a Bundle: the
    Bundle's JSON, exactly as `Bundle.model_dump_json()` writes it.

    Each resource is validated and written out on its own, then let go: a long record
    never has every resource's model in memory at once (measured: a Bundle of 1,500
    resources held 40 MB of models at its peak, more than the rest of an API worker's
    growth).

    `people` names who recorded each event as they were then (the Provenance's agents).
    An amended record's resources show it as it stands, with its earlier versions
    (versions.py).
    """
    streams = Streams(app)
    envelopes = [envelope_of(app, streams, entry) for entry in entries]
    named = people([(e.actor, e.recorded_at) for e in envelopes]) if people else None
    amendments = amendments_of(envelopes)
    folds = []
    for depth in range(depth_of(amendments) + 1):
        record = PatientRecord(str(patient_id), named)
        for envelope in amended_through(envelopes, amendments, depth):
            record.add(envelope)
        folds.append(record)
    touched: dict[str, list[tuple[str, str]]] = {}
    for fold in folds:
        for rid, records in fold.touched().items():
            touched.setdefault(rid, [])
            touched[rid] += [r for r in records if r not in touched[rid]]
    resources = with_history([f.resources() for f in folds], touched, record.written,
                             amendments)
    written = []
    for resource in resources:
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
    return build_bundle(app, patient_id, read_patient_log(conn, patient_id),
                        people=lambda actors: actors_at(conn, views, actors))
