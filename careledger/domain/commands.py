"""What a clinic, a physician or an administrator asks the record to do, as data.

One frozen dataclass per command, in the imperative (`MakeReferral`, `CertifyPlan`),
carrying everything the decision needs: who asks (`actor`), when it happened as they
state it (`occurred_at`), the records it names by id, and its own fields. The HTTP routes
and the command line build them; `CareLedger.handle` decides them (`handlers.py`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar
from uuid import UUID

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


# ---------------------------------------------------------------------- the network


@dataclass(frozen=True, kw_only=True)
class RegisterClinic(Command):
    name: str
    disciplines: Sequence[Discipline]
    address: str
    latitude: float
    longitude: float
    home_visit_radius_km: float


@dataclass(frozen=True, kw_only=True)
class RegisterPractitioner(Command):
    name: str
    profession: Profession


@dataclass(frozen=True, kw_only=True)
class AddCredential(Command):
    practitioner_id: UUID
    kind: CredentialKind
    number: str
    issuer: str
    expires_on: date | None


@dataclass(frozen=True, kw_only=True)
class Affiliate(Command):
    NAME = "affiliate_practitioner"  # as its idempotency records have always named it

    practitioner_id: UUID
    clinic_id: UUID


@dataclass(frozen=True, kw_only=True)
class RecordExperience(Command):
    practitioner_id: UUID
    conditions: Sequence[str]


@dataclass(frozen=True, kw_only=True)
class OfferHomeVisits(Command):
    practitioner_id: UUID
    radius_km: float


# ---------------------------------------------------------------------- patients


@dataclass(frozen=True, kw_only=True)
class RegisterPatient(Command):
    given_name: str
    family_name: str
    birth_date: date
    sex: str
    address: str
    latitude: float | None
    longitude: float | None


@dataclass(frozen=True, kw_only=True)
class GrantConsent(Command):
    patient_id: UUID


@dataclass(frozen=True, kw_only=True)
class RevokeConsent(Command):
    patient_id: UUID
    reason: str


# ---------------------------------------------------------------------- the episode


@dataclass(frozen=True, kw_only=True)
class MakeReferral(Command):
    physician_id: UUID
    patient_id: UUID
    clinic_id: UUID
    discipline: Discipline
    diagnosis_codes: Sequence[str]
    precautions: Sequence[str]
    contraindications: Sequence[Technique]
    urgency: Urgency
    authorized_visits: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class OnReferral(Command):
    """A command on an episode that exists: it names its referral."""

    referral_id: UUID


@dataclass(frozen=True, kw_only=True)
class AcceptReferral(OnReferral):
    practitioner_id: UUID


@dataclass(frozen=True, kw_only=True)
class DeclineReferral(OnReferral):
    reason: str


@dataclass(frozen=True, kw_only=True)
class RedirectReferral(OnReferral):
    clinic_id: UUID
    reason: str


@dataclass(frozen=True, kw_only=True)
class CancelReferral(OnReferral):
    reason: str


@dataclass(frozen=True, kw_only=True)
class RecordAssessment(OnReferral):
    practitioner_id: UUID
    history: str
    pain_nprs: int
    range_of_motion: Sequence[Mapping[str, Any]]
    muscle_tests: Sequence[Mapping[str, Any]]
    functional_instrument: FunctionalInstrument
    functional_score: float
    findings: str
    red_flags: Sequence[str]
    #: The record's id, if the caller chose one (else one is drawn).
    assessment_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class DraftPlan(OnReferral):
    practitioner_id: UUID
    goals: Sequence[Goal]
    techniques: Sequence[Technique]
    frequency_per_week: int
    duration_weeks: int
    override_reason: str | None
    plan_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class RevisePlan(OnReferral):
    practitioner_id: UUID
    goals: Sequence[Goal]
    techniques: Sequence[Technique]
    frequency_per_week: int
    duration_weeks: int
    reason: str
    override_reason: str | None


@dataclass(frozen=True, kw_only=True)
class CertifyPlan(OnReferral):
    physician_id: UUID
    certified_from: date
    certified_until: date


@dataclass(frozen=True, kw_only=True)
class RecertifyPlan(OnReferral):
    physician_id: UUID
    certified_from: date
    certified_until: date


@dataclass(frozen=True, kw_only=True)
class ScheduleSession(OnReferral):
    practitioner_id: UUID
    scheduled_for: datetime
    location: SessionLocation
    session_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class CompleteSession(OnReferral):
    session_id: str
    practitioner_id: UUID
    soap: Mapping[str, str]
    techniques: Sequence[tuple[Technique, int]]
    pain_before: int
    pain_after: int
    location: SessionLocation
    functional_score: float | None
    goal_measurements: Sequence[Mapping[str, Any]]
    override_reason: str | None


@dataclass(frozen=True, kw_only=True)
class CancelSession(OnReferral):
    session_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class RecordNoShow(OnReferral):
    session_id: str


@dataclass(frozen=True, kw_only=True)
class SendProgressReport(OnReferral):
    practitioner_id: UUID
    summary: str
    goal_status: Sequence[Mapping[str, Any]]
    report_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Discharge(OnReferral):
    practitioner_id: UUID
    outcomes: Mapping[str, GoalOutcome]
    summary: str


@dataclass(frozen=True, kw_only=True)
class Amend(OnReferral):
    record_id: str
    reason: str
    changes: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class RequestAmendment(OnReferral):
    """A patient's request to correct a record, made to the clinic in writing."""

    record_id: str
    changes: Mapping[str, Any]
    reason: str
    request_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class AcceptAmendment(OnReferral):
    request_id: str


@dataclass(frozen=True, kw_only=True)
class DenyAmendment(OnReferral):
    request_id: str
    basis: DenialBasis
    explanation: str


@dataclass(frozen=True, kw_only=True)
class FileDisagreement(OnReferral):
    request_id: str
    statement: str
