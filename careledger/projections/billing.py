"""Billing lines: each completed session's CPT codes and units, certified or not.

A line is billable under a plan the physician certified for the day of the visit; the
projection keeps the certification periods it has seen so it can say so per line, and
a certification signed after the visit marks the lines of its period certified.
"""

from __future__ import annotations

from careledger.domain.referral import Referral
from careledger.projections.envelope import Envelope
from careledger.projections.memory import typed
from careledger.projections.model import (
    Change,
    Column,
    Insert,
    Projection,
    Read,
    Row,
    Table,
    Update,
)
from careledger.projections.placement import ignored

CERTIFICATIONS = Table("certifications", (
    Column("referral_id", "uuid", "NOT NULL"),
    Column("certified_from", "date", "NOT NULL"),
    Column("certified_until", "date", "NOT NULL"),
    Column("position", "bigint", "NOT NULL"),
), key=("referral_id", "certified_from", "certified_until"))

BILLING_LINES = Table("billing_lines", (
    Column("referral_id", "uuid", "NOT NULL"),
    Column("session_id", "text", "NOT NULL"),
    Column("cpt_code", "text", "NOT NULL"),
    Column("patient_id", "uuid", "NOT NULL"),
    Column("clinic_id", "uuid"),
    Column("practitioner_id", "uuid", "NOT NULL"),
    Column("minutes", "integer", "NOT NULL"),
    Column("units", "integer", "NOT NULL"),
    Column("service_date", "date", "NOT NULL"),
    Column("certified", "boolean", "NOT NULL"),
    Column("position", "bigint", "NOT NULL"),
), key=("referral_id", "session_id", "cpt_code"), indexes=(
    "CREATE INDEX IF NOT EXISTS billing_lines_clinic"
    " ON {v}.billing_lines (clinic_id, service_date)",
))

billing = Projection("billing", [CERTIFICATIONS, BILLING_LINES], ignores=ignored("billing"))

#: The episode's certification periods, and its billed lines.
PERIODS = Read(CERTIFICATIONS, "referral_id")
LINES = Read(BILLING_LINES, "referral_id")


@billing.handles(Referral.PlanCertified, Referral.PlanRecertified, reads=[LINES])
def certified(e: Envelope, lines: list[Row]) -> list[Change]:
    """A certification signed late covers the visits already given in its period."""
    since = typed(CERTIFICATIONS, "certified_from", e.data["certified_from"])
    until = typed(CERTIFICATIONS, "certified_until", e.data["certified_until"])
    covered: list[Change] = [
        Update(BILLING_LINES, {k: line[k] for k in BILLING_LINES.key}, {"certified": True},
               position=None)
        for line in lines if not line["certified"] and since <= line["service_date"] <= until]
    return [Insert(CERTIFICATIONS, {"referral_id": e.aggregate_id, "certified_from": since,
                                    "certified_until": until, "position": e.position}),
            *covered]


@billing.handles(Referral.SessionCompleted, reads=[PERIODS])
def billed(e: Envelope, periods: list[Row]) -> list[Change]:
    assert e.occurred_at is not None
    d = e.data
    service_date = e.occurred_at.date()
    certified = any(p["certified_from"] <= service_date <= p["certified_until"]
                    for p in periods)
    return [Insert(BILLING_LINES, {
        "referral_id": e.aggregate_id, "session_id": d["session_id"], "cpt_code": line["cpt"],
        "patient_id": e.patient_id, "clinic_id": e.clinic_ids[-1] if e.clinic_ids else None,
        "practitioner_id": d["practitioner_id"], "minutes": line["minutes"],
        "units": line["units"], "service_date": service_date, "certified": certified,
        "position": e.position,
    }) for line in d.get("billing_lines") or [] if line["units"]]
