"""The eventsourcing library's factory for CareLedger (PERSISTENCE_MODULE names it):
the library's PostgreSQL factory, with CareLedger's recorders in its classes' places."""

from __future__ import annotations

from eventsourcing.postgres import PostgresFactory

from careledger.infra.eventstore import CareLedgerRecorder
from careledger.infra.retries import SnapshotRecorder


class Factory(PostgresFactory):
    aggregate_recorder_class = SnapshotRecorder
    application_recorder_class = CareLedgerRecorder
