"""Each stored event as the integration envelope: what the relay publishes, what a replay,
the FHIR export and the audit diff read. Kept apart from the relay's Kafka producer, so
every reader of the log decodes it the same way without importing a Kafka client.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from uuid import UUID

from eventsourcing.utils import TopicError

from careledger.domain.application import CareLedger
from careledger.domain.events import CareEvent
from careledger.domain.network import Clinic
from careledger.domain.patient import Patient
from careledger.domain.referral import Referral
from careledger.infra.eventstore import LogEntry
from careledger.projections.envelope import Envelope, event_data, event_id

log = logging.getLogger(__name__)


class Streams:
    """Whom each record concerns: its patient (the Kafka key) and its clinics.

    Later events of a referral do not repeat the patient, so the relay remembers it
    from the event that made the referral; after a restart it reconstructs the
    referral as it stood at that version instead.
    """

    def __init__(self, app: CareLedger, maxsize: int = 100_000) -> None:
        self._app = app
        self._maxsize = maxsize
        self._known: OrderedDict[UUID, tuple[UUID, UUID]] = OrderedDict()

    def concerns(self, entry: LogEntry, event: object
                 ) -> tuple[UUID | None, tuple[UUID, ...]]:
        if isinstance(event, Patient.ConsentDecided) and event.clinic_id:
            return entry.originator_id, (UUID(event.clinic_id),)  # the clinic it concerns
        if isinstance(event, Patient.Event):
            return entry.originator_id, ()
        if isinstance(event, Clinic.Event):
            return None, (entry.originator_id,)
        if not isinstance(event, Referral.Event):
            return None, ()
        if isinstance(event, Referral.Made):
            self._remember(entry.originator_id, event.patient_id, event.clinic_id)
            return event.patient_id, (event.clinic_id,)
        redirected = isinstance(event, Referral.Redirected)
        known = self._known.get(entry.originator_id)
        if known is None or redirected:
            referral: Referral = self._app.repository.get(entry.originator_id,
                                                          version=entry.originator_version)
            patient, clinic = referral.patient_id, referral.clinic_id
            if redirected and known is not None:
                self._remember(entry.originator_id, patient, clinic)
                return patient, (known[1], clinic)
            known = self._remember(entry.originator_id, patient, clinic)
        self._known.move_to_end(entry.originator_id)
        return known[0], (known[1],)

    def _remember(self, referral: UUID, patient: UUID, clinic: UUID) -> tuple[UUID, UUID]:
        self._known[referral] = (patient, clinic)
        self._known.move_to_end(referral)
        while len(self._known) > self._maxsize:
            self._known.popitem(last=False)
        return patient, clinic


def envelope_of(app: CareLedger, streams: Streams, entry: LogEntry) -> Envelope:
    try:
        event = app.mapper.to_domain_event(entry.stored_event())
    except (TopicError, ValueError, TypeError, KeyError) as e:
        # The log is the record: an entry this version cannot read still goes out (with
        # its position and hashes, without data) rather than stalling everything after it.
        log.warning("relay: position %d (%s) cannot be decoded by this version (%s)",
                    entry.position, entry.topic, type(e).__name__)
        return _undecodable(entry)
    if not isinstance(event, CareEvent):
        log.warning("relay: position %d (%s) is not an event of the record",
                    entry.position, entry.topic)
        return _undecodable(entry)
    data = event_data(event)
    patient, clinics = streams.concerns(entry, event)
    return Envelope(
        event_id=event_id(entry.originator_id, entry.originator_version),
        type=entry.topic,
        schema_version=int(getattr(type(event), "class_version", 1)),
        aggregate_id=entry.originator_id,
        aggregate_version=entry.originator_version,
        patient_id=patient,
        clinic_ids=clinics,
        occurred_at=event.occurred_at,
        recorded_at=entry.recorded_at,
        actor=event.actor,
        data=data,
        position=entry.position,
        hash=entry.event_hash.hex(),
        previous_hash=entry.previous_hash.hex(),
    )


def _undecodable(entry: LogEntry) -> Envelope:
    return Envelope(
        event_id=event_id(entry.originator_id, entry.originator_version), type=entry.topic,
        schema_version=0, aggregate_id=entry.originator_id,
        aggregate_version=entry.originator_version, patient_id=None, clinic_ids=(),
        occurred_at=None, recorded_at=entry.recorded_at, actor=None, data={},
        position=entry.position, hash=entry.event_hash.hex(),
        previous_hash=entry.previous_hash.hex(),
    )
