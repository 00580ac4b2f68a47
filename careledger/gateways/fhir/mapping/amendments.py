"""An amendment (or a step of the patient's request to amend) is a Provenance that targets
the record's resources. The resources themselves show the record as it stands, each
earlier version beside them (versions.py); a request, a denial or a disagreement
changes nothing but is kept beside the record."""

from __future__ import annotations

import json

from careledger.domain.events import CareEvent
from careledger.domain.referral import Referral
from careledger.gateways.fhir.folding import APPEND, UPDATE, Change, Folding, Mapping
from careledger.gateways.fhir.vocabulary import (
    EXT_AMENDMENT,
    EXT_AMENDMENT_REQUEST,
    JSON,
    SID_RECORD,
    ref,
)
from careledger.projections.envelope import Envelope


def amended(r: Folding, e: Envelope) -> Change:
    """An UPDATE of the record's resources: they show the corrected values, and this
    amendment made their next version (versions.py)."""
    d, episode = e.data, r.episode(e)
    record = str(d["record_id"])
    made = r.amended[(episode.referral, record)] = r.amended.get((episode.referral, record),
                                                                 0) + 1
    targets, original = r.records.get((episode.referral, record),
                                          ([episode.referral], None))
    entities = ([{"role": "revision", "what": ref(original)}]
                if original is not None else [])
    extension = {"url": EXT_AMENDMENT, "extension": [
        {"url": "record", "valueIdentifier": {"system": SID_RECORD,
                                              "value": f"{episode.referral}/{record}"}},
        {"url": "recordKind", "valueString": str(d["record_kind"])},
        {"url": "changes", "valueString": json.dumps(d["changes"], sort_keys=True)},
        {"url": "version", "valueString": str(made + 1)},
    ]}
    return Change(UPDATE, list(targets), reason=str(d["reason"]), extensions=[extension],
                  entities=entities)


def amendment_step(r: Folding, e: Envelope) -> Change:
    """A step of a patient's request to amend, beside the record it concerns."""
    d, episode = e.data, r.episode(e)
    record = str(d["record_id"])
    targets, original = r.records.get((episode.referral, record),
                                          ([episode.referral], None))
    parts: list[JSON] = [
        {"url": "record", "valueIdentifier": {"system": SID_RECORD,
                                              "value": f"{episode.referral}/{record}"}},
        {"url": "request", "valueString": str(d["request_id"])},
    ]
    if "changes" in d:
        parts.append({"url": "changes",
                      "valueString": json.dumps(d["changes"], sort_keys=True)})
    parts += [{"url": key, "valueString": str(d[key])}
              for key in ("basis", "explanation", "statement") if d.get(key)]
    entities = ([{"role": "revision", "what": ref(original)}]
                if original is not None else [])
    reason = d.get("reason") or d.get("explanation") or d.get("statement")
    return Change(APPEND, list(targets), reason=str(reason) if reason else None,
                  extensions=[{"url": EXT_AMENDMENT_REQUEST, "extension": parts}],
                  entities=entities)


#: What each event of this stage does to the record.
MAPPINGS: dict[type[CareEvent], Mapping] = {
    Referral.Amended: amended,
    Referral.AmendmentRequested: amendment_step,
    Referral.AmendmentAccepted: amendment_step,
    Referral.AmendmentDenied: amendment_step,
    Referral.DisagreementFiled: amendment_step,
}
