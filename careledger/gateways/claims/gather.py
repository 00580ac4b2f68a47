"""The facts a clinic's claims are made of, for a period: the sessions from the views, the
rest from the record.

The views say which sessions fall in the period, their status, place and corrected
minutes per code, and whether a certification covers each day; the record (the
aggregates, current) says the episode's diagnoses, physician and authorizations, the
patient's coverage, the practitioners' licences and NPIs, and the clinic's billing
provider and fee schedules. `claiming.py` decides, from those facts, what is billed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from careledger.domain.application import CareLedger
from careledger.domain.authorization import Authorization, allocate
from careledger.domain.billing import minutes_as_recorded
from careledger.domain.claiming import Assessed, Service, assess_episode, rendering
from careledger.domain.episode import SessionStatus
from careledger.domain.fees import UNTIMED
from careledger.domain.network import Clinic, Practitioner
from careledger.domain.patient import Patient
from careledger.domain.referral import Referral

#: The longest period one export covers: a quarter and a bit, what a biller reconciles.
MAX_DAYS = 93


@dataclass(frozen=True)
class Episode:
    """One episode with sessions in the period, and what its claims carry."""

    referral: Referral
    patient: Patient
    assessed: list[Assessed]


@dataclass(frozen=True)
class Gathered:
    clinic: Clinic
    start: date
    end: date
    episodes: list[Episode]
    practitioners: dict[UUID, Practitioner]

    def only(self, referral_id: UUID, session_id: str) -> Gathered:
        """The one session's claim (or why it has none), as the period's export has it."""
        kept = [Episode(e.referral, e.patient,
                        [a for a in e.assessed if a.service.session_id == session_id])
                for e in self.episodes if e.referral.id == referral_id]
        return Gathered(self.clinic, self.start, self.end,
                        [e for e in kept if e.assessed], self.practitioners)

    @property
    def patients(self) -> list[UUID]:
        """Every patient the export names, once each (the access log lists them)."""
        return sorted({e.patient.id for e in self.episodes}, key=str)


_SESSIONS = (
    "SELECT s.referral_id, s.session_id, s.status, s.location, s.visit_on,"
    " s.practitioner_id FROM {v}.sessions s"
    " WHERE s.referral_id = ANY(%s) AND s.visit_on <= %s")
_IN_PERIOD = (
    "SELECT DISTINCT s.referral_id FROM {v}.sessions s"
    " JOIN {v}.referrals r USING (referral_id)"
    " WHERE r.clinic_id = %s AND s.visit_on BETWEEN %s AND %s")
_LINES = (
    "SELECT referral_id, session_id, cpt_code, minutes, units, certified"
    " FROM {v}.billing_lines WHERE referral_id = ANY(%s) AND service_date <= %s")


def gather(conn: psycopg.Connection[Any], app: CareLedger, views: str, clinic: Clinic,
           start: date, end: date, today: date | None = None) -> Gathered:
    """Every session of the clinic whose day falls in [start, end], assessed."""
    v = sql.Identifier(views)
    with conn.cursor(row_factory=dict_row) as cur:
        ids = [r["referral_id"] for r in cur.execute(
            sql.SQL(_IN_PERIOD).format(v=v), (clinic.id, start, end)).fetchall()]
        sessions = cur.execute(sql.SQL(_SESSIONS).format(v=v), (ids, end)).fetchall()
        lines = cur.execute(sql.SQL(_LINES).format(v=v), (ids, end)).fetchall()
    by_referral: dict[UUID, list[dict[str, Any]]] = defaultdict(list)
    for row in sessions:
        by_referral[row["referral_id"]].append(row)
    billed: dict[tuple[UUID, str], list[dict[str, Any]]] = defaultdict(list)
    for row in lines:
        billed[(row["referral_id"], row["session_id"])].append(row)
    referrals = {rid: app.load(Referral, rid) for rid in ids}
    practitioners = _practitioners(app, sessions, referrals.values())
    renderers = {pid: rendering(p.profession, p.credentials, p.npi)
                 for pid, p in practitioners.items()}
    patients: dict[UUID, Patient] = {}
    schedules = clinic.schedules()
    episodes = []
    for rid in sorted(ids, key=str):
        referral = referrals[rid]
        patient = patients.get(referral.patient_id) or app.load(Patient, referral.patient_id)
        patients[referral.patient_id] = patient
        services = [_service(row, referral, billed[(rid, row["session_id"])])
                    for row in by_referral[rid]]
        authorizations = [Authorization.of(a) for a in referral.authorizations]
        placed = allocate(authorizations, referral.visits_held()).placed
        assessed = assess_episode(
            services, authorizations=authorizations, placed=placed,
            practitioners=renderers, coverages=patient.coverage_held,
            schedules=schedules, billing_provider=clinic.billing is not None,
            today=today or datetime.now(UTC).date())
        episodes.append(Episode(referral, patient,
                                [a for a in assessed if start <= a.service.on <= end]))
    return Gathered(clinic, start, end, episodes, practitioners)


def _service(row: dict[str, Any], referral: Referral, lines: list[dict[str, Any]]) -> Service:
    """A session, with its timed minutes and untimed services from its billing lines."""
    status = SessionStatus(referral.sessions.get(row["session_id"], row["status"]))
    return Service(
        session_id=row["session_id"], on=row["visit_on"], status=status,
        location=row["location"], practitioner_id=row["practitioner_id"],
        minutes=minutes_as_recorded((ln["cpt_code"], ln["minutes"], ln["units"])
                                    for ln in lines if ln["cpt_code"] not in UNTIMED),
        services=tuple(sorted(ln["cpt_code"] for ln in lines if ln["cpt_code"] in UNTIMED)),
        certified=bool(lines) and all(ln["certified"] for ln in lines))


def _practitioners(app: CareLedger, sessions: list[dict[str, Any]],
                   referrals: Any) -> dict[UUID, Practitioner]:
    wanted = {row["practitioner_id"] for row in sessions if row["practitioner_id"]}
    wanted |= {r.physician_id for r in referrals}
    return {pid: app.load(Practitioner, pid) for pid in sorted(wanted, key=str)}

