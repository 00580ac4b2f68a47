"""Each clinic's caseload: its referrals, their state, visits used, certification due.

One row per referral, one per authorization (the referral's own first), and one per
session (for schedules, "next session", and the day and units each visit holds, from
which authorization.py places visits under authorizations at read time). Every
change is guarded by the log position it comes from, so an event applied twice or an
older event arriving after a newer one never moves a row backwards.
"""

from __future__ import annotations

from typing import Any

from careledger.domain.authorization import REFERRAL_AUTHORIZATION, AuthorizationSource
from careledger.domain.billing import billed_units
from careledger.domain.clinical import AmendableRecord
from careledger.domain.corrections import session_billing, valid_changes
from careledger.domain.fees import UNTIMED
from careledger.domain.plan import PlanStatus
from careledger.domain.referral import Referral
from careledger.projections.envelope import Envelope
from careledger.projections.model import (
    Add,
    Change,
    Column,
    IfUnset,
    Insert,
    Projection,
    Read,
    Row,
    Table,
    Update,
)
from careledger.projections.placement import ignored

REFERRALS = Table("referrals", (
    Column("referral_id", "uuid", "NOT NULL"),
    Column("patient_id", "uuid", "NOT NULL"),
    Column("physician_id", "uuid", "NOT NULL"),
    Column("clinic_id", "uuid", "NOT NULL"),
    Column("practitioner_id", "uuid"),
    Column("discipline", "text", "NOT NULL"),
    Column("urgency", "text", "NOT NULL"),
    Column("status", "text", "NOT NULL"),
    Column("visits_authorized", "integer", "NOT NULL"),
    Column("visits_used", "integer", "NOT NULL DEFAULT 0", default=0),
    Column("plan_status", "text"),
    Column("certified_until", "date"),
    Column("made_at", "timestamptz"),
    #: The first treatment's day as its note states it (the certification rule's start).
    Column("first_treatment_on", "date"),
    Column("updated_at", "timestamptz"),
    Column("position", "bigint", "NOT NULL"),
), key=("referral_id",), indexes=(
    "CREATE INDEX IF NOT EXISTS referrals_clinic ON {v}.referrals (clinic_id, status)",
    "CREATE INDEX IF NOT EXISTS referrals_physician ON {v}.referrals (physician_id, status)",
    "CREATE INDEX IF NOT EXISTS referrals_practitioner ON {v}.referrals (practitioner_id)",
))

AUTHORIZATIONS = Table("authorizations", (
    Column("referral_id", "uuid", "NOT NULL"),
    Column("authorization_id", "text", "NOT NULL"),
    Column("source", "text", "NOT NULL"),
    Column("visits", "integer", "NOT NULL"),
    Column("starts_on", "date", "NOT NULL"),
    Column("ends_on", "date"),
    Column("payer", "text"),
    Column("number", "text"),
    Column("units", "jsonb"),
    Column("recorded_by", "text"),
    Column("authorized_at", "timestamptz"),
    Column("position", "bigint", "NOT NULL"),
), key=("referral_id", "authorization_id"))

SESSIONS = Table("sessions", (
    Column("referral_id", "uuid", "NOT NULL"),
    Column("session_id", "text", "NOT NULL"),
    Column("patient_id", "uuid", "NOT NULL"),
    Column("practitioner_id", "uuid"),
    Column("scheduled_for", "timestamptz"),
    Column("location", "text"),
    Column("status", "text", "NOT NULL"),
    Column("units", "integer"),
    #: The day the visit falls on, as its time was written: scheduled, then as done.
    Column("visit_on", "date"),
    #: Units by CPT code, once done (what an authorization may cap).
    Column("billed", "jsonb"),
    Column("position", "bigint", "NOT NULL"),
), key=("referral_id", "session_id"), indexes=(
    "CREATE INDEX IF NOT EXISTS sessions_practitioner"
    " ON {v}.sessions (practitioner_id, scheduled_for)",
))

caseload = Projection("caseload", [REFERRALS, AUTHORIZATIONS, SESSIONS],
                      ignores=ignored("caseload"))


def _referral(e: Envelope, **values: Any) -> Update:
    return Update(REFERRALS, {"referral_id": e.aggregate_id},
                  {**values, "updated_at": e.occurred_at}, e.position)


def _session(e: Envelope, **values: Any) -> Update:
    return Update(SESSIONS, {"referral_id": e.aggregate_id, "session_id": e.data["session_id"]},
                  values, e.position)


@caseload.handles(Referral.Made)
def made(e: Envelope) -> list[Change]:
    d = e.data
    assert e.occurred_at is not None
    return [Insert(REFERRALS, {
        "referral_id": e.aggregate_id, "patient_id": d["patient_id"],
        "physician_id": d["physician_id"], "clinic_id": d["clinic_id"],
        "discipline": d["discipline"], "urgency": d["urgency"], "status": "pending",
        "visits_authorized": d["authorized_visits"], "made_at": e.occurred_at,
        "updated_at": e.occurred_at, "position": e.position,
    }), Insert(AUTHORIZATIONS, {
        "referral_id": e.aggregate_id, "authorization_id": REFERRAL_AUTHORIZATION,
        "source": AuthorizationSource.REFERRAL.value, "visits": d["authorized_visits"],
        "starts_on": e.occurred_at.date(), "ends_on": None, "payer": None, "number": None,
        "units": {}, "recorded_by": e.actor, "authorized_at": e.occurred_at,
        "position": e.position,
    })]


@caseload.handles(Referral.VisitsAuthorized)
def visits_authorized(e: Envelope) -> list[Change]:
    d = e.data
    return [Insert(AUTHORIZATIONS, {
        "referral_id": e.aggregate_id, "authorization_id": d["authorization_id"],
        "source": d["source"], "visits": d["visits"], "starts_on": d["starts_on"],
        "ends_on": d["ends_on"], "payer": d["payer"], "number": d["number"],
        "units": d["units"], "recorded_by": e.actor, "authorized_at": e.occurred_at,
        "position": e.position,
    }), _referral(e, visits_authorized=Add(d["visits"]))]


@caseload.handles(Referral.Accepted)
def accepted(e: Envelope) -> list[Change]:
    return [_referral(e, status="accepted", practitioner_id=e.data["practitioner_id"])]


@caseload.handles(Referral.Declined)
def declined(e: Envelope) -> list[Change]:
    return [_referral(e, status="declined")]


@caseload.handles(Referral.Redirected)
def redirected(e: Envelope) -> list[Change]:
    return [_referral(e, status="pending", clinic_id=e.data["clinic_id"], practitioner_id=None)]


@caseload.handles(Referral.Cancelled)
def cancelled(e: Envelope) -> list[Change]:
    return [_referral(e, status="cancelled")]


@caseload.handles(Referral.Discharged)
def discharged(e: Envelope) -> list[Change]:
    return [_referral(e, status="discharged")]


@caseload.handles(Referral.PlanDrafted, Referral.PlanRevised)
def plan_written(e: Envelope) -> list[Change]:
    return [_referral(e, plan_status=PlanStatus.AWAITING_CERTIFICATION.value)]


@caseload.handles(Referral.PlanCertified, Referral.PlanRecertified)
def plan_certified(e: Envelope) -> list[Change]:
    return [_referral(e, plan_status=PlanStatus.CERTIFIED.value,
                      certified_until=e.data["certified_until"])]


@caseload.handles(Referral.SessionScheduled)
def session_scheduled(e: Envelope) -> list[Change]:
    d = e.data
    return [Insert(SESSIONS, {
        "referral_id": e.aggregate_id, "session_id": d["session_id"],
        "patient_id": e.patient_id, "practitioner_id": d["practitioner_id"],
        "scheduled_for": d["scheduled_for"], "location": d["location"],
        "status": "scheduled", "visit_on": str(d["scheduled_for"])[:10], "position": e.position,
    })]


@caseload.handles(Referral.SessionCompleted)
def session_completed(e: Envelope) -> list[Change]:
    d = e.data
    assert e.occurred_at is not None
    return [_session(e, status="completed", location=d["location"], units=d["total_units"],
                     visit_on=e.occurred_at.date(), billed=billed_units(d["billing_lines"])),
            _referral(e, visits_used=Add(1), first_treatment_on=IfUnset(e.occurred_at.date()))]


@caseload.handles(Referral.SessionCancelled)
def session_cancelled(e: Envelope) -> list[Change]:
    return [_session(e, status="cancelled")]


@caseload.handles(Referral.PatientDidNotAttend)
def no_show(e: Envelope) -> list[Change]:
    return [_session(e, status="no_show")]


#: The episode's sessions, for what an amendment leaves of one (its untimed services).
EPISODE_SESSIONS = Read(SESSIONS, "referral_id")


@caseload.handles(Referral.Amended, reads=[EPISODE_SESSIONS])
def amended(e: Envelope, sessions: list[Row]) -> list[Change]:
    """The fields the caseload holds of a corrected record, as they now stand."""
    d = e.data
    kind = AmendableRecord(d["record_kind"])
    changes = valid_changes(kind, d["changes"], {"location", "techniques", "urgency"})
    if kind == AmendableRecord.SESSION:
        values: dict[str, Any] = {}
        if "location" in changes:
            values["location"] = changes["location"]
        if "techniques" in changes:
            held = next((s["billed"] or {} for s in sessions
                         if s["session_id"] == d["record_id"]), {})
            billing = session_billing(changes["techniques"],
                                      [code for code in held if code in UNTIMED])
            values |= {"units": billing["total_units"],
                       "billed": billed_units(billing["billing_lines"])}
        if values:
            return [Update(SESSIONS, {"referral_id": e.aggregate_id,
                                      "session_id": d["record_id"]}, values, e.position)]
    if kind == AmendableRecord.REFERRAL and "urgency" in changes:
        return [_referral(e, urgency=changes["urgency"])]
    return []
