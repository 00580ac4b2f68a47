"""Documents attached to the record: a DocumentReference each, its attachment addressed
by the API's URL, its SHA-1 (FHIR's `hash`) and SHA-256 (the name the log gives it)."""

from __future__ import annotations

import base64

from careledger.domain.events import CareEvent
from careledger.domain.patient import Patient
from careledger.domain.referral import Referral
from careledger.gateways.fhir.folding import CREATE, Change, Folding, Mapping
from careledger.gateways.fhir.vocabulary import (
    DOCUMENT_CATEGORY,
    JSON,
    SID_DOCUMENT,
    coding,
    concept,
    label,
    ref,
    resource_id,
)
from careledger.projections.envelope import Envelope


def attached(r: Folding, e: Envelope) -> Change:
    d = e.data
    rid = resource_id("DocumentReference", r.patient_id, d["document_id"])
    document: JSON = {
        "resourceType": "DocumentReference",
        "id": rid,
        "identifier": [{"system": SID_DOCUMENT, "value": d["sha256"]}],
        "status": "current",
        "type": concept(coding(DOCUMENT_CATEGORY, d["category"], label(d["category"])),
                        text=label(d["category"])),
        "subject": r.patient_ref,
        "date": e.recorded_at,
        "description": d["title"],
        "content": [{"attachment": {
            "contentType": d["media_type"],
            "size": d["size"],
            "hash": base64.b64encode(bytes.fromhex(d["sha1"])).decode(),
            "title": d["title"],
            "url": f"/api/v1/patients/{r.patient_id}/documents/{d['sha256']}",
            "creation": e.occurred_at,
        }}],
    }
    if e.type == Referral.DocumentAttached.TOPIC:
        episode = r.episode(e)
        related = [ref(episode.referral)]
        if d.get("message_id"):
            message = resource_id("Communication", episode.referral, d["message_id"])
            if message in r.resources:
                related.append(ref(message))
                r.get(message).setdefault("payload", []).append(
                    {"contentAttachment": document["content"][0]["attachment"]})
        document["context"] = {"related": related}
    r.documents[d["sha256"]] = r.put(document)
    return Change(CREATE, [rid])


#: What each event of this stage does to the record.
MAPPINGS: dict[type[CareEvent], Mapping] = {
    Patient.DocumentAttached: attached,
    Referral.DocumentAttached: attached,
}
