"""The access log's hash chain, recomputed: no disclosure quietly altered or removed.

Every read of patient data appends a row to `careledger.access_log` whose hash covers
the previous row's hash and the row's own fields (`log_access_many` in
`careledger/infra/schema.py`), so changing a row breaks its hash and removing or adding
one breaks the link of the row after it. The application's role cannot change the
table at all; this check is for everyone else who could (an administrator, a restore
from the wrong backup). Like the event log's findings, these name row ids and hashes,
never who read what.

What the chain cannot show on its own is a cut tail: the last rows removed leave a
shorter chain that is still whole. The count and last hash this check prints are what
an auditor keeps to compare the next run against.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

#: The previous hash of the first row.
GENESIS = bytes(32)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BATCH = 5000

#: Called after each batch with the rows checked so far and the rows there are.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class AccessFinding:
    row: int
    kind: str
    detail: str

    def line(self) -> str:
        return f"access log row {self.row}: {self.kind}: {self.detail}"


@dataclass(frozen=True)
class AccessChainReport:
    rows: int
    last_hash: bytes
    findings: list[AccessFinding] = field(default_factory=list)

    def summary(self) -> str:
        return (f"access log: {self.rows} reads, chain intact, last hash "
                f"{self.last_hash.hex()}")


def row_hash(previous: bytes, principal: Any, role: str, patient: Any, fields: str,
             allowed: bool, basis: str | None, reason: str | None, at: datetime) -> bytes:
    """What `log_access_many` stores: sha256(previous ‖ fields joined by '|'), the time in
    microseconds since the epoch."""
    micros = (at - _EPOCH) // timedelta(microseconds=1)
    text = "|".join([str(principal), role, str(patient or ""), fields,
                     "true" if allowed else "false", basis or "", reason or "", str(micros)])
    return hashlib.sha256(previous + text.encode()).digest()


def verify_access_log(conn: psycopg.Connection[Any], progress: Progress | None = None
                      ) -> AccessChainReport:
    """Every row in id order: its link to the row before, and its own hash."""
    total = conn.execute("SELECT count(*) FROM careledger.access_log").fetchone()
    expected_rows = int(total[0]) if total else 0
    findings: list[AccessFinding] = []
    previous, seen = GENESIS, 0
    with conn.transaction(), conn.cursor(name="access_chain") as cursor:
        cursor.itersize = _BATCH
        cursor.execute("SELECT id, at, principal, role, patient_id, fields, allowed, basis,"
                       " reason, previous_hash, hash FROM careledger.access_log ORDER BY id")
        for (row_id, at, principal, role, patient, fields, allowed, basis, reason,
             linked, stored) in cursor:
            linked, stored = bytes(linked), bytes(stored)
            if linked != previous:
                findings.append(AccessFinding(
                    row_id, "unlinked", f"its previous hash {linked.hex()[:16]}… is not the "
                    f"hash of the row before it ({previous.hex()[:16]}…): a row before it "
                    "was removed or added"))
            if row_hash(linked, principal, role, patient, fields, allowed, basis, reason,
                        at) != stored:
                findings.append(AccessFinding(
                    row_id, "changed", "its fields no longer give its stored hash "
                    f"{stored.hex()[:16]}…"))
            previous, seen = stored, seen + 1
            if progress is not None and seen % _BATCH == 0:
                progress(seen, expected_rows)
    if progress is not None:
        progress(seen, max(seen, expected_rows))
    return AccessChainReport(rows=seen, last_hash=previous, findings=findings)
