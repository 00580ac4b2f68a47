"""Who may see which patient, since when, and on what basis; and the patient's consent.

Authorization reads these tables, never the event store: the referring physician and
every clinic a referral for the patient was sent to are on the care team. A clinic the
referral was redirected away from keeps the history it saw, with the day it ended.
"""

from __future__ import annotations

from careledger.projections import Projection, Writes, handles
from careledger.projections.envelope import Envelope


class CareTeam(Projection):
    name = "care_team"
    tables = ("care_team", "consent")
    DDL = """
    CREATE TABLE IF NOT EXISTS {v}.care_team (
      patient_id uuid NOT NULL,
      member_id uuid NOT NULL,
      member_kind text NOT NULL CHECK (member_kind IN ('physician', 'clinic')),
      referral_id uuid NOT NULL,
      basis text NOT NULL,
      since timestamptz NOT NULL,
      until timestamptz,
      position bigint NOT NULL,
      PRIMARY KEY (member_id, patient_id, referral_id)
    );
    CREATE INDEX IF NOT EXISTS care_team_patient ON {v}.care_team (patient_id);
    CREATE TABLE IF NOT EXISTS {v}.consent (
      patient_id uuid PRIMARY KEY,
      granted boolean NOT NULL,
      changed_at timestamptz,
      position bigint NOT NULL
    );
    """

    JOIN = """
    INSERT INTO {v}.care_team (patient_id, member_id, member_kind, referral_id, basis, since,
      position)
    VALUES (%s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (member_id, patient_id, referral_id) DO UPDATE SET until = NULL,
      basis = EXCLUDED.basis, position = EXCLUDED.position
    WHERE {v}.care_team.position < EXCLUDED.position
    """

    @handles("Referral.Made")
    def referral_made(self, e: Envelope, out: Writes) -> None:
        assert e.patient_id is not None
        for member, kind, basis in (
            (e.data["physician_id"], "physician", "referring physician"),
            (e.data["clinic_id"], "clinic", "referred clinic"),
        ):
            out.execute(self.sql(self.JOIN), (
                e.patient_id, member, kind, e.aggregate_id, basis, e.occurred_at, e.position,
            ))

    @handles("Referral.Redirected")
    def referral_redirected(self, e: Envelope, out: Writes) -> None:
        assert e.patient_id is not None
        out.execute(self.sql(
            "UPDATE {v}.care_team SET until = %s, position = %s WHERE referral_id = %s"
            " AND member_kind = 'clinic' AND until IS NULL AND member_id <> %s"
            " AND position < %s"
        ), (e.occurred_at, e.position, e.aggregate_id, e.data["clinic_id"], e.position))
        out.execute(self.sql(self.JOIN), (
            e.patient_id, e.data["clinic_id"], "clinic", e.aggregate_id, "redirected referral",
            e.occurred_at, e.position,
        ))

    @handles("Patient.Registered")
    def registered(self, e: Envelope, out: Writes) -> None:
        self._consent(e, out, granted=False)

    @handles("Patient.ConsentGranted")
    def consent_granted(self, e: Envelope, out: Writes) -> None:
        self._consent(e, out, granted=True)

    @handles("Patient.ConsentRevoked")
    def consent_revoked(self, e: Envelope, out: Writes) -> None:
        self._consent(e, out, granted=False)

    def _consent(self, e: Envelope, out: Writes, *, granted: bool) -> None:
        out.execute(self.sql(
            "INSERT INTO {v}.consent (patient_id, granted, changed_at, position)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (patient_id) DO UPDATE SET"
            " granted = EXCLUDED.granted, changed_at = EXCLUDED.changed_at,"
            " position = EXCLUDED.position WHERE {v}.consent.position < EXCLUDED.position"
        ), (e.aggregate_id, granted, e.occurred_at, e.position))
