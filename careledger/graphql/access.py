"""Who may read which patient: the one place every resolver of patient data asks.

The answer comes from the care-team view and the token, never from arguments: a
physician who referred the patient; a clinic (its therapists and administrators) with a
current referral for the patient; an auditor, always (read-only). Revoked consent closes
the care team's access for new reads; the auditor's stays. Every decision, allowed or
denied, is appended to the access log before any data is returned, and a denial looks
exactly like a patient that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from careledger.gateways.auth import Principal, Role


class Basis(StrEnum):
    CARE_TEAM = "care_team"
    AUDITOR = "auditor"


class PatientNotFound(Exception):
    """No such patient, or none this caller may see: the two are never told apart."""


@dataclass(frozen=True)
class Grant:
    patient_id: UUID
    basis: Basis


def basis_for(conn: psycopg.Connection[Any], views: str, principal: Principal,
              patient_id: UUID) -> Basis | None:
    if principal.role is Role.AUDITOR:
        exists = conn.execute(sql.SQL(
            "SELECT 1 FROM {v}.consent WHERE patient_id = %s"
        ).format(v=sql.Identifier(views)), (patient_id,)).fetchone()
        return Basis.AUDITOR if exists else None
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
              patient_id: UUID, asked: str) -> Grant:
    """Decide, log the decision, and raise PatientNotFound when denied."""
    basis = basis_for(conn, views, principal, patient_id)
    conn.execute(
        "SELECT careledger.log_access(%s, %s, %s, %s, %s, %s, %s)",
        (principal.subject, principal.role.value, patient_id, asked, basis is not None,
         basis.value if basis else None, None),
    )
    if basis is None:
        raise PatientNotFound
    return Grant(patient_id=patient_id, basis=basis)
