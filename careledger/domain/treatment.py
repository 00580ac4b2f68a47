"""The episode's sessions: scheduled, completed with their note, cancelled, not attended."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from careledger.domain.billing import billing_lines
from careledger.domain.clinical import (
    SessionLocation,
    Technique,
    aware,
    pain_score,
    percent_score,
)
from careledger.domain.episode import EpisodeState
from careledger.domain.errors import InvalidInput, InvariantViolated
from careledger.domain.network import Practitioner
from careledger.domain.referral_events import (
    PatientDidNotAttend,
    SessionCancelled,
    SessionCompleted,
    SessionScheduled,
    SessionStatus,
)


class Treatment(EpisodeState):
    """The visits the authorization allows, each with its note (part of `Referral`)."""


    def schedule_session(
        self,
        *,
        session_id: str,
        practitioner: Practitioner,
        scheduled_for: datetime,
        location: SessionLocation,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.check_treating(practitioner, occurred_at)
        if session_id in self.sessions:
            raise InvariantViolated("this session is already on the schedule")
        self.check_visits_left()
        self.trigger_event(
            SessionScheduled,
            session_id=session_id,
            practitioner_id=str(practitioner.id),
            scheduled_for=aware(scheduled_for, "scheduled_for"),
            location=str(location),
            occurred_at=occurred_at,
            actor=actor,
        )

    def complete_session(
        self,
        *,
        session_id: str,
        practitioner: Practitioner,
        soap: dict[str, str],
        techniques: list[tuple[Technique, int]],
        pain_before: int,
        pain_after: int,
        location: SessionLocation,
        functional_score: float | None,
        goal_measurements: list[dict[str, Any]],
        override_reason: str | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.check_treating(practitioner, occurred_at)
        if self.sessions.get(session_id) != SessionStatus.SCHEDULED:
            raise InvariantViolated("only a scheduled session can be completed")
        missing = {"subjective", "objective", "assessment", "plan"} - {
            k for k, v in soap.items() if v.strip()
        }
        if missing:
            raise InvalidInput(
                f"the SOAP note lacks: {', '.join(sorted(missing))}", field="soap"
            )
        if not techniques or any(minutes <= 0 for _, minutes in techniques):
            raise InvalidInput("list the techniques with their minutes", field="techniques")
        self.check_contraindications([str(t) for t, _ in techniques], override_reason)
        known_goals = set(self.plan.goal_ids) if self.plan else set()
        for measurement in goal_measurements:
            if measurement.get("goal_id") not in known_goals:
                raise InvalidInput("a measurement names a goal of the plan", field="goals")
        lines = billing_lines(techniques)
        self.trigger_event(
            SessionCompleted,
            session_id=session_id,
            practitioner_id=str(practitioner.id),
            soap={k: soap[k] for k in ("subjective", "objective", "assessment", "plan")},
            techniques=[{"technique": str(t), "minutes": m} for t, m in techniques],
            pain_before=pain_score(pain_before, "pain_before"),
            pain_after=pain_score(pain_after, "pain_after"),
            location=str(location),
            functional_score=(
                None if functional_score is None
                else percent_score(functional_score, "functional_score")
            ),
            goal_measurements=goal_measurements,
            billing_lines=[line.as_dict() for line in lines],
            total_timed_minutes=sum(m for _, m in techniques),
            total_units=sum(line.units for line in lines),
            override_reason=override_reason,
            occurred_at=occurred_at,
            actor=actor,
        )

    def cancel_session(
        self, *, session_id: str, reason: str, occurred_at: datetime, actor: str
    ) -> None:
        self.check_open()
        if self.sessions.get(session_id) != SessionStatus.SCHEDULED:
            raise InvariantViolated("only a scheduled session can be cancelled")
        self.trigger_event(
            SessionCancelled,
            session_id=session_id, reason=reason, occurred_at=aware(occurred_at), actor=actor
        )

    def record_no_show(self, *, session_id: str, occurred_at: datetime, actor: str) -> None:
        self.check_open()
        if self.sessions.get(session_id) != SessionStatus.SCHEDULED:
            raise InvariantViolated("only a scheduled session can be a no-show")
        self.trigger_event(
            PatientDidNotAttend,
            session_id=session_id, occurred_at=aware(occurred_at), actor=actor
        )
