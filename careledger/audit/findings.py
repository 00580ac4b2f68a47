"""What a verification found, in words an auditor can act on, and never patient data.

A finding names log positions, stream ids, versions and hashes only: the output of
an audit is often pasted into tickets and e-mails, where event content must not go.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Kind(enum.Enum):
    """How the log differs; declared from the most to the least telling explanation.

    When two findings name the same position (events swapped across versions also fail
    their content hash), the first kind here is the one reported.
    """

    REORDERED = "reordered"
    REMOVED = "removed"
    INSERTED = "inserted"
    CHANGED = "changed"
    #: A stored checkpoint whose signature does not verify: the checkpoint itself was
    #: forged or altered, whatever the log says.
    BAD_SIGNATURE = "bad checkpoint signature"
    #: A checkpoint signed with a key nobody gave the verifier (a rotated key, or a
    #: checkpoint someone added with a key of their own).
    UNKNOWN_KEY = "checkpoint signed with an unknown key"
    #: An event attaches a document whose bytes are not stored, or no longer hash to it.
    DOCUMENT_MISSING = "document missing"
    DOCUMENT_CHANGED = "document changed"


_RANK = {kind: rank for rank, kind in enumerate(Kind)}


@dataclass(frozen=True)
class Finding:
    """The first position at which the log differs from what was stored or signed."""

    position: int
    kind: Kind
    detail: str
    #: Found by comparing with a checkpoint, which tells only the span of positions
    #: (`position` to `last_position`) in which something differs, not where.
    last_position: int | None = None

    def line(self) -> str:
        where = (f"position {self.position}" if self.last_position is None
                 else f"positions {self.position}-{self.last_position}")
        return f"{where}: {self.kind.value}: {self.detail}"

    def covers(self, position: int) -> bool:
        end = self.position if self.last_position is None else self.last_position
        return self.position <= position <= end


def first(findings: Iterable[Finding]) -> Finding | None:
    """The finding to report: the earliest, preferring an exact one to a span.

    A checkpoint only says "something in these positions differs"; a chain finding
    inside that span says where, and is reported instead.
    """
    found = list(findings)
    exact = [f for f in found if f.last_position is None]
    spans = [f for f in found if f.last_position is not None
             and not any(f.covers(e.position) for e in exact)]
    candidates = exact + spans
    if not candidates:
        return None
    return min(candidates, key=lambda f: (f.position, _RANK[f.kind]))
