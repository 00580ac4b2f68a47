"""Value objects of the clinic's vocabulary: disciplines, techniques, diagnoses, measures."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from careledger.domain import icd10
from careledger.domain.errors import InvalidInput


class Discipline(StrEnum):
    """What a referral asks for; a clinic offers some of these, a therapist practises one."""

    MEDICAL_MASSAGE = "medical_massage"
    PHYSICAL_THERAPY = "physical_therapy"
    CHIROPRACTIC = "chiropractic"


class Profession(StrEnum):
    """A practitioner's profession: the physician refers and certifies, the others treat."""

    PHYSICIAN = "physician"
    MEDICAL_MASSAGE_THERAPIST = "medical_massage_therapist"
    PHYSICAL_THERAPIST = "physical_therapist"
    CHIROPRACTOR = "chiropractor"

    @property
    def discipline(self) -> Discipline | None:
        return _PROFESSION_DISCIPLINE.get(self)


_PROFESSION_DISCIPLINE = {
    Profession.MEDICAL_MASSAGE_THERAPIST: Discipline.MEDICAL_MASSAGE,
    Profession.PHYSICAL_THERAPIST: Discipline.PHYSICAL_THERAPY,
    Profession.CHIROPRACTOR: Discipline.CHIROPRACTIC,
}


class Technique(StrEnum):
    """Hands-on and exercise techniques; each bills under one timed CPT code."""

    SWEDISH_MASSAGE = "swedish_massage"
    DEEP_TISSUE = "deep_tissue"
    MYOFASCIAL_RELEASE = "myofascial_release"
    TRIGGER_POINT = "trigger_point"
    LYMPHATIC_DRAINAGE = "lymphatic_drainage"
    SOFT_TISSUE_MOBILIZATION = "soft_tissue_mobilization"
    JOINT_MOBILIZATION = "joint_mobilization"
    STRETCHING = "stretching"
    THERAPEUTIC_EXERCISE = "therapeutic_exercise"

    @property
    def cpt(self) -> str:
        return TECHNIQUE_CPT[self]


#: CPT 97124 massage, 97140 manual therapy (myofascial release, manual lymph drainage,
#: mobilization, trigger point), 97110 therapeutic exercise (including stretching).
TECHNIQUE_CPT: dict[Technique, str] = {
    Technique.SWEDISH_MASSAGE: "97124",
    Technique.DEEP_TISSUE: "97124",
    Technique.MYOFASCIAL_RELEASE: "97140",
    Technique.TRIGGER_POINT: "97140",
    Technique.LYMPHATIC_DRAINAGE: "97140",
    Technique.SOFT_TISSUE_MOBILIZATION: "97140",
    Technique.JOINT_MOBILIZATION: "97140",
    Technique.STRETCHING: "97110",
    Technique.THERAPEUTIC_EXERCISE: "97110",
}


class Urgency(StrEnum):
    ROUTINE = "routine"
    URGENT = "urgent"


class CredentialKind(StrEnum):
    """A state licence, a board certification (NCBTMB, a medical board), the American
    Medical Massage Association's certification, a National Provider Identifier."""

    STATE_LICENSE = "state_license"
    BOARD_CERTIFICATION = "board_certification"
    AMMA_CERTIFICATION = "amma_certification"
    NPI = "npi"


class SessionLocation(StrEnum):
    CLINIC = "clinic"
    HOME = "home"


class FunctionalInstrument(StrEnum):
    """The functional outcome measures a clinic takes: Oswestry Disability Index (low
    back) and Neck Disability Index, 0-100 %; Lower Extremity Functional Scale, 0-80;
    Patient-Specific Functional Scale, 0-10; QuickDASH (arm, shoulder, hand), 0-100."""

    ODI = "ODI"
    NDI = "NDI"
    LEFS = "LEFS"
    PSFS = "PSFS"
    QUICK_DASH = "QuickDASH"

    @property
    def maximum(self) -> float:
        return _INSTRUMENT_MAXIMUM.get(self, 100.0)

    @property
    def higher_is_better(self) -> bool:
        """LEFS and PSFS rise as function improves; the disability indices fall."""
        return self in (FunctionalInstrument.LEFS, FunctionalInstrument.PSFS)

    @property
    def unit(self) -> str:
        return "%" if self in (FunctionalInstrument.ODI, FunctionalInstrument.NDI) else (
            f"of {self.maximum:g}")


_INSTRUMENT_MAXIMUM = {FunctionalInstrument.LEFS: 80.0, FunctionalInstrument.PSFS: 10.0}


class GoalOutcome(StrEnum):
    MET = "met"
    PARTIALLY_MET = "partially_met"
    NOT_MET = "not_met"


class DenialBasis(StrEnum):
    """The only grounds on which a request to amend may be denied (45 CFR 164.526(a)(2))."""

    NOT_CREATED_HERE = "not_created_here"
    NOT_IN_DESIGNATED_RECORD_SET = "not_in_designated_record_set"
    NOT_AVAILABLE_FOR_INSPECTION = "not_available_for_inspection"
    ACCURATE_AND_COMPLETE = "accurate_and_complete"


class AmendableRecord(StrEnum):
    """The clinical records a correction may point at (HIPAA 164.526)."""

    REFERRAL = "referral"
    ASSESSMENT = "assessment"
    PLAN = "plan"
    SESSION = "session"
    PROGRESS_REPORT = "progress_report"
    DISCHARGE = "discharge"
    MESSAGE = "message"


_ICD10_SHAPE = re.compile(r"^[A-TV-Z][0-9][0-9AB](\.[0-9A-TV-Z]{1,4})?$")


@dataclass(frozen=True)
class Diagnosis:
    """An ICD-10-CM code a claim can carry: it must exist and be billable (a leaf)."""

    code: str
    description: str

    @classmethod
    def of(cls, code: str) -> Diagnosis:
        normalized = code.strip().upper()
        found = icd10.code_set().lookup(normalized) if _ICD10_SHAPE.match(normalized) else None
        if found is None:
            raise InvalidInput(f"'{code}' is not an ICD-10-CM code", field="diagnoses")
        billable, description = found
        if not billable:
            raise InvalidInput(
                f"'{code}' is a category, not a billable ICD-10-CM code: use a more specific one",
                field="diagnoses",
            )
        return cls(code=normalized, description=description)

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "description": self.description}


def pain_score(value: int, field: str) -> int:
    """NPRS, LOINC 72514-3: an integer 0 (no pain) to 10 (worst imaginable)."""
    if not 0 <= value <= 10:
        raise InvalidInput("pain is scored 0-10 (NPRS)", field=field)
    return value


#: The tender points the ACR 1990 criteria for fibromyalgia examine (9 pairs).
TENDER_POINTS = 18


def tender_point_count(value: int | None, field: str = "tender_points") -> int | None:
    """How many of the 18 points were tender on palpation (ACR 1990); None: not examined."""
    if value is not None and not 0 <= value <= TENDER_POINTS:
        raise InvalidInput(f"tender points are counted 0-{TENDER_POINTS}", field=field)
    return value


def percent_score(value: float, field: str,
                  instrument: FunctionalInstrument | None = None) -> float:
    """A functional score within its instrument's scale (0-100 when none is known)."""
    top = instrument.maximum if instrument is not None else 100.0
    if not 0 <= value <= top:
        named = f"{instrument.value} scores are" if instrument else "functional scores are"
        raise InvalidInput(f"{named} 0-{top:g}", field=field)
    return value


#: The widest UTC offset in use (UTC+14:00, Kiribati). Python takes up to 24 hours;
#: PostgreSQL cannot hold past 15:59, and an event it cannot hold breaks every view.
MAX_OFFSET = timedelta(hours=14)


def aware(moment: datetime, field: str = "occurred_at") -> datetime:
    """Clinical times must carry a zone: 'Tuesday 9:00' means nothing across clinics."""
    offset = moment.utcoffset() if moment.tzinfo is not None else None
    if offset is None:
        raise InvalidInput("a time must carry a UTC offset", field=field)
    if abs(offset) > MAX_OFFSET:
        raise InvalidInput("a UTC offset lies between -14:00 and +14:00", field=field)
    return moment


#: How far ahead of the server's clock a stated time may be: clocks drift, notes do not
#: describe tomorrow.
MAX_AHEAD = timedelta(minutes=5)
#: A note recorded this long after what it describes is a late entry.
LATE_ENTRY = timedelta(hours=24)


def not_ahead(moment: datetime, now: datetime, field: str = "occurred_at") -> datetime:
    """What happened cannot have happened later than now."""
    if aware(moment, field) > now + MAX_AHEAD:
        raise InvalidInput("this time lies in the future: state when it happened",
                           field=field)
    return moment


def late_entry(occurred_at: datetime | None, recorded_at: datetime) -> bool:
    """Recorded more than 24 hours after it happened: flagged as records keepers expect."""
    return occurred_at is not None and recorded_at - occurred_at > LATE_ENTRY


@dataclass(frozen=True)
class Goal:
    """A measurable goal: a metric moves from a baseline toward a target by a due date."""

    goal_id: str
    description: str
    metric: str
    baseline: float
    target: float
    unit: str
    due: date

    def __post_init__(self) -> None:
        if not self.metric.strip() or not self.unit.strip():
            raise InvalidInput("a goal names its metric and unit", field="goals")
        if self.baseline == self.target:
            raise InvalidInput("a goal's target must differ from its baseline", field="goals")

    def as_dict(self) -> dict[str, Any]:
        return {
            "goal_id": self.goal_id,
            "description": self.description,
            "metric": self.metric,
            "baseline": self.baseline,
            "target": self.target,
            "unit": self.unit,
            "due": self.due.isoformat(),
        }
