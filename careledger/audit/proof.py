"""Inclusion proofs: one event's leaf, its audit path, and the checkpoint that signs it.

A proof carries no event content (only position, stream id, version and event hash),
so it can travel where patient data may not. Whoever holds the event (from the
auditors' `auditTrail`, or a legal hold) compares its event hash with the proof's;
`check.py` then shows, with only the public key, that this event hash stood at this
position of the log when the checkpoint was signed.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

from careledger.audit import checkpoints, log
from careledger.audit.check import PROOF_FORMAT, SignedCheckpoint
from careledger.audit.errors import AuditError
from careledger.audit.merkle import inclusion_path, leaf_hash, subtree_root


def prove(conn: psycopg.Connection[Any], position: int,
          checkpoint_id: int | None = None) -> dict[str, Any]:
    """The proof of the event at `position`, under the given or the latest checkpoint."""
    checkpoint = _checkpoint(conn, position, checkpoint_id)
    leaves: list[bytes] = []
    found: tuple[int, bytes, int, bytes] | None = None
    for rows in log.read(conn, upto=checkpoint.position, content_after=checkpoint.position):
        for row in rows:
            if row[0] == position:
                found = (len(leaves), row[1], row[2], row[7])
            leaves.append(leaf_hash(row[0], row[1], row[2], row[7]))
    if len(leaves) != checkpoint.leaf_count or subtree_root(leaves) != checkpoint.root:
        raise AuditError(f"the log no longer gives checkpoint #{checkpoint.id}'s root, so no "
                         "proof under it would verify; run `careledger audit verify`")
    if found is None:
        raise AuditError(f"there is no event at position {position} (positions have gaps); "
                         "pick a position from the log")
    index, stream_id, version, event_hash = found
    return {
        "format": PROOF_FORMAT,
        "leaf": {"index": index, "position": position, "stream_id": str(UUID(bytes=stream_id)),
                 "version": version, "event_hash": event_hash.hex()},
        "audit_path": [h.hex() for h in inclusion_path(leaves, index)],
        "checkpoint": checkpoint.to_json(),
    }


def _checkpoint(conn: psycopg.Connection[Any], position: int,
                checkpoint_id: int | None) -> SignedCheckpoint:
    stored = checkpoints.load(conn)
    if checkpoint_id is not None:
        chosen = next((c for c in stored if c.id == checkpoint_id), None)
        if chosen is None:
            raise AuditError(f"there is no checkpoint #{checkpoint_id}; list them with "
                             "`careledger audit checkpoints`")
        if chosen.position < position:
            raise AuditError(f"checkpoint #{checkpoint_id} ends at position {chosen.position}, "
                             f"before {position}; pick a later one, or run `careledger audit "
                             "checkpoint`")
        return chosen
    covering = [c for c in stored if c.position >= position]
    if not covering:
        raise AuditError(f"no checkpoint covers position {position} yet; run `careledger "
                         "audit checkpoint` first")
    return max(covering, key=lambda c: (c.position, c.id))
