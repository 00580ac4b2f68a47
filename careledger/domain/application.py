"""The CareLedger application: `handle(command)`, one transaction per command.

A command's handler (`handlers.py`, one per command in one table) says which record it
changes and how, reading what its rules need; the application runs that decision as a
unit of work: the new events and their idempotency record saved atomically, with the
versions of every record the decision read. A command sent with the version it was
decided on fails with a conflict if the record moved on; without one, a lost race is
retried on the fresh record, so concurrent commands all land, one version apart.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    Repository,
    project_aggregate,
)
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoding

from careledger.domain.body import Site
from careledger.domain.clinical import not_ahead
from careledger.domain.commands import Command, Create
from careledger.domain.errors import DomainError, NotFound, StaleRead, VersionConflict
from careledger.domain.handlers import HANDLERS
from careledger.domain.network import Clinic, Practitioner
from careledger.domain.patient import Patient
from careledger.domain.plan import TreatmentPlan
from careledger.domain.referral import Referral
from careledger.domain.working_set import ReadSet, WorkingSet

A = TypeVar("A", bound=Aggregate)

#: How often a command without an expected version is retried after losing a race.
RACE_RETRIES = 100

#: Records other decisions read: replaced on change, never changed in place, so a
#: decision can look at the one in memory without copying it. A referral is only ever
#: changed by commands on it, under its lock, so it is changed in place.
SHARED: tuple[type[Aggregate], ...] = (Clinic, Practitioner, Patient)


class RecordExists(Exception):
    """The record a decision makes is already there (its id is drawn from what it names)."""


@dataclass(frozen=True)
class Idempotency:
    """Stored with the events in their transaction, so a retry finds the first answer."""

    principal: str
    key: str
    request_hash: str
    command: str


@dataclass(frozen=True)
class Recorded:
    """What a command answers: the record, its new version, and its place in the log."""

    aggregate_id: UUID
    version: int
    position: int | None


class CareLedger(Application[UUID]):
    name = "careledger"
    #: Long episodes load from a snapshot plus at most 100 events, not from the start.
    snapshotting_intervals = {Referral: 100}
    #: How many records each process keeps in memory (see working_set.py); "" keeps none.
    env = {"AGGREGATE_CACHE_MAXSIZE": "10000"}

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
        transcoder.register(TreatmentPlanAsDict())

    # ------------------------------------------------------------------ plumbing

    def close(self) -> None:
        # A recorder holding connections of its own (one per writing thread) lets go.
        release = getattr(self.recorder, "close", None)
        if callable(release):
            release()
        super().close()

    def construct_repository(self) -> Repository[UUID]:
        """The library's repository reconstructs; records are kept by the working set."""
        size = self.env.get("AGGREGATE_CACHE_MAXSIZE")
        self.working_set = WorkingSet(int(size) if size else 0)
        return Repository(event_store=self.events, snapshot_store=self.snapshots)

    def handle(self, command: Command, *, expected_version: int | None = None,
               idempotency: Idempotency | None = None) -> Recorded:
        """Decide a command and store what it decided.

        `expected_version` (If-Match) pins the version of the record a command changes;
        a command that creates a record has none to pin. What it states happened cannot
        lie ahead of this moment (beyond clocks' drift: `clinical.not_ahead`).
        """
        not_ahead(command.occurred_at, datetime.now(UTC))
        for _attempt in range(2):
            decision = HANDLERS[type(command)](command, self.read)
            if not isinstance(decision, Create):
                return self.change(decision.record, decision.record_id, decision.decide,
                                   expected_version=expected_version, idempotency=idempotency)
            try:
                return self.create(decision.make, idempotency)
            except RecordExists:
                continue  # decide again: the handler now finds the record and changes it
        raise VersionConflict("the record this command makes was just made by another: "
                              "try again")

    def load(self, cls: type[A], aggregate_id: UUID) -> A:
        """A private, current copy of a record, for callers outside a command."""
        with self.working_set.lock(cls, aggregate_id):
            aggregate = self._held(cls, aggregate_id, current=True)
            return deepcopy(aggregate)

    def read(self, cls: type[A], aggregate_id: UUID) -> A:
        """A record a decision looks at without changing it.

        No round trip when it is in memory: its version joins the command's read set,
        and the append refuses the command if the record moved on meanwhile.
        """
        with self.working_set.lock(cls, aggregate_id):
            aggregate = self._held(cls, aggregate_id, current=False)
            ReadSet.note(aggregate)
            return aggregate if isinstance(aggregate, SHARED) else deepcopy(aggregate)

    def create(self, make: Callable[[], Aggregate], idempotency: Idempotency | None) -> Recorded:
        """Make a new record from what it reads; decide again if a read was stale."""
        for _attempt in range(RACE_RETRIES):
            with ReadSet() as reads:
                try:
                    aggregate = make()
                except DomainError:
                    if self._evict_moved_on(reads.versions):
                        continue
                    raise
                try:
                    recordings = self.save(
                        aggregate, idempotency=idempotency, reads=reads.versions
                    )
                except StaleRead:
                    self.working_set.evict(*reads.versions)
                    continue
                except IntegrityError:
                    # A record whose id is drawn from what it names (a sign-in), made by a
                    # concurrent command: the command is decided again (handle).
                    self.working_set.evict(aggregate.id, *reads.versions)
                    raise RecordExists from None
            recorded = Recorded(aggregate.id, aggregate.version, _last_position(recordings))
            self.working_set.put(aggregate)  # from here other commands may change it
            return recorded
        raise VersionConflict("the records this command reads are changing too fast: try again")

    def change(
        self,
        cls: type[A],
        aggregate_id: UUID,
        decide: Callable[[A], None],
        *,
        expected_version: int | None,
        idempotency: Idempotency | None,
    ) -> Recorded:
        """Decide on the record in memory and append; a stale copy is evicted and retried.

        A caller that pinned a version gets a conflict instead of a retry when the record
        itself moved on; a stale read of another record is always retried.
        """
        for _attempt in range(RACE_RETRIES):
            with self.working_set.lock(cls, aggregate_id), ReadSet() as reads:
                aggregate = self._held(cls, aggregate_id, current=False)
                if expected_version is not None and aggregate.version != expected_version:
                    aggregate = self._held(cls, aggregate_id, current=True)
                    if aggregate.version != expected_version:
                        raise VersionConflict(
                            f"the record is at version {aggregate.version}, "
                            f"not {expected_version}"
                        )
                if isinstance(aggregate, SHARED):
                    aggregate = deepcopy(aggregate)
                seen = aggregate.version
                try:
                    decide(aggregate)
                except DomainError:
                    # A refusal may rest on a stale copy: it stands only if what it looked
                    # at is still current. Before any event, the record is as it was.
                    if aggregate.pending_events:
                        self.working_set.evict(aggregate_id)
                    if self._evict_moved_on({aggregate_id: seen, **reads.versions}):
                        continue
                    raise
                except BaseException:
                    self.working_set.evict(aggregate_id)
                    raise
                # From here the object in memory holds a decision not yet stored: any
                # failure evicts it, so the next command reloads what was stored.
                try:
                    recordings = self.save(
                        aggregate, idempotency=idempotency, reads=reads.versions
                    )
                except IntegrityError:
                    self.working_set.evict(aggregate_id)
                    if expected_version is not None:
                        raise VersionConflict(
                            "the record changed while this command ran"
                        ) from None
                    continue
                except StaleRead:
                    self.working_set.evict(aggregate_id, *reads.versions)
                    continue
                except BaseException:
                    self.working_set.evict(aggregate_id)
                    raise
                self.working_set.put(aggregate)
                # Read under the lock: once it is released, the next command mutates this
                # same object, and its version would be that command's.
                return Recorded(aggregate.id, aggregate.version, _last_position(recordings))
        raise VersionConflict("the record is changing too fast: try again")

    def _evict_moved_on(self, versions: dict[UUID, int]) -> bool:
        """Evict the records stored beyond the versions given; say whether there were any.

        Asked only when a command is refused, so its round trips are not on the way of
        the commands that succeed.
        """
        moved = [
            aggregate_id
            for aggregate_id, version in versions.items()
            if any(True for _ in self.events.get(originator_id=aggregate_id, gt=version, limit=1))
        ]
        self.working_set.evict(*moved)
        return bool(moved)

    def _held(self, cls: type[A], aggregate_id: UUID, *, current: bool) -> A:
        """The record in memory (loading it if absent), brought up to date if `current`.

        Call with the record's lock held: the object returned is shared.
        """
        aggregate = self.working_set.get(aggregate_id)
        if aggregate is None:
            try:
                aggregate = self.repository.get(aggregate_id)
            except AggregateNotFoundError:
                raise NotFound(f"no {cls.__name__.lower()} with that id") from None
            self.working_set.put(aggregate)
        elif current:
            try:
                newer = list(self.events.get(originator_id=aggregate_id, gt=aggregate.version))
                if newer:
                    if isinstance(aggregate, SHARED):
                        aggregate = deepcopy(aggregate)
                    project_aggregate(aggregate, newer)
                    self.working_set.put(aggregate)
            except BaseException:
                self.working_set.evict(aggregate_id)
                raise
        if not isinstance(aggregate, cls):
            raise NotFound(f"no {cls.__name__.lower()} with that id")
        return aggregate


class DateAsISO(Transcoding):
    """Calendar dates (birth dates, due dates, certification periods) as ISO strings."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class TreatmentPlanAsDict(Transcoding):
    """An episode's plan inside its snapshot (events carry plain fields, never the object)."""

    type = TreatmentPlan
    name = "treatment_plan"

    def encode(self, obj: TreatmentPlan) -> dict[str, Any]:
        techniques = None if obj.techniques is None else {
            t: [s.as_dict() for s in sites] for t, sites in obj.techniques.items()}
        return {"plan_id": obj.plan_id, "revision": obj.revision,
                "goal_ids": list(obj.goal_ids), "certified_until": obj.certified_until,
                "certified_revision": obj.certified_revision, "techniques": techniques}

    def decode(self, data: dict[str, Any]) -> TreatmentPlan:
        """A snapshot from before plans kept their techniques has none (None)."""
        techniques = data.get("techniques")
        return TreatmentPlan(plan_id=data["plan_id"], revision=data["revision"],
                             goal_ids=tuple(data["goal_ids"]),
                             certified_until=data["certified_until"],
                             certified_revision=data["certified_revision"],
                             techniques=None if techniques is None else {
                                 t: tuple(Site.parse(s) for s in sites)
                                 for t, sites in techniques.items()})


def _last_position(recordings: list[Any]) -> int | None:
    positions = [r.notification.id for r in recordings if r.notification.id is not None]
    return max(positions) if positions else None
