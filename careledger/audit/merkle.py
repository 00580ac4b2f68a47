"""Merkle trees over the log's leaves, as Certificate Transparency builds them (RFC 6962).

A tree of n leaves splits at the largest power of two below n, so sizes that are not
powers of two need no padding, and the root of the first n leaves never depends on the
leaves after them: each checkpoint's root can be recomputed from the same log, in the
same pass, however far the log has grown since.

Leaves stream in batch by batch (a million events must not sit in memory to be
checked); full runs of `CHUNK` leaves collapse level by level in list comprehensions,
which is where the time goes, and only the tree's right edge is kept.
"""

from __future__ import annotations

from collections.abc import Sequence

from careledger.audit.check import EMPTY_ROOT, leaf_hash, node_hash, root_from_inclusion

__all__ = ["CHUNK", "MerkleBuilder", "inclusion_path", "leaf_hash", "root_from_inclusion",
           "subtree_root"]

#: Leaves collapsed at a time; a power of two, so each run is a perfect subtree.
CHUNK = 1024


def subtree_root(leaves: Sequence[bytes]) -> bytes:
    """The root over a run of leaf hashes (MTH of RFC 6962).

    Built bottom up: pairing neighbours and carrying a lone last node up unchanged
    gives the same tree as RFC 6962's split at the largest power of two.
    """
    if not leaves:
        return EMPTY_ROOT
    level = list(leaves)
    while len(level) > 1:
        lone = level[-1] if len(level) & 1 else None
        pairs = iter(level)
        level = [node_hash(left, right) for left, right in zip(pairs, pairs, strict=False)]
        if lone is not None:
            level.append(lone)
    return level[0]


def _largest_power_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_path(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of one leaf in the tree over `leaves`, nearest sibling first."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} is outside a tree of {len(leaves)} leaves")
    path: list[bytes] = []
    lo, hi = 0, len(leaves)
    while hi - lo > 1:
        split = lo + _largest_power_below(hi - lo)
        if index < split:
            path.append(subtree_root(leaves[split:hi]))
            hi = split
        else:
            path.append(subtree_root(leaves[lo:split]))
            lo = split
    path.reverse()
    return path


class MerkleBuilder:
    """A tree grown leaf batch by leaf batch, whose root can be read at any size.

    Keeps the roots of the perfect subtrees along the right edge (largest first, like
    the bits of the size) and the leaves of the last unfinished chunk.
    """

    def __init__(self) -> None:
        self._edge: list[tuple[int, bytes]] = []
        self._pending: list[bytes] = []
        self.size = 0

    def extend(self, leaves: Sequence[bytes]) -> None:
        pending = self._pending
        pending.extend(leaves)
        self.size += len(leaves)
        if len(pending) < CHUNK:
            return
        full = len(pending) - len(pending) % CHUNK
        for start in range(0, full, CHUNK):
            self._push(CHUNK, subtree_root(pending[start:start + CHUNK]))
        del pending[:full]

    def _push(self, size: int, digest: bytes) -> None:
        edge = self._edge
        while edge and edge[-1][0] == size:
            left_size, left = edge.pop()
            digest = node_hash(left, digest)
            size += left_size
        edge.append((size, digest))

    def root(self) -> bytes:
        """The root over every leaf so far: the right edge folded from the right."""
        parts = [digest for _, digest in self._edge]
        pending, start = self._pending, 0
        while start < len(pending):
            size = 1 << ((len(pending) - start).bit_length() - 1)
            parts.append(subtree_root(pending[start:start + size]))
            start += size
        if not parts:
            return EMPTY_ROOT
        root = parts[-1]
        for left in reversed(parts[:-1]):
            root = node_hash(left, root)
        return root
