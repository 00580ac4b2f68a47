"""One episode as its documents tell it, folded from the log: the referral, the
assessment, the plan and its certifications, the authorizations, every session (as
amended, with its late-entry flag), the progress reports and the discharge.

From the log, not the views, as the FHIR export is: a printed record shows exactly what
was recorded up to the moment it was printed, whatever the consumers have applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from careledger.domain.clinical import AmendableRecord, late_entry
from careledger.domain.corrections import as_amended
from careledger.domain.referral import Referral
from careledger.projections.envelope import Envelope


@dataclass
class Session:
    session_id: str
    scheduled_for: datetime | None = None
    status: str = "scheduled"
    on: date | None = None
    #: The completed note as it now stands (amendments applied), or None.
    note: dict[str, Any] | None = None
    late: bool = False
    recorded_on: date | None = None
    amended: bool = False
    why_not: str | None = None


@dataclass
class Episode:
    referral_id: UUID
    made: dict[str, Any] = field(default_factory=dict)
    made_on: date | None = None
    therapist_id: str | None = None
    assessment: dict[str, Any] | None = None
    assessed_on: date | None = None
    plan: dict[str, Any] | None = None
    planned_on: date | None = None
    certifications: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[dict[str, Any]] = field(default_factory=list)
    sessions: dict[str, Session] = field(default_factory=dict)
    reports: list[dict[str, Any]] = field(default_factory=list)
    discharge: dict[str, Any] | None = None
    #: Amendments by the record they correct, oldest first.
    amendments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: The functional score taken since the last report (day, value), for the next one.
    measured: tuple[date | None, float] | None = None

    @property
    def completed(self) -> list[Session]:
        done = [s for s in self.sessions.values() if s.note is not None]
        return sorted(done, key=lambda s: (s.on or date.min, s.session_id))

    @property
    def visits_authorized(self) -> int:
        return int(self.made.get("authorized_visits", 0)) + sum(
            int(a["visits"]) for a in self.authorizations)

    def attendance(self) -> dict[str, int]:
        counts = {"completed": 0, "cancelled": 0, "no_show": 0, "scheduled": 0}
        for session in self.sessions.values():
            counts[session.status] = counts.get(session.status, 0) + 1
        return counts


def fold(envelopes: list[Envelope], referral_id: UUID) -> Episode | None:
    """The episode's record from the patient's envelopes (None: no such episode)."""
    episode = Episode(referral_id)
    mine = [e for e in envelopes if e.aggregate_id == referral_id]
    if not mine:
        return None
    for e in mine:
        if e.type == Referral.Amended.TOPIC:
            episode.amendments.setdefault(e.data["record_id"], []).append(e.data["changes"])
    for e in mine:
        _apply(episode, e)
    return episode


def _day(e: Envelope) -> date | None:
    return e.occurred_at.date() if e.occurred_at else None


def _current(episode: Episode, kind: AmendableRecord, record_id: str,
             data: dict[str, Any]) -> dict[str, Any]:
    return as_amended(kind, data, episode.amendments.get(record_id, []))


def _apply(episode: Episode, e: Envelope) -> None:
    d, topic = e.data, e.type
    if topic == Referral.Made.TOPIC:
        episode.made = _current(episode, AmendableRecord.REFERRAL, str(episode.referral_id), d)
        episode.made_on = _day(e)
    elif topic == Referral.Accepted.TOPIC:
        episode.therapist_id = d["practitioner_id"]
    elif topic == Referral.AssessmentRecorded.TOPIC:
        episode.assessment = _current(episode, AmendableRecord.ASSESSMENT,
                                      d["assessment_id"], d)
        episode.assessed_on = _day(e)
    elif topic in (Referral.PlanDrafted.TOPIC, Referral.PlanRevised.TOPIC):
        episode.plan = _current(episode, AmendableRecord.PLAN, d["plan_id"], d)
        episode.planned_on = _day(e)
    elif topic in (Referral.PlanCertified.TOPIC, Referral.PlanRecertified.TOPIC):
        episode.certifications.append({**d, "signed_on": _day(e),
                                       "again": topic == Referral.PlanRecertified.TOPIC})
    elif topic == Referral.VisitsAuthorized.TOPIC:
        episode.authorizations.append(d)
    elif topic == Referral.SessionScheduled.TOPIC:
        episode.sessions[d["session_id"]] = Session(
            d["session_id"], scheduled_for=_moment(d["scheduled_for"]),
            on=_moment(d["scheduled_for"]).date())
    elif topic == Referral.SessionCompleted.TOPIC:
        session = episode.sessions.setdefault(d["session_id"], Session(d["session_id"]))
        session.status, session.on = "completed", _day(e)
        session.note = _current(episode, AmendableRecord.SESSION, d["session_id"], d)
        session.late = late_entry(e.occurred_at, e.recorded_at)
        session.recorded_on = e.recorded_at.date()
        session.amended = d["session_id"] in episode.amendments
        if session.note.get("functional_score") is not None:
            episode.measured = (session.on, session.note["functional_score"])
    elif topic in (Referral.SessionCancelled.TOPIC, Referral.PatientDidNotAttend.TOPIC):
        session = episode.sessions.setdefault(d["session_id"], Session(d["session_id"]))
        session.status = ("cancelled" if topic == Referral.SessionCancelled.TOPIC
                          else "no_show")
        session.why_not = d.get("reason")
    elif topic == Referral.ProgressReported.TOPIC:
        report = _current(episode, AmendableRecord.PROGRESS_REPORT, d["report_id"], d)
        episode.reports.append({**report, "sent_on": _day(e), "measure": _measure(episode),
                                "late": late_entry(e.occurred_at, e.recorded_at)})
        episode.measured = None  # the next report wants its own
    elif topic == Referral.Discharged.TOPIC:
        discharge = _current(episode, AmendableRecord.DISCHARGE, "discharge", d)
        episode.discharge = {**discharge, "on": _day(e), "measure": _measure(episode),
                             "late": late_entry(e.occurred_at, e.recorded_at)}


def _measure(episode: Episode) -> dict[str, Any] | None:
    """The outcome measure a report or the discharge carries: the last functional score
    since the report before it (the assessment's, for the first); None: not taken."""
    if episode.measured is not None:
        return {"on": episode.measured[0], "value": episode.measured[1]}
    if not episode.reports and episode.assessment is not None:
        return {"on": episode.assessed_on, "value": episode.assessment["functional_score"],
                "at_assessment": True}
    return None


def _moment(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
