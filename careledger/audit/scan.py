"""One pass over the log: the hash chains, the Merkle leaves, every checkpoint's root.

Reading a million events is the cost; everything that needs them is done while they
stream by, so verifying the chains and N checkpoints reads the log once, not N + 1
times. The root at a checkpoint's size is read off the growing tree as the pass
crosses that checkpoint's position.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from careledger.audit import log
from careledger.audit.chain import ChainVerifier
from careledger.audit.check import SignedCheckpoint, leaf_hash
from careledger.audit.findings import Finding, Kind
from careledger.audit.merkle import MerkleBuilder

#: Called after each batch with the position reached and the position the pass ends at.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Scan:
    upto: int
    events: int
    streams: int
    root: bytes
    #: The checkpoints whose leaf count and root the log still gives.
    matched: int
    findings: list[Finding]


def scan(conn: psycopg.Connection[Any], *, upto: int,
         checkpoints: Sequence[SignedCheckpoint] = (), content_after: int = 0,
         progress: Progress | None = None) -> Scan:
    """Check everything up to position `upto` against itself and the given checkpoints.

    The checkpoints must already be trusted (their signatures checked). Content is
    re-hashed only above `content_after` (see `log.read`).
    """
    chain = ChainVerifier()
    tree = MerkleBuilder()
    due = sorted((c for c in checkpoints if c.position <= upto), key=lambda c: c.position)
    comparison = _Comparison()
    next_due = 0
    for rows in log.read(conn, upto=upto, content_after=content_after):
        chain.feed(rows)
        leaves = [leaf_hash(row[0], row[1], row[2], row[7]) for row in rows]
        done = 0
        while next_due < len(due) and due[next_due].position < rows[-1][0]:
            cut = bisect.bisect_right(rows, due[next_due].position, key=lambda row: row[0])
            tree.extend(leaves[done:cut])
            done = cut
            comparison.compare(due[next_due], tree)
            next_due += 1
        tree.extend(leaves[done:])
        if progress is not None:
            progress(rows[-1][0], upto)
    for checkpoint in due[next_due:]:
        comparison.compare(checkpoint, tree)
    findings = chain.finish()
    if comparison.finding is not None:
        findings.append(comparison.finding)
    return Scan(upto=upto, events=chain.events, streams=chain.streams, root=tree.root(),
                matched=comparison.matched, findings=findings)


class _Comparison:
    """Checkpoints compared in position order; the first that differs is the finding.

    A checkpoint tells only that something at or below its position differs; the
    checkpoint before it, still matching, narrows that to the positions in between.
    Checkpoints after the first difference are not compared: they differ too.
    """

    def __init__(self) -> None:
        self.matched = 0
        self.matched_position = 0
        self.finding: Finding | None = None

    def compare(self, checkpoint: SignedCheckpoint, tree: MerkleBuilder) -> None:
        if self.finding is not None:
            return
        if tree.size == checkpoint.leaf_count and tree.root() == checkpoint.root:
            self.matched += 1
            self.matched_position = checkpoint.position
            return
        if tree.size > checkpoint.leaf_count:
            kind = Kind.INSERTED
        elif tree.size < checkpoint.leaf_count:
            kind = Kind.REMOVED
        else:
            kind = Kind.REORDERED
        self.finding = Finding(
            self.matched_position + 1, kind,
            f"{tree.size} events up to position {checkpoint.position} where checkpoint "
            f"#{checkpoint.id} signed {checkpoint.leaf_count}, and their Merkle root is not "
            f"its root {checkpoint.root.hex()}"
            if kind is not Kind.REORDERED else
            f"the events up to position {checkpoint.position} are not the ones checkpoint "
            f"#{checkpoint.id} signed (same count, Merkle root is not its root "
            f"{checkpoint.root.hex()}): moved, or rewritten with fresh hashes",
            last_position=checkpoint.position)
