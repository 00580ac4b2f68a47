"""Who may read which patient: the one place every resolver of patient data asks.

The answer comes from the care-team view, the patient's consent decisions and the
token, never from arguments: the physician who referred the patient, for the episodes
they ordered; a clinic (its therapists and administrators) with a current referral for
the patient, while the patient's consent lets it; an auditor, always (read-only). The
whole rule is `domain/consent.py`'s table. A practitioner outside the care team may
"break the glass" with a stated reason, for four hours, flagged in the log. Every
decision, allowed or denied, is appended to the access log before any data is
returned, and a denial looks exactly like a patient that does not exist.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from careledger.access.log import ACCESS_LOG, Read
from careledger.access.tokens import Principal, Role
from careledger.domain.consent import Purpose


class Basis(StrEnum):
    CARE_TEAM = "care_team"
    AUDITOR = "auditor"
    EMERGENCY = "emergency"
    #: A clinic's claims, read by its biller or administrator (payment, not treatment).
    BILLING = "billing"


#: Who may break the glass: practitioners who treat, not administrators.
MAY_BREAK_GLASS = frozenset({Role.PHYSICIAN, Role.THERAPIST})
#: The shortest reason accepted for emergency access.
MIN_REASON = 10


class PatientNotFound(Exception):
    """No such patient, or none this caller may see: the two are never told apart."""


def _exists(conn: psycopg.Connection[Any], views: str, patient_id: UUID) -> bool:
    return conn.execute(sql.SQL("SELECT 1 FROM {v}.consent WHERE patient_id = %s").format(
        v=sql.Identifier(views)), (patient_id,)).fetchone() is not None


class Denial(StrEnum):
    """Why a read was denied, as the access log keeps it (in `reason`) for the auditor:
    the caller is told only "not found", whatever the reason."""

    NO_SUCH_PATIENT = "no_such_patient"
    NOT_ON_CARE_TEAM = "not_on_care_team"
    CARE_ENDED = "care_ended"
    CONSENT_REVOKED = "consent_revoked"
    ROLE_READS_NO_RECORDS = "role_reads_no_records"
    NOT_THIS_CLINIC = "not_this_clinic"
    ROLE_BILLS_NOTHING = "role_bills_nothing"


#: How the accounting of disclosures says each reason.
DENIALS = {
    Denial.NO_SUCH_PATIENT: "no patient with that id",
    Denial.NOT_ON_CARE_TEAM: "not on the patient's care team",
    Denial.CARE_ENDED: "no longer on the patient's care team",
    Denial.CONSENT_REVOKED: "the patient's consent does not let this clinic read",
    Denial.ROLE_READS_NO_RECORDS: "this role reads no patient records",
    Denial.NOT_THIS_CLINIC: "does not bill for this clinic",
    Denial.ROLE_BILLS_NOTHING: "this role reads no claims",
}


def denied_because(allowed: bool, reason: str | None) -> str | None:
    """What a logged denial's reason means, in words (None for an allowed read, or a
    denial logged before reasons were)."""
    if allowed or reason is None:
        return None
    try:
        return DENIALS[Denial(reason)]
    except ValueError:
        return reason


def basis_for(conn: psycopg.Connection[Any], views: str, principal: Principal,
              patient_id: UUID, on: date | None = None) -> Basis | Denial:
    """Why the caller may read the patient's record, or why not: one statement.

    The rule is `domain/consent.py`'s table: the referring physician reads the episodes
    they ordered whatever the consent; a clinic with a current referral reads while the
    patient's consent decisions permit it (`careledger.consent_permits`, over the rows
    the decision's own transaction wrote: a revocation holds at once).
    """
    if principal.role is Role.AUDITOR:
        return Basis.AUDITOR if _exists(conn, views, patient_id) else Denial.NO_SUCH_PATIENT
    if principal.role is Role.PHYSICIAN:
        members, kind = [principal.subject], "physician"
    elif principal.role in (Role.THERAPIST, Role.CLINIC_ADMIN):
        members, kind = list(principal.clinics), "clinic"
    else:
        return Denial.ROLE_READS_NO_RECORDS
    row = conn.execute(sql.SQL(
        "SELECT coalesce(bool_or(t.member_id IS NOT NULL AND t.until IS NULL), false),"
        " count(t.member_id),"
        " coalesce(bool_or(t.member_id IS NOT NULL AND t.until IS NULL"
        "  AND careledger.consent_permits(c.patient_id, t.member_id, %s, %s)), false)"
        " FROM {v}.consent c LEFT JOIN {v}.care_team t ON t.patient_id = c.patient_id"
        " AND t.member_kind = %s AND t.member_id = ANY(%s)"
        " WHERE c.patient_id = %s GROUP BY c.patient_id"
    ).format(v=sql.Identifier(views)), (str(Purpose.TREATMENT), on or today(), kind, members,
                                        patient_id)).fetchone()
    if row is None:
        return Denial.NO_SUCH_PATIENT
    current, ever, permitted = row
    if kind == "physician":  # the treatment relationship: every episode they ordered
        return Basis.CARE_TEAM if ever else Denial.NOT_ON_CARE_TEAM
    if current:
        return Basis.CARE_TEAM if permitted else Denial.CONSENT_REVOKED
    return Denial.CARE_ENDED if ever else Denial.NOT_ON_CARE_TEAM


def referred_by(conn: psycopg.Connection[Any], views: str, physician: UUID,
                patient_id: UUID) -> bool:
    """Whether the physician ordered an episode for the patient (the treatment
    relationship that lets them record the patient's consent decisions)."""
    return conn.execute(sql.SQL(
        "SELECT 1 FROM {v}.care_team WHERE patient_id = %s AND member_kind = 'physician'"
        " AND member_id = %s LIMIT 1").format(v=sql.Identifier(views)),
        (patient_id, physician)).fetchone() is not None


def today() -> date:
    """The day consent is decided for: the network keeps UTC days."""
    return datetime.now(UTC).date()


#: A clinic's list shows a patient only while the patient's consent lets the clinic read
#: (`q` the list's rows, with their `patient_id` and `clinic_id`): the by-id rule's.
CLINIC_MAY_READ_SQL = "careledger.consent_permits(q.patient_id, q.clinic_id, %s, %s)"


def clinic_may_read_params() -> tuple[str, date]:
    return str(Purpose.TREATMENT), today()


def authorize(conn: psycopg.Connection[Any], views: str, principal: Principal,
              patient_id: UUID, asked: str, emergency_reason: str | None = None) -> Basis:
    """Decide, log the decision (a denial with its reason), and raise PatientNotFound
    when denied.

    Outside the care team, a practitioner who states an emergency reason is let in for
    a few hours (a grant the auditor sees); the reason is logged with every such read.
    """
    decided = basis_for(conn, views, principal, patient_id)
    reason: str | None = None
    if isinstance(decided, Denial) and decided is not Denial.NO_SUCH_PATIENT \
            and principal.role in MAY_BREAK_GLASS:
        if emergency_reason is not None:
            reason = emergency_reason.strip()
            conn.execute("SELECT careledger.grant_emergency(%s, %s, %s)",
                         (principal.subject, patient_id, reason))
            decided = Basis.EMERGENCY
        else:
            row = conn.execute(
                "SELECT reason FROM careledger.emergency_grants WHERE principal = %s"
                " AND patient_id = %s AND expires_at > clock_timestamp()"
                " ORDER BY expires_at DESC LIMIT 1", (principal.subject, patient_id),
            ).fetchone()
            if row is not None:
                decided, reason = Basis.EMERGENCY, str(row[0])
    basis = decided if isinstance(decided, Basis) else None
    ACCESS_LOG.append(conn, [Read(principal.subject, principal.role.value, patient_id, asked,
                                  basis is not None, basis.value if basis else None,
                                  reason if basis else str(decided))])
    if basis is None:
        raise PatientNotFound
    return basis


# ---------------------------------------------------------------------------- lists

def may_read_clinic(principal: Principal, clinic_id: UUID) -> bool:
    """A clinic's caseload: its own therapists and administrators, and auditors."""
    return principal.role is Role.AUDITOR or (
        principal.role in (Role.THERAPIST, Role.CLINIC_ADMIN) and clinic_id in principal.clinics
    )


def may_read_clinic_billing(principal: Principal, clinic_id: UUID) -> bool:
    """A clinic's billing totals (no patient named): those who read its caseload, and
    its billers."""
    return may_read_clinic(principal, clinic_id) or (
        principal.role is Role.BILLER and clinic_id in principal.clinics)


def may_read_own(principal: Principal, subject: UUID, role: Role) -> bool:
    """A physician's worklist or a therapist's day: themself, and auditors."""
    return principal.role is Role.AUDITOR or (
        principal.role is role and principal.subject == subject
    )


def may_audit(principal: Principal) -> bool:
    """Raw events, access reports, emergency reviews: auditors only."""
    return principal.role is Role.AUDITOR


def list_basis(principal: Principal) -> Basis:
    """Patients named in a list the caller may read: why the caller sees each of them."""
    return Basis.AUDITOR if principal.role is Role.AUDITOR else Basis.CARE_TEAM
