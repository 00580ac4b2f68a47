"""The access log's group commit, on the real PostgreSQL: reads that arrive together are
written in one transaction, each request returns only once its rows are committed, a
failed batch fails every request in it, and the chain stays whole.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from careledger.access.log import AccessLog, AccessNotLogged, Read
from careledger.audit.access_chain import verify_access_log
from careledger.infra.schema import WRITER_LOCK
from careledger.main import bootstrap

ACCESS_LOCK = WRITER_LOCK + 3  # the chain's lock (careledger/infra/schema.py)
READERS = 12


@pytest.fixture()
def pool(db: bootstrap.Database) -> Iterator[ConnectionPool]:
    with ConnectionPool(db.app_url, min_size=READERS, max_size=READERS,
                        kwargs={"autocommit": True}) as opened:
        yield opened


def _read(tag: str, i: int, allowed: bool = True) -> Read:
    return Read(principal=uuid.uuid4(), role="physician", patient=uuid.uuid4(),
                asked=f"{tag}:{i}", allowed=allowed, basis="care_team" if allowed else None,
                reason=None)


def _logged(db: bootstrap.Database, tag: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(db.app_url) as conn:
        return conn.execute(
            "SELECT fields, xmin::text FROM careledger.access_log WHERE fields LIKE %s"
            " ORDER BY id", (f"{tag}:%",)).fetchall()


def _until(condition: Any) -> None:
    for _ in range(3000):
        if condition():
            return
        threading.Event().wait(0.01)
    raise AssertionError("the readers never got there")


def _in_threads(work: list[Any]) -> None:
    threads = [threading.Thread(target=w) for w in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive(), "a reader never returned"


def test_reads_that_arrive_together_are_committed_together(
    db: bootstrap.Database, pool: ConnectionPool
) -> None:
    log, tag = AccessLog(), uuid.uuid4().hex
    returned: list[int] = []
    committed_when_returned: dict[int, bool] = {}
    with psycopg.connect(db.admin_url, autocommit=True) as holder:
        # Hold the chain's lock: the first writer waits on it with its batch of one, and
        # everyone arriving meanwhile queues up behind it for the next batch.
        holder.execute("SELECT pg_advisory_lock(%s)", (ACCESS_LOCK,))

        def reader(i: int) -> Any:
            def run() -> None:
                with pool.connection() as conn:
                    log.append(conn, [_read(tag, i)])
                    returned.append(i)
                    committed_when_returned[i] = any(
                        row[0] == f"{tag}:{i}" for row in _logged(db, tag))
            return run

        threads = [threading.Thread(target=reader(i)) for i in range(READERS)]
        threads[0].start()
        _until(lambda: log._writing and not log._waiting)  # the first took its batch
        for t in threads[1:]:
            t.start()
        _until(lambda: len(log._waiting) == READERS - 1)
        assert returned == []  # nobody returns before its row is committed
        holder.execute("SELECT pg_advisory_unlock(%s)", (ACCESS_LOCK,))
        for t in threads:
            t.join(timeout=30)
    assert sorted(returned) == list(range(READERS))
    assert all(committed_when_returned.values())
    rows = _logged(db, tag)
    assert sorted(r[0] for r in rows) == sorted(f"{tag}:{i}" for i in range(READERS))
    assert len({xid for _, xid in rows}) == 2  # the first alone, then all the others
    with psycopg.connect(db.app_url, autocommit=True) as conn:
        assert verify_access_log(conn).findings == []


def test_under_load_every_read_is_logged_once_and_the_chain_holds(
    db: bootstrap.Database, pool: ConnectionPool
) -> None:
    log, tag = AccessLog(), uuid.uuid4().hex

    def reader(i: int) -> Any:
        def run() -> None:
            for j in range(20):
                with pool.connection() as conn:
                    log.append(conn, [_read(tag, i * 100 + j), _read(tag, i * 100 + j + 50)])
        return run

    _in_threads([reader(i) for i in range(READERS)])
    rows = _logged(db, tag)
    expected = sorted(f"{tag}:{i * 100 + j + k}" for i in range(READERS) for j in range(20)
                      for k in (0, 50))
    assert sorted(r[0] for r in rows) == expected
    assert len({xid for _, xid in rows}) < len(rows)  # some reads shared a commit
    with psycopg.connect(db.app_url, autocommit=True) as conn:
        assert verify_access_log(conn).findings == []


def test_a_batch_that_cannot_be_written_fails_every_request_in_it_and_stores_none(
    db: bootstrap.Database, pool: ConnectionPool
) -> None:
    log, tag = AccessLog(), uuid.uuid4().hex
    failures: dict[int, BaseException] = {}
    with psycopg.connect(db.admin_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (ACCESS_LOCK,))
        arrived = threading.Barrier(4)  # the three of the second batch, and this test

        def reader(i: int, read: Read) -> Any:
            def run() -> None:
                with pool.connection() as conn:
                    if i:
                        arrived.wait()
                    try:
                        log.append(conn, [read])
                    except Exception as e:  # what each request saw
                        failures[i] = e
            return run

        # A read with no role breaks the NOT NULL rule: its whole batch must fail.
        broken = Read(uuid.uuid4(), None, uuid.uuid4(), f"{tag}:bad", True, None, None)  # type: ignore[arg-type]
        threads = [threading.Thread(target=reader(0, _read(tag, 0)))]
        threads[0].start()
        _until(lambda: log._writing and not log._waiting)  # the first took its batch
        threads += [threading.Thread(target=reader(i, broken if i == 2 else _read(tag, i)))
                    for i in (1, 2, 3)]
        for t in threads[1:]:
            t.start()
        arrived.wait()
        _until(lambda: len(log._waiting) == 3)
        holder.execute("SELECT pg_advisory_unlock(%s)", (ACCESS_LOCK,))
        for t in threads:
            t.join(timeout=30)
    assert sorted(failures) == [1, 2, 3]  # the second batch, every request in it
    # The one who wrote the batch sees the database's error; the others hear of it.
    writers = [e for e in failures.values() if isinstance(e, psycopg.errors.NotNullViolation)]
    told = [e for e in failures.values() if isinstance(e, AccessNotLogged)]
    assert len(writers) == 1 and len(told) == 2
    assert all(e.__cause__ is writers[0] for e in told)
    assert [r[0] for r in _logged(db, tag)] == [f"{tag}:0"]  # the first batch only
    with pool.connection() as conn:  # and the writer carries on
        log.append(conn, [_read(tag, 4)])
    assert [r[0] for r in _logged(db, tag)] == [f"{tag}:0", f"{tag}:4"]


def test_a_connection_in_a_transaction_cannot_write_others_reads(
    db: bootstrap.Database
) -> None:
    with psycopg.connect(db.app_url) as conn, pytest.raises(ValueError, match="autocommit"):
        AccessLog().append(conn, [_read("tx", 0)])
