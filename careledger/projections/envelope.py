"""The integration envelope: what every event looks like on Kafka (architecture.md).

Consumers outside this code base read it, so it is plain JSON with stable names: it
never exposes the eventsourcing library's transcoding. The key is the patient id, so
one patient's events stay in one partition, in log order.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, is_dataclass
from datetime import date, datetime
from enum import Enum
from functools import lru_cache
from typing import Any
from uuid import UUID, uuid5

#: Event ids are derived, not drawn: a republished event keeps its id.
EVENT_ID_NAMESPACE = UUID("6f3b1a52-2c0e-4d7e-9a51-0c2b7e5f4a10")
ENVELOPE_VERSION = 1
#: Fields of a domain event that the envelope carries in its own header, not in `data`.
HEADER_FIELDS = frozenset({"originator_id", "originator_version", "timestamp",
                           "occurred_at", "actor", "originator_topic"})


@dataclass(frozen=True)
class Envelope:
    event_id: UUID
    type: str
    schema_version: int
    aggregate_id: UUID
    aggregate_version: int
    patient_id: UUID | None
    clinic_ids: tuple[UUID, ...]
    occurred_at: datetime | None
    recorded_at: datetime
    actor: str | None
    data: dict[str, Any]
    position: int
    hash: str
    previous_hash: str

    @property
    def key(self) -> bytes:
        """Patient id, else the record's own id (a clinic or practitioner event)."""
        return str(self.patient_id or self.aggregate_id).encode()

    @property
    def kind(self) -> str:
        """`Referral.SessionCompleted` from `careledger:Referral.SessionCompleted`."""
        return self.type.split(":", 1)[-1]

    def to_json(self) -> bytes:
        body = {
            "envelope_version": ENVELOPE_VERSION,
            "event_id": str(self.event_id),
            "type": self.type,
            "schema_version": self.schema_version,
            "aggregate_id": str(self.aggregate_id),
            "aggregate_version": self.aggregate_version,
            "patient_id": str(self.patient_id) if self.patient_id else None,
            "clinic_ids": [str(c) for c in self.clinic_ids],
            "occurred_at": self.occurred_at.isoformat() if self.occurred_at else None,
            "recorded_at": self.recorded_at.isoformat(),
            "actor": self.actor,
            "data": self.data,
            "position": self.position,
            "hash": self.hash,
            "previous_hash": self.previous_hash,
        }
        return json.dumps(body, separators=(",", ":"), default=plain).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Envelope:
        """Parse and check an envelope; raise ValueError naming what is wrong."""
        try:
            body = json.loads(raw)
            if body.get("envelope_version") != ENVELOPE_VERSION:
                raise ValueError(f"unknown envelope version {body.get('envelope_version')!r}")
            return cls(
                event_id=UUID(body["event_id"]),
                type=str(body["type"]),
                schema_version=int(body["schema_version"]),
                aggregate_id=_known_id(body["aggregate_id"]),
                aggregate_version=int(body["aggregate_version"]),
                patient_id=_known_id(body["patient_id"]) if body["patient_id"] else None,
                clinic_ids=tuple(map(_known_id, body["clinic_ids"])),
                occurred_at=(datetime.fromisoformat(body["occurred_at"])
                             if body["occurred_at"] else None),
                recorded_at=datetime.fromisoformat(body["recorded_at"]),
                actor=body["actor"],
                data=dict(body["data"]),
                position=int(body["position"]),
                hash=str(body["hash"]),
                previous_hash=str(body["previous_hash"]),
            )
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"malformed envelope: {type(e).__name__} {e}") from None
        except json.JSONDecodeError as e:
            raise ValueError(f"not JSON: {e.msg} at {e.pos}") from None


#: The ids a batch repeats (its patients, clinics and records), parsed once each.
_known_id = lru_cache(maxsize=1 << 14)(UUID)


def event_id(aggregate_id: UUID, version: int) -> UUID:
    return uuid5(EVENT_ID_NAMESPACE, f"{aggregate_id}:{version}")


def event_data(event: object) -> dict[str, Any]:
    """The event's own fields as plain JSON values."""
    fields = {k: v for k, v in vars(event).items() if k not in HEADER_FIELDS}
    result: dict[str, Any] = json.loads(json.dumps(fields, default=plain))
    return result


def plain(value: Any) -> Any:
    """JSON for the types domain events hold."""
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    raise TypeError(f"{type(value).__name__} is not part of the envelope's vocabulary")


