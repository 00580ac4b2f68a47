"""What a referring physician needs to act on: reports received and patients not improving.

Referrals and their certification dates live in the caseload's `referrals` table (by
physician); this view adds the progress reports sent back to the physician and, per
referral, the pain (NPRS) and functional score at assessment and at the latest visit,
so "not improving" is a comparison, not a replay.
"""

from __future__ import annotations

from careledger.projections import Projection, Writes, handles
from careledger.projections.envelope import Envelope


class Worklist(Projection):
    name = "worklist"
    tables = ("progress_reports", "referral_progress")
    DDL = """
    CREATE TABLE IF NOT EXISTS {v}.progress_reports (
      referral_id uuid NOT NULL,
      report_id text NOT NULL,
      patient_id uuid NOT NULL,
      physician_id uuid NOT NULL,
      practitioner_id uuid NOT NULL,
      visits_to_date integer NOT NULL,
      sent_at timestamptz,
      position bigint NOT NULL,
      PRIMARY KEY (referral_id, report_id)
    );
    CREATE INDEX IF NOT EXISTS progress_reports_physician
      ON {v}.progress_reports (physician_id, sent_at);
    CREATE TABLE IF NOT EXISTS {v}.referral_progress (
      referral_id uuid PRIMARY KEY,
      patient_id uuid NOT NULL,
      instrument text,
      baseline_pain integer,
      latest_pain integer,
      baseline_function double precision,
      latest_function double precision,
      visits_measured integer NOT NULL DEFAULT 0,
      position bigint NOT NULL
    );
    """

    @handles("Referral.ProgressReported")
    def reported(self, e: Envelope, out: Writes) -> None:
        d = e.data
        out.execute(self.sql(
            "INSERT INTO {v}.progress_reports (referral_id, report_id, patient_id, physician_id,"
            " practitioner_id, visits_to_date, sent_at, position)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
        ), (e.aggregate_id, d["report_id"], e.patient_id, d["physician_id"],
            d["practitioner_id"], d["visits_to_date"], e.occurred_at, e.position))

    @handles("Referral.AssessmentRecorded")
    def assessed(self, e: Envelope, out: Writes) -> None:
        d = e.data
        out.execute(self.sql(
            "INSERT INTO {v}.referral_progress (referral_id, patient_id, instrument, baseline_pain,"
            " latest_pain, baseline_function, latest_function, position)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (referral_id) DO UPDATE SET"
            " instrument = EXCLUDED.instrument, baseline_pain = EXCLUDED.baseline_pain,"
            " baseline_function = EXCLUDED.baseline_function, position = EXCLUDED.position"
            " WHERE {v}.referral_progress.position < EXCLUDED.position"
        ), (e.aggregate_id, e.patient_id, d["functional_instrument"], d["pain_nprs"],
            d["pain_nprs"], d["functional_score"], d["functional_score"], e.position))

    @handles("Referral.SessionCompleted")
    def measured(self, e: Envelope, out: Writes) -> None:
        d = e.data
        out.execute(self.sql(
            "UPDATE {v}.referral_progress SET latest_pain = %s,"
            " latest_function = coalesce(%s, latest_function),"
            " visits_measured = visits_measured + 1, position = %s"
            " WHERE referral_id = %s AND position < %s"
        ), (d["pain_after"], d.get("functional_score"), e.position, e.aggregate_id, e.position))
