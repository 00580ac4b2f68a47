"""Billing lines: each completed session's CPT codes, minutes and units, certified or not.

Every code a session's techniques bill under has its line, with the minutes given; a
line the 8-minute rule gives no units (10 + 10 minutes of two codes bill one unit, under
one of them) keeps its minutes and is not billable. A line is billed under a plan the
physician certified for the day of the visit; the projection keeps the certification
periods it has seen so it can say so per line, and a certification signed after the
visit marks the lines of its period certified.
"""

from __future__ import annotations

from careledger.domain.clinical import AmendableRecord
from careledger.domain.corrections import session_billing, valid_changes
from careledger.domain.fees import UNTIMED
from careledger.domain.referral import Referral
from careledger.projections.envelope import Envelope
from careledger.projections.memory import typed
from careledger.projections.model import (
    Change,
    Column,
    Delete,
    Insert,
    Projection,
    Read,
    Row,
    Table,
    Update,
    Upsert,
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

#: Each completed session, as its lines share it: what a corrected session is billed as.
BILLED_SESSIONS = Table("billed_sessions", (
    Column("referral_id", "uuid", "NOT NULL"),
    Column("session_id", "text", "NOT NULL"),
    Column("patient_id", "uuid", "NOT NULL"),
    Column("clinic_id", "uuid"),
    Column("practitioner_id", "uuid", "NOT NULL"),
    Column("service_date", "date", "NOT NULL"),
    Column("position", "bigint", "NOT NULL"),
), key=("referral_id", "session_id"))

billing = Projection("billing", [CERTIFICATIONS, BILLING_LINES, BILLED_SESSIONS],
                     ignores=ignored("billing"))

#: The episode's certification periods, and its billed lines.
PERIODS = Read(CERTIFICATIONS, "referral_id")
LINES = Read(BILLING_LINES, "referral_id")
SESSIONS = Read(BILLED_SESSIONS, "referral_id")


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
    lines: list[Change] = [Insert(BILLING_LINES, {
        "referral_id": e.aggregate_id, "session_id": d["session_id"], "cpt_code": line["cpt"],
        "patient_id": e.patient_id, "clinic_id": e.clinic_ids[-1] if e.clinic_ids else None,
        "practitioner_id": d["practitioner_id"], "minutes": line["minutes"],
        "units": line["units"], "service_date": service_date, "certified": certified,
        "position": e.position,
    }) for line in d.get("billing_lines") or []]
    return [*lines, Insert(BILLED_SESSIONS, {
        "referral_id": e.aggregate_id, "session_id": d["session_id"],
        "patient_id": e.patient_id, "clinic_id": e.clinic_ids[-1] if e.clinic_ids else None,
        "practitioner_id": d["practitioner_id"], "service_date": service_date,
        "position": e.position})]


@billing.handles(Referral.Amended, reads=[PERIODS, LINES, SESSIONS])
def amended(e: Envelope, periods: list[Row], lines: list[Row],
            sessions: list[Row]) -> list[Change]:
    """A session's techniques corrected: its lines as the corrected minutes bill them."""
    d = e.data
    if d["record_kind"] != AmendableRecord.SESSION:
        return []
    changes = valid_changes(d["record_kind"], d["changes"], {"techniques"})
    session = next((s for s in sessions if s["session_id"] == d["record_id"]), None)
    if "techniques" not in changes or session is None:
        return []
    mine = [line for line in lines if line["session_id"] == d["record_id"]]
    billing = session_billing(changes["techniques"],
                              [line["cpt_code"] for line in mine if line["cpt_code"] in UNTIMED])
    new = {line["cpt"]: line for line in billing["billing_lines"]}
    certified = any(p["certified_from"] <= session["service_date"] <= p["certified_until"]
                    for p in periods)
    out: list[Change] = [
        Delete(BILLING_LINES, {k: line[k] for k in BILLING_LINES.key}) for line in mine
        if line["cpt_code"] not in new]
    out += [Upsert(BILLING_LINES, {
        "referral_id": e.aggregate_id, "session_id": d["record_id"], "cpt_code": code,
        "patient_id": session["patient_id"], "clinic_id": session["clinic_id"],
        "practitioner_id": session["practitioner_id"], "minutes": line["minutes"],
        "units": line["units"], "service_date": session["service_date"],
        "certified": certified, "position": e.position,
    }, update=("minutes", "units", "position")) for code, line in new.items()]
    return out
