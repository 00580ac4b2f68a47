"""The episode's sessions: scheduled, completed with their note, cancelled, not attended."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from careledger.domain.authorization import Visit
from careledger.domain.billing import billed_units, billing_lines, service_lines
from careledger.domain.body import Site
from careledger.domain.clinical import (
    AmendableRecord,
    Profession,
    SessionLocation,
    Technique,
    aware,
    pain_score,
    percent_score,
    tender_point_count,
)
from careledger.domain.commands import Command, Decision, Handler, Reader, new_id
from careledger.domain.episode import EpisodeState, Event, OnReferral, SessionStatus, on_referral
from careledger.domain.errors import InvalidInput, InvariantViolated
from careledger.domain.fees import check_services
from careledger.domain.network import Practitioner
from careledger.domain.precautions import Applied

if TYPE_CHECKING:
    from careledger.domain.referral import Referral


class SessionScheduled(Event):
    TOPIC = "careledger:Referral.SessionScheduled"
    session_id: str
    practitioner_id: str
    scheduled_for: datetime
    location: str

    def apply(self, referral: Referral) -> None:
        referral.sessions[self.session_id] = SessionStatus.SCHEDULED
        referral.session_visits[self.session_id] = {"on": self.scheduled_for.date()}


class SessionCompleted(Event):
    """Version 2: each technique names its body sites; the note carries the cautions the
    episode's precautions wrote, the contraindications its override overrode, and what
    it did beyond the plan (`off_plan`) with the reason stated for it, and the
    tender-point count when it was taken. Version 3: the untimed services it billed
    (an evaluation, a manipulation: fees.py), a unit each on its billing lines."""

    TOPIC = "careledger:Referral.SessionCompleted"
    class_version = 3
    session_id: str
    practitioner_id: str
    soap: dict[str, str]
    techniques: list[dict[str, Any]]
    pain_before: int
    pain_after: int
    location: str
    functional_score: float | None
    goal_measurements: list[dict[str, Any]]
    billing_lines: list[dict[str, Any]]
    total_timed_minutes: int
    total_units: int
    override_reason: str | None
    cautions: list[str]
    overridden: list[str]
    off_plan: list[str]
    off_plan_reason: str | None
    tender_points: int | None
    services: list[str]

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state.update(cautions=[], overridden=[], off_plan=[], off_plan_reason=None,
                     tender_points=None)

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        state["services"] = []

    def apply(self, referral: Referral) -> None:
        if self.off_plan:
            referral.deviations[self.session_id] = list(self.off_plan)
        referral.sessions[self.session_id] = SessionStatus.COMPLETED
        referral.visits_completed += 1
        if referral.first_treatment_on is None:  # the day as the note states it
            referral.first_treatment_on = self.occurred_at.date()
        referral.records[self.session_id] = AmendableRecord.SESSION.value
        referral.session_visits[self.session_id] = {
            "on": self.occurred_at.date(), "units": billed_units(self.billing_lines),
            "services": list(self.services)}


class SessionCancelled(Event):
    TOPIC = "careledger:Referral.SessionCancelled"
    session_id: str
    reason: str

    def apply(self, referral: Referral) -> None:
        referral.sessions[self.session_id] = SessionStatus.CANCELLED


class PlanDeviationAcknowledged(Event):
    """The referring physician has seen what a session did beyond the plan (a revised
    plan settles every one instead)."""

    TOPIC = "careledger:Referral.PlanDeviationAcknowledged"
    session_id: str
    physician_id: str
    note: str

    def apply(self, referral: Referral) -> None:
        referral.deviations.pop(self.session_id, None)


class PatientDidNotAttend(Event):
    TOPIC = "careledger:Referral.PatientDidNotAttend"
    session_id: str

    def apply(self, referral: Referral) -> None:
        referral.sessions[self.session_id] = SessionStatus.NO_SHOW


@dataclass(frozen=True, kw_only=True)
class ScheduleSession(OnReferral):
    practitioner_id: UUID
    scheduled_for: datetime
    location: SessionLocation
    session_id: str | None = None


#: A technique of a note: its minutes, and optionally the body sites it was applied to.
TechniqueMinutes = tuple[Technique, int] | tuple[Technique, int, Sequence[Site]]


@dataclass(frozen=True, kw_only=True)
class CompleteSession(OnReferral):
    session_id: str
    practitioner_id: UUID
    soap: Mapping[str, str]
    techniques: Sequence[TechniqueMinutes]
    pain_before: int
    pain_after: int
    location: SessionLocation
    functional_score: float | None
    goal_measurements: Sequence[Mapping[str, Any]]
    override_reason: str | None
    #: Why the session did what the plan does not name (needed when it did).
    off_plan_reason: str | None = None
    tender_points: int | None = None
    #: Untimed services billed once each (fees.UNTIMED): the treating profession's own.
    services: Sequence[str] = ()


@dataclass(frozen=True, kw_only=True)
class AcknowledgePlanDeviation(OnReferral):
    physician_id: UUID
    session_id: str
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class CancelSession(OnReferral):
    session_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class RecordNoShow(OnReferral):
    session_id: str


class Treatment(EpisodeState):
    """The visits the authorizations allow, each with its note (part of `Referral`)."""

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
        self.check_authorized(Visit(session_id=session_id,
                                    on=aware(scheduled_for, "scheduled_for").date(),
                                    completed=False))
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
        techniques: list[TechniqueMinutes],
        pain_before: int,
        pain_after: int,
        location: SessionLocation,
        functional_score: float | None,
        goal_measurements: list[dict[str, Any]],
        override_reason: str | None,
        off_plan_reason: str | None,
        occurred_at: datetime,
        actor: str,
        tender_points: int | None = None,
        services: Sequence[str] = (),
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
        done = [(t[0], t[1], tuple(sorted(set(t[2]))) if len(t) > 2 else ())
                for t in techniques]
        untimed = check_services(list(services), Profession(practitioner.profession))
        if (not done and not untimed) or any(minutes <= 0 for _, minutes, _ in done):
            raise InvalidInput("list the techniques with their minutes (or, for an "
                               "evaluation or a manipulation alone, its service)",
                               field="techniques")
        applied = [Applied(t, sites) for t, _, sites in done]
        screened = self.screen_techniques(applied, override_reason)
        off_plan = self.plan.deviations(applied) if self.plan else []
        if off_plan and not (off_plan_reason and off_plan_reason.strip()):
            raise InvariantViolated(f"beyond the plan: {'; '.join(off_plan)}; state the reason "
                                    "(off_plan_reason), or revise the plan first")
        known_goals = set(self.plan.goal_ids) if self.plan else set()
        for measurement in goal_measurements:
            if measurement.get("goal_id") not in known_goals:
                raise InvalidInput("a measurement names a goal of the plan", field="goals")
        lines = billing_lines([(t, m) for t, m, _ in done]) + service_lines(untimed)
        self.check_authorized(Visit(
            session_id=session_id, on=aware(occurred_at).date(), completed=True,
            units=billed_units([line.as_dict() for line in lines])))
        self.trigger_event(
            SessionCompleted,
            session_id=session_id,
            practitioner_id=str(practitioner.id),
            soap={k: soap[k] for k in ("subjective", "objective", "assessment", "plan")},
            techniques=[{"technique": str(t), "minutes": m,
                         "sites": [site.as_dict() for site in sites]} for t, m, sites in done],
            pain_before=pain_score(pain_before, "pain_before"),
            pain_after=pain_score(pain_after, "pain_after"),
            location=str(location),
            functional_score=(
                None if functional_score is None
                else percent_score(functional_score, "functional_score", self.instrument)
            ),
            goal_measurements=goal_measurements,
            billing_lines=[line.as_dict() for line in lines],
            total_timed_minutes=sum(m for _, m, _ in done),
            total_units=sum(line.units for line in lines),
            override_reason=override_reason,
            **screened,
            off_plan=off_plan,
            off_plan_reason=off_plan_reason if off_plan else None,
            tender_points=tender_point_count(tender_points),
            services=untimed,
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

    def acknowledge_plan_deviation(self, *, physician: Practitioner, session_id: str,
                                   note: str, occurred_at: datetime, actor: str) -> None:
        self.check_open()
        if physician.id != self.physician_id:
            raise InvariantViolated("the referring physician acknowledges what a session "
                                    "did beyond the plan")
        if session_id not in self.deviations:
            raise InvariantViolated("this session did nothing beyond the plan that waits "
                                    "to be acknowledged")
        self.trigger_event(PlanDeviationAcknowledged, session_id=session_id,
                           physician_id=str(physician.id), note=note.strip(),
                           occurred_at=aware(occurred_at), actor=actor)

    def record_no_show(self, *, session_id: str, occurred_at: datetime, actor: str) -> None:
        self.check_open()
        if self.sessions.get(session_id) != SessionStatus.SCHEDULED:
            raise InvariantViolated("only a scheduled session can be a no-show")
        self.trigger_event(
            PatientDidNotAttend,
            session_id=session_id, occurred_at=aware(occurred_at), actor=actor
        )


# ------------------------------------------------------------------ deciding


def schedule_session(cmd: ScheduleSession, read: Reader[Any]) -> Decision:
    record_id = new_id(cmd.session_id)
    return on_referral(cmd, lambda r: r.schedule_session(
        session_id=record_id, practitioner=read(Practitioner, cmd.practitioner_id),
        scheduled_for=cmd.scheduled_for, location=cmd.location,
        occurred_at=cmd.occurred_at, actor=cmd.actor))


def complete_session(cmd: CompleteSession, read: Reader[Any]) -> Decision:
    return on_referral(cmd, lambda r: r.complete_session(
        session_id=cmd.session_id, practitioner=read(Practitioner, cmd.practitioner_id),
        soap=dict(cmd.soap), techniques=list(cmd.techniques), pain_before=cmd.pain_before,
        pain_after=cmd.pain_after, location=cmd.location,
        functional_score=cmd.functional_score,
        goal_measurements=[dict(m) for m in cmd.goal_measurements],
        override_reason=cmd.override_reason, off_plan_reason=cmd.off_plan_reason,
        occurred_at=cmd.occurred_at, actor=cmd.actor, tender_points=cmd.tender_points,
        services=list(cmd.services)))


def acknowledge_plan_deviation(cmd: AcknowledgePlanDeviation, read: Reader[Any]) -> Decision:
    return on_referral(cmd, lambda r: r.acknowledge_plan_deviation(
        physician=read(Practitioner, cmd.physician_id), session_id=cmd.session_id,
        note=cmd.note, occurred_at=cmd.occurred_at, actor=cmd.actor))


def cancel_session(cmd: CancelSession, read: Reader[Any]) -> Decision:
    return on_referral(cmd, lambda r: r.cancel_session(
        session_id=cmd.session_id, reason=cmd.reason, occurred_at=cmd.occurred_at,
        actor=cmd.actor))


def record_no_show(cmd: RecordNoShow, read: Reader[Any]) -> Decision:
    return on_referral(cmd, lambda r: r.record_no_show(
        session_id=cmd.session_id, occurred_at=cmd.occurred_at, actor=cmd.actor))


#: This stage's commands, and what decides each.
HANDLERS: dict[type[Command], Handler] = {
    ScheduleSession: schedule_session,
    CompleteSession: complete_session,
    AcknowledgePlanDeviation: acknowledge_plan_deviation,
    CancelSession: cancel_session,
    RecordNoShow: record_no_show,
}
