"""Lists that name patients: a clinic's caseload, a physician's worklist, a therapist's day.

Each list is scoped by the token (a clinic in its clinics, the physician or therapist
themself, or an auditor) and anything else is "not found". Patients whose consent is
revoked drop out of every list but the auditor's, and every patient a list names is a
read of that patient's data, so each one is appended to the access log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Any, Generic, TypeVar
from uuid import UUID

import strawberry
from psycopg import sql
from psycopg.rows import dict_row
from strawberry.types import Info

from careledger.domain.patient import Patient
from careledger.domain.referral import CERTIFICATION_GRACE_DAYS, Referral
from careledger.gateways.auth import Role
from careledger.graphql.access import Basis, list_basis, may_read_clinic, may_read_own
from careledger.graphql.access_log import ACCESS_LOG, Read
from careledger.graphql.context import (
    Context,
    PublicError,
    caught_up,
    live_views,
    principal_of,
)
from careledger.graphql.cursor import check_first, decode_cursor, encode_cursor

#: A certification is "due" when it ends within this many days (or has ended).
DUE_WITHIN_DAYS = 14
#: The most entries one page of a list returns. The lists that grow with the years (every
#: referral a physician made, every report sent to them) are read a page at a time: one
#: read then names, and logs, at most this many patients.
MAX_LIST_PAGE = 200
#: What a page holds when the query does not say.
LIST_PAGE = 50
#: Referral lists: the newest first (a unique key last, so that the order is total).
NEWEST_REFERRALS_FIRST = "coalesce(q.made_at, '-infinity') DESC, q.referral_id DESC"

T = TypeVar("T")

REFERRAL_COLUMNS = (
    "r.referral_id, r.patient_id, r.physician_id, r.clinic_id, r.practitioner_id,"
    " r.discipline, r.status, r.plan_status, r.visits_used, r.visits_authorized,"
    " r.certified_until, (SELECT min(s.scheduled_for) FROM {v}.sessions s"
    " WHERE s.referral_id = r.referral_id AND s.status = 'scheduled'"
    " AND s.scheduled_for >= now()) AS next_session"
)


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
    visits_authorized: int
    certified_until: date | None
    next_session: datetime | None


@strawberry.type
class Page(Generic[T]):
    """One page of a list, newest first; `endCursor` as `after` gives the next page."""

    entries: list[T]
    end_cursor: str | None
    has_next_page: bool


@dataclass(frozen=True)
class Window:
    """Which rows of a list one page holds: after a cursor, at most `first`.

    `condition` is SQL over the list's rows (named `q`); its first parameter says
    whether there is a cursor at all.
    """

    condition: str
    params: tuple[object, ...]
    first: int


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
                first_treatment: datetime | None, today: date) -> CareStatus:
    """The episode's status; overdue as the domain has it (`Referral.certification_overdue`):
    past the certified period, or uncertified 30 days after the first treatment."""
    if status != "accepted":
        return {"pending": CareStatus.REFERRAL_PENDING, "discharged": CareStatus.DISCHARGED,
                "declined": CareStatus.DECLINED}.get(status, CareStatus.CANCELLED)
    if plan_status == "certified":
        if certified_until is not None and certified_until < today:
            return CareStatus.CERTIFICATION_OVERDUE
        return CareStatus.IN_TREATMENT
    if plan_status == "awaiting certification":
        if first_treatment is not None and today > (
                first_treatment.astimezone(UTC).date()
                + timedelta(days=CERTIFICATION_GRACE_DAYS)):
            return CareStatus.CERTIFICATION_OVERDUE
        return CareStatus.AWAITING_CERTIFICATION
    return CareStatus.IN_TREATMENT  # accepted, assessment under way, no plan yet


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


#: One row per referral, with the clinic's name, the patient's registration (name and
#: birth date) and the first treatment's valid time: one statement for the whole list.
PATIENTS_QUERY = (
    "SELECT r.patient_id, r.referral_id, r.clinic_id, c.name AS clinic_name, r.discipline,"
    " r.status, r.plan_status, r.certified_until, r.made_at,"
    " reg.data->>'given_name' AS given_name, reg.data->>'family_name' AS family_name,"
    " reg.data->>'birth_date' AS birth_date,"
    " (SELECT min(t.occurred_at) FROM {v}.timeline t WHERE t.patient_id = r.patient_id"
    " AND t.referral_id = r.referral_id AND t.kind = %s)"
    " AS first_treatment"
    " FROM {v}.referrals r LEFT JOIN {v}.clinics c ON c.clinic_id = r.clinic_id"
    " LEFT JOIN LATERAL (SELECT t.data FROM {v}.timeline t WHERE t.patient_id = r.patient_id"
    " AND t.kind = %s ORDER BY t.position LIMIT 1) reg ON true"
    " WHERE r.physician_id = %s"
)


@strawberry.type
class ProgressReport:
    referral_id: UUID
    patient_id: UUID
    report_id: str
    practitioner_id: UUID
    visits_to_date: int
    sent_at: datetime | None


@strawberry.type
class ScheduledSession:
    referral_id: UUID
    session_id: str
    patient_id: UUID
    scheduled_for: datetime | None
    location: str | None
    status: str


@strawberry.type
class Clinic:
    id: UUID

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Open referrals to this clinic (pending or in treatment).")
    def caseload(self, info: Info[Context, None]) -> list[CaseloadEntry]:
        return _referrals(info, "clinic.caseload",
                          "r.clinic_id = %s AND r.status IN ('pending', 'accepted')", self.id)


@strawberry.type
class Physician:
    id: UUID

    @strawberry.field(  # type: ignore[untyped-decorator]
        description=f"Referrals this physician made, newest first, {LIST_PAGE} a page "
        f"(`first`, at most {MAX_LIST_PAGE}; `after` an `endCursor`).")
    def referrals(self, info: Info[Context, None], first: int = LIST_PAGE,
                  after: str | None = None) -> Page[CaseloadEntry]:
        rows, more, end = _newest_first(
            info, "physician.referrals", f"SELECT {REFERRAL_COLUMNS}, r.made_at"
            " FROM {v}.referrals r WHERE r.physician_id = %s", self.id,
            at="made_at", key="referral_id", key_type=("uuid", UUID), first=first, after=after)
        return Page(entries=[_caseload_entry(row) for row in rows], has_next_page=more,
                    end_cursor=end)

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Plans drafted or revised and waiting for this physician's signature.")
    def awaiting_certification(self, info: Info[Context, None]) -> list[CaseloadEntry]:
        return _referrals(info, "physician.awaitingCertification",
                          "r.physician_id = %s AND r.plan_status = 'awaiting certification'"
                          " AND r.status = 'accepted'", self.id)

    @strawberry.field(  # type: ignore[untyped-decorator]
        description=f"Certifications ended or ending within {DUE_WITHIN_DAYS} days, for "
        "episodes still in treatment.")
    def certifications_due(self, info: Info[Context, None]) -> list[CaseloadEntry]:
        return _referrals(info, "physician.certificationsDue",
                          "r.physician_id = %s AND r.status = 'accepted' AND"
                          f" r.certified_until < current_date + {DUE_WITHIN_DAYS}", self.id)

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Episodes whose latest pain or functional score is no better than at "
        "assessment (ODI and NDI fall as function improves).")
    def not_improving(self, info: Info[Context, None]) -> list[CaseloadEntry]:
        return _referrals(info, "physician.notImproving",
                          "r.physician_id = %s AND r.status = 'accepted' AND EXISTS (SELECT 1"
                          " FROM {v}.referral_progress p WHERE p.referral_id = r.referral_id"
                          " AND p.visits_measured >= 2 AND (p.latest_pain >= p.baseline_pain"
                          " OR p.latest_function >= p.baseline_function))", self.id)

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="The patients this physician referred, each with the status of every "
        "episode; the ones needing a signature first.")
    def patients(self, info: Info[Context, None]) -> list[PhysicianPatient]:
        rows, _ = _visible(info, "physician.patients", PATIENTS_QUERY,
                           Referral.SessionCompleted.KIND, Patient.Registered.KIND, self.id,
                           order="q.referral_id")  # grouped and ordered below
        return _patients(rows, datetime.now(UTC).date())

    @strawberry.field(  # type: ignore[untyped-decorator]
        description=f"Progress reports sent to this physician, newest first, {LIST_PAGE} "
        f"a page (`first`, at most {MAX_LIST_PAGE}; `after` an `endCursor`).")
    def progress_reports(self, info: Info[Context, None], first: int = LIST_PAGE,
                         after: str | None = None) -> Page[ProgressReport]:
        rows, more, end = _newest_first(
            info, "physician.progressReports",
            "SELECT referral_id, patient_id, report_id, practitioner_id, visits_to_date,"
            " sent_at, position FROM {v}.progress_reports WHERE physician_id = %s", self.id,
            at="sent_at", key="position", key_type=("bigint", int), first=first, after=after)
        return Page(entries=[ProgressReport(**{k: v for k, v in row.items() if k != "position"})
                             for row in rows], has_next_page=more, end_cursor=end)


@strawberry.type
class Therapist:
    id: UUID

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Episodes this practitioner treats.")
    def caseload(self, info: Info[Context, None]) -> list[CaseloadEntry]:
        return _referrals(info, "therapist.caseload",
                          "r.practitioner_id = %s AND r.status = 'accepted'", self.id)

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Sessions scheduled from now on, soonest first.")
    def schedule(self, info: Info[Context, None]) -> list[ScheduledSession]:
        return self._sessions(info, "therapist.schedule", "s.scheduled_for >= now()")

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Past sessions still open: the visit happened (or not) but no note yet.")
    def notes_pending(self, info: Info[Context, None]) -> list[ScheduledSession]:
        return self._sessions(info, "therapist.notesPending", "s.scheduled_for < now()")

    def _sessions(self, info: Info[Context, None], asked: str, when: str
                  ) -> list[ScheduledSession]:
        rows, _ = _visible(info, asked,
                           "SELECT s.referral_id, s.session_id, s.patient_id, s.scheduled_for,"
                           " s.location, s.status FROM {v}.sessions s"
                           f" WHERE s.practitioner_id = %s AND s.status = 'scheduled'"
                           f" AND {when}", self.id,
                           order="q.scheduled_for, q.referral_id, q.session_id")
        return [ScheduledSession(**row) for row in rows]


@strawberry.type
class WorklistQuery:
    @strawberry.field(  # type: ignore[untyped-decorator]
        description="A clinic in your token (or any, for an auditor).")
    def clinic(self, info: Info[Context, None], id: UUID) -> Clinic:
        if not may_read_clinic(principal_of(info), id):
            raise PublicError("no clinic with that id", "NOT_FOUND")
        caught_up(info)
        return Clinic(id=id)

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Your own worklist as a physician (or any, for an auditor).")
    def physician(self, info: Info[Context, None], id: UUID) -> Physician:
        if not may_read_own(principal_of(info), id, Role.PHYSICIAN):
            raise PublicError("no physician with that id", "NOT_FOUND")
        caught_up(info)
        return Physician(id=id)

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Your own caseload and schedule as a practitioner (or any, for an "
        "auditor).")
    def therapist(self, info: Info[Context, None], id: UUID) -> Therapist:
        if not may_read_own(principal_of(info), id, Role.THERAPIST):
            raise PublicError("no therapist with that id", "NOT_FOUND")
        caught_up(info)
        return Therapist(id=id)


def _newest_first(info: Info[Context, None], asked: str, query: str, *params: object,
                  at: str, key: str, key_type: tuple[str, Callable[[str], Any]], first: int,
                  after: str | None) -> tuple[list[dict[str, Any]], bool, str | None]:
    """One page of a list that grows with the years, newest first by the column `at`,
    ties broken by the unique column `key` (of SQL type and parser `key_type`): its rows,
    whether more follow, and the cursor of its last row."""
    check_first(first, MAX_LIST_PAGE)
    start = decode_cursor(after, key_type[1])
    newest = f"coalesce(q.{at}, '-infinity')"
    rows, more = _visible(info, asked, query, *params,
                          order=f"{newest} DESC, q.{key} DESC", window=Window(
                              f"(NOT %s OR ({newest}, q.{key}) < (coalesce(%s::timestamptz,"
                              f" '-infinity'), %s::{key_type[0]}))",
                              (start is not None, *(start or (None, None))), first))
    last = rows[-1] if rows else None
    return rows, more, encode_cursor(last[at], last[key]) if last else None


def _referrals(info: Info[Context, None], asked: str, where: str, *params: object
               ) -> list[CaseloadEntry]:
    rows, _ = _visible(info, asked, f"SELECT {REFERRAL_COLUMNS}, r.made_at"
                       f" FROM {{v}}.referrals r WHERE {where}", *params,
                       order=NEWEST_REFERRALS_FIRST)
    return [_caseload_entry(row) for row in rows]


def _caseload_entry(row: dict[str, Any]) -> CaseloadEntry:
    return CaseloadEntry(**{k: v for k, v in row.items() if k != "made_at"})  # for order


def _patients(rows: list[dict[str, Any]], today: date) -> list[PhysicianPatient]:
    """Group the referral rows by patient; each patient's referrals newest first."""
    oldest = datetime.min.replace(tzinfo=UTC)
    rows = sorted(rows, key=lambda r: r["made_at"] or oldest, reverse=True)
    patients: dict[UUID, PhysicianPatient] = {}
    for row in rows:
        referral = PatientReferral(
            referral_id=row["referral_id"], clinic_id=row["clinic_id"],
            clinic_name=row["clinic_name"], discipline=row["discipline"],
            status=care_status(row["status"], row["plan_status"], row["certified_until"],
                               row["first_treatment"], today),
            plan_status=row["plan_status"], certified_until=row["certified_until"],
            made_at=row["made_at"], first_treatment=row["first_treatment"])
        patient = patients.get(row["patient_id"])
        if patient is None:
            patient = patients[row["patient_id"]] = PhysicianPatient(
                patient_id=row["patient_id"], given_name=row["given_name"],
                family_name=row["family_name"], birth_date=_date(row["birth_date"]),
                status=referral.status, referrals=[])
        patient.referrals.append(referral)
        patient.status = min(patient.status, referral.status, key=ATTENTION.index)
    return sorted(patients.values(), key=lambda p: (
        ATTENTION.index(p.status), (p.family_name or "").lower(), (p.given_name or "").lower(),
        str(p.patient_id)))


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _visible(info: Info[Context, None], asked: str, query: str, *params: object,
             order: str, window: Window | None = None
             ) -> tuple[list[dict[str, Any]], bool]:
    """Rows naming patients, minus revoked consent (unless auditor), in `order` (SQL over
    the rows, named `q`); each patient they name logged before they are returned.

    With a window, only that page's rows, and whether more follow: the row read to tell
    is neither returned nor logged.
    """
    principal = principal_of(info)
    basis = list_basis(principal).value
    conditions = [] if basis == Basis.AUDITOR else [
        "EXISTS (SELECT 1 FROM {v}.consent c WHERE c.patient_id = q.patient_id"
        " AND c.granted)"]
    selected: tuple[object, ...] = params
    limit = ""
    if window is not None:
        conditions.append(window.condition)
        selected = (*params, *window.params, window.first + 1)
        limit = " LIMIT %s"
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    with info.context.pool.connection() as conn:
        views = sql.Identifier(live_views(info, conn))
        rows = conn.cursor(row_factory=dict_row).execute(
            sql.SQL(f"SELECT * FROM ({query}) q{where} ORDER BY {order}{limit}").format(
                v=views), selected).fetchall()
        more = False
        if window is not None and len(rows) > window.first:
            more = True
            del rows[window.first:]
        ACCESS_LOG.append(conn, [
            Read(principal.subject, principal.role.value, patient, asked, True, basis, None)
            for patient in dict.fromkeys(row["patient_id"] for row in rows)])
    return rows, more
