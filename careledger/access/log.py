"""Appending reads to the access log, several requests' reads to one commit.

Every read of patient data is logged, durably, before its data leaves: a row in one
hash chain, appended under one lock and committed to disk. One commit per read made
that commit the largest single cost of a read, and the lock serialized them all. So an
API process writes the reads that arrive together as one transaction (group commit): the
first request to arrive writes everything waiting, on its own connection, while the
others wait for it; whoever arrived meanwhile is written next, by the first of them.
Each request still returns only once its own rows are committed, and the chain's
order is the order the rows were written in.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg


@dataclass(frozen=True)
class Read:
    """One read of one patient's data (or of no patient: an empty audit trail)."""

    principal: UUID
    role: str
    patient: UUID | None
    asked: str
    allowed: bool
    basis: str | None
    reason: str | None


class AccessNotLogged(psycopg.OperationalError):
    """The batch holding this request's reads could not be written: nothing may be read."""


@dataclass
class _Waiting:
    reads: Sequence[Read]
    done: threading.Event = field(default_factory=threading.Event)
    #: Set when the previous writer hands the next batch to this request.
    writes_next: bool = False
    failed: BaseException | None = None


class AccessLog:
    """Group commit for one process's reads; thread-safe, no thread of its own."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiting: list[_Waiting] = []
        self._writing = False

    def append(self, conn: psycopg.Connection[Any], reads: Sequence[Read]) -> None:
        """Return once `reads` are committed; raise (AccessNotLogged or the database's
        error) if they were not. `conn` is an autocommit connection of the caller's."""
        if not reads:
            return
        if not conn.autocommit:
            # Its batch may hold other requests' reads: it must commit on its own, not
            # with (or be rolled back with) whatever this connection has open.
            raise ValueError("the access log is written on an autocommit connection")
        mine = _Waiting(reads)
        with self._mutex:
            self._waiting.append(mine)
            writes = not self._writing
            self._writing = True
        if not writes:
            mine.done.wait()
            if not mine.writes_next:
                if mine.failed is not None:
                    raise AccessNotLogged("the access log could not be written") \
                        from mine.failed
                return
        self._write_waiting(conn, mine)

    def _write_waiting(self, conn: psycopg.Connection[Any], mine: _Waiting) -> None:
        with self._mutex:
            batch, self._waiting = self._waiting, []
        failed: BaseException | None = None
        try:
            _write(conn, [read for waiting in batch for read in waiting.reads])
        except BaseException as e:  # every request of the batch must hear of it
            failed = e
        finally:
            for waiting in batch:
                if waiting is not mine:
                    waiting.failed = failed
                    waiting.done.set()
            with self._mutex:  # hand the next batch to the first who arrived meanwhile
                if self._waiting:
                    self._waiting[0].writes_next = True
                    self._waiting[0].done.set()
                else:
                    self._writing = False
        if failed is not None:
            raise failed


def _write(conn: psycopg.Connection[Any], reads: Sequence[Read]) -> None:
    conn.execute(
        "SELECT careledger.log_accesses(%s::uuid[], %s::text[], %s::uuid[], %s::text[],"
        " %s::boolean[], %s::text[], %s::text[])",
        ([r.principal for r in reads], [r.role for r in reads], [r.patient for r in reads],
         [r.asked for r in reads], [r.allowed for r in reads], [r.basis for r in reads],
         [r.reason for r in reads]))


#: This process's writer: every read of patient data is appended through it.
ACCESS_LOG = AccessLog()
