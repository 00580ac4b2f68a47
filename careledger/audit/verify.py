"""`careledger audit verify`: the whole log against its chains and its signed checkpoints.

Incremental runs (`--from-checkpoint`) still check every checkpoint's signature and
root, every stream's versions and links, and the content of every event after the
latest checkpoint. They trust one thing: that the content of each event at or below
that checkpoint still gives the event hash its leaf holds. Re-hashing that content is
most of a full run's work; a full run now and then takes that trust back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from careledger.audit import checkpoints, log
from careledger.audit.check import ProofError, SignedCheckpoint, key_id
from careledger.audit.documents import verify_documents
from careledger.audit.findings import Finding, Kind, first
from careledger.audit.scan import Progress, scan


@dataclass(frozen=True)
class Report:
    upto: int
    events: int
    streams: int
    #: Checkpoints whose signature verified and whose root the log still gives.
    checkpoints: int
    #: Content was re-hashed above this position (0: all of it).
    content_after: int
    findings: list[Finding]
    #: Documents the log attaches, their bytes checked against their names.
    documents: int = 0
    #: Stored documents no event attaches (an upload whose command failed).
    unattached_documents: int = 0

    @property
    def first(self) -> Finding | None:
        return first(self.findings)

    def summary(self) -> str:
        content = ("content of every event" if self.content_after == 0 else
                   f"content after position {self.content_after} (the latest checkpoint)")
        signed = f"{self.checkpoints} signed checkpoint" + ("" if self.checkpoints == 1 else "s")
        stored = (f"; {self.documents} attached document" + ("" if self.documents == 1
                                                              else "s") + " hash to their names"
                  if self.documents else "")
        if self.unattached_documents:  # an upload whose command failed: bytes, no event
            stored += f" ({self.unattached_documents} stored but attached by no event)"
        return (f"verified: {self.events} events in {self.streams} streams up to position "
                f"{self.upto}; hash chains, {content}, and {signed} match{stored}")


def verify(conn: psycopg.Connection[Any], public_keys: Sequence[Ed25519PublicKey], *,
           incremental: bool = False, exported: Sequence[SignedCheckpoint] = (),
           progress: Progress | None = None) -> Report:
    """Everything up to the log horizon, against the stored and the `exported` checkpoints.

    Checkpoints kept outside the database (`careledger audit checkpoints`) count as
    much as stored ones, so deleting rows of the table hides nothing from them. The
    pass reads up to the furthest signed checkpoint even when the horizon is behind it:
    a sequence set back to hide a truncated tail must not hide that checkpoint too.
    `conn` is an autocommit connection.
    """
    stored = checkpoints.load(conn)
    trusted, findings = _signed(_distinct([*stored, *exported]), public_keys)
    upto = max([log.horizon(conn), *(c.position for c in trusted)])
    content_after = max((c.position for c in trusted), default=0) if incremental else 0
    result = scan(conn, upto=upto, checkpoints=trusted, content_after=content_after,
                  progress=progress)
    attached = verify_documents(conn, upto)
    return Report(upto=upto, events=result.events, streams=result.streams,
                  checkpoints=result.matched, content_after=content_after,
                  findings=findings + result.findings + attached.findings,
                  documents=attached.named, unattached_documents=attached.unattached)


def _distinct(found: Sequence[SignedCheckpoint]) -> list[SignedCheckpoint]:
    """One of each checkpoint (an exported copy of a stored one is the same checkpoint)."""
    distinct = {(c.message(), c.signature): c for c in found}
    return sorted(distinct.values(), key=lambda c: (c.position, c.id))


def _signed(stored: Sequence[SignedCheckpoint], public_keys: Sequence[Ed25519PublicKey]
            ) -> tuple[list[SignedCheckpoint], list[Finding]]:
    """The checkpoints whose signatures verify, and a finding for each other one."""
    keys = {key_id(key): key for key in public_keys}
    trusted: list[SignedCheckpoint] = []
    findings: list[Finding] = []
    for checkpoint in stored:
        key = keys.get(checkpoint.key_id)
        if key is None:
            findings.append(Finding(checkpoint.position, Kind.UNKNOWN_KEY,
                                    f"checkpoint #{checkpoint.id} was signed by key "
                                    f"{checkpoint.key_id}, which was not given; pass its "
                                    "public key with --public-key"))
            continue
        try:
            checkpoint.check_signature(key)
        except ProofError as e:
            findings.append(Finding(checkpoint.position, Kind.BAD_SIGNATURE, str(e)))
            continue
        trusted.append(checkpoint)
    return trusted, findings
