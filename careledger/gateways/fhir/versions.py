"""A record's versions in the FHIR export: its resources as the record now stands, the
versions before each amendment as their history.

An amendment corrects a record (a misheard pain score). The export shows the corrected
values in the record's resources, as every view does, and keeps each earlier version
beside the current one: an entry with the same fullUrl and its own `meta.versionId`
(a collection Bundle may hold several versions of a resource so, FHIR's bdl-7), stamped
with the time it took effect. Each amendment's Provenance (activity UPDATE) targets the
resources and names the version it made.

The events are folded once per depth of amendment: fold k applies each record's first k
amendments over the events that wrote it (`corrections.as_amended`, the rule the views
follow), so fold 0 is the record as first written and the deepest is the record as it
stands. Most records are never amended: one fold, as before.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from careledger.domain.catalogue import by_topic
from careledger.domain.corrections import as_amended
from careledger.domain.referral import WRITES_RECORD, Referral
from careledger.gateways.fhir.vocabulary import JSON
from careledger.projections.envelope import Envelope
from careledger.projections.timeline import record_id_of

#: (referral, record id): how an amendment names the record it corrects.
Record = tuple[str, str]


@dataclass(frozen=True)
class Amendment:
    position: int
    recorded_at: datetime
    changes: dict[str, object]


def amendments_of(envelopes: Sequence[Envelope]) -> dict[Record, list[Amendment]]:
    """Each record's amendments, in log order."""
    found: dict[Record, list[Amendment]] = defaultdict(list)
    for e in envelopes:
        if e.type == Referral.Amended.TOPIC:
            found[(str(e.aggregate_id), str(e.data["record_id"]))].append(Amendment(
                e.position, e.recorded_at, dict(e.data.get("changes") or {})))
    return dict(found)


def amended_through(envelopes: Sequence[Envelope], amendments: dict[Record, list[Amendment]],
                    depth: int) -> list[Envelope]:
    """The events with each record's first `depth` later amendments applied to the event
    that wrote it (an amendment corrects what was written before it, not after)."""
    if depth == 0 or not amendments:
        return list(envelopes)
    out = []
    for e in envelopes:
        event = by_topic(e.type)
        kind = WRITES_RECORD.get(event) if event is not None else None  # type: ignore[arg-type]
        record = record_id_of(e) if kind is not None else None
        later = [a for a in amendments.get((str(e.aggregate_id), record or ""), ())
                 if a.position > e.position][:depth]
        if kind is None or not later:
            out.append(e)
        else:
            out.append(replace(e, data=as_amended(kind, e.data, [a.changes for a in later])))
    return out


def depth_of(amendments: dict[Record, list[Amendment]]) -> int:
    """How many folds beyond the first the export needs: the most amendments of a record."""
    return max((len(each) for each in amendments.values()), default=0)


def with_history(folds: Sequence[list[JSON]], touched: dict[str, list[Record]],
                 written_at: dict[Record, datetime],
                 amendments: dict[Record, list[Amendment]]) -> list[JSON]:
    """The deepest fold's resources, each amended one preceded by its earlier versions;
    then a resource an amendment took away (a technique that was not given): its
    versions, the last `entered-in-error`.

    `touched`: the records whose resources each resource is (in any fold);
    `written_at`: when each record was first written.
    """
    by_fold = [{r["id"]: r for r in fold} for fold in folds]
    current = by_fold[-1]
    gone = {rid: r for fold in folds[:-1] for rid, r in ((r["id"], r) for r in fold)
            if rid not in current}
    out: list[JSON] = []
    for resource in [*folds[-1], *gone.values()]:
        rid = resource["id"]
        records = [r for r in touched.get(rid, ()) if amendments.get(r)]
        if not records:
            out.append(resource)
            continue
        depth = max(len(amendments[r]) for r in records)
        for k in range(depth + 1):
            if rid in gone:
                version = copy.deepcopy(by_fold[k].get(rid)) if rid in by_fold[k] else None
                if version is None and rid in by_fold[k - 1]:  # the amendment that took it
                    version = _withdrawn(gone[rid])
            elif k == depth:
                version = resource
            else:
                version = copy.deepcopy(by_fold[k].get(rid))
            if version is None:  # not yet made by the record as first written
                continue
            times = [amendments[r][k - 1].recorded_at for r in records
                     if k and len(amendments[r]) >= k]
            took_effect = max(times) if times else min(written_at[r] for r in records)
            meta = version.setdefault("meta", {})
            meta["versionId"], meta["lastUpdated"] = str(k + 1), took_effect
            out.append(version)
    return out


def _withdrawn(resource: JSON) -> JSON | None:
    """A resource as an amendment left it: no longer part of the record (None for a kind
    with no status to say so)."""
    for status in ("status", "lifecycleStatus"):
        if status in resource:
            return {**copy.deepcopy(resource), status: "entered-in-error"}
    return None
