"""How a list that names patients is read: consent, pages, and the access log.

Every patient a list names is a read of that patient's data, so each one is appended to
the access log before the rows leave; patients whose consent is revoked drop out of
every list but the auditor's."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg.rows import dict_row

from careledger.access.log import ACCESS_LOG, Read
from careledger.access.policy import CLINIC_MAY_READ_SQL, clinic_may_read_params, list_basis
from careledger.access.tokens import Role
from careledger.domain.clinical import AmendableRecord
from careledger.domain.deadlines import RECERTIFY_WITHIN_DAYS, outcome_measure_due
from careledger.domain.referral import Referral
from careledger.graphql.context import Info, live_views, principal_of
from careledger.graphql.corrections import corrections
from careledger.graphql.cursor import check_first, decode_cursor, encode_cursor
from careledger.graphql.worklists.authorizations import AUTHORIZATION_COLUMNS, authorization_fields
from careledger.graphql.worklists.types import (
    ATTENTION,
    CaseloadEntry,
    PatientReferral,
    PhysicianPatient,
    care_status,
)

#: `deadlines.recertification_due`, in SQL over a referral row `r` and today's date: the
#: one rule, written for the database (tests/integration/test_deadline_sql.py holds them
#: equal on PostgreSQL).
RECERTIFICATION_DUE_SQL = f"r.certified_until < %s::date + {RECERTIFY_WITHIN_DAYS}"


#: The most entries one page of a list returns. The lists that grow with the years (every
#: referral a physician made, every report sent to them) are read a page at a time: one
#: read then names, and logs, at most this many patients.
MAX_LIST_PAGE = 200


#: What a page holds when the query does not say.
LIST_PAGE = 50


#: Referral lists: the newest first (a unique key last, so that the order is total).
NEWEST_REFERRALS_FIRST = "coalesce(q.made_at, '-infinity') DESC, q.referral_id DESC"


REFERRAL_COLUMNS = (
    "r.referral_id, r.patient_id, r.physician_id, r.clinic_id, r.practitioner_id,"
    " r.discipline, r.status, r.plan_status, r.visits_used, r.visits_authorized,"
    " r.certified_until, (SELECT min(s.scheduled_for) FROM {v}.sessions s"
    " WHERE s.referral_id = r.referral_id AND s.status = 'scheduled'"
    " AND s.scheduled_for >= now()) AS next_session, " + AUTHORIZATION_COLUMNS +
    ", (SELECT json_build_object('baseline_pain', p.baseline_pain, 'latest_pain',"
    " p.latest_pain, 'baseline_function', p.baseline_function, 'latest_function',"
    " p.latest_function, 'functional_instrument', p.instrument)"
    " FROM {v}.referral_progress p WHERE p.referral_id = r.referral_id) AS progress"
    # The outcome measure's schedule: visits at the last report, and whether a functional
    # score was taken since it (or since the assessment), as `deadlines` decides from them.
    ", (SELECT coalesce(max(pr.visits_to_date), 0) FROM {v}.progress_reports pr"
    " WHERE pr.referral_id = r.referral_id) AS visits_at_last_report"
    ", EXISTS (SELECT 1 FROM {v}.timeline t WHERE t.patient_id = r.patient_id"
    " AND t.referral_id = r.referral_id"
    f" AND t.kind = '{Referral.SessionCompleted.KIND}'"
    " AND t.data ->> 'functional_score' IS NOT NULL"
    " AND t.position > (SELECT coalesce(max(pr.position), 0) FROM {v}.progress_reports pr"
    " WHERE pr.referral_id = r.referral_id)) AS measured_since_report"
    # The records the baseline and latest values come from, when amended: their original
    # data and each amendment, for the corrections beside the values.
    ", (SELECT json_agg(json_build_object('role', x.role, 'kind', o.kind, 'data', o.data,"
    " 'amendments', (SELECT json_agg(json_build_object('changes', a.data -> 'changes',"
    " 'reason', a.data ->> 'reason', 'at', a.recorded_at) ORDER BY a.position)"
    " FROM {v}.timeline a WHERE a.patient_id = r.patient_id"
    " AND a.referral_id = r.referral_id AND a.amends_record_id = o.record_id"
    f" AND a.kind = '{Referral.Amended.KIND}')))"
    " FROM {v}.referral_progress p CROSS JOIN LATERAL (VALUES ('baseline', p.baseline_record),"
    " ('latest_pain', p.latest_pain_record), ('latest_function', p.latest_function_record))"
    " x(role, record) JOIN {v}.timeline o ON o.patient_id = r.patient_id"
    " AND o.referral_id = r.referral_id AND o.record_id = x.record"
    f" AND o.kind IN ('{Referral.AssessmentRecorded.KIND}', '{Referral.SessionCompleted.KIND}')"
    " WHERE p.referral_id = r.referral_id AND EXISTS (SELECT 1 FROM {v}.timeline a"
    " WHERE a.patient_id = r.patient_id AND a.referral_id = r.referral_id"
    f" AND a.amends_record_id = o.record_id AND a.kind = '{Referral.Amended.KIND}'))"
    " AS amended_values"
)

#: Which field of which record each value of an entry comes from, by the value's role.
VALUE_FIELDS = {
    ("baseline", Referral.AssessmentRecorded.KIND): {"pain_nprs": "baselinePain",
                                                     "functional_score": "baselineFunction"},
    ("latest_pain", Referral.AssessmentRecorded.KIND): {"pain_nprs": "latestPain"},
    ("latest_pain", Referral.SessionCompleted.KIND): {"pain_after": "latestPain"},
    ("latest_function", Referral.AssessmentRecorded.KIND): {
        "functional_score": "latestFunction"},
    ("latest_function", Referral.SessionCompleted.KIND): {
        "functional_score": "latestFunction"},
}
_KIND = {Referral.AssessmentRecorded.KIND: AmendableRecord.ASSESSMENT,
         Referral.SessionCompleted.KIND: AmendableRecord.SESSION}

#: What an entry shows of the episode's progress when nothing is measured yet.
NOT_MEASURED = dict.fromkeys(("baseline_pain", "latest_pain", "baseline_function",
                              "latest_function", "functional_instrument"))


#: One row per referral, with the clinic's name, the patient's registration (name and
#: birth date) and the first treatment's valid time: one statement for the whole list.
PATIENTS_QUERY = (
    "SELECT r.patient_id, r.referral_id, r.clinic_id, c.name AS clinic_name, r.discipline,"
    " r.status, r.plan_status, r.certified_until, r.made_at, r.first_treatment_on,"
    " reg.data->>'given_name' AS given_name, reg.data->>'family_name' AS family_name,"
    " reg.data->>'birth_date' AS birth_date,"
    " (SELECT min(t.occurred_at) FROM {v}.timeline t WHERE t.patient_id = r.patient_id"
    " AND t.referral_id = r.referral_id AND t.kind = %s)"
    " AS first_treatment, " + AUTHORIZATION_COLUMNS +
    " FROM {v}.referrals r LEFT JOIN {v}.clinics c ON c.clinic_id = r.clinic_id"
    " LEFT JOIN LATERAL (SELECT t.data FROM {v}.timeline t WHERE t.patient_id = r.patient_id"
    " AND t.kind = %s ORDER BY t.position LIMIT 1) reg ON true"
    " WHERE r.physician_id = %s"
)


@dataclass(frozen=True)
class Window:
    """Which rows of a list one page holds: after a cursor, at most `first`.

    `condition` is SQL over the list's rows (named `q`); its first parameter says
    whether there is a cursor at all.
    """

    condition: str
    params: tuple[object, ...]
    first: int


def today() -> date:
    """The day the physician's lists are read for (UTC, as every rule's caller here)."""
    return datetime.now(UTC).date()


def newest_first(info: Info, asked: str, query: str, *params: object,
                  at: str, key: str, key_type: tuple[str, Callable[[str], Any]], first: int,
                  after: str | None) -> tuple[list[dict[str, Any]], bool, str | None]:
    """One page of a list that grows with the years, newest first by the column `at`,
    ties broken by the unique column `key` (of SQL type and parser `key_type`): its rows,
    whether more follow, and the cursor of its last row."""
    check_first(first, MAX_LIST_PAGE)
    start = decode_cursor(after, key_type[1])
    newest = f"coalesce(q.{at}, '-infinity')"
    rows, more = visible(info, asked, query, *params,
                          order=f"{newest} DESC, q.{key} DESC", window=Window(
                              f"(NOT %s OR ({newest}, q.{key}) < (coalesce(%s::timestamptz,"
                              f" '-infinity'), %s::{key_type[0]}))",
                              (start is not None, *(start or (None, None))), first))
    last = rows[-1] if rows else None
    return rows, more, encode_cursor(last[at], last[key]) if last else None


def referral_entries(info: Info, asked: str, where: str, *params: object
               ) -> list[CaseloadEntry]:
    rows, _ = visible(info, asked, f"SELECT {REFERRAL_COLUMNS}, r.made_at"
                       f" FROM {{v}}.referrals r WHERE {where}", *params,
                       order=NEWEST_REFERRALS_FIRST)
    return [caseload_entry(row) for row in rows]


def caseload_entry(row: dict[str, Any]) -> CaseloadEntry:
    fields = authorization_fields(row, today()) | (row.pop("progress", None) or NOT_MEASURED)
    due = outcome_measure_due(visits_completed=row["visits_used"],
                              visits_at_last_report=row.pop("visits_at_last_report"),
                              measured_since_report=row.pop("measured_since_report"))
    fields["outcome_measure_due"] = due and row["status"] == "accepted"
    fields["corrections"] = [
        c for item in row.pop("amended_values") or []
        for c in corrections(_KIND[item["kind"]], item["data"], item["amendments"],
                             VALUE_FIELDS.get((item["role"], item["kind"]), {}))]
    return CaseloadEntry(**{k: v for k, v in row.items() if k != "made_at"},  # for order
                         **fields)


def patients_of(rows: list[dict[str, Any]], on: date) -> list[PhysicianPatient]:
    """Group the referral rows by patient; each patient's referrals newest first."""
    oldest = datetime.min.replace(tzinfo=UTC)
    rows = sorted(rows, key=lambda r: r["made_at"] or oldest, reverse=True)
    patients: dict[UUID, PhysicianPatient] = {}
    for row in rows:
        referral = PatientReferral(
            referral_id=row["referral_id"], clinic_id=row["clinic_id"],
            clinic_name=row["clinic_name"], discipline=row["discipline"],
            status=care_status(row["status"], row["plan_status"], row["certified_until"],
                               row["first_treatment_on"], on),
            plan_status=row["plan_status"], certified_until=row["certified_until"],
            made_at=row["made_at"], first_treatment=row["first_treatment"],
            **authorization_fields(row, on))
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


def visible(info: Info, asked: str, query: str, *params: object,
             order: str, window: Window | None = None
             ) -> tuple[list[dict[str, Any]], bool]:
    """Rows naming patients the caller may read (for a clinic's therapists and
    administrators, while the patient's consent lets the clinic: the rows need their
    `clinic_id`), in `order` (SQL over the rows, named `q`); each patient they name
    logged before they are returned.

    With a window, only that page's rows, and whether more follow: the row read to tell
    is neither returned nor logged.
    """
    principal = principal_of(info)
    basis = list_basis(principal).value
    # The by-id rule (domain/consent.py): a physician's lists are the episodes they
    # ordered; a clinic's hold a patient while their consent lets the clinic read.
    conditions: list[str] = []
    consent: tuple[object, ...] = ()
    if principal.role in (Role.THERAPIST, Role.CLINIC_ADMIN):
        conditions, consent = [CLINIC_MAY_READ_SQL], clinic_may_read_params()
    selected: tuple[object, ...] = (*params, *consent)
    limit = ""
    if window is not None:
        conditions.append(window.condition)
        selected = (*selected, *window.params, window.first + 1)
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
