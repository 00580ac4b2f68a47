"""Replaying the event store's log straight into projections, without Kafka.

This is what a view must equal: the same handlers applied to the log in order. A
rebuild fills a fresh generation this way, and the tests compare live views with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import psycopg

from careledger.consumers.applier import Applied, ViewApplier, record_unknown
from careledger.consumers.envelopes import Streams, envelope_of
from careledger.domain.application import CareLedger
from careledger.infra.eventstore import CareLedgerRecorder
from careledger.projections import all_projections
from careledger.projections.envelope import Envelope
from careledger.projections.model import Projection

log = logging.getLogger(__name__)


#: The name a replay's counts of unknown kinds of event go under.
REPLAY = "replay"


def replay(
    app: CareLedger,
    conninfo: str,
    schema: str,
    *,
    projections: Sequence[Projection] | None = None,
    after: int = 0,
    until: int | None = None,
    recorded_until: datetime | None = None,
    batch_size: int = 2000,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Apply the log after `after` (up to `until`) to the views in `schema`; answer the last
    position.

    `recorded_until` replays the log as it stood at that moment (transaction time):
    only entries recorded by then, up to the last position recorded by then.
    """
    recorder = app.recorder
    assert isinstance(recorder, CareLedgerRecorder)
    streams = Streams(app)
    applier = ViewApplier(schema, projections)
    position = after
    if recorded_until is not None:
        last = recorder.position_as_of(recorded_until)
        until = last if until is None else min(until, last)
    with psycopg.connect(conninfo) as conn:
        while True:
            read = [e for e in recorder.read_log(position, batch_size)
                    if until is None or e.position <= until]
            if not read:
                return position
            entries = [e for e in read
                       if recorded_until is None or e.recorded_at <= recorded_until]
            if entries:
                _apply(conn, applier, [envelope_of(app, streams, e) for e in entries])
            position = read[-1].position
            if progress is not None:
                progress(len(entries), position)


def _apply(conn: psycopg.Connection[Any], applier: ViewApplier,
           envelopes: list[Envelope]) -> None:
    """One transaction for the batch; if a handler fails, again event by event, each in a
    savepoint, leaving out the one that fails. The live consumer sends such an event to
    the dead-letter topic and goes on, so a replay that leaves it out equals the live
    views; one event the views cannot hold never makes a rebuild or an audit impossible.
    """
    try:
        with conn.transaction(), conn.cursor() as cur, conn.pipeline():
            record_unknown(cur, applier.schema, REPLAY, applier.apply(cur, envelopes))
        return
    except psycopg.OperationalError:
        raise
    except Exception:  # which event failed is found below
        pass
    with conn.transaction(), conn.cursor() as cur:
        applied = Applied()
        for envelope in envelopes:
            try:
                with conn.transaction():
                    applied.merge(applier.apply(cur, [envelope]))
            except psycopg.OperationalError:
                raise
            except Exception as e:  # named in the log, then left out
                log.error("replay: position %d (%s) cannot be applied (%s); left out, as the "
                          "consumers dead-letter it", envelope.position, envelope.type,
                          type(e).__name__)
        record_unknown(cur, applier.schema, REPLAY, applied)


def checksums(conninfo: str, schema: str,
              projections: Sequence[Projection] | None = None) -> dict[str, str]:
    """One digest per table, over every row in a fixed order: equal views, equal digests."""
    result: dict[str, str] = {}
    with psycopg.connect(conninfo) as conn:
        for projection in projections if projections is not None else all_projections():
            for table in projection.tables:
                # The declared columns, in their declared order: a generation that gained a
                # column by ALTER TABLE holds it last, a fresh one where it is declared.
                columns = ", ".join(f't."{c.name}"' for c in table.columns)
                row: Any = conn.execute(
                    f"SELECT count(*), md5(coalesce(string_agg(r::text, '|' ORDER BY r::text),"
                    f" '')) FROM (SELECT ROW({columns}) AS r"
                    f' FROM "{schema}"."{table.name}" t) AS rows'
                ).fetchone()
                result[table.name] = f"{row[0]}:{row[1]}"
    return result
