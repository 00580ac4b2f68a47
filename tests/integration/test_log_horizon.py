"""Followers of the notification log never pass over a position that commits later.

Appends take no table lock, so a later position can commit before an earlier one.
Here writers hold their transactions open for random times after drawing positions,
while a follower reads "everything after my position" as fast as it can. It must
see every committed event exactly once, in position order.
"""

from __future__ import annotations

import random
import threading
import time
import uuid

import psycopg

from careledger.domain.application import CareLedger
from careledger.main import bootstrap

WRITERS = 8
APPENDS_EACH = 25


def test_a_follower_never_skips_a_late_committing_position(
    db: bootstrap.Database, app: CareLedger
) -> None:
    start = app.recorder.horizon()
    stop = threading.Event()
    errors: list[BaseException] = []

    class _Abort(Exception):
        pass

    def guarded(seed: int) -> None:
        rng = random.Random(seed)
        try:
            with psycopg.connect(db.app_url) as conn:
                for _ in range(APPENDS_EACH):
                    try:
                        with conn.transaction():
                            conn.execute(
                                "SELECT careledger.append_events(ARRAY[%s::uuid], ARRAY[1::bigint],"
                                " ARRAY['test:Probe'], ARRAY[%s::bytea], NULL, NULL, NULL, NULL,"
                                " NULL, NULL, NULL)",
                                (uuid.uuid4(), b"{}"),
                            )
                            time.sleep(rng.choice([0, 0, 0.001, 0.005, 0.02]))
                            if rng.random() < 0.1:
                                raise _Abort
                    except _Abort:
                        pass
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    seen: list[int] = []

    def follower() -> None:
        position = start
        while True:
            finished = stop.is_set()
            batch = app.recorder.select_notifications(position, 1000, inclusive_of_start=False)
            for notification in batch:
                seen.append(notification.id)
                position = notification.id
            if finished and not batch:
                return

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(WRITERS)]
    reader = threading.Thread(target=follower)
    reader.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    reader.join(timeout=60)
    assert not errors, errors

    with psycopg.connect(db.app_url) as conn:
        committed = [r[0] for r in conn.execute(
            "SELECT notification_id FROM careledger.careledger_events "
            "WHERE notification_id > %s ORDER BY notification_id", (start,)).fetchall()]
    assert seen == committed, "the follower skipped or repeated a position"
    assert len(committed) > WRITERS * APPENDS_EACH * 0.7
    assert len(set(range(committed[0], committed[-1] + 1)) - set(committed)) > 0, (
        "aborted appends should leave gaps; the follower must not wait on them"
    )
