"""Billing a biller can read: each session's lines, an episode's totals, a clinic's period.

From the billing view (projections/billing.py), which follows amendments of a session's
techniques. Every code a session's techniques bill under has its line, with its minutes;
a line the 8-minute rule gives no units is shown, with `billable` false, and counts
toward no total of units. `certifiedUnits` are those under a plan the physician
certified for the day of the visit. Shared by the patient's record and the clinic's
lists (GraphQL features do not import each other).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any
from uuid import UUID

import strawberry


@strawberry.type
class BillingLine:
    cpt: str
    minutes: int
    units: int
    billable: bool = strawberry.field(description="Whether the line bills any units: a code "
                                      "the 8-minute rule gives none keeps its minutes here.")
    certified: bool = strawberry.field(description="Under a plan certified for the day.")


@strawberry.type
class SessionBilling:
    referral_id: UUID
    session_id: str
    service_date: date
    practitioner_id: UUID
    lines: list[BillingLine]
    minutes: int
    units: int


@strawberry.type
class CodeTotal:
    cpt: str
    units: int
    certified_units: int
    minutes: int
    sessions: int


@strawberry.type
class EpisodeBilling:
    referral_id: UUID
    sessions: int
    minutes: int
    units: int
    certified_units: int
    codes: list[CodeTotal]


@strawberry.type
class PatientBilling:
    sessions: list[SessionBilling] = strawberry.field(description="Oldest first.")
    episodes: list[EpisodeBilling]


@strawberry.type
class TherapistTotal:
    practitioner_id: UUID
    name: str | None
    sessions: int
    minutes: int
    units: int
    certified_units: int


@strawberry.type
class ClinicBilling:
    since: date
    until: date
    sessions: int
    minutes: int
    units: int
    certified_units: int
    codes: list[CodeTotal]
    therapists: list[TherapistTotal]


#: A patient's lines, in the order `patient_billing` groups them.
PATIENT_LINES = (
    "SELECT referral_id, session_id, cpt_code, minutes, units, certified, service_date,"
    " practitioner_id FROM {v}.billing_lines WHERE patient_id = %s"
    " ORDER BY service_date, referral_id, session_id, cpt_code")

#: A clinic's totals over a period, in one statement: overall, per code, per therapist.
CLINIC_TOTALS = (
    "SELECT GROUPING(l.cpt_code) = 0 AS by_code, GROUPING(l.practitioner_id) = 0"
    " AS by_therapist, l.cpt_code, l.practitioner_id, min(p.name) AS name,"
    " count(DISTINCT (l.referral_id, l.session_id)) AS sessions, sum(l.minutes) AS minutes,"
    " sum(l.units) AS units, sum(l.units) FILTER (WHERE l.certified) AS certified_units"
    " FROM {v}.billing_lines l LEFT JOIN {v}.practitioners p USING (practitioner_id)"
    " WHERE l.clinic_id = %s AND l.service_date BETWEEN %s AND %s"
    " GROUP BY GROUPING SETS ((), (l.cpt_code), (l.practitioner_id))"
    " ORDER BY l.cpt_code, min(p.name), l.practitioner_id")


def _line(row: dict[str, Any]) -> BillingLine:
    return BillingLine(cpt=row["cpt_code"], minutes=row["minutes"], units=row["units"],
                       billable=row["units"] > 0, certified=row["certified"])


def patient_billing(rows: list[dict[str, Any]]) -> PatientBilling:
    sessions: dict[tuple[UUID, str], SessionBilling] = {}
    for row in rows:
        key = (row["referral_id"], row["session_id"])
        if key not in sessions:
            sessions[key] = SessionBilling(
                referral_id=row["referral_id"], session_id=row["session_id"],
                service_date=row["service_date"], practitioner_id=row["practitioner_id"],
                lines=[], minutes=0, units=0)
        session = sessions[key]
        session.lines.append(_line(row))
        session.minutes += row["minutes"]
        session.units += row["units"]
    codes: dict[UUID, dict[str, CodeTotal]] = defaultdict(dict)
    for row in rows:
        total = codes[row["referral_id"]].setdefault(row["cpt_code"], CodeTotal(
            cpt=row["cpt_code"], units=0, certified_units=0, minutes=0, sessions=0))
        total.units += row["units"]
        total.certified_units += row["units"] if row["certified"] else 0
        total.minutes += row["minutes"]
        total.sessions += 1  # one line per session and code
    episodes = []
    for referral, by_code in codes.items():
        visits = [s for s in sessions.values() if s.referral_id == referral]
        episodes.append(EpisodeBilling(
            referral_id=referral, sessions=len(visits), minutes=sum(s.minutes for s in visits),
            units=sum(c.units for c in by_code.values()),
            certified_units=sum(c.certified_units for c in by_code.values()),
            codes=sorted(by_code.values(), key=lambda c: c.cpt)))
    return PatientBilling(sessions=list(sessions.values()), episodes=episodes)


def clinic_billing(since: date, until: date, rows: list[dict[str, Any]]) -> ClinicBilling:
    overall = next((r for r in rows if not r["by_code"] and not r["by_therapist"]), None)
    return ClinicBilling(
        since=since, until=until, sessions=overall["sessions"] if overall else 0,
        minutes=int(overall["minutes"] or 0) if overall else 0,
        units=int(overall["units"] or 0) if overall else 0,
        certified_units=int(overall["certified_units"] or 0) if overall else 0,
        codes=[CodeTotal(cpt=r["cpt_code"], units=int(r["units"] or 0),
                         certified_units=int(r["certified_units"] or 0),
                         minutes=int(r["minutes"] or 0), sessions=r["sessions"])
               for r in rows if r["by_code"]],
        therapists=[TherapistTotal(
            practitioner_id=r["practitioner_id"], name=r["name"], sessions=r["sessions"],
            minutes=int(r["minutes"] or 0), units=int(r["units"] or 0),
            certified_units=int(r["certified_units"] or 0))
            for r in rows if r["by_therapist"]])
