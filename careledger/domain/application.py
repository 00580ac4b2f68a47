"""The CareLedger application: one method per command, each one transaction.

Every command loads what its rules need, lets the aggregate decide, and saves the
new events atomically. A command sent with the version it was decided on fails
with a conflict if the record moved on; without one, a lost race is retried on
the fresh record, so concurrent commands all land, one version apart.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoding

from careledger.domain.clinical import (
    CredentialKind,
    Discipline,
    FunctionalInstrument,
    Goal,
    GoalOutcome,
    Profession,
    SessionLocation,
    Technique,
    Urgency,
)
from careledger.domain.errors import NotFound, VersionConflict
from careledger.domain.network import Clinic, Practitioner
from careledger.domain.patient import Patient
from careledger.domain.referral import Referral

A = TypeVar("A", bound=Aggregate)

#: How often a command without an expected version is retried after losing a race.
RACE_RETRIES = 100


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
    env = {
        "AGGREGATE_CACHE_MAXSIZE": "10000",
        "AGGREGATE_CACHE_FASTFORWARD": "y",
    }

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    # ------------------------------------------------------------------ plumbing

    def load(self, cls: type[A], aggregate_id: UUID) -> A:
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"no {cls.__name__.lower()} with that id") from None
        if not isinstance(aggregate, cls):
            raise NotFound(f"no {cls.__name__.lower()} with that id")
        return aggregate

    def create(self, aggregate: Aggregate, idempotency: Idempotency | None) -> Recorded:
        recordings = self.save(aggregate, idempotency=idempotency)
        return Recorded(aggregate.id, aggregate.version, _last_position(recordings))

    def change(
        self,
        cls: type[A],
        aggregate_id: UUID,
        decide: Callable[[A], None],
        *,
        expected_version: int | None,
        idempotency: Idempotency | None,
    ) -> Recorded:
        """Load, decide, save; on a lost race retry unless the caller pinned a version."""
        for _attempt in range(RACE_RETRIES):
            aggregate = self.load(cls, aggregate_id)
            if expected_version is not None and aggregate.version != expected_version:
                raise VersionConflict(
                    f"the record is at version {aggregate.version}, not {expected_version}"
                )
            decide(aggregate)
            try:
                recordings = self.save(aggregate, idempotency=idempotency)
            except IntegrityError:
                if expected_version is not None:
                    raise VersionConflict("the record changed while this command ran") from None
                continue
            return Recorded(aggregate.id, aggregate.version, _last_position(recordings))
        raise VersionConflict("the record is changing too fast: try again")

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
        return self.create(clinic, idempotency)

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
        return self.create(practitioner, idempotency)

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
        clinic = self.load(Clinic, clinic_id)
        return self.change(
            Practitioner,
            practitioner_id,
            lambda p: p.affiliate(clinic=clinic, occurred_at=occurred_at, actor=actor),
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
        return self.create(patient, idempotency)

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
        referral = Referral.make(
            physician=self.load(Practitioner, physician_id),
            patient=self.load(Patient, patient_id),
            clinic=self.load(Clinic, clinic_id),
            discipline=str(discipline),
            diagnosis_codes=diagnosis_codes,
            precautions=precautions,
            contraindications=contraindications,
            urgency=urgency,
            authorized_visits=authorized_visits,
            reason=reason,
            occurred_at=occurred_at,
            actor=actor,
        )
        return self.create(referral, idempotency)

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
        practitioner = self.load(Practitioner, practitioner_id)
        return self.on_referral(
            referral_id,
            lambda r: r.accept(practitioner=practitioner, occurred_at=occurred_at, actor=actor),
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
        clinic = self.load(Clinic, clinic_id)
        return self.on_referral(
            referral_id,
            lambda r: r.redirect(clinic=clinic, reason=reason, occurred_at=occurred_at,
                                 actor=actor),
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
        practitioner = self.load(Practitioner, practitioner_id)
        record_id = assessment_id or str(uuid.uuid4())
        return self.on_referral(
            referral_id,
            lambda r: r.record_assessment(
                assessment_id=record_id, practitioner=practitioner, history=history,
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
        practitioner = self.load(Practitioner, practitioner_id)
        record_id = plan_id or str(uuid.uuid4())
        return self.on_referral(
            referral_id,
            lambda r: r.draft_plan(
                plan_id=record_id, practitioner=practitioner, goals=goals,
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
        practitioner = self.load(Practitioner, practitioner_id)
        return self.on_referral(
            referral_id,
            lambda r: r.revise_plan(
                practitioner=practitioner, goals=goals, techniques=techniques,
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
        physician = self.load(Practitioner, physician_id)

        def decide(r: Referral) -> None:
            sign = r.recertify_plan if recertify else r.certify_plan
            sign(physician=physician, certified_from=certified_from,
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
        practitioner = self.load(Practitioner, practitioner_id)
        record_id = session_id or str(uuid.uuid4())
        return self.on_referral(
            referral_id,
            lambda r: r.schedule_session(
                session_id=record_id, practitioner=practitioner, scheduled_for=scheduled_for,
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
        practitioner = self.load(Practitioner, practitioner_id)
        return self.on_referral(
            referral_id,
            lambda r: r.complete_session(
                session_id=session_id, practitioner=practitioner, soap=soap,
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
        practitioner = self.load(Practitioner, practitioner_id)
        record_id = report_id or str(uuid.uuid4())
        return self.on_referral(
            referral_id,
            lambda r: r.send_progress_report(
                report_id=record_id, practitioner=practitioner, summary=summary,
                goal_status=goal_status, occurred_at=occurred_at, actor=actor,
            ),
            expected_version=expected_version, idempotency=idempotency,
        )

    def discharge(
        self, referral_id: UUID, *, practitioner_id: UUID, outcomes: dict[str, GoalOutcome],
        summary: str, occurred_at: datetime, actor: str,
        expected_version: int | None = None, idempotency: Idempotency | None = None,
    ) -> Recorded:
        practitioner = self.load(Practitioner, practitioner_id)
        return self.on_referral(
            referral_id,
            lambda r: r.discharge(practitioner=practitioner, outcomes=outcomes,
                                  summary=summary, occurred_at=occurred_at, actor=actor),
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
