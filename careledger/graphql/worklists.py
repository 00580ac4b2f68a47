"""Lists that name patients: a clinic's caseload, a physician's worklist, a therapist's day.

Each list is scoped by the token (a clinic in its clinics, the physician or therapist
themself, or an auditor) and anything else is "not found". Patients whose consent is
revoked drop out of every list but the auditor's, and every patient a list names is a
read of that patient's data, so each one is appended to the access log.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

import strawberry
from psycopg import sql
from psycopg.rows import dict_row
from strawberry.types import Info

from careledger.gateways.auth import Role
from careledger.graphql.access import Basis, list_basis, may_read_clinic, may_read_own
from careledger.graphql.context import (
    Context,
    PublicError,
    caught_up,
    live_views,
    principal_of,
)

#: A certification is "due" when it ends within this many days (or has ended).
DUE_WITHIN_DAYS = 14

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
        description="Referrals this physician made, newest first.")
    def referrals(self, info: Info[Context, None]) -> list[CaseloadEntry]:
        return _referrals(info, "physician.referrals", "r.physician_id = %s", self.id)

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
        description="Progress reports sent to this physician, newest first.")
    def progress_reports(self, info: Info[Context, None]) -> list[ProgressReport]:
        rows = _visible(info, "physician.progressReports",
                        "SELECT referral_id, patient_id, report_id, practitioner_id,"
                        " visits_to_date, sent_at FROM {v}.progress_reports"
                        " WHERE physician_id = %s ORDER BY sent_at DESC", self.id)
        return [ProgressReport(**row) for row in rows]


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
        rows = _visible(info, asked,
                        "SELECT s.referral_id, s.session_id, s.patient_id, s.scheduled_for,"
                        " s.location, s.status FROM {v}.sessions s WHERE s.practitioner_id = %s"
                        f" AND s.status = 'scheduled' AND {when} ORDER BY s.scheduled_for",
                        self.id)
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


def _referrals(info: Info[Context, None], asked: str, where: str, *params: object
               ) -> list[CaseloadEntry]:
    rows = _visible(info, asked, f"SELECT {REFERRAL_COLUMNS} FROM {{v}}.referrals r"
                    f" WHERE {where} ORDER BY r.made_at DESC", *params)
    return [CaseloadEntry(**row) for row in rows]


def _visible(info: Info[Context, None], asked: str, query: str, *params: object
             ) -> list[dict[str, Any]]:
    """Rows naming patients, minus revoked consent (unless auditor); each patient logged."""
    principal = principal_of(info)
    basis = list_basis(principal).value
    with info.context.pool.connection() as conn:
        views = sql.Identifier(live_views(info, conn))
        consent = "" if basis == Basis.AUDITOR else (
            " WHERE EXISTS (SELECT 1 FROM {v}.consent c WHERE c.patient_id = q.patient_id"
            " AND c.granted)")
        rows = conn.cursor(row_factory=dict_row).execute(
            sql.SQL(f"SELECT * FROM ({query}) q{consent}").format(v=views), params
        ).fetchall()
        patients = list(dict.fromkeys(row["patient_id"] for row in rows))
        if patients:
            conn.execute("SELECT careledger.log_access_many(%s, %s, %s, %s, true, %s, NULL)",
                         (principal.subject, principal.role.value, patients, asked, basis))
    return rows
