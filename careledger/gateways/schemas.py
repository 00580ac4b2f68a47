"""Request and response bodies of the command API (pydantic, via Ninja schemas)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from ninja import Field, Schema
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    conlist,
    model_validator,
)

from careledger.domain.clinical import (
    MAX_OFFSET,
    CredentialKind,
    DenialBasis,
    Discipline,
    FunctionalInstrument,
    GoalOutcome,
    Profession,
    SessionLocation,
    Technique,
    Urgency,
)


def _iso_text(value: Any) -> Any:
    """A date or time comes as ISO 8601 text, as the schema says; pydantic alone would read
    a number as seconds since 1970 and record a clinical time nobody stated."""
    if not isinstance(value, str | date):
        raise ValueError("a date or time is ISO 8601 text, e.g. 2026-03-02T09:00:00+00:00")
    return value


def _real_zone(value: datetime) -> datetime:
    """Python takes offsets up to 24 hours; one past PostgreSQL's range was stored in the
    log, and then no view could apply the event (found by fuzzing)."""
    offset = value.utcoffset()
    if offset is not None and abs(offset) > MAX_OFFSET:
        raise ValueError("a zone offset is between -14:00 and +14:00")
    return value


#: An instant with its zone, as ISO 8601 text.
Moment = Annotated[AwareDatetime, BeforeValidator(_iso_text), AfterValidator(_real_zone)]
#: A calendar day, as ISO 8601 text.
Day = Annotated[date, BeforeValidator(_iso_text)]
Text = Annotated[str, Field(max_length=4000)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
Reason = Annotated[str, Field(min_length=1, max_length=2000)]
RecordId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
Pain = Annotated[int, Field(ge=0, le=10)]
Percent = Annotated[float, Field(ge=0, le=100)]


class In(Schema):
    """A request body, or an object in one: a JSON object and nothing else.

    Ninja's schemas read attributes of whatever they are given, so without this a body
    of `true` or `[]` passed for a command whose fields are all optional. NaN and
    Infinity (which Python's JSON parser reads) have no place in jsonb either.
    """

    model_config = ConfigDict(allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _an_object(cls, value: Any) -> Any:
        raw = getattr(value, "_obj", value)
        if not isinstance(raw, dict):
            raise ValueError("the body is a JSON object")
        if _holds_nul(raw):
            raise ValueError("text may not contain U+0000")
        return value


def _holds_nul(value: Any) -> bool:
    """PostgreSQL text and jsonb cannot hold U+0000: the event would be stored, and then
    no view could apply it (found by fuzzing)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


#: Fields whose keys the client chooses (goal ids, changed fields): data, not schema.
FREE_KEYS = frozenset({"outcomes", "changes"})


class RecordedOut(Schema):
    """What every command answers: the record, its new version, its log position."""

    id: UUID
    version: int
    position: int | None


class OccurredIn(In):
    occurred_at: Moment | None = Field(
        None, description="When it happened, as the clinician states it; defaults to now."
    )


# ---------------------------------------------------------------------- the network


class RegisterClinicIn(OccurredIn):
    name: ShortText
    disciplines: conlist(Discipline, min_length=1, max_length=3)  # type: ignore[valid-type]
    address: ShortText
    latitude: Latitude
    longitude: Longitude
    home_visit_radius_km: Annotated[float, Field(ge=0, le=500)] = 0


class RegisterPractitionerIn(OccurredIn):
    name: ShortText
    profession: Profession


class AddCredentialIn(OccurredIn):
    kind: CredentialKind
    number: ShortText
    issuer: ShortText
    expires_on: Day | None = None


class AffiliateIn(OccurredIn):
    clinic_id: UUID


class RecordExperienceIn(OccurredIn):
    conditions: conlist(Annotated[str, Field(min_length=1, max_length=100)],  # type: ignore[valid-type]
                        min_length=1, max_length=50)


class OfferHomeVisitsIn(OccurredIn):
    radius_km: Annotated[float, Field(gt=0, le=500)]


# ---------------------------------------------------------------------- patients


class RegisterPatientIn(OccurredIn):
    given_name: ShortText
    family_name: ShortText
    birth_date: Day
    sex: Annotated[str, Field(pattern=r"^(female|male|other|unknown)$")]
    address: Annotated[str, Field(max_length=400)] = ""
    latitude: Latitude | None = None
    longitude: Longitude | None = None


class RevokeConsentIn(OccurredIn):
    reason: Reason


# ---------------------------------------------------------------------- the episode


class MakeReferralIn(OccurredIn):
    patient_id: UUID
    clinic_id: UUID
    discipline: Discipline
    diagnoses: conlist(Annotated[str, Field(min_length=3, max_length=8)],  # type: ignore[valid-type]
                       min_length=1, max_length=12) = Field(
        ..., description="ICD-10-CM codes, billable (e.g. M54.50)"
    )
    precautions: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list,
                                                                    max_length=20)
    contraindications: list[Technique] = Field(default_factory=list, max_length=9)
    urgency: Urgency = Urgency.ROUTINE
    authorized_visits: Annotated[int, Field(ge=1, le=200)]
    reason: Text = ""


class AcceptReferralIn(OccurredIn):
    practitioner_id: UUID | None = Field(
        None, description="Who will treat; a therapist accepting for themself may omit it."
    )


class DeclineReferralIn(OccurredIn):
    reason: Reason


class RedirectReferralIn(OccurredIn):
    clinic_id: UUID
    reason: Text = ""


class CancelIn(OccurredIn):
    reason: Reason


class RangeOfMotionIn(In):
    joint: ShortText
    movement: ShortText
    degrees: Annotated[float, Field(ge=0, le=360)]
    normal_degrees: Annotated[float, Field(ge=0, le=360)] | None = None


class MuscleTestIn(In):
    muscle: ShortText
    grade: Annotated[int, Field(ge=0, le=5)]


class RecordAssessmentIn(OccurredIn):
    history: Text
    pain_nprs: Pain
    range_of_motion: list[RangeOfMotionIn] = Field(default_factory=list, max_length=40)
    muscle_tests: list[MuscleTestIn] = Field(default_factory=list, max_length=40)
    functional_instrument: FunctionalInstrument
    functional_score: Percent
    findings: Text = ""
    red_flags: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list,
                                                                  max_length=20)


class GoalIn(In):
    goal_id: RecordId
    description: Text
    metric: ShortText
    baseline: float
    target: float
    unit: Annotated[str, Field(min_length=1, max_length=40)]
    due: Day


class PlanIn(OccurredIn):
    goals: list[GoalIn] = Field(..., max_length=20)
    techniques: conlist(Technique, min_length=1, max_length=9)  # type: ignore[valid-type]
    frequency_per_week: Annotated[int, Field(ge=1, le=7)]
    duration_weeks: Annotated[int, Field(ge=1, le=52)]
    override_reason: Annotated[str, Field(max_length=2000)] | None = None


class RevisePlanIn(PlanIn):
    reason: Reason


class CertifyPlanIn(OccurredIn):
    certified_from: Day
    certified_until: Day


class ScheduleSessionIn(OccurredIn):
    session_id: RecordId | None = None
    scheduled_for: Moment
    location: SessionLocation = SessionLocation.CLINIC


class SoapIn(In):
    subjective: Text
    objective: Text
    assessment: Text
    plan: Text


class TechniqueMinutesIn(In):
    technique: Technique
    minutes: Annotated[int, Field(ge=1, le=240)]


class GoalMeasurementIn(In):
    goal_id: RecordId
    value: float


class CompleteSessionIn(OccurredIn):
    soap: SoapIn
    techniques: conlist(TechniqueMinutesIn, min_length=1, max_length=12)  # type: ignore[valid-type]
    pain_before: Pain
    pain_after: Pain
    location: SessionLocation = SessionLocation.CLINIC
    functional_score: Percent | None = None
    goal_measurements: list[GoalMeasurementIn] = Field(default_factory=list, max_length=20)
    override_reason: Annotated[str, Field(max_length=2000)] | None = None


class GoalStatusIn(In):
    goal_id: RecordId
    latest: float | None = None
    note: Annotated[str, Field(max_length=400)] = ""


class ProgressReportIn(OccurredIn):
    summary: Text
    goal_status: list[GoalStatusIn] = Field(default_factory=list, max_length=20)


class DischargeIn(OccurredIn):
    outcomes: dict[Annotated[str, Field(max_length=64)], GoalOutcome] = Field(..., max_length=20)
    summary: Text


class AmendIn(OccurredIn):
    record_id: RecordId
    reason: Reason
    changes: dict[Annotated[str, Field(max_length=64)], Any] = Field(..., max_length=40)


class AmendmentRequestIn(OccurredIn):
    """A patient's written request to correct a record, recorded on their behalf."""

    request_id: RecordId | None = Field(None, description="Yours to choose; else assigned.")
    record_id: RecordId
    reason: Reason
    changes: dict[Annotated[str, Field(max_length=64)], Any] = Field(..., max_length=40)


class DenyAmendmentIn(OccurredIn):
    basis: DenialBasis = Field(..., description="One of the grounds 45 CFR 164.526(a)(2) "
                               "allows.")
    explanation: Reason


class DisagreementIn(OccurredIn):
    statement: Reason = Field(..., description="The patient's statement of disagreement.")
