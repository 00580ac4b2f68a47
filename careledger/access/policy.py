"""Who may read which patient: the one place every resolver of patient data asks.

The answer comes from the care-team view and the token, never from arguments: a
physician who referred the patient; a clinic (its therapists and administrators) with a
current referral for the patient; an auditor, always (read-only). Revoked consent closes
the care team's access for new reads; the auditor's stays. A practitioner outside the
care team may "break the glass" with a stated reason, for four hours, flagged in the
log. Every decision, allowed or
denied, is appended to the access log before any data is returned, and a denial looks
exactly like a patient that does not exist.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from careledger.access.log import ACCESS_LOG, Read
from careledger.access.tokens import Principal, Role


class Basis(StrEnum):
    CARE_TEAM = "care_team"
    AUDITOR = "auditor"
    EMERGENCY = "emergency"


#: Who may break the glass: practitioners who treat, not administrators.
MAY_BREAK_GLASS = frozenset({Role.PHYSICIAN, Role.THERAPIST})
#: The shortest reason accepted for emergency access.
MIN_REASON = 10


class PatientNotFound(Exception):
    """No such patient, or none this caller may see: the two are never told apart."""


def _exists(conn: psycopg.Connection[Any], views: str, patient_id: UUID) -> bool:
    return conn.execute(sql.SQL("SELECT 1 FROM {v}.consent WHERE patient_id = %s").format(
        v=sql.Identifier(views)), (patient_id,)).fetchone() is not None


def basis_for(conn: psycopg.Connection[Any], views: str, principal: Principal,
              patient_id: UUID) -> Basis | None:
    if principal.role is Role.AUDITOR:
        return Basis.AUDITOR if _exists(conn, views, patient_id) else None
    if principal.role is Role.PHYSICIAN:
        members, kind = [principal.subject], "physician"
    elif principal.role in (Role.THERAPIST, Role.CLINIC_ADMIN):
        members, kind = list(principal.clinics), "clinic"
    else:
        return None
    row = conn.execute(sql.SQL(
        "SELECT 1 FROM {v}.care_team t JOIN {v}.consent c USING (patient_id)"
        " WHERE t.patient_id = %s AND t.member_kind = %s AND t.member_id = ANY(%s)"
        " AND t.until IS NULL AND c.granted LIMIT 1"
    ).format(v=sql.Identifier(views)), (patient_id, kind, members)).fetchone()
    return Basis.CARE_TEAM if row else None


def authorize(conn: psycopg.Connection[Any], views: str, principal: Principal,
              patient_id: UUID, asked: str, emergency_reason: str | None = None) -> Basis:
    """Decide, log the decision, and raise PatientNotFound when denied.

    Outside the care team, a practitioner who states an emergency reason is let in for
    a few hours (a grant the auditor sees); the reason is logged with every such read.
    """
    basis = basis_for(conn, views, principal, patient_id)
    reason = None
    if basis is None and principal.role in MAY_BREAK_GLASS and _exists(conn, views, patient_id):
        if emergency_reason is not None:
            reason = emergency_reason.strip()
            conn.execute("SELECT careledger.grant_emergency(%s, %s, %s)",
                         (principal.subject, patient_id, reason))
            basis = Basis.EMERGENCY
        else:
            row = conn.execute(
                "SELECT reason FROM careledger.emergency_grants WHERE principal = %s"
                " AND patient_id = %s AND expires_at > clock_timestamp()"
                " ORDER BY expires_at DESC LIMIT 1", (principal.subject, patient_id),
            ).fetchone()
            if row is not None:
                basis, reason = Basis.EMERGENCY, str(row[0])
    ACCESS_LOG.append(conn, [Read(principal.subject, principal.role.value, patient_id, asked,
                                  basis is not None, basis.value if basis else None,
                                  reason)])
    if basis is None:
        raise PatientNotFound
    return basis


# ---------------------------------------------------------------------------- lists

def may_read_clinic(principal: Principal, clinic_id: UUID) -> bool:
    """A clinic's caseload: its own therapists and administrators, and auditors."""
    return principal.role is Role.AUDITOR or (
        principal.role in (Role.THERAPIST, Role.CLINIC_ADMIN) and clinic_id in principal.clinics
    )


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
