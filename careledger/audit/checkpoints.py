"""Signed checkpoints: how far the log went, how many events, and their Merkle root.

A checkpoint is taken at the log horizon, below which no append can still commit, so
the prefix it signs can never gain an event later by right; it is stored in the
append-only `careledger.checkpoints` table and exported as JSON, to be kept by people
and systems the database's administrators do not control. Anything that changes,
removes, adds or moves an event at or below its position changes the root.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from careledger.audit import log
from careledger.audit.check import ProofError, SignedCheckpoint, key_id
from careledger.audit.errors import AuditError
from careledger.audit.findings import first
from careledger.audit.scan import Progress, scan
from careledger.infra.schema import SCHEMA

_COLUMNS = "id, position, leaf_count, root, created_at, key_id, signature"


def created_text(at: datetime) -> str:
    """The instant as the signature covers it: UTC, microseconds, `Z`."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _from_row(row: Sequence[Any]) -> SignedCheckpoint:
    return SignedCheckpoint(id=row[0], position=row[1], leaf_count=row[2], root=bytes(row[3]),
                            created_at=created_text(row[4]), key_id=row[5],
                            signature=bytes(row[6]))


def load(conn: psycopg.Connection[Any]) -> list[SignedCheckpoint]:
    """The stored checkpoints in position order."""
    try:
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM {SCHEMA}.checkpoints ORDER BY position, id").fetchall()
    except psycopg.errors.UndefinedTable:
        raise AuditError("the checkpoints table does not exist yet; run `careledger migrate`"
                         ) from None
    return [_from_row(row) for row in rows]


def sign(key: Ed25519PrivateKey, *, position: int, leaf_count: int, root: bytes,
         created_at: datetime) -> SignedCheckpoint:
    unsigned = SignedCheckpoint(id=0, position=position, leaf_count=leaf_count, root=root,
                                created_at=created_text(created_at),
                                key_id=key_id(key.public_key()), signature=bytes(64))
    return replace(unsigned, signature=key.sign(unsigned.message()))


def store(conn: psycopg.Connection[Any], checkpoint: SignedCheckpoint) -> SignedCheckpoint:
    row = conn.execute(
        f"INSERT INTO {SCHEMA}.checkpoints (position, leaf_count, root, created_at, key_id,"
        " signature) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (checkpoint.position, checkpoint.leaf_count, checkpoint.root,
         datetime.strptime(checkpoint.created_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC),
         checkpoint.key_id, checkpoint.signature),
    ).fetchone()
    assert row is not None
    return replace(checkpoint, id=row[0])


def create(conn: psycopg.Connection[Any], key: Ed25519PrivateKey, *,
           progress: Progress | None = None) -> SignedCheckpoint:
    """Sign and store a checkpoint at the log horizon.

    Refused when the log no longer gives the roots of the earlier checkpoints signed
    with this key, or its chains are broken: signing a log that was tampered with would
    lend it the authority of the key. Content is not re-hashed here (`audit verify`
    does that): an event whose content changed still carries its original event hash,
    which is what the leaf and so this checkpoint bind.
    """
    public_key = key.public_key()
    earlier = [c for c in load(conn) if c.key_id == key_id(public_key)]
    # A horizon behind an earlier checkpoint means positions were set back: the pass
    # still reads up to that checkpoint, and its count will tell what went missing.
    upto = max([log.horizon(conn), *(c.position for c in earlier)])
    if upto == 0:
        raise AuditError("the log is empty: there is nothing to sign yet")
    for checkpoint in earlier:
        try:
            checkpoint.check_signature(public_key)
        except ProofError:
            raise AuditError(f"checkpoint #{checkpoint.id}'s signature does not verify; run "
                             "`careledger audit verify` and investigate before signing more"
                             ) from None
    result = scan(conn, upto=upto, checkpoints=earlier, content_after=upto, progress=progress)
    finding = first(result.findings)
    if finding is not None:
        raise AuditError(f"not signed: the log differs at {finding.line()}; run `careledger "
                         "audit verify` and investigate before signing")
    if result.events == 0:
        raise AuditError("the log is empty: there is nothing to sign yet")
    row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    checkpoint = sign(key, position=upto, leaf_count=result.events, root=result.root,
                      created_at=row[0])
    return store(conn, checkpoint)
