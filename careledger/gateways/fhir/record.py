"""One patient's events, in log order, folded into FHIR resources and their Provenance.

A resource shows its record as it stands after the last event (a referral that was
accepted and then discharged is a completed ServiceRequest); its history is the
Provenance beside it, one per event, naming what that event created or changed, when it
happened (`occurredDateTime`), when the log stored it (`recorded`) and who did it.
An amendment is a Provenance (activity UPDATE) that targets the amended record's
resources and carries the reason and the changes; the export folds the events again
with the amendments applied, so the resources show the record as it stands and its
earlier versions stand beside them (versions.py).
"""

from __future__ import annotations

import logging
from datetime import datetime

from careledger.access.people import Person
from careledger.domain.clinical import late_entry
from careledger.domain.events import CareEvent
from careledger.domain.identity import SignIn, StaffMember
from careledger.domain.network import Clinic, Practitioner
from careledger.gateways.fhir.folding import CREATE, Change, Folding, Mapping
from careledger.gateways.fhir.mapping import (
    amendments,
    assessment,
    closing,
    documents,
    messaging,
    patient,
    planning,
    referral,
    treatment,
)
from careledger.gateways.fhir.vocabulary import (
    DATA_OPERATION,
    EVENT_TYPE,
    EXT_LATE_ENTRY,
    EXT_LOG_ENTRY,
    JSON,
    LATE_ENTRY_TAG,
    PARTICIPANT_TYPE,
    SID_EVENT,
    actor,
    coding,
    concept,
    ref,
)
from careledger.projections.envelope import Envelope

log = logging.getLogger(__name__)

#: Every event of a patient's care, and its mapping: one table a stage (mapping/).
MAPPINGS: dict[type[CareEvent], Mapping] = {
    **patient.MAPPINGS, **referral.MAPPINGS, **assessment.MAPPINGS, **planning.MAPPINGS,
    **treatment.MAPPINGS, **closing.MAPPINGS, **messaging.MAPPINGS, **documents.MAPPINGS,
    **amendments.MAPPINGS,
}

#: Events of the network, not of a patient's care: never in a patient's log.
NOT_MAPPED: frozenset[type[CareEvent]] = frozenset({
    Clinic.Registered, Clinic.BillingProviderRecorded, Clinic.FeeScheduleSet,
    Practitioner.Registered, Practitioner.Renamed,
    Practitioner.CredentialAdded,
    Practitioner.Affiliated, Practitioner.AffiliationEnded, Practitioner.ExperienceRecorded,
    Practitioner.HomeVisitsOffered, Practitioner.ContinuingEducationRecorded,
    StaffMember.Registered, SignIn.Linked, SignIn.Relinked, SignIn.Unlinked,
})

_BY_TOPIC: dict[str, Mapping] = {event.TOPIC: mapping for event, mapping in MAPPINGS.items()}


class PatientRecord:
    """Feed it the patient's envelopes in log order; read the resources back in order."""

    def __init__(self, patient_id: str,
                 people: dict[tuple[str | None, datetime], Person] | None = None) -> None:
        """`people`: who each event's actor was when it was recorded (`access.people`),
        for naming the Provenance's agents; without it they are named by role and id."""
        self.patient_id = patient_id
        self._people = people or {}
        self._folding = Folding(patient_id)
        self.last_position = 0
        self.last_recorded: datetime | None = None
        self.skipped = 0
        #: When each record was first written: its first version's time.
        self.written: dict[tuple[str, str], datetime] = {}

    @property
    def mapped(self) -> frozenset[type[CareEvent]]:
        """The events this export maps to FHIR resources."""
        return frozenset(MAPPINGS)

    def add(self, envelope: Envelope) -> None:
        mapping = _BY_TOPIC.get(envelope.type)
        if mapping is None or envelope.occurred_at is None:
            # Not a record of this patient's care this version knows how to map (or an
            # entry it cannot decode): the log keeps it, the server log names it.
            log.warning("fhir export: %s at position %d is not mapped",
                        envelope.type, envelope.position)
            self.skipped += 1
            return
        change = mapping(self._folding, envelope)
        provenance = self._provenance(envelope, change)
        self._folding.put(provenance)
        if change.record is not None:
            key = (str(envelope.aggregate_id), change.record)
            self._folding.records[key] = (change.targets, provenance["id"])
            self.written.setdefault(key, envelope.recorded_at)
        self.last_position = max(self.last_position, envelope.position)
        if self.last_recorded is None or envelope.recorded_at > self.last_recorded:
            self.last_recorded = envelope.recorded_at

    def resources(self) -> list[JSON]:
        """Every resource, in the log order of the event that created it."""
        return list(self._folding.resources.values())

    def touched(self) -> dict[str, list[tuple[str, str]]]:
        """The records each resource belongs to (a referral's, an assessment's...)."""
        found: dict[str, list[tuple[str, str]]] = {}
        for key, (targets, _) in self._folding.records.items():
            for rid in targets:
                found.setdefault(rid, []).append(key)
        return found

    def _named(self, envelope: Envelope) -> str | None:
        person = self._people.get((envelope.actor, envelope.recorded_at))
        return person.label if person is not None and person.name is not None else None

    def _provenance(self, envelope: Envelope, change: Change) -> JSON:
        assert envelope.occurred_at is not None
        provenance: JSON = {
            "resourceType": "Provenance",
            "id": str(envelope.event_id),
            "extension": [{"url": EXT_LOG_ENTRY, "extension": [
                {"url": "position", "valueString": str(envelope.position)},
                {"url": "hash", "valueString": envelope.hash},
            ]}, *change.extensions],
            "target": [ref(t) for t in change.targets],
            "occurredDateTime": envelope.occurred_at,
            "recorded": envelope.recorded_at,
            "activity": concept(coding(DATA_OPERATION, change.activity),
                                coding(EVENT_TYPE, envelope.kind), text=envelope.kind),
            "agent": [{
                "type": concept(coding(PARTICIPANT_TYPE, change.agent_type)),
                "who": actor(envelope.actor or "unknown", self._named(envelope)),
            }],
            "entity": [{
                "role": "source",
                "what": {"identifier": {"system": SID_EVENT, "value": str(envelope.event_id)},
                         "display": f"{envelope.type} at log position {envelope.position}"},
            }, *change.entities],
        }
        if change.reason:
            provenance["reason"] = [concept(text=change.reason)]
        if late_entry(envelope.occurred_at, envelope.recorded_at):
            provenance["extension"].append({"url": EXT_LATE_ENTRY, "valueBoolean": True})
            if change.activity == CREATE:
                for target in change.targets:
                    tags = self._folding.get(target).setdefault("meta", {}).setdefault(
                        "tag", [])
                    if LATE_ENTRY_TAG not in tags:
                        tags.append(LATE_ENTRY_TAG)
        return provenance
