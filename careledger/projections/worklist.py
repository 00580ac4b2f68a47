"""What a referring physician needs to act on: reports received and patients not improving.

Referrals and their certification dates live in the caseload's `referrals` table (by
physician); this view adds the progress reports sent back to the physician and, per
referral, the pain (NPRS) and functional score at assessment and at the latest visit,
so "not improving" is a comparison, not a replay.
"""

from __future__ import annotations

from typing import Any

from careledger.domain.referral import Referral
from careledger.projections.envelope import Envelope
from careledger.projections.model import (
    Add,
    Change,
    Column,
    Insert,
    Projection,
    Table,
    Update,
    Upsert,
)
from careledger.projections.placement import ignored

PROGRESS_REPORTS = Table("progress_reports", (
    Column("referral_id", "uuid", "NOT NULL"),
    Column("report_id", "text", "NOT NULL"),
    Column("patient_id", "uuid", "NOT NULL"),
    Column("physician_id", "uuid", "NOT NULL"),
    Column("practitioner_id", "uuid", "NOT NULL"),
    Column("visits_to_date", "integer", "NOT NULL"),
    Column("sent_at", "timestamptz"),
    Column("position", "bigint", "NOT NULL"),
), key=("referral_id", "report_id"), indexes=(
    "CREATE INDEX IF NOT EXISTS progress_reports_physician"
    " ON {v}.progress_reports (physician_id, sent_at)",
))

REFERRAL_PROGRESS = Table("referral_progress", (
    Column("referral_id", "uuid", "NOT NULL"),
    Column("patient_id", "uuid", "NOT NULL"),
    Column("instrument", "text"),
    Column("baseline_pain", "integer"),
    Column("latest_pain", "integer"),
    Column("baseline_function", "double precision"),
    Column("latest_function", "double precision"),
    Column("visits_measured", "integer", "NOT NULL DEFAULT 0", default=0),
    Column("position", "bigint", "NOT NULL"),
), key=("referral_id",))

worklist = Projection("worklist", [PROGRESS_REPORTS, REFERRAL_PROGRESS],
                      ignores=ignored("worklist"))


@worklist.handles(Referral.ProgressReported)
def reported(e: Envelope) -> list[Change]:
    d = e.data
    return [Insert(PROGRESS_REPORTS, {
        "referral_id": e.aggregate_id, "report_id": d["report_id"], "patient_id": e.patient_id,
        "physician_id": d["physician_id"], "practitioner_id": d["practitioner_id"],
        "visits_to_date": d["visits_to_date"], "sent_at": e.occurred_at,
        "position": e.position,
    })]


@worklist.handles(Referral.AssessmentRecorded)
def assessed(e: Envelope) -> list[Change]:
    """The baseline; a later assessment replaces it and leaves the latest visit's values."""
    d = e.data
    return [Upsert(REFERRAL_PROGRESS, {
        "referral_id": e.aggregate_id, "patient_id": e.patient_id,
        "instrument": d["functional_instrument"], "baseline_pain": d["pain_nprs"],
        "latest_pain": d["pain_nprs"], "baseline_function": d["functional_score"],
        "latest_function": d["functional_score"], "position": e.position,
    }, update=("instrument", "baseline_pain", "baseline_function", "position"))]


@worklist.handles(Referral.SessionCompleted)
def measured(e: Envelope) -> list[Change]:
    d = e.data
    values: dict[str, Any] = {"latest_pain": d["pain_after"], "visits_measured": Add(1)}
    if d.get("functional_score") is not None:  # a visit without a score keeps the last one
        values["latest_function"] = d["functional_score"]
    return [Update(REFERRAL_PROGRESS, {"referral_id": e.aggregate_id}, values, e.position)]
