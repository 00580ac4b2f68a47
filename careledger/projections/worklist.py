"""What a referring physician needs to act on: reports received, patients not improving,
sessions that went beyond the plan; and the questions put to a physician or a therapist
that wait for their reply.

Referrals and their certification dates live in the caseload's `referrals` table (by
physician); this view adds the progress reports sent back to the physician and, per
referral, the pain (NPRS) and functional score at assessment and at the latest visit,
so "not improving" is a comparison, not a replay. An amendment of the record a value
came from moves it: the values are the record's as it now stands. A session that did
what the plan does not name waits here until the physician acknowledges it or the plan
is revised.
"""

from __future__ import annotations

from typing import Any

from careledger.domain.clinical import AmendableRecord
from careledger.domain.corrections import valid_changes
from careledger.domain.messaging import MessageKind
from careledger.domain.referral import Referral
from careledger.projections.envelope import Envelope
from careledger.projections.model import (
    Add,
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
    #: The records the values come from, so that an amendment of one moves them: the
    #: assessment (baseline), the record of the latest pain and of the latest function.
    Column("baseline_record", "text"),
    Column("latest_pain_record", "text"),
    Column("latest_function_record", "text"),
    Column("position", "bigint", "NOT NULL"),
), key=("referral_id",))

PLAN_DEVIATIONS = Table("plan_deviations", (
    Column("referral_id", "uuid", "NOT NULL"),
    Column("session_id", "text", "NOT NULL"),
    Column("patient_id", "uuid", "NOT NULL"),
    #: What the session did beyond the plan, in words; the reason the therapist gave.
    Column("beyond_plan", "jsonb", "NOT NULL"),
    Column("reason", "text"),
    Column("occurred_at", "timestamptz"),
    Column("position", "bigint", "NOT NULL"),
), key=("referral_id", "session_id"))

OPEN_QUESTIONS = Table("open_questions", (
    Column("referral_id", "uuid", "NOT NULL"),
    Column("message_id", "text", "NOT NULL"),
    Column("patient_id", "uuid", "NOT NULL"),
    Column("recipient_role", "text", "NOT NULL"),
    Column("recipient_id", "uuid", "NOT NULL"),
    Column("sender_role", "text", "NOT NULL"),
    Column("sender_id", "uuid", "NOT NULL"),
    Column("urgency", "text", "NOT NULL"),
    #: As it now stands: an amendment of the message moves it.
    Column("body", "text", "NOT NULL"),
    Column("asked_at", "timestamptz"),
    Column("position", "bigint", "NOT NULL"),
), key=("referral_id", "message_id"), indexes=(
    "CREATE INDEX IF NOT EXISTS open_questions_recipient"
    " ON {v}.open_questions (recipient_id, asked_at)",
))

worklist = Projection("worklist", [PROGRESS_REPORTS, REFERRAL_PROGRESS, PLAN_DEVIATIONS,
                                   OPEN_QUESTIONS], ignores=ignored("worklist"))

#: The episode's progress row, for an amendment that may move its values.
PROGRESS = Read(REFERRAL_PROGRESS, "referral_id")
#: The episode's sessions beyond the plan that wait for the physician.
DEVIATIONS = Read(PLAN_DEVIATIONS, "referral_id")


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
    record = d["assessment_id"]
    return [Upsert(REFERRAL_PROGRESS, {
        "referral_id": e.aggregate_id, "patient_id": e.patient_id,
        "instrument": d["functional_instrument"], "baseline_pain": d["pain_nprs"],
        "latest_pain": d["pain_nprs"], "baseline_function": d["functional_score"],
        "latest_function": d["functional_score"], "baseline_record": record,
        "latest_pain_record": record, "latest_function_record": record,
        "position": e.position,
    }, update=("instrument", "baseline_pain", "baseline_function", "baseline_record",
               "position"))]


@worklist.handles(Referral.SessionCompleted)
def measured(e: Envelope) -> list[Change]:
    d = e.data
    values: dict[str, Any] = {"latest_pain": d["pain_after"], "visits_measured": Add(1),
                              "latest_pain_record": d["session_id"]}
    if d.get("functional_score") is not None:  # a visit without a score keeps the last one
        values["latest_function"] = d["functional_score"]
        values["latest_function_record"] = d["session_id"]
    changes: list[Change] = [
        Update(REFERRAL_PROGRESS, {"referral_id": e.aggregate_id}, values, e.position)]
    if d.get("off_plan"):  # version 1 notes never went beyond a plan
        changes.append(Insert(PLAN_DEVIATIONS, {
            "referral_id": e.aggregate_id, "session_id": d["session_id"],
            "patient_id": e.patient_id, "beyond_plan": list(d["off_plan"]),
            "reason": d.get("off_plan_reason"), "occurred_at": e.occurred_at,
            "position": e.position}))
    return changes


@worklist.handles(Referral.PlanDeviationAcknowledged)
def acknowledged(e: Envelope) -> list[Change]:
    return [Delete(PLAN_DEVIATIONS, {"referral_id": e.aggregate_id,
                                     "session_id": e.data["session_id"]})]


@worklist.handles(Referral.MessageSent)
def message(e: Envelope) -> list[Change]:
    """A question waits for its reply; a reply takes the question it answers away."""
    d = e.data
    changes: list[Change] = []
    if d.get("in_reply_to"):
        changes.append(Delete(OPEN_QUESTIONS, {"referral_id": e.aggregate_id,
                                               "message_id": d["in_reply_to"]}))
    if d["kind"] == MessageKind.QUESTION:
        changes.append(Insert(OPEN_QUESTIONS, {
            "referral_id": e.aggregate_id, "message_id": d["message_id"],
            "patient_id": e.patient_id, "recipient_role": d["recipient_role"],
            "recipient_id": d["recipient_id"], "sender_role": d["sender_role"],
            "sender_id": d["sender_id"], "urgency": d["urgency"], "body": d["body"],
            "asked_at": e.occurred_at, "position": e.position}))
    return changes


@worklist.handles(Referral.PlanRevised, reads=[DEVIATIONS])
def revised(e: Envelope, deviations: list[Row]) -> list[Change]:
    """The revised plan answers every session that went beyond the one before it."""
    return [Delete(PLAN_DEVIATIONS, {"referral_id": row["referral_id"],
                                     "session_id": row["session_id"]}) for row in deviations]


#: Per kind of record: the field of the record each progress value comes from, and the
#: column naming which record holds that value now.
_FROM_RECORD = {
    AmendableRecord.ASSESSMENT: (
        ("pain_nprs", "baseline_pain", "baseline_record"),
        ("pain_nprs", "latest_pain", "latest_pain_record"),
        ("functional_score", "baseline_function", "baseline_record"),
        ("functional_score", "latest_function", "latest_function_record"),
        ("functional_instrument", "instrument", "baseline_record")),
    AmendableRecord.SESSION: (
        ("pain_after", "latest_pain", "latest_pain_record"),
        ("functional_score", "latest_function", "latest_function_record")),
}


@worklist.handles(Referral.Amended, reads=[PROGRESS])
def amended(e: Envelope, progress: list[Row]) -> list[Change]:
    """A corrected value moves the baseline or the latest when it is where that came from."""
    d = e.data
    if d["record_kind"] == AmendableRecord.MESSAGE:  # an open question's corrected words
        body = valid_changes(d["record_kind"], d["changes"], {"body"}).get("body")
        return [] if body is None else [Update(
            OPEN_QUESTIONS, {"referral_id": e.aggregate_id, "message_id": d["record_id"]},
            {"body": body}, e.position)]
    fields = _FROM_RECORD.get(AmendableRecord(d["record_kind"]), ())
    changes = valid_changes(d["record_kind"], d["changes"], {f for f, _, _ in fields})
    values = {column: changes[field] for row in progress for field, column, source in fields
              if field in changes and row[source] == d["record_id"]}
    if not values:
        return []
    return [Update(REFERRAL_PROGRESS, {"referral_id": e.aggregate_id}, values, e.position)]
