"""Lists that name patients: a clinic's caseload, a physician's worklist, a therapist's day.

Each list is scoped by the token (a clinic in its clinics, the physician or therapist
themself, or an auditor) and anything else is "not found". Patients whose consent is
revoked drop out of every list but the auditor's, and every patient a list names is a
read of that patient's data, so each one is appended to the access log.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

import strawberry

from careledger.access.people import person, person_sql
from careledger.access.policy import may_read_clinic, may_read_clinic_billing, may_read_own
from careledger.access.tokens import Role
from careledger.domain.clinical import FunctionalInstrument
from careledger.domain.deadlines import RECERTIFY_WITHIN_DAYS
from careledger.domain.patient import Patient
from careledger.domain.plan import PlanStatus
from careledger.domain.referral import Referral, ReferralStatus
from careledger.graphql.billing import CLINIC_TOTALS, ClinicBilling, clinic_billing
from careledger.graphql.context import Info, PublicError, caught_up, principal_of, read_views
from careledger.graphql.people import Person
from careledger.graphql.worklists.reading import (
    LIST_PAGE,
    MAX_LIST_PAGE,
    PATIENTS_QUERY,
    RECERTIFICATION_DUE_SQL,
    REFERRAL_COLUMNS,
    caseload_entry,
    newest_first,
    patients_of,
    referral_entries,
    today,
    visible,
)
from careledger.graphql.worklists.types import (
    BeyondPlan,
    CaseloadEntry,
    OpenQuestion,
    Page,
    PhysicianPatient,
    ProgressReport,
    ScheduledSession,
)

#: The longest period one billing report covers.
MAX_BILLING_DAYS = 366
#: Who sent a progress report, as they were when they sent it.
REPORTED_BY = person_sql("p.practitioner_id", "p.sent_at")
#: Who asked a question, as they were when they asked it.
ASKED_BY = person_sql("q.sender_id", "q.asked_at")


def open_questions(info: Info, asked: str, recipient: UUID) -> list[OpenQuestion]:
    """The questions put to this physician or practitioner and not yet answered, the
    urgent first, then the oldest; each patient named is logged as read."""
    rows, _ = visible(info, asked,
                      "SELECT q.referral_id, q.message_id, q.patient_id, q.body, q.urgency,"
                      f" q.asked_at, q.sender_role, {ASKED_BY} AS asked_by, r.clinic_id"
                      " FROM {v}.open_questions q"
                      " JOIN {v}.referrals r ON r.referral_id = q.referral_id"
                      " WHERE q.recipient_id = %s AND r.status IN ('pending', 'accepted')",
                      recipient, order="q.urgency = 'urgent' DESC, q.asked_at, q.message_id")
    now = today()
    return [OpenQuestion(
        referral_id=row["referral_id"], message_id=row["message_id"],
        patient_id=row["patient_id"], body=row["body"], urgency=row["urgency"],
        urgent=row["urgency"] == "urgent", asked_at=row["asked_at"],
        age_days=(now - row["asked_at"].date()).days if row["asked_at"] else 0,
        asked_by=Person.of(person(row["sender_role"], row["asked_by"]))) for row in rows]


#: The instruments whose score rises as function improves, for SQL.
RISING = ", ".join(f"'{i.value}'" for i in FunctionalInstrument if i.higher_is_better)


@strawberry.type
class Clinic:
    id: UUID

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Open referrals to this clinic (pending or in treatment).")
    def caseload(self, info: Info) -> list[CaseloadEntry]:
        if not may_read_clinic(principal_of(info), self.id):  # a biller: billing only
            raise PublicError("no clinic with that id", "NOT_FOUND")
        return referral_entries(info, "clinic.caseload",
                          "r.clinic_id = %s AND r.status IN ('pending', 'accepted')", self.id)

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="The clinic's billing over a period of days (at most a year): "
        "sessions, minutes and units, per CPT code and per therapist; no patient named.")
    def billing(self, info: Info, since: date, until: date) -> ClinicBilling:
        if until < since or (until - since).days > MAX_BILLING_DAYS:
            raise PublicError(f"a billing period ends on or after its first day, within "
                              f"{MAX_BILLING_DAYS} days", "BAD_INPUT")
        return clinic_billing(since, until, read_views(info, CLINIC_TOTALS,
                                                       (self.id, since, until)))


@strawberry.type
class Physician:
    id: UUID

    @strawberry.field(  # type: ignore[untyped-decorator]
        description=f"Referrals this physician made, newest first, {LIST_PAGE} a page "
        f"(`first`, at most {MAX_LIST_PAGE}; `after` an `endCursor`).")
    def referrals(self, info: Info, first: int = LIST_PAGE,
                  after: str | None = None) -> Page[CaseloadEntry]:
        rows, more, end = newest_first(
            info, "physician.referrals", f"SELECT {REFERRAL_COLUMNS}, r.made_at"
            " FROM {v}.referrals r WHERE r.physician_id = %s", self.id,
            at="made_at", key="referral_id", key_type=("uuid", UUID), first=first, after=after)
        return Page(entries=[caseload_entry(row) for row in rows], has_next_page=more,
                    end_cursor=end)

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Plans drafted or revised and waiting for this physician's signature.")
    def awaiting_certification(self, info: Info) -> list[CaseloadEntry]:
        return referral_entries(info, "physician.awaitingCertification",
                          "r.physician_id = %s AND r.plan_status = %s AND r.status = %s",
                          self.id, PlanStatus.AWAITING_CERTIFICATION.value,
                          ReferralStatus.ACCEPTED.value)

    @strawberry.field(  # type: ignore[untyped-decorator]
        description=f"Certifications ended or ending within {RECERTIFY_WITHIN_DAYS} days, "
        "for episodes still in treatment.")
    def certifications_due(self, info: Info) -> list[CaseloadEntry]:
        return referral_entries(info, "physician.certificationsDue",
                          f"r.physician_id = %s AND r.status = %s AND {RECERTIFICATION_DUE_SQL}",
                          self.id, ReferralStatus.ACCEPTED.value, today())

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Episodes whose latest pain or functional score is no better than at "
        "assessment (ODI, NDI and QuickDASH fall as function improves; LEFS and PSFS rise).")
    def not_improving(self, info: Info) -> list[CaseloadEntry]:
        return referral_entries(info, "physician.notImproving",
                          "r.physician_id = %s AND r.status = 'accepted' AND EXISTS (SELECT 1"
                          " FROM {v}.referral_progress p WHERE p.referral_id = r.referral_id"
                          " AND p.visits_measured >= 2 AND (p.latest_pain >= p.baseline_pain"
                          f" OR CASE WHEN p.instrument IN ({RISING}) THEN"
                          " p.latest_function <= p.baseline_function"
                          " ELSE p.latest_function >= p.baseline_function END))", self.id)

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Sessions of episodes in treatment that went beyond the certified plan "
        "(a technique or a site it does not name), oldest first, until acknowledged or the "
        "plan is revised.")
    def beyond_plan(self, info: Info) -> list[BeyondPlan]:
        rows, _ = visible(info, "physician.beyondPlan",
                          "SELECT d.referral_id, d.session_id, d.patient_id, d.occurred_at,"
                          " d.beyond_plan, d.reason, r.clinic_id FROM {v}.plan_deviations d"
                          " JOIN {v}.referrals r ON r.referral_id = d.referral_id"
                          " WHERE r.physician_id = %s AND r.status = 'accepted'", self.id,
                          order="q.occurred_at, q.referral_id, q.session_id")
        now = today()
        return [BeyondPlan(
            referral_id=row["referral_id"], session_id=row["session_id"],
            patient_id=row["patient_id"], occurred_at=row["occurred_at"],
            what=list(row["beyond_plan"]), reason=row["reason"],
            age_days=(now - row["occurred_at"].date()).days if row["occurred_at"] else 0)
            for row in rows]

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Questions the treating practitioners put to this physician that wait "
        "for a reply: the urgent first, then the oldest, each with its age.")
    def open_questions(self, info: Info) -> list[OpenQuestion]:
        return open_questions(info, "physician.openQuestions", self.id)

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="The patients this physician referred, each with the status of every "
        "episode; the ones needing a signature first.")
    def patients(self, info: Info) -> list[PhysicianPatient]:
        rows, _ = visible(info, "physician.patients", PATIENTS_QUERY,
                           Referral.SessionCompleted.KIND, Patient.Registered.KIND, self.id,
                           order="q.referral_id")  # grouped and ordered below
        return patients_of(rows, today())

    @strawberry.field(  # type: ignore[untyped-decorator]
        description=f"Progress reports sent to this physician, newest first, {LIST_PAGE} "
        f"a page (`first`, at most {MAX_LIST_PAGE}; `after` an `endCursor`).")
    def progress_reports(self, info: Info, first: int = LIST_PAGE,
                         after: str | None = None) -> Page[ProgressReport]:
        rows, more, end = newest_first(
            info, "physician.progressReports",
            "SELECT referral_id, patient_id, report_id, practitioner_id, visits_to_date,"
            f" sent_at, position, {REPORTED_BY} AS reported_by FROM {{v}}.progress_reports p"
            " WHERE physician_id = %s", self.id,
            at="sent_at", key="position", key_type=("bigint", int), first=first, after=after)
        return Page(entries=[ProgressReport(
            **{k: v for k, v in row.items() if k not in ("position", "reported_by")},
            by=Person.of(person("therapist", row["reported_by"]))) for row in rows],
            has_next_page=more, end_cursor=end)


@strawberry.type
class Therapist:
    id: UUID

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Episodes this practitioner treats.")
    def caseload(self, info: Info) -> list[CaseloadEntry]:
        return referral_entries(info, "therapist.caseload",
                          "r.practitioner_id = %s AND r.status = 'accepted'", self.id)

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Questions the referring physicians put to this practitioner that wait "
        "for a reply: the urgent first, then the oldest, each with its age.")
    def open_questions(self, info: Info) -> list[OpenQuestion]:
        return open_questions(info, "therapist.openQuestions", self.id)

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Sessions scheduled from now on, soonest first.")
    def schedule(self, info: Info) -> list[ScheduledSession]:
        return self._sessions(info, "therapist.schedule", "s.scheduled_for >= now()")

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Past sessions still open: the visit happened (or not) but no note yet.")
    def notes_pending(self, info: Info) -> list[ScheduledSession]:
        return self._sessions(info, "therapist.notesPending", "s.scheduled_for < now()")

    def _sessions(self, info: Info, asked: str, when: str
                  ) -> list[ScheduledSession]:
        rows, _ = visible(info, asked,
                           "SELECT s.referral_id, s.session_id, s.patient_id, s.scheduled_for,"
                           " s.location, s.status, (SELECT r.clinic_id FROM {v}.referrals r"
                           " WHERE r.referral_id = s.referral_id) AS clinic_id"
                           " FROM {v}.sessions s"
                           f" WHERE s.practitioner_id = %s AND s.status = 'scheduled'"
                           f" AND {when}", self.id,
                           order="q.scheduled_for, q.referral_id, q.session_id")
        return [ScheduledSession(**row) for row in rows]


@strawberry.type
class WorklistQuery:
    @strawberry.field(  # type: ignore[untyped-decorator]
        description="A clinic in your token (or any, for an auditor); for its biller, "
        "its billing only.")
    def clinic(self, info: Info, id: UUID) -> Clinic:
        if not may_read_clinic_billing(principal_of(info), id):
            raise PublicError("no clinic with that id", "NOT_FOUND")
        caught_up(info)
        return Clinic(id=id)

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Your own worklist as a physician (or any, for an auditor).")
    def physician(self, info: Info, id: UUID) -> Physician:
        if not may_read_own(principal_of(info), id, Role.PHYSICIAN):
            raise PublicError("no physician with that id", "NOT_FOUND")
        caught_up(info)
        return Physician(id=id)

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Your own caseload and schedule as a practitioner (or any, for an "
        "auditor).")
    def therapist(self, info: Info, id: UUID) -> Therapist:
        if not may_read_own(principal_of(info), id, Role.THERAPIST):
            raise PublicError("no therapist with that id", "NOT_FOUND")
        caught_up(info)
        return Therapist(id=id)
