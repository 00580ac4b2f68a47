"""The entries of the worklists, and where an episode stands for its physician."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Generic, TypeVar
from uuid import UUID

import strawberry

from careledger.domain.authorization import RUNNING_OUT_DAYS, RUNNING_OUT_VISITS
from careledger.domain.deadlines import certification_overdue
from careledger.domain.plan import PlanStatus
from careledger.domain.referral import ReferralStatus
from careledger.graphql.corrections import Correction
from careledger.graphql.people import Person
from careledger.graphql.worklists.authorizations import AuthorizationStanding

T = TypeVar("T")


@strawberry.type
class CaseloadEntry:
    referral_id: UUID
    patient_id: UUID
    physician_id: UUID
    clinic_id: UUID
    practitioner_id: UUID | None
    discipline: str
    status: str
    plan_status: str | None
    visits_used: int
    visits_authorized: int = strawberry.field(
        description="Every authorization's visits, the referral's own and each later one.")
    certified_until: date | None
    next_session: datetime | None
    authorizations: list[AuthorizationStanding] = strawberry.field(
        description="The referral's own first, then each later one, with the visits used, "
        "booked and remaining under it.")
    visits_remaining: int = strawberry.field(
        description="Visits still to schedule under the authorizations not yet ended.")
    authorization_running_out: bool = strawberry.field(
        description=f"An open episode with {RUNNING_OUT_VISITS} or fewer visits left, or "
        f"whose authorizations all end within {RUNNING_OUT_DAYS} days.")
    baseline_pain: int | None = strawberry.field(
        description="Pain (NPRS) at assessment, as the record now stands (amendments "
        "applied; the timeline keeps the original beside each amendment).")
    latest_pain: int | None = strawberry.field(
        description="Pain after the latest visit (or at assessment), as it now stands.")
    baseline_function: float | None
    latest_function: float | None
    functional_instrument: str | None
    corrections: list[Correction] = strawberry.field(description="The original and each "
        "amendment of the baseline and latest values above (which are as the record now "
        "stands), oldest first.")
    outcome_measure_due: bool = strawberry.field(
        description="The functional outcome measure is due: none taken since the last "
        "progress report (or the assessment), and the next report falls due within two "
        "visits; take it at the next visit.")


@strawberry.type
class Page(Generic[T]):
    """One page of a list, newest first; `endCursor` as `after` gives the next page."""

    entries: list[T]
    end_cursor: str | None
    has_next_page: bool


@strawberry.enum(description="Where an episode stands, from the referring physician's side.")
class CareStatus(Enum):
    REFERRAL_PENDING = "referral pending"
    IN_TREATMENT = "in treatment"
    AWAITING_CERTIFICATION = "plan awaiting certification"
    CERTIFICATION_OVERDUE = "certification overdue"
    DISCHARGED = "discharged"
    DECLINED = "declined"
    CANCELLED = "cancelled"


#: Which status a patient's list entry shows when several episodes differ: the one
#: that most needs the physician comes first.
ATTENTION = (CareStatus.CERTIFICATION_OVERDUE, CareStatus.AWAITING_CERTIFICATION,
             CareStatus.REFERRAL_PENDING, CareStatus.IN_TREATMENT, CareStatus.DISCHARGED,
             CareStatus.DECLINED, CareStatus.CANCELLED)


def care_status(status: str, plan_status: str | None, certified_until: date | None,
                first_treatment_on: date | None, today: date) -> CareStatus:
    """The episode's status; overdue as the domain decides it (`deadlines.py`): past the
    certified period, or uncertified 30 days after the first treatment's stated day."""
    if status != ReferralStatus.ACCEPTED:
        closed: dict[str, CareStatus] = {
            ReferralStatus.PENDING: CareStatus.REFERRAL_PENDING,
            ReferralStatus.DISCHARGED: CareStatus.DISCHARGED,
            ReferralStatus.DECLINED: CareStatus.DECLINED}
        return closed.get(status, CareStatus.CANCELLED)
    if plan_status is None:
        return CareStatus.IN_TREATMENT  # accepted, assessment under way, no plan yet
    certified = plan_status == PlanStatus.CERTIFIED
    if certification_overdue(certified=certified, certified_until=certified_until,
                             first_treatment_on=first_treatment_on, today=today):
        return CareStatus.CERTIFICATION_OVERDUE
    return CareStatus.IN_TREATMENT if certified else CareStatus.AWAITING_CERTIFICATION


@strawberry.type
class PatientReferral:
    referral_id: UUID
    clinic_id: UUID
    clinic_name: str | None
    discipline: str
    status: CareStatus
    plan_status: str | None
    certified_until: date | None
    made_at: datetime | None
    first_treatment: datetime | None
    authorizations: list[AuthorizationStanding]
    visits_remaining: int
    authorization_running_out: bool


@strawberry.type
class PhysicianPatient:
    """A patient this physician referred, with each episode's status."""

    patient_id: UUID
    given_name: str | None
    family_name: str | None
    birth_date: date | None
    status: CareStatus = strawberry.field(description="The status that most needs the "
                                          "physician, across the patient's episodes.")
    referrals: list[PatientReferral] = strawberry.field(description="Newest first.")


@strawberry.type
class ProgressReport:
    referral_id: UUID
    patient_id: UUID
    report_id: str
    practitioner_id: UUID
    visits_to_date: int
    sent_at: datetime | None
    by: Person = strawberry.field(description="The practitioner who sent it, as they were "
                                  "when they sent it.")


@strawberry.type
class ScheduledSession:
    referral_id: UUID
    session_id: str
    patient_id: UUID
    clinic_id: UUID | None
    scheduled_for: datetime | None
    location: str | None
    status: str


@strawberry.type(description="A session that did what the plan does not name: it waits for "
                 "the referring physician until acknowledged or the plan is revised.")
class BeyondPlan:
    referral_id: UUID
    session_id: str
    patient_id: UUID
    occurred_at: datetime | None
    what: list[str] = strawberry.field(description="Each technique or site beyond the plan.")
    reason: str | None = strawberry.field(description="Why, as the therapist stated it.")
    age_days: int = strawberry.field(description="Days since the session.")


@strawberry.type(description="A question put to you on an episode, waiting for your reply.")
class OpenQuestion:
    referral_id: UUID
    message_id: str
    patient_id: UUID
    body: str = strawberry.field(description="The question as it now stands.")
    urgency: str = strawberry.field(description="routine, soon or urgent")
    urgent: bool
    asked_at: datetime | None
    age_days: int = strawberry.field(description="Days since it was asked.")
    asked_by: Person = strawberry.field(description="Who asked, as they were then.")
