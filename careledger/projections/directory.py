"""The provider directory: clinics and practitioners, for matching a patient to care.

Matching (discipline, conditions of experience, a valid license, distance, home
visits) is a query over these rows; the rows only hold what the network registered.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from careledger.domain.catalogue import events_of
from careledger.domain.clinical import CredentialKind
from careledger.domain.identity import SignIn, StaffMember
from careledger.domain.network import Clinic, Practitioner
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
from careledger.projections.placement import CARE_EVENTS

CLINICS = Table("clinics", (
    Column("clinic_id", "uuid", "NOT NULL"),
    Column("name", "text", "NOT NULL"),
    Column("disciplines", "text[]", "NOT NULL"),
    Column("address", "text", "NOT NULL"),
    Column("latitude", "double precision", "NOT NULL"),
    Column("longitude", "double precision", "NOT NULL"),
    Column("home_visit_radius_km", "double precision", "NOT NULL"),
    Column("position", "bigint", "NOT NULL"),
), key=("clinic_id",))

PRACTITIONERS = Table("practitioners", (
    Column("practitioner_id", "uuid", "NOT NULL"),
    Column("name", "text", "NOT NULL"),
    Column("profession", "text", "NOT NULL"),
    Column("credentials", "jsonb", "NOT NULL DEFAULT '[]'", default=[]),
    Column("license_valid_until", "date"),
    Column("conditions", "text[]", "NOT NULL DEFAULT '{}'", default=[]),
    Column("clinic_ids", "uuid[]", "NOT NULL DEFAULT '{}'", default=[]),
    Column("home_visit_radius_km", "double precision"),
    Column("position", "bigint", "NOT NULL"),
), key=("practitioner_id",), indexes=(
    "CREATE INDEX IF NOT EXISTS practitioners_profession ON {v}.practitioners (profession)",
))

#: Who each practitioner was from when: a row for each name and each set of clinics they
#: had, from the time it was recorded. Events name their actor by role and id, never by
#: name, so the timeline, the progress reports and the accounting of disclosures look a
#: person up here as of the event's or the read's time: a renamed practitioner, or one
#: who left a clinic, does not rewrite what was shown under the earlier name.
PRACTITIONER_NAMES = Table("practitioner_names", (
    Column("practitioner_id", "uuid", "NOT NULL"),
    Column("since", "timestamptz", "NOT NULL"),
    Column("name", "text", "NOT NULL"),
    Column("profession", "text", "NOT NULL"),
    Column("clinic_ids", "uuid[]", "NOT NULL DEFAULT '{}'", default=[]),
    Column("position", "bigint", "NOT NULL"),
), key=("practitioner_id", "position"))

#: Each practitioner's continuing-education courses: with the licences among their
#: credentials, what their renewal standing is worked out from (education.py).
COURSES = Table("courses", (
    Column("practitioner_id", "uuid", "NOT NULL"),
    Column("course_id", "text", "NOT NULL"),
    Column("title", "text", "NOT NULL"),
    Column("provider", "text", "NOT NULL"),
    Column("hours", "double precision", "NOT NULL"),
    Column("category", "text", "NOT NULL"),
    Column("completed_on", "date", "NOT NULL"),
    Column("position", "bigint", "NOT NULL"),
), key=("practitioner_id", "course_id"))

#: A clinic's billing on file is read from its own record by the claims it is on
#: (gateways/claims.py), never searched: the directory has no use for it.
directory = Projection("directory", [CLINICS, PRACTITIONERS, PRACTITIONER_NAMES, COURSES],
                       ignores=[*CARE_EVENTS, Clinic.BillingProviderRecorded,
                                Clinic.FeeScheduleSet, *events_of(StaffMember, SignIn)])

#: The practitioner's own row, for the changes that build on it.
PRACTITIONER = Read(PRACTITIONERS, "practitioner_id")


def _practitioner(e: Envelope, **values: Any) -> Update:
    return Update(PRACTITIONERS, {"practitioner_id": e.aggregate_id}, values, e.position)


def _as_of_now(e: Envelope, row: Row, **values: Any) -> Insert:
    """Who the practitioner is from this event on: their row with these changes."""
    return Insert(PRACTITIONER_NAMES, {
        "practitioner_id": e.aggregate_id, "since": e.recorded_at, "name": row["name"],
        "profession": row["profession"], "clinic_ids": row["clinic_ids"],
        "position": e.position, **values})


@directory.handles(Clinic.Registered)
def clinic(e: Envelope) -> list[Change]:
    d = e.data
    return [Insert(CLINICS, {
        "clinic_id": e.aggregate_id, "name": d["name"], "disciplines": d["disciplines"],
        "address": d["address"], "latitude": d["latitude"], "longitude": d["longitude"],
        "home_visit_radius_km": d["home_visit_radius_km"], "position": e.position,
    })]


@directory.handles(Practitioner.Registered)
def registered(e: Envelope) -> list[Change]:
    row = {"name": e.data["name"], "profession": e.data["profession"], "clinic_ids": []}
    return [Insert(PRACTITIONERS, {
        "practitioner_id": e.aggregate_id, "name": e.data["name"],
        "profession": e.data["profession"], "position": e.position,
    }), _as_of_now(e, row)]


@directory.handles(Practitioner.Renamed, reads=[PRACTITIONER])
def renamed(e: Envelope, found: list[Row]) -> list[Change]:
    if not found:
        return []
    return [_practitioner(e, name=e.data["name"]), _as_of_now(e, found[0], name=e.data["name"])]


@directory.handles(Practitioner.CredentialAdded, reads=[PRACTITIONER])
def credential(e: Envelope, found: list[Row]) -> list[Change]:
    """Every credential is listed; the license is valid until the latest expiry seen."""
    if not found:
        return []
    row, d = found[0], e.data
    values: dict[str, Any] = {"credentials": [*row["credentials"], d]}
    if d["kind"] == CredentialKind.STATE_LICENSE and d["expires_on"] is not None:
        expires = typed(PRACTITIONERS, "license_valid_until", d["expires_on"])
        current = row["license_valid_until"]
        values["license_valid_until"] = expires if current is None else max(current, expires)
    return [_practitioner(e, **values)]


@directory.handles(Practitioner.Affiliated, reads=[PRACTITIONER])
def affiliated(e: Envelope, found: list[Row]) -> list[Change]:
    if not found:
        return []
    clinic_id = UUID(e.data["clinic_id"])
    clinics = [*(c for c in found[0]["clinic_ids"] if c != clinic_id), clinic_id]
    return [_practitioner(e, clinic_ids=clinics), _as_of_now(e, found[0], clinic_ids=clinics)]


@directory.handles(Practitioner.AffiliationEnded, reads=[PRACTITIONER])
def affiliation_ended(e: Envelope, found: list[Row]) -> list[Change]:
    if not found:
        return []
    clinic_id = UUID(e.data["clinic_id"])
    clinics = [c for c in found[0]["clinic_ids"] if c != clinic_id]
    return [_practitioner(e, clinic_ids=clinics), _as_of_now(e, found[0], clinic_ids=clinics)]


@directory.handles(Practitioner.ExperienceRecorded, reads=[PRACTITIONER])
def experience(e: Envelope, found: list[Row]) -> list[Change]:
    """Experience adds to what was recorded before, as on the practitioner's record."""
    if not found:
        return []
    return [_practitioner(e, conditions=sorted({*found[0]["conditions"],
                                                *e.data["conditions"]}))]


@directory.handles(Practitioner.ContinuingEducationRecorded)
def course(e: Envelope) -> list[Change]:
    d = e.data
    return [Insert(COURSES, {
        "practitioner_id": e.aggregate_id, "course_id": d["course_id"], "title": d["title"],
        "provider": d["provider"], "hours": d["hours"], "category": d["category"],
        "completed_on": typed(COURSES, "completed_on", d["completed_on"]),
        "position": e.position})]


@directory.handles(Practitioner.HomeVisitsOffered)
def home_visits(e: Envelope) -> list[Change]:
    return [_practitioner(e, home_visit_radius_km=e.data["radius_km"])]
