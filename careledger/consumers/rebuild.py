"""Rebuilding the views from the log while the live ones keep serving and updating.

1. A fresh generation (its own schema) is created and the log replayed into it, in
   batches, without any lock: live consumers keep applying to the current generation.
2. The replay keeps catching up until it is close to the head of the log.
3. The switch: holding the views lock exclusively (each consumer batch holds it shared,
   so consumers pause between batches), the replay applies the last entries up to the
   horizon H, the new generation's tracking is set to H on every partition the live
   one tracks, and the live pointer moves. A consumer's next batch writes to the new
   generation and skips whatever it delivers at or below H (applied by the replay);
   nothing above H can have been consumed yet, since the relay never publishes past
   the horizon.
4. API processes look the live generation up at most once a second, so the rebuild
   waits twice that before it drops the replaced generation (or returns): by then no
   reader is left on it, and every new read sees the new one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from psycopg import sql

from careledger.consumers.replay import replay
from careledger.domain.application import CareLedger
from careledger.infra import changes
from careledger.infra.database import Database
from careledger.infra.eventstore import CareLedgerRecorder
from careledger.infra.schema import create_views
from careledger.infra.settings import APP_ROLE
from careledger.projections import (
    GENERATION_TTL_S,
    VIEWS_LOCK,
    VIEWS_VERSION,
    live_generation,
)

Progress = Callable[[int, int, int], None]  # events just applied, position, head


@dataclass(frozen=True)
class Rebuilt:
    old_schema: str
    new_schema: str
    position: int
    events: int


def rebuild(
    app: CareLedger,
    db: Database,
    *,
    progress: Progress | None = None,
    keep_old: bool = False,
    close_enough: int = 500,
) -> Rebuilt:
    recorder = app.recorder
    assert isinstance(recorder, CareLedgerRecorder)
    new = "careledger_views_" + datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
    with psycopg.connect(db.admin_url, autocommit=True) as admin:
        old, _floor = live_generation(admin)
        create_views(admin, app_role=APP_ROLE, schema=new)
    applied = 0

    def step(n: int, position: int) -> None:
        nonlocal applied
        applied += n
        if progress is not None:
            progress(n, position, recorder.horizon())

    position = replay(app, db.app_url, new, after=0, progress=step)
    while recorder.horizon() - position > close_enough:
        position = replay(app, db.app_url, new, after=position, progress=step)

    with psycopg.connect(db.admin_url, autocommit=True) as admin:
        admin.execute("SELECT pg_advisory_lock(%s)", (VIEWS_LOCK,))
        try:
            position = replay(app, db.app_url, new, after=position, progress=step)
            with admin.transaction():
                admin.execute(sql.SQL(
                    "INSERT INTO {new}.tracking (consumer, topic, partition, kafka_offset,"
                    " position) SELECT consumer, topic, partition, kafka_offset, %s"
                    " FROM {old}.tracking"
                ).format(new=sql.Identifier(new), old=sql.Identifier(old)), (position,))
                admin.execute(sql.SQL(
                    "INSERT INTO {new}.dead_letters SELECT * FROM {old}.dead_letters"
                ).format(new=sql.Identifier(new), old=sql.Identifier(old)))
                admin.execute(
                    "UPDATE careledger.view_generations SET schema = %s, floor_position = %s,"
                    " views_version = %s, switched_at = now() WHERE name = 'live'",
                    (new, position, VIEWS_VERSION))
                admin.execute(changes.TAKE_TURN)
                admin.execute(sql.SQL(changes.CATCH_UP).format(
                    new=sql.Identifier(new), old=sql.Identifier(old)),
                    (position, changes.KEPT_DAYS))
                admin.execute(changes.NOTIFY)
        finally:
            admin.execute("SELECT pg_advisory_unlock(%s)", (VIEWS_LOCK,))
        # API processes may go on reading the replaced generation for GENERATION_TTL_S:
        # keep it until none can, and return only once every new read sees the new one.
        time.sleep(2 * GENERATION_TTL_S)
        if not keep_old:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(old)))
    return Rebuilt(old_schema=old, new_schema=new, position=position, events=applied)
