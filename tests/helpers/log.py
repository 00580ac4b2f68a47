"""An in-memory store's log as the relay would publish it: for tests with no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from careledger.consumers.envelopes import Streams, envelope_of
from careledger.domain.application import CareLedger
from careledger.infra.eventstore import LogEntry
from careledger.projections.envelope import Envelope

RECORDED = datetime(2026, 12, 1, tzinfo=UTC)


def envelopes(app: CareLedger) -> list[Envelope]:
    """The in-memory store's log, as the relay would publish it."""
    streams = Streams(app)
    found = []
    for n in app.recorder.select_notifications(start=1, limit=1_000_000):
        entry = LogEntry(position=n.id, originator_id=n.originator_id,
                         originator_version=n.originator_version, topic=n.topic,
                         state=n.state, recorded_at=RECORDED + timedelta(microseconds=n.id),
                         previous_hash=bytes(32), event_hash=bytes(32))
        found.append(envelope_of(app, streams, entry))
    return found
