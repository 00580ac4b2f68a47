"""Auditors only: a record's raw events, a patient's accounting of disclosures, the
emergency reads to review. Anyone else is told there is nothing to see."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any
from uuid import UUID

import strawberry
from psycopg import sql
from psycopg.rows import dict_row

from careledger.access.log import ACCESS_LOG, Read
from careledger.access.policy import may_audit
from careledger.access.tokens import Principal
from careledger.audit.disclosures import disclosures
from careledger.domain.catalogue import record_of
from careledger.domain.patient import Patient as PatientRecord
from careledger.domain.referral import Referral
from careledger.graphql.audit.types import AccessEntry, AuditEvent, EmergencyAccess
from careledger.graphql.context import Info, PublicError, live_views, principal_of
from careledger.graphql.people import Person


@strawberry.type
class AuditQuery:
    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Auditors: the raw events of one record (a patient, a referral, a "
        "clinic, a practitioner), oldest first.")
    def audit_trail(self, info: Info, aggregate_id: UUID) -> list[AuditEvent]:
        principal = _auditor(info, "no record with that id")
        with info.context.pool.connection() as conn:
            rows = conn.cursor(row_factory=dict_row).execute(
                "SELECT notification_id AS position, originator_version AS version, topic,"
                " state, recorded_at, previous_hash, event_hash FROM careledger.careledger_events"
                " WHERE originator_id = %s ORDER BY originator_version", (aggregate_id,)
            ).fetchall()
            if not rows:
                raise PublicError("no record with that id", "NOT_FOUND")
            patient = _patient_of(info, conn, aggregate_id, rows[0]["topic"])
            ACCESS_LOG.append(conn, [Read(principal.subject, principal.role.value, patient,
                                          f"auditTrail:{aggregate_id}", True, "auditor",
                                          None)])
        return [_audit_event(row) for row in rows]

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Auditors: every read of a patient's data, allowed or denied (an "
        "accounting of disclosures), between two instants.")
    def access_report(self, info: Info, patient_id: UUID,
                      since: datetime | None = None,
                      until: datetime | None = None) -> list[AccessEntry]:
        principal = _auditor(info, "no patient with that id")
        with info.context.pool.connection() as conn:
            found = disclosures(conn, patient_id, since=since, until=until,
                                asked_by=principal.subject, asked_as=principal.role.value,
                                asked="accessReport")
        return [AccessEntry(**{**asdict(d), "by": Person.of(d.by)}) for d in found]


@strawberry.type
class ReviewQuery:
    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Auditors: every emergency (break-the-glass) read since an instant, "
        "for review.")
    def emergency_accesses(self, info: Info,
                           since: datetime | None = None) -> list[EmergencyAccess]:
        _auditor(info, "nothing to review")
        with info.context.pool.connection() as conn:
            rows = conn.execute(
                "SELECT at, principal, role, patient_id, reason FROM careledger.access_log"
                " WHERE basis = 'emergency' AND (%s::timestamptz IS NULL OR at >= %s)"
                " ORDER BY id", (since, since)).fetchall()
        return [EmergencyAccess(at=r[0], principal=r[1], role=r[2], patient_id=r[3],
                                reason=r[4]) for r in rows]


def _auditor(info: Info, missing: str) -> Principal:
    principal = principal_of(info)
    if not may_audit(principal):
        raise PublicError(missing, "NOT_FOUND")  # as if there were nothing to see
    return principal


def _patient_of(info: Info, conn: Any, aggregate_id: UUID,
                topic: str) -> UUID | None:
    record = record_of(topic)
    if record is PatientRecord:
        return aggregate_id
    if record is Referral:
        row = conn.execute(sql.SQL("SELECT patient_id FROM {v}.referrals WHERE referral_id = %s")
                           .format(v=sql.Identifier(live_views(info, conn))),
                           (aggregate_id,)).fetchone()
        return row[0] if row else None
    return None


def _audit_event(row: dict[str, Any]) -> AuditEvent:
    state = json.loads(bytes(row["state"]))
    occurred = state.get("occurred_at")
    if isinstance(occurred, dict):
        occurred = occurred.get("_data_")
    return AuditEvent(
        position=row["position"], version=row["version"], type=row["topic"],
        occurred_at=datetime.fromisoformat(occurred) if isinstance(occurred, str) else None,
        recorded_at=row["recorded_at"], actor=state.get("actor"),
        hash=bytes(row["event_hash"]).hex(), previous_hash=bytes(row["previous_hash"]).hex(),
        state=state,
    )
