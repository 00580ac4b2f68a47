"""Reporting back and closing: progress reports to the referring physician, the discharge."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from careledger.domain.clinical import (
    AmendableRecord,
    GoalOutcome,
)
from careledger.domain.commands import Command, Decision, Handler, Reader, new_id
from careledger.domain.episode import EpisodeState, Event, OnReferral, ReferralStatus, on_referral
from careledger.domain.errors import InvalidInput, InvariantViolated
from careledger.domain.network import Practitioner

if TYPE_CHECKING:
    from careledger.domain.referral import Referral


class ProgressReported(Event):
    TOPIC = "careledger:Referral.ProgressReported"
    report_id: str
    practitioner_id: str
    physician_id: str
    visits_to_date: int
    summary: str
    goal_status: list[dict[str, Any]]

    def apply(self, referral: Referral) -> None:
        referral.visits_at_last_report = self.visits_to_date
        referral.records[self.report_id] = AmendableRecord.PROGRESS_REPORT.value


class Discharged(Event):
    TOPIC = "careledger:Referral.Discharged"
    practitioner_id: str
    outcomes: list[dict[str, str]]
    summary: str
    visits: int

    def apply(self, referral: Referral) -> None:
        referral.status = ReferralStatus.DISCHARGED
        referral.records["discharge"] = AmendableRecord.DISCHARGE.value


@dataclass(frozen=True, kw_only=True)
class SendProgressReport(OnReferral):
    practitioner_id: UUID
    summary: str
    goal_status: Sequence[Mapping[str, Any]]
    report_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Discharge(OnReferral):
    practitioner_id: UUID
    outcomes: Mapping[str, GoalOutcome]
    summary: str


class Closing(EpisodeState):
    """Progress reports at least every ten visits, and the discharge that rates every goal
    (part of `Referral`)."""

    def send_progress_report(
        self,
        *,
        report_id: str,
        practitioner: Practitioner,
        summary: str,
        goal_status: list[dict[str, Any]],
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.check_treating(practitioner, occurred_at)
        if not self.visits_completed:
            raise InvariantViolated("a progress report follows at least one visit")
        if not summary.strip():
            raise InvalidInput("a progress report has a summary", field="summary")
        self.trigger_event(
            ProgressReported,
            report_id=report_id,
            practitioner_id=str(practitioner.id),
            physician_id=str(self.physician_id),
            visits_to_date=self.visits_completed,
            summary=summary,
            goal_status=goal_status,
            occurred_at=occurred_at,
            actor=actor,
        )

    def discharge(
        self,
        *,
        practitioner: Practitioner,
        outcomes: dict[str, GoalOutcome],
        summary: str,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.check_treating(practitioner, occurred_at)
        plan = self.require_plan()
        if set(outcomes) != set(plan.goal_ids):
            raise InvalidInput("a discharge rates every goal of the plan", field="outcomes")
        self.trigger_event(
            Discharged,
            practitioner_id=str(practitioner.id),
            outcomes=[{"goal_id": g, "outcome": str(o)} for g, o in sorted(outcomes.items())],
            summary=summary,
            visits=self.visits_completed,
            occurred_at=occurred_at,
            actor=actor,
        )


# ------------------------------------------------------------------ deciding


def send_progress_report(cmd: SendProgressReport, read: Reader[Any]) -> Decision:
    record_id = new_id(cmd.report_id)
    return on_referral(cmd, lambda r: r.send_progress_report(
        report_id=record_id, practitioner=read(Practitioner, cmd.practitioner_id),
        summary=cmd.summary, goal_status=[dict(g) for g in cmd.goal_status],
        occurred_at=cmd.occurred_at, actor=cmd.actor))


def discharge(cmd: Discharge, read: Reader[Any]) -> Decision:
    return on_referral(cmd, lambda r: r.discharge(
        practitioner=read(Practitioner, cmd.practitioner_id), outcomes=dict(cmd.outcomes),
        summary=cmd.summary, occurred_at=cmd.occurred_at, actor=cmd.actor))


#: This stage's commands, and what decides each.
HANDLERS: dict[type[Command], Handler] = {
    SendProgressReport: send_progress_report,
    Discharge: discharge,
}
