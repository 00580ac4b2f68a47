"""The CareLedger application: one method per command, each one transaction.

Every command loads what its rules need, lets the aggregate decide, and saves the
new events atomically. A command sent with the version it was decided on fails
with a conflict if the record moved on; without one, a lost race is retried on
the fresh record, so concurrent commands all land, one version apart.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from datetime import date, datetime
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

from careledger.domain.clinical import (
    CredentialKind,
    DenialBasis,
    Discipline,
    FunctionalInstrument,
    Goal,
    GoalOutcome,
    Profession,
    SessionLocation,
    Technique,
    Urgency,
)
from careledger.domain.errors import DomainError, NotFound, StaleRead, VersionConflict
from careledger.domain.network import Clinic, Practitioner
from careledger.domain.patient import Patient
from careledger.domain.referral import Referral
from careledger.domain.working_set import ReadSet, WorkingSet

A = TypeVar("A", bound=Aggregate)

#: How often a command without an expected version is retried after losing a race.
RACE_RETRIES = 100

#: Records other decisions read: replaced on change, never changed in place, so a
#: decision can look at the one in memory without copying it. A referral is only ever
#: changed by commands on it, under its lock, so it is changed in place.
SHARED: tuple[type[Aggregate], ...] = (Clinic, Practitioner, Patient)


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

    # ------------------------------------------------------------------ the network

    def register_clinic(
        self,
        *,
        name: str,
        disciplines: list[Discipline],
        address: str,
        latitude: float,
        longitude: float,
        home_visit_radius_km: float,
        occurred_at: datetime,
        actor: str,
        idempotency: Idempotency | None = None,
    ) -> Recorded:
        clinic = Clinic.register(
            name=name,
            disciplines=disciplines,
            address=address,
            latitude=latitude,
            longitude=longitude,
            home_visit_radius_km=home_visit_radius_km,
            occurred_at=occurred_at,
            actor=actor,
        )
        return self.create(lambda: clinic, idempotency)

    def register_practitioner(
        self,
        *,
        name: str,
        profession: Profession,
        occurred_at: datetime,
        actor: str,
        idempotency: Idempotency | None = None,
    ) -> Recorded:
        practitioner = Practitioner.register(
            name=name, profession=profession, occurred_at=occurred_at, actor=actor
        )
        return self.create(lambda: practitioner, idempotency)

    def add_credential(
        self,
        practitioner_id: UUID,
        *,
        kind: CredentialKind,
        number: str,
        issuer: str,
        expires_on: date | None,
        occurred_at: datetime,
        actor: str,
        expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> Recorded:
        return self.change(
            Practitioner,
            practitioner_id,
            lambda p: p.add_credential(
                kind=kind, number=number, issuer=issuer, expires_on=expires_on,
                occurred_at=occurred_at, actor=actor,
            ),
            expected_version=expected_version,
            idempotency=idempotency,
        )

    def affiliate(
        self,
        practitioner_id: UUID,
        *,
        clinic_id: UUID,
        occurred_at: datetime,
        actor: str,
        expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> Recorded:
        return self.change(
            Practitioner,
            practitioner_id,
            lambda p: p.affiliate(
                clinic=self.read(Clinic, clinic_id), occurred_at=occurred_at, actor=actor
            ),
            expected_version=expected_version,
            idempotency=idempotency,
        )

    def record_experience(
        self,
        practitioner_id: UUID,
        *,
        conditions: list[str],
        occurred_at: datetime,
        actor: str,
        expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> Recorded:
        return self.change(
            Practitioner,
            practitioner_id,
            lambda p: p.record_experience(
                conditions=conditions, occurred_at=occurred_at, actor=actor
            ),
            expected_version=expected_version,
            idempotency=idempotency,
        )

    def offer_home_visits(
        self,
        practitioner_id: UUID,
        *,
        radius_km: float,
        occurred_at: datetime,
        actor: str,
        expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> Recorded:
        return self.change(
            Practitioner,
            practitioner_id,
            lambda p: p.offer_home_visits(
                radius_km=radius_km, occurred_at=occurred_at, actor=actor
            ),
            expected_version=expected_version,
            idempotency=idempotency,
        )

    # ------------------------------------------------------------------ patients

    def register_patient(
        self,
        *,
        given_name: str,
        family_name: str,
        birth_date: date,
        sex: str,
        address: str,
        latitude: float | None,
        longitude: float | None,
        occurred_at: datetime,
        actor: str,
        idempotency: Idempotency | None = None,
    ) -> Recorded:
        patient = Patient.register(
            given_name=given_name,
            family_name=family_name,
            birth_date=birth_date,
            sex=sex,
            address=address,
            latitude=latitude,
            longitude=longitude,
            occurred_at=occurred_at,
            actor=actor,
        )
        return self.create(lambda: patient, idempotency)

    def grant_consent(
        self,
        patient_id: UUID,
        *,
        occurred_at: datetime,
        actor: str,
        expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> Recorded:
        return self.change(
            Patient,
            patient_id,
            lambda p: p.grant_consent(occurred_at=occurred_at, actor=actor),
            expected_version=expected_version,
            idempotency=idempotency,
        )

    def revoke_consent(
        self,
        patient_id: UUID,
        *,
        reason: str,
        occurred_at: datetime,
        actor: str,
        expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> Recorded:
        return self.change(
            Patient,
            patient_id,
            lambda p: p.revoke_consent(reason=reason, occurred_at=occurred_at, actor=actor),
            expected_version=expected_version,
            idempotency=idempotency,
        )

    # ------------------------------------------------------------------ the episode

    def make_referral(
        self,
        *,
        physician_id: UUID,
        patient_id: UUID,
        clinic_id: UUID,
        discipline: Discipline,
        diagnosis_codes: list[str],
        precautions: list[str],
        contraindications: list[Technique],
        urgency: Urgency,
        authorized_visits: int,
        reason: str,
        occurred_at: datetime,
        actor: str,
        idempotency: Idempotency | None = None,
    ) -> Recorded:
        return self.create(lambda: Referral.make(
            physician=self.read(Practitioner, physician_id),
            patient=self.read(Patient, patient_id),
            clinic=self.read(Clinic, clinic_id),
            discipline=str(discipline),
            diagnosis_codes=diagnosis_codes,
            precautions=precautions,
            contraindications=contraindications,
            urgency=urgency,
            authorized_visits=authorized_visits,
            reason=reason,
            occurred_at=occurred_at,
            actor=actor,
        ), idempotency)

    def on_referral(
        self,
        referral_id: UUID,
        decide: Callable[[Referral], None],
        *,
        expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> Recorded:
        return self.change(
            Referral, referral_id, decide,
            expected_version=expected_version, idempotency=idempotency,
        )

    def accept_referral(
        self, referral_id: UUID, *, practitioner_id: UUID, occurred_at: datetime, actor: str,
        expected_version: int | None = None, idempotency: Idempotency | None = None,
    ) -> Recorded:
        return self.on_referral(
            referral_id,
            lambda r: r.accept(
                practitioner=self.read(Practitioner, practitioner_id),
                occurred_at=occurred_at, actor=actor,
            ),
            expected_version=expected_version, idempotency=idempotency,
        )

    def decline_referral(
        self, referral_id: UUID, *, reason: str, occurred_at: datetime, actor: str,
        expected_version: int | None = None, idempotency: Idempotency | None = None,
    ) -> Recorded:
        return self.on_referral(
            referral_id,
            lambda r: r.decline(reason=reason, occurred_at=occurred_at, actor=actor),
            expected_version=expected_version, idempotency=idempotency,
        )

    def redirect_referral(
        self, referral_id: UUID, *, clinic_id: UUID, reason: str, occurred_at: datetime,
        actor: str, expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> Recorded:
        return self.on_referral(
            referral_id,
            lambda r: r.redirect(
                clinic=self.read(Clinic, clinic_id), reason=reason, occurred_at=occurred_at,
                actor=actor,
            ),
            expected_version=expected_version, idempotency=idempotency,
        )

    def cancel_referral(
        self, referral_id: UUID, *, reason: str, occurred_at: datetime, actor: str,
        expected_version: int | None = None, idempotency: Idempotency | None = None,
    ) -> Recorded:
        return self.on_referral(
            referral_id,
            lambda r: r.cancel(reason=reason, occurred_at=occurred_at, actor=actor),
            expected_version=expected_version, idempotency=idempotency,
        )

    def record_assessment(
        self, referral_id: UUID, *, practitioner_id: UUID, history: str, pain_nprs: int,
        range_of_motion: list[dict[str, Any]], muscle_tests: list[dict[str, Any]],
        functional_instrument: FunctionalInstrument, functional_score: float, findings: str,
        red_flags: list[str], occurred_at: datetime, actor: str,
        expected_version: int | None = None, idempotency: Idempotency | None = None,
        assessment_id: str | None = None,
    ) -> Recorded:
        record_id = assessment_id or str(uuid.uuid4())
        return self.on_referral(
            referral_id,
            lambda r: r.record_assessment(
                assessment_id=record_id, practitioner=self.read(Practitioner, practitioner_id),
                history=history,
                pain_nprs=pain_nprs, range_of_motion=range_of_motion,
                muscle_tests=muscle_tests, functional_instrument=functional_instrument,
                functional_score=functional_score, findings=findings, red_flags=red_flags,
                occurred_at=occurred_at, actor=actor,
            ),
            expected_version=expected_version, idempotency=idempotency,
        )

    def draft_plan(
        self, referral_id: UUID, *, practitioner_id: UUID, goals: list[Goal],
        techniques: list[Technique], frequency_per_week: int, duration_weeks: int,
        override_reason: str | None, occurred_at: datetime, actor: str,
        expected_version: int | None = None, idempotency: Idempotency | None = None,
        plan_id: str | None = None,
    ) -> Recorded:
        record_id = plan_id or str(uuid.uuid4())
        return self.on_referral(
            referral_id,
            lambda r: r.draft_plan(
                plan_id=record_id, practitioner=self.read(Practitioner, practitioner_id),
                goals=goals,
                techniques=techniques, frequency_per_week=frequency_per_week,
                duration_weeks=duration_weeks, override_reason=override_reason,
                occurred_at=occurred_at, actor=actor,
            ),
            expected_version=expected_version, idempotency=idempotency,
        )

    def revise_plan(
        self, referral_id: UUID, *, practitioner_id: UUID, goals: list[Goal],
        techniques: list[Technique], frequency_per_week: int, duration_weeks: int,
        reason: str, override_reason: str | None, occurred_at: datetime, actor: str,
        expected_version: int | None = None, idempotency: Idempotency | None = None,
    ) -> Recorded:
        return self.on_referral(
            referral_id,
            lambda r: r.revise_plan(
                practitioner=self.read(Practitioner, practitioner_id), goals=goals,
                techniques=techniques,
                frequency_per_week=frequency_per_week, duration_weeks=duration_weeks,
                reason=reason, override_reason=override_reason, occurred_at=occurred_at,
                actor=actor,
            ),
            expected_version=expected_version, idempotency=idempotency,
        )

    def certify_plan(
        self, referral_id: UUID, *, physician_id: UUID, certified_from: date,
        certified_until: date, occurred_at: datetime, actor: str,
        expected_version: int | None = None, idempotency: Idempotency | None = None,
        recertify: bool = False,
    ) -> Recorded:
        def decide(r: Referral) -> None:
            sign = r.recertify_plan if recertify else r.certify_plan
            sign(physician=self.read(Practitioner, physician_id), certified_from=certified_from,
                 certified_until=certified_until, occurred_at=occurred_at, actor=actor)

        return self.on_referral(
            referral_id, decide, expected_version=expected_version, idempotency=idempotency
        )

    def schedule_session(
        self, referral_id: UUID, *, practitioner_id: UUID, scheduled_for: datetime,
        location: SessionLocation, occurred_at: datetime, actor: str,
        expected_version: int | None = None, idempotency: Idempotency | None = None,
        session_id: str | None = None,
    ) -> Recorded:
        record_id = session_id or str(uuid.uuid4())
        return self.on_referral(
            referral_id,
            lambda r: r.schedule_session(
                session_id=record_id, practitioner=self.read(Practitioner, practitioner_id),
                scheduled_for=scheduled_for,
                location=location, occurred_at=occurred_at, actor=actor,
            ),
            expected_version=expected_version, idempotency=idempotency,
        )

    def complete_session(
        self, referral_id: UUID, *, session_id: str, practitioner_id: UUID,
        soap: dict[str, str], techniques: list[tuple[Technique, int]], pain_before: int,
        pain_after: int, location: SessionLocation, functional_score: float | None,
        goal_measurements: list[dict[str, Any]], override_reason: str | None,
        occurred_at: datetime, actor: str, expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> Recorded:
        return self.on_referral(
            referral_id,
            lambda r: r.complete_session(
                session_id=session_id, practitioner=self.read(Practitioner, practitioner_id),
                soap=soap,
                techniques=techniques, pain_before=pain_before, pain_after=pain_after,
                location=location, functional_score=functional_score,
                goal_measurements=goal_measurements, override_reason=override_reason,
                occurred_at=occurred_at, actor=actor,
            ),
            expected_version=expected_version, idempotency=idempotency,
        )

    def cancel_session(
        self, referral_id: UUID, *, session_id: str, reason: str, occurred_at: datetime,
        actor: str, expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> Recorded:
        return self.on_referral(
            referral_id,
            lambda r: r.cancel_session(
                session_id=session_id, reason=reason, occurred_at=occurred_at, actor=actor
            ),
            expected_version=expected_version, idempotency=idempotency,
        )

    def record_no_show(
        self, referral_id: UUID, *, session_id: str, occurred_at: datetime, actor: str,
        expected_version: int | None = None, idempotency: Idempotency | None = None,
    ) -> Recorded:
        return self.on_referral(
            referral_id,
            lambda r: r.record_no_show(session_id=session_id, occurred_at=occurred_at,
                                       actor=actor),
            expected_version=expected_version, idempotency=idempotency,
        )

    def send_progress_report(
        self, referral_id: UUID, *, practitioner_id: UUID, summary: str,
        goal_status: list[dict[str, Any]], occurred_at: datetime, actor: str,
        expected_version: int | None = None, idempotency: Idempotency | None = None,
        report_id: str | None = None,
    ) -> Recorded:
        record_id = report_id or str(uuid.uuid4())
        return self.on_referral(
            referral_id,
            lambda r: r.send_progress_report(
                report_id=record_id, practitioner=self.read(Practitioner, practitioner_id),
                summary=summary,
                goal_status=goal_status, occurred_at=occurred_at, actor=actor,
            ),
            expected_version=expected_version, idempotency=idempotency,
        )

    def discharge(
        self, referral_id: UUID, *, practitioner_id: UUID, outcomes: dict[str, GoalOutcome],
        summary: str, occurred_at: datetime, actor: str,
        expected_version: int | None = None, idempotency: Idempotency | None = None,
    ) -> Recorded:
        return self.on_referral(
            referral_id,
            lambda r: r.discharge(
                practitioner=self.read(Practitioner, practitioner_id), outcomes=outcomes,
                summary=summary, occurred_at=occurred_at, actor=actor,
            ),
            expected_version=expected_version, idempotency=idempotency,
        )

    def amend(
        self, referral_id: UUID, *, record_id: str, reason: str, changes: dict[str, Any],
        occurred_at: datetime, actor: str, expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> Recorded:
        return self.on_referral(
            referral_id,
            lambda r: r.amend(record_id=record_id, reason=reason, changes=changes,
                              author=actor, occurred_at=occurred_at),
            expected_version=expected_version, idempotency=idempotency,
        )

    def request_amendment(
        self, referral_id: UUID, *, record_id: str, changes: dict[str, Any], reason: str,
        occurred_at: datetime, actor: str, request_id: str | None = None,
        expected_version: int | None = None, idempotency: Idempotency | None = None,
    ) -> Recorded:
        """Record a patient's request to correct a record, made to the clinic in writing."""
        new_id = request_id or str(uuid.uuid4())
        return self.on_referral(
            referral_id,
            lambda r: r.request_amendment(request_id=new_id, record_id=record_id,
                                          changes=changes, reason=reason,
                                          occurred_at=occurred_at, actor=actor),
            expected_version=expected_version, idempotency=idempotency,
        )

    def accept_amendment(
        self, referral_id: UUID, *, request_id: str, occurred_at: datetime, actor: str,
        expected_version: int | None = None, idempotency: Idempotency | None = None,
    ) -> Recorded:
        return self.on_referral(
            referral_id,
            lambda r: r.accept_amendment(request_id=request_id, occurred_at=occurred_at,
                                         actor=actor),
            expected_version=expected_version, idempotency=idempotency,
        )

    def deny_amendment(
        self, referral_id: UUID, *, request_id: str, basis: DenialBasis, explanation: str,
        occurred_at: datetime, actor: str, expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> Recorded:
        return self.on_referral(
            referral_id,
            lambda r: r.deny_amendment(request_id=request_id, basis=basis,
                                       explanation=explanation, occurred_at=occurred_at,
                                       actor=actor),
            expected_version=expected_version, idempotency=idempotency,
        )

    def file_disagreement(
        self, referral_id: UUID, *, request_id: str, statement: str, occurred_at: datetime,
        actor: str, expected_version: int | None = None,
        idempotency: Idempotency | None = None,
    ) -> Recorded:
        return self.on_referral(
            referral_id,
            lambda r: r.file_disagreement(request_id=request_id, statement=statement,
                                          occurred_at=occurred_at, actor=actor),
            expected_version=expected_version, idempotency=idempotency,
        )


class DateAsISO(Transcoding):
    """Calendar dates (birth dates, due dates, certification periods) as ISO strings."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def _last_position(recordings: list[Any]) -> int | None:
    positions = [r.notification.id for r in recordings if r.notification.id is not None]
    return max(positions) if positions else None
