"""Each clinic's caseload: its referrals, their state, visits used, certification due.

One row per referral, and one per session (for schedules and "next session"). Every
change is guarded by the log position it comes from, so an event applied twice or an
older event arriving after a newer one never moves a row backwards.
"""

from __future__ import annotations

from careledger.projections import Projection, Writes, handles
from careledger.projections.envelope import Envelope


class Caseload(Projection):
    name = "caseload"
    tables = ("referrals", "sessions")
    DDL = """
    CREATE TABLE IF NOT EXISTS {v}.referrals (
      referral_id uuid PRIMARY KEY,
      patient_id uuid NOT NULL,
      physician_id uuid NOT NULL,
      clinic_id uuid NOT NULL,
      practitioner_id uuid,
      discipline text NOT NULL,
      urgency text NOT NULL,
      status text NOT NULL,
      visits_authorized integer NOT NULL,
      visits_used integer NOT NULL DEFAULT 0,
      plan_status text,
      certified_until date,
      made_at timestamptz,
      updated_at timestamptz,
      position bigint NOT NULL
    );
    CREATE INDEX IF NOT EXISTS referrals_clinic ON {v}.referrals (clinic_id, status);
    CREATE INDEX IF NOT EXISTS referrals_physician ON {v}.referrals (physician_id, status);
    CREATE INDEX IF NOT EXISTS referrals_practitioner ON {v}.referrals (practitioner_id);
    CREATE TABLE IF NOT EXISTS {v}.sessions (
      referral_id uuid NOT NULL,
      session_id text NOT NULL,
      patient_id uuid NOT NULL,
      practitioner_id uuid,
      scheduled_for timestamptz,
      location text,
      status text NOT NULL,
      units integer,
      position bigint NOT NULL,
      PRIMARY KEY (referral_id, session_id)
    );
    CREATE INDEX IF NOT EXISTS sessions_practitioner
      ON {v}.sessions (practitioner_id, scheduled_for);
    """

    def _update(self, e: Envelope, out: Writes, assignments: str, *params: object) -> None:
        out.execute(self.sql(
            f"UPDATE {{v}}.referrals SET {assignments}, updated_at = %s, position = %s"
            " WHERE referral_id = %s AND position < %s"
        ), (*params, e.occurred_at, e.position, e.aggregate_id, e.position))

    @handles("Referral.Made")
    def made(self, e: Envelope, out: Writes) -> None:
        d = e.data
        out.execute(self.sql(
            "INSERT INTO {v}.referrals (referral_id, patient_id, physician_id, clinic_id,"
            " discipline, urgency, status, visits_authorized, made_at, updated_at, position)"
            " VALUES (%s, %s, %s, %s, %s, %s, 'pending', %s, %s, %s, %s)"
            " ON CONFLICT (referral_id) DO NOTHING"
        ), (e.aggregate_id, d["patient_id"], d["physician_id"], d["clinic_id"], d["discipline"],
            d["urgency"], d["authorized_visits"], e.occurred_at, e.occurred_at, e.position))

    @handles("Referral.Accepted")
    def accepted(self, e: Envelope, out: Writes) -> None:
        self._update(e, out, "status = 'accepted', practitioner_id = %s",
                     e.data["practitioner_id"])

    @handles("Referral.Declined")
    def declined(self, e: Envelope, out: Writes) -> None:
        self._update(e, out, "status = 'declined'")

    @handles("Referral.Redirected")
    def redirected(self, e: Envelope, out: Writes) -> None:
        self._update(e, out, "status = 'pending', clinic_id = %s, practitioner_id = NULL",
                     e.data["clinic_id"])

    @handles("Referral.Cancelled")
    def cancelled(self, e: Envelope, out: Writes) -> None:
        self._update(e, out, "status = 'cancelled'")

    @handles("Referral.Discharged")
    def discharged(self, e: Envelope, out: Writes) -> None:
        self._update(e, out, "status = 'discharged'")

    @handles("Referral.PlanDrafted", "Referral.PlanRevised")
    def plan_written(self, e: Envelope, out: Writes) -> None:
        self._update(e, out, "plan_status = 'awaiting certification'")

    @handles("Referral.PlanCertified", "Referral.PlanRecertified")
    def plan_certified(self, e: Envelope, out: Writes) -> None:
        self._update(e, out, "plan_status = 'certified', certified_until = %s",
                     e.data["certified_until"])

    @handles("Referral.SessionScheduled")
    def session_scheduled(self, e: Envelope, out: Writes) -> None:
        d = e.data
        assert e.patient_id is not None
        out.execute(self.sql(
            "INSERT INTO {v}.sessions (referral_id, session_id, patient_id, practitioner_id,"
            " scheduled_for, location, status, position)"
            " VALUES (%s, %s, %s, %s, %s, %s, 'scheduled', %s)"
            " ON CONFLICT (referral_id, session_id) DO NOTHING"
        ), (e.aggregate_id, d["session_id"], e.patient_id, d["practitioner_id"],
            d["scheduled_for"], d["location"], e.position))

    @handles("Referral.SessionCompleted")
    def session_completed(self, e: Envelope, out: Writes) -> None:
        d = e.data
        # One statement (no round trip to ask whether the session row changed).
        out.execute(self.sql(
            "WITH done AS (UPDATE {v}.sessions SET status = 'completed', location = %s,"
            " units = %s, position = %s WHERE referral_id = %s AND session_id = %s"
            " AND position < %s RETURNING 1)"
            " UPDATE {v}.referrals SET visits_used = visits_used + (SELECT count(*) FROM done),"
            " updated_at = %s, position = %s WHERE referral_id = %s AND position < %s"
        ), (d["location"], d["total_units"], e.position, e.aggregate_id, d["session_id"],
            e.position, e.occurred_at, e.position, e.aggregate_id, e.position))

    @handles("Referral.SessionCancelled")
    def session_cancelled(self, e: Envelope, out: Writes) -> None:
        self._session(e, out, "status = 'cancelled'")

    @handles("Referral.PatientDidNotAttend")
    def no_show(self, e: Envelope, out: Writes) -> None:
        self._session(e, out, "status = 'no_show'")

    def _session(self, e: Envelope, out: Writes, assignments: str, *params: object) -> None:
        out.execute(self.sql(
            f"UPDATE {{v}}.sessions SET {assignments}, position = %s"
            " WHERE referral_id = %s AND session_id = %s AND position < %s"
        ), (*params, e.position, e.aggregate_id, e.data["session_id"], e.position))
