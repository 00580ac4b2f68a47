"""Every event the domain declares, found on its aggregates: the one list of them.

The views, the FHIR export, the envelope and the page's labels are keyed by these
classes; a test walks this list and expects each to be handled, or declared ignored, by
each of them. A stored event's topic finds its class here (`by_topic`).
"""

from __future__ import annotations

from eventsourcing.domain import Aggregate

from careledger.domain.events import CareEvent
from careledger.domain.identity import SignIn, StaffMember
from careledger.domain.network import Clinic, Practitioner
from careledger.domain.patient import Patient
from careledger.domain.referral import Referral

#: The records of the log, in the order the clinic meets them.
AGGREGATES: tuple[type[Aggregate], ...] = (Clinic, Practitioner, StaffMember, SignIn, Patient,
                                           Referral)


def _declared(aggregate: type[Aggregate]) -> list[type[CareEvent]]:
    """The events an aggregate stores: its nested classes with a topic of their own, not
    the bases every aggregate has (`Event`, `Created`), which are never stored."""
    return [value for name, value in vars(aggregate).items()
            if isinstance(value, type) and issubclass(value, CareEvent)
            and name not in ("Event", "Created")]


EVENTS: tuple[type[CareEvent], ...] = tuple(e for a in AGGREGATES for e in _declared(a))

_BY_TOPIC: dict[str, type[CareEvent]] = {e.TOPIC: e for e in EVENTS}
_BY_KIND: dict[str, type[CareEvent]] = {e.KIND: e for e in EVENTS}
_AGGREGATE: dict[type[CareEvent], type[Aggregate]] = {
    e: a for a in AGGREGATES for e in _declared(a)}


def events_of(*aggregates: type[Aggregate]) -> tuple[type[CareEvent], ...]:
    """Every event of these records (`events_of(Patient, Referral)`: a patient's care)."""
    return tuple(e for e in EVENTS if _AGGREGATE[e] in aggregates)


def by_topic(topic: str) -> type[CareEvent] | None:
    """The class a stored topic names (`careledger:Referral.Made`), None if this version
    declares none (an event written by a newer one)."""
    return _BY_TOPIC.get(topic)


def by_kind(kind: str) -> type[CareEvent] | None:
    """The class of a kind as the views name it (`Referral.Made`)."""
    return _BY_KIND.get(kind)


def aggregate_of(event: type[CareEvent]) -> type[Aggregate]:
    """The record an event belongs to (`Referral` for `Referral.Made`)."""
    return _AGGREGATE[event]


_AGGREGATE_BY_TOPIC: dict[str, type[Aggregate]] = {str(vars(a)["TOPIC"]): a for a in AGGREGATES}


def record_of(topic: str) -> type[Aggregate] | None:
    """The record a stored topic belongs to, even for an event this version does not
    declare (`careledger:Referral.X` is a referral's)."""
    return _AGGREGATE_BY_TOPIC.get(topic.partition(".")[0])


def kinds(*events: type[CareEvent]) -> list[str]:
    """The kinds of some events, as the views store them, for a query's parameter."""
    return [e.KIND for e in events]
