"""The provider directory: clinics and practitioners, for matching a patient to care.

Matching (discipline, conditions of experience, a valid license, distance, home
visits) is a query over these rows; the rows only hold what the network registered.
"""

from __future__ import annotations

from psycopg.types.json import Jsonb

from careledger.projections import Projection, Writes, handles
from careledger.projections.envelope import Envelope


class Directory(Projection):
    name = "directory"
    tables = ("clinics", "practitioners")
    DDL = """
    CREATE TABLE IF NOT EXISTS {v}.clinics (
      clinic_id uuid PRIMARY KEY,
      name text NOT NULL,
      disciplines text[] NOT NULL,
      address text NOT NULL,
      latitude double precision NOT NULL,
      longitude double precision NOT NULL,
      home_visit_radius_km double precision NOT NULL,
      position bigint NOT NULL
    );
    CREATE TABLE IF NOT EXISTS {v}.practitioners (
      practitioner_id uuid PRIMARY KEY,
      name text NOT NULL,
      profession text NOT NULL,
      credentials jsonb NOT NULL DEFAULT '[]',
      license_valid_until date,
      conditions text[] NOT NULL DEFAULT '{}',
      clinic_ids uuid[] NOT NULL DEFAULT '{}',
      home_visit_radius_km double precision,
      position bigint NOT NULL
    );
    CREATE INDEX IF NOT EXISTS practitioners_profession ON {v}.practitioners (profession);
    """

    @handles("Clinic.Registered")
    def clinic(self, e: Envelope, out: Writes) -> None:
        d = e.data
        out.execute(self.sql(
            "INSERT INTO {v}.clinics (clinic_id, name, disciplines, address, latitude, longitude,"
            " home_visit_radius_km, position) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING"
        ), (e.aggregate_id, d["name"], d["disciplines"], d["address"], d["latitude"],
            d["longitude"], d["home_visit_radius_km"], e.position))

    @handles("Practitioner.Registered")
    def registered(self, e: Envelope, out: Writes) -> None:
        out.execute(self.sql(
            "INSERT INTO {v}.practitioners (practitioner_id, name, profession, position)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING"
        ), (e.aggregate_id, e.data["name"], e.data["profession"], e.position))

    def _update(self, e: Envelope, out: Writes, assignments: str, *params: object) -> None:
        out.execute(self.sql(
            f"UPDATE {{v}}.practitioners SET {assignments}, position = %s"
            " WHERE practitioner_id = %s AND position < %s"
        ), (*params, e.position, e.aggregate_id, e.position))

    @handles("Practitioner.CredentialAdded")
    def credential(self, e: Envelope, out: Writes) -> None:
        d = e.data
        license_until = d["expires_on"] if d["kind"] == "state_license" else None
        self._update(
            e, out,
            "credentials = credentials || %s, license_valid_until ="
            " CASE WHEN %s::date IS NULL THEN license_valid_until"
            " ELSE greatest(license_valid_until, %s::date) END",
            Jsonb([d]), license_until, license_until,
        )

    @handles("Practitioner.Affiliated")
    def affiliated(self, e: Envelope, out: Writes) -> None:
        self._update(e, out, "clinic_ids = array_append(array_remove(clinic_ids, %s), %s)",
                     e.data["clinic_id"], e.data["clinic_id"])

    @handles("Practitioner.AffiliationEnded")
    def affiliation_ended(self, e: Envelope, out: Writes) -> None:
        self._update(e, out, "clinic_ids = array_remove(clinic_ids, %s)", e.data["clinic_id"])

    @handles("Practitioner.ExperienceRecorded")
    def experience(self, e: Envelope, out: Writes) -> None:
        self._update(e, out, "conditions = %s", e.data["conditions"])

    @handles("Practitioner.HomeVisitsOffered")
    def home_visits(self, e: Envelope, out: Writes) -> None:
        self._update(e, out, "home_visit_radius_km = %s", e.data["radius_km"])
