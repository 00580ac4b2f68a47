"""Who may see which patient, since when, and on what basis; and the patient's consent.

Authorization reads these tables, never the event store: the referring physician and
every clinic a referral for the patient was sent to are on the care team. A clinic the
referral was redirected away from keeps the history it saw, with the day it ended.
"""

from __future__ import annotations

from uuid import UUID

from careledger.domain.patient import Patient
from careledger.domain.referral import Referral
from careledger.projections.envelope import Envelope
from careledger.projections.model import (
    Change,
    Column,
    Projection,
    Read,
    Row,
    Table,
    Update,
    Upsert,
)
from careledger.projections.placement import ignored

CARE_TEAM = Table("care_team", (
    Column("patient_id", "uuid", "NOT NULL"),
    Column("member_id", "uuid", "NOT NULL"),
    Column("member_kind", "text", "NOT NULL CHECK (member_kind IN ('physician', 'clinic'))"),
    Column("referral_id", "uuid", "NOT NULL"),
    Column("basis", "text", "NOT NULL"),
    Column("since", "timestamptz", "NOT NULL"),
    Column("until", "timestamptz"),
    Column("position", "bigint", "NOT NULL"),
), key=("member_id", "patient_id", "referral_id"), indexes=(
    "CREATE INDEX IF NOT EXISTS care_team_patient ON {v}.care_team (patient_id)",
))

CONSENT = Table("consent", (
    Column("patient_id", "uuid", "NOT NULL"),
    Column("granted", "boolean", "NOT NULL"),
    Column("changed_at", "timestamptz"),
    Column("position", "bigint", "NOT NULL"),
), key=("patient_id",))

care_team = Projection("care_team", [CARE_TEAM, CONSENT], ignores=ignored("care_team"))

#: Everyone a referral put on its patient's care team.
MEMBERS = Read(CARE_TEAM, "referral_id")


def _join(e: Envelope, member: object, kind: str, basis: str) -> Upsert:
    """On the team from the event's moment; joining again (a clinic the referral comes
    back to) reopens the membership."""
    return Upsert(CARE_TEAM, {
        "patient_id": e.patient_id, "member_id": member, "member_kind": kind,
        "referral_id": e.aggregate_id, "basis": basis, "since": e.occurred_at,
        "until": None, "position": e.position,
    }, update=("until", "basis", "position"))


@care_team.handles(Referral.Made)
def referral_made(e: Envelope) -> list[Change]:
    return [_join(e, e.data["physician_id"], "physician", "referring physician"),
            _join(e, e.data["clinic_id"], "clinic", "referred clinic")]


@care_team.handles(Referral.Redirected, reads=[MEMBERS])
def referral_redirected(e: Envelope, members: list[Row]) -> list[Change]:
    """The clinics the referral leaves keep what they saw, until today; the new one joins."""
    new_clinic = UUID(e.data["clinic_id"])
    left: list[Change] = [
        Update(CARE_TEAM, {k: m[k] for k in CARE_TEAM.key}, {"until": e.occurred_at},
               e.position)
        for m in members
        if m["member_kind"] == "clinic" and m["until"] is None
        and m["member_id"] != new_clinic]
    return [*left, _join(e, e.data["clinic_id"], "clinic", "redirected referral")]


def _consent(e: Envelope, *, granted: bool) -> list[Change]:
    return [Upsert(CONSENT, {"patient_id": e.aggregate_id, "granted": granted,
                             "changed_at": e.occurred_at, "position": e.position},
                   update=("granted", "changed_at", "position"))]


@care_team.handles(Patient.Registered, Patient.ConsentRevoked)
def consent_withheld(e: Envelope) -> list[Change]:
    return _consent(e, granted=False)


@care_team.handles(Patient.ConsentGranted)
def consent_granted(e: Envelope) -> list[Change]:
    return _consent(e, granted=True)


@care_team.handles(Patient.ConsentDecided)
def consent_decided(e: Envelope) -> list[Change]:
    """The network-wide flag follows a decision for the network; access itself reads
    every decision from the rows written with it (infra/consent_schema.py), not here."""
    if e.data["clinic_id"] is not None:
        return []
    return _consent(e, granted=bool(e.data["permit"]))
