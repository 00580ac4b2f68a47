"""What every event of the record carries, whatever record it belongs to.

Each event is a class, declared once, nested in its aggregate (as the eventsourcing
library's cargoshipping example does), with the stable name it is stored under (`TOPIC`)
and its fields. Its `apply` says what it changes; a command method decides, then
triggers it. Everything else (the views, the FHIR export, the envelope on Kafka, the
page's labels) refers to the class, never to its name written out.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from eventsourcing.domain import Aggregate


class CareEvent(Aggregate.Event):
    """A fact of the clinic's record: when it happened, as the clinician states it (valid
    time; the store adds when it was recorded), and who recorded it."""

    #: The name it is stored under (`careledger:Referral.SessionCompleted`), declared on
    #: each event: never the module path, which moves when code moves.
    TOPIC: ClassVar[str]
    #: `Referral.SessionCompleted`: the topic without its `careledger:` prefix, the name
    #: the views and the GraphQL API give the kind of an event.
    KIND: ClassVar[str]

    occurred_at: datetime
    actor: str

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        topic = cls.__dict__.get("TOPIC")
        if topic:
            cls.KIND = str(topic).partition(":")[2]
