"""Recompute every stream's hash chain, in log order, exactly as `append_events` does.

`append_events` (careledger/infra/schema.py) stores, for each event,

    event_hash = sha256(previous_hash ‖ uuid_send(stream id) ‖ int8send(version)
                        ‖ int8send(recorded_at in µs since the epoch)
                        ‖ int4send(octet length of the name) ‖ name (UTF-8) ‖ state)

with previous_hash the stream's previous event's hash (32 zero bytes before version 1).
Reading the log once in position order, each event is checked three ways:

* its content still gives its event_hash (else: changed);
* it follows the stream's last event: version one higher and previous_hash equal to
  that event's hash (else: inserted, when the link or the version is forged);
* versions of a stream rise with positions. A version gap is either a removal or a
  later version stored ahead of an earlier one; which one is only known once the
  whole log was read (the missing version turns up later: reordered; never: removed).

Positions have legitimate gaps (an append that failed its checks or rolled back used up
a sequence number), so a missing position alone proves nothing; removals show as version
gaps, and, where a checkpoint covers them, as a leaf count that no longer matches. The
free positions are still useful: a removed event stood at one of them.

A stream's newest events can be dropped, and a whole stream rewritten with fresh hashes,
without breaking any chain: only signed checkpoints (checkpoints.py) reveal that.
"""

from __future__ import annotations

import bisect
import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from careledger.audit.findings import Finding, Kind
from careledger.audit.log import LogRow

#: The previous hash of every stream's first event.
GENESIS = bytes(32)
_STREAM_VERSION_TIME = struct.Struct(">16sqq")
_NAME_LENGTH = struct.Struct(">i")
_sha256 = hashlib.sha256
#: Findings kept (the first is what is reported; the rest bound the damage).
MAX_FINDINGS = 1000


def hashed_bytes(previous_hash: bytes, stream_id: bytes, version: int, recorded_us: int,
                 topic: str, state: bytes) -> bytes:
    """The bytes `append_events` hashes into an event's hash, in the same order."""
    return (previous_hash + _STREAM_VERSION_TIME.pack(stream_id, version, recorded_us)
            + _name(topic) + state)


def event_hash(previous_hash: bytes, stream_id: bytes, version: int, recorded_us: int,
               topic: str, state: bytes) -> bytes:
    return _sha256(hashed_bytes(previous_hash, stream_id, version, recorded_us, topic,
                                state)).digest()


def _name(topic: str) -> bytes:
    encoded = topic.encode()
    return _NAME_LENGTH.pack(len(encoded)) + encoded


@dataclass
class _Gap:
    """Versions of a stream not seen where they belonged (yet)."""

    stream_id: bytes
    first_missing: int
    last_missing: int
    #: Where the stream's event before the gap stands (0: the gap starts the stream).
    after_position: int
    #: Where the event after the gap stands.
    at_position: int


@dataclass
class ChainVerifier:
    """Fed the log's rows in position order; says what differs when the log is done."""

    findings: list[Finding] = field(default_factory=list)
    events: int = 0
    #: stream id -> (highest version seen, its event hash, its position)
    _streams: dict[bytes, tuple[int, bytes, int]] = field(default_factory=dict)
    _gaps: dict[bytes, list[_Gap]] = field(default_factory=dict)
    #: Free positions, as (first, last) runs in order: where removed events may have stood.
    _free_starts: list[int] = field(default_factory=list)
    _free_ends: list[int] = field(default_factory=list)
    _last_position: int = 0
    _names: dict[str, bytes] = field(default_factory=dict)

    @property
    def streams(self) -> int:
        return len(self._streams)

    def feed(self, rows: Sequence[LogRow]) -> None:
        streams, names, sha256, pack = (self._streams, self._names, _sha256,
                                        _STREAM_VERSION_TIME.pack)
        last_position = self._last_position
        for position, stream_id, version, recorded_us, topic, state, previous, digest in rows:
            if position != last_position + 1:
                self._free_starts.append(last_position + 1)
                self._free_ends.append(position - 1)
            last_position = position
            if state is not None:  # hashed_bytes(), inlined: this runs once per event
                name = names.get(topic)
                if name is None:
                    name = names[topic] = _name(topic)
                if sha256(previous + pack(stream_id, version, recorded_us) + name
                          + state).digest() != digest:
                    self._found(position, Kind.CHANGED, f"stream {_id(stream_id)} version "
                                f"{version}: its content no longer gives its event hash "
                                f"{digest.hex()}")
            seen = streams.get(stream_id)
            if seen is None:
                seen_version, seen_hash, seen_position = 0, GENESIS, 0
            else:
                seen_version, seen_hash, seen_position = seen
            if version == seen_version + 1:
                if previous != seen_hash:
                    self._found(position, Kind.INSERTED, f"stream {_id(stream_id)} version "
                                f"{version}: its previous hash is not the event hash of "
                                + (f"version {seen_version} at position {seen_position}"
                                   if seen_version else
                                   "nothing: a stream's first event carries 32 zero bytes"))
            elif version > seen_version:
                self._gaps.setdefault(stream_id, []).append(_Gap(
                    stream_id, seen_version + 1, version - 1, seen_position, position))
            else:
                self._late(position, stream_id, version, seen_version)
                continue
            streams[stream_id] = (version, digest, position)
        self._last_position = last_position
        self.events += len(rows)

    def _late(self, position: int, stream_id: bytes, version: int, highest: int) -> None:
        """A version at or below one already seen: stored out of order, or a duplicate."""
        for gap in self._gaps.get(stream_id, []):
            if gap.first_missing <= version <= gap.last_missing:
                self._gaps[stream_id].remove(gap)
                self._found(gap.at_position, Kind.REORDERED, f"stream {_id(stream_id)} "
                            f"version {gap.last_missing + 1} stands before version {version} "
                            f"(at position {position})")
                return
        self._found(position, Kind.INSERTED, f"stream {_id(stream_id)} version {version} "
                    f"appears again (version {highest} was already seen)")

    def finish(self) -> list[Finding]:
        """The findings, once every row was fed: gaps still open are removals."""
        for gaps in self._gaps.values():
            for gap in gaps:
                self._removed(gap)
        self._gaps.clear()
        return self.findings

    def _removed(self, gap: _Gap) -> None:
        versions = (f"version {gap.first_missing}" if gap.first_missing == gap.last_missing
                    else f"versions {gap.first_missing}-{gap.last_missing}")
        free = self._free_between(gap.after_position, gap.at_position)
        pronoun = "it" if gap.first_missing == gap.last_missing else "they"
        if free:
            where = (f"{pronoun} stood at position {free[0]}, the only free one between"
                     if len(free) == 1 else
                     f"{pronoun} stood at one of the free positions (the first named here) "
                     "between")
            position = free[0]
        else:
            where, position = f"{pronoun} stood between", gap.at_position
        self._found(position, Kind.REMOVED, f"stream {_id(gap.stream_id)} {versions} missing; "
                    f"{where} positions {gap.after_position} and {gap.at_position}")

    def _free_between(self, after: int, before: int, limit: int = 100) -> list[int]:
        free: list[int] = []
        index = max(0, bisect.bisect_right(self._free_ends, after))
        while index < len(self._free_starts) and len(free) < limit:
            start, end = max(self._free_starts[index], after + 1), self._free_ends[index]
            if start >= before:
                break
            free.extend(range(start, min(end, before - 1, start + limit) + 1))
            index += 1
        return free[:limit]

    def _found(self, position: int, kind: Kind, detail: str) -> None:
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(Finding(position, kind, detail))


def _id(stream_id: bytes) -> str:
    return str(UUID(bytes=stream_id))
