"""What a command is, and what deciding one answers: a record to create, or a change.

Each command is a frozen dataclass in the imperative (`MakeReferral`, `CertifyPlan`),
declared in the module of the stage it belongs to, beside the events it records and the
rules it is decided by, with its handler: everything the decision needs is in it (who
asks, `actor`; when it happened as they state it, `occurred_at`; the records it names by
id). The HTTP routes and the command line build them; `CareLedger.handle` decides them,
through the one table of handlers (handlers.py), inside its unit of work.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

A = TypeVar("A", bound=Aggregate)
#: How a handler reads the other records its rules look at (they join the read set).
Reader = Callable[[type[A], UUID], A]


@dataclass(frozen=True, kw_only=True)
class Command:
    occurred_at: datetime
    actor: str

    #: The command's name (`make_referral`): idempotency records and telemetry use it.
    NAME: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "NAME" not in cls.__dict__:
            cls.NAME = re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()


@dataclass(frozen=True)
class Create:
    """A new record, made from what it reads (made again if a read was stale)."""

    make: Callable[[], Aggregate]


@dataclass(frozen=True)
class Change:
    """One record, changed by a decision on its current state."""

    record: type[Aggregate]
    record_id: UUID
    decide: Callable[[Any], None]


Decision = Create | Change
#: A command's handler: it reads what its rules need and answers a Decision. It never
#: stores anything; record ids a caller did not choose are drawn here, once, so a retried
#: decision keeps them.
Handler = Callable[[Any, Reader[Any]], Decision]


def new_id(chosen: str | None) -> str:
    return chosen or str(uuid.uuid4())
