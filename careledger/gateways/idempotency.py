"""Idempotency-Key: a retried command answers what the first one did and stores nothing.

The record is written by the event store in the same transaction as the events
(see `append_events`); this module only reads it back.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class PriorAnswer:
    request_hash: str
    command: str
    aggregate_id: UUID
    version: int
    position: int | None


def request_hash(command: str, path: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{command}\n{path}\n{canonical}".encode()).hexdigest()


class IdempotencyStore:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def find(self, principal: str, key: str) -> PriorAnswer | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT request_hash, command, aggregate_id, version, position "
                "FROM careledger.idempotency WHERE principal = %s AND key = %s",
                (principal, key),
                prepare=True,
            ).fetchone()
        if row is None:
            return None
        return PriorAnswer(
            request_hash=row[0], command=row[1], aggregate_id=row[2], version=row[3],
            position=row[4],
        )
