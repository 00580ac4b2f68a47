"""The treatment plan: drafted, revised, certified and recertified by the physician."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from careledger.domain.body import Site
from careledger.domain.clinical import (
    AmendableRecord,
    Goal,
    Technique,
    aware,
)
from careledger.domain.commands import Command, Decision, Handler, Reader, new_id
from careledger.domain.episode import EpisodeState, Event, OnReferral, on_referral
from careledger.domain.errors import InvalidInput, InvariantViolated
from careledger.domain.network import Practitioner
from careledger.domain.plan import TreatmentPlan, check_period
from careledger.domain.precautions import Applied

if TYPE_CHECKING:
    from careledger.domain.referral import Referral


class PlanDrafted(Event):
    """Version 2 names the body sites of each technique (`sites`: none, anywhere), the
    cautions the episode's precautions wrote and the contraindications overridden."""

    TOPIC = "careledger:Referral.PlanDrafted"
    class_version = 2
    plan_id: str
    practitioner_id: str
    goals: list[dict[str, Any]]
    techniques: list[str]
    sites: dict[str, list[dict[str, Any]]]
    frequency_per_week: int
    duration_weeks: int
    override_reason: str | None
    cautions: list[str]
    overridden: list[str]

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state.update(sites={}, cautions=[], overridden=[])

    def apply(self, referral: Referral) -> None:
        referral.plan = TreatmentPlan(plan_id=self.plan_id, revision=1,
                                      goal_ids=tuple(g["goal_id"] for g in self.goals),
                                      techniques=planned(self.techniques, self.sites))
        referral.records[self.plan_id] = AmendableRecord.PLAN.value


class PlanRevised(Event):
    """A revised plan, which needs the physician's signature again. It names no
    practitioner: the episode's is the one who revised it."""

    TOPIC = "careledger:Referral.PlanRevised"
    class_version = 2
    plan_id: str
    revision: int
    goals: list[dict[str, Any]]
    techniques: list[str]
    sites: dict[str, list[dict[str, Any]]]
    frequency_per_week: int
    duration_weeks: int
    reason: str
    override_reason: str | None
    cautions: list[str]
    overridden: list[str]

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state.update(sites={}, cautions=[], overridden=[])

    def apply(self, referral: Referral) -> None:
        referral.plan = referral.require_plan().revised(
            self.revision, tuple(g["goal_id"] for g in self.goals),
            planned(self.techniques, self.sites))
        referral.deviations = {}  # the revised plan is the answer to each of them


def planned(techniques: list[str], sites: Mapping[str, list[dict[str, Any]]]
            ) -> dict[str, tuple[Site, ...]]:
    """A plan's techniques and the sites each names, as the episode holds them."""
    return {t: tuple(Site.parse(s) for s in sites.get(t, ())) for t in techniques}


class PlanCertified(Event):
    TOPIC = "careledger:Referral.PlanCertified"
    plan_id: str
    revision: int
    physician_id: str
    certified_from: date
    certified_until: date

    def apply(self, referral: Referral) -> None:
        referral.plan = referral.require_plan().certified_to(self.certified_until)


class PlanRecertified(Event):
    TOPIC = "careledger:Referral.PlanRecertified"
    plan_id: str
    revision: int
    physician_id: str
    certified_from: date
    certified_until: date

    def apply(self, referral: Referral) -> None:
        referral.plan = referral.require_plan().recertified_to(self.certified_until)


@dataclass(frozen=True, kw_only=True)
class DraftPlan(OnReferral):
    practitioner_id: UUID
    goals: Sequence[Goal]
    techniques: Sequence[Technique]
    frequency_per_week: int
    duration_weeks: int
    override_reason: str | None
    plan_id: str | None = None
    #: The body sites each technique is planned on (a technique not named: anywhere).
    sites: Mapping[Technique, Sequence[Site]] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class RevisePlan(OnReferral):
    practitioner_id: UUID
    goals: Sequence[Goal]
    techniques: Sequence[Technique]
    frequency_per_week: int
    duration_weeks: int
    reason: str
    override_reason: str | None
    sites: Mapping[Technique, Sequence[Site]] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class CertifyPlan(OnReferral):
    physician_id: UUID
    certified_from: date
    certified_until: date


@dataclass(frozen=True, kw_only=True)
class RecertifyPlan(OnReferral):
    physician_id: UUID
    certified_from: date
    certified_until: date


class Planning(EpisodeState):
    """The plan and its goals; the physician signs each revision (part of `Referral`)."""

    def draft_plan(
        self,
        *,
        plan_id: str,
        practitioner: Practitioner,
        goals: list[Goal],
        techniques: list[Technique],
        sites: Mapping[Technique, Sequence[Site]],
        frequency_per_week: int,
        duration_weeks: int,
        override_reason: str | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.check_treating(practitioner, occurred_at)
        if not self.assessment_ids:
            raise InvariantViolated("a plan needs an assessment first")
        if self.plan is not None:
            raise InvariantViolated("the episode has a plan: revise it instead")
        screened = self._check_plan(goals, techniques, sites, frequency_per_week,
                                    duration_weeks, override_reason)
        self.trigger_event(
            PlanDrafted,
            plan_id=plan_id,
            practitioner_id=str(practitioner.id),
            goals=[g.as_dict() for g in goals],
            techniques=[str(t) for t in techniques],
            sites=_sites(sites),
            frequency_per_week=frequency_per_week,
            duration_weeks=duration_weeks,
            override_reason=override_reason,
            **screened,
            occurred_at=occurred_at,
            actor=actor,
        )

    def revise_plan(
        self,
        *,
        practitioner: Practitioner,
        goals: list[Goal],
        techniques: list[Technique],
        sites: Mapping[Technique, Sequence[Site]],
        frequency_per_week: int,
        duration_weeks: int,
        reason: str,
        override_reason: str | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        """A revised plan needs the physician's signature again."""
        self.check_treating(practitioner, occurred_at)
        plan = self.require_plan()
        screened = self._check_plan(goals, techniques, sites, frequency_per_week,
                                    duration_weeks, override_reason)
        self.trigger_event(
            PlanRevised,
            plan_id=plan.plan_id,
            revision=plan.revision + 1,
            goals=[g.as_dict() for g in goals],
            techniques=[str(t) for t in techniques],
            sites=_sites(sites),
            frequency_per_week=frequency_per_week,
            duration_weeks=duration_weeks,
            reason=reason,
            override_reason=override_reason,
            **screened,
            occurred_at=occurred_at,
            actor=actor,
        )

    def _check_plan(
        self,
        goals: list[Goal],
        techniques: list[Technique],
        sites: Mapping[Technique, Sequence[Site]],
        frequency_per_week: int,
        duration_weeks: int,
        override_reason: str | None,
    ) -> dict[str, list[str]]:
        if not goals:
            raise InvariantViolated("a plan has at least one measurable goal")
        if len({g.goal_id for g in goals}) != len(goals):
            raise InvalidInput("goal ids are unique within a plan", field="goals")
        if not techniques:
            raise InvalidInput("a plan names its techniques", field="techniques")
        if not 1 <= frequency_per_week <= 7 or not 1 <= duration_weeks <= 52:
            raise InvalidInput("frequency is 1-7 a week for 1-52 weeks", field="frequency_per_week")
        if set(sites) - set(techniques):
            raise InvalidInput("sites are given for the plan's own techniques", field="sites")
        return self.screen_techniques(
            [Applied(t, tuple(sites.get(t, ()))) for t in techniques], override_reason)

    def certify_plan(self, *, physician: Practitioner, certified_from: date,
                     certified_until: date, occurred_at: datetime, actor: str) -> None:
        plan = self._signable(physician, occurred_at, "certifies")
        if plan.certified:
            raise InvariantViolated("this revision is already certified: recertify it")
        self._sign(PlanCertified, plan, physician, certified_from, certified_until,
                   occurred_at, actor)

    def recertify_plan(self, *, physician: Practitioner, certified_from: date,
                       certified_until: date, occurred_at: datetime, actor: str) -> None:
        plan = self._signable(physician, occurred_at, "recertifies")
        if plan.certified_revision != plan.revision:
            raise InvariantViolated("this revision was never certified: certify it first")
        self._sign(PlanRecertified, plan, physician, certified_from, certified_until,
                   occurred_at, actor)

    def _signable(self, physician: Practitioner, occurred_at: datetime,
                  verb: str) -> TreatmentPlan:
        """The plan, if this physician may sign it now: the referring one, licensed today."""
        self.check_open()
        plan = self.require_plan()
        if physician.id != self.physician_id:
            raise InvariantViolated(f"the referring physician {verb} the plan")
        physician.check_may_refer(aware(occurred_at).date())
        return plan

    def _sign(self, event: type[PlanCertified | PlanRecertified], plan: TreatmentPlan,
              physician: Practitioner, certified_from: date, certified_until: date,
              occurred_at: datetime, actor: str) -> None:
        check_period(certified_from, certified_until)
        self.trigger_event(event, plan_id=plan.plan_id, revision=plan.revision,
                           physician_id=str(physician.id), certified_from=certified_from,
                           certified_until=certified_until, occurred_at=occurred_at,
                           actor=actor)


def _sites(sites: Mapping[Technique, Sequence[Site]]) -> dict[str, list[dict[str, Any]]]:
    return {str(t): [s.as_dict() for s in sorted(set(where))]
            for t, where in sorted(sites.items()) if where}


# ------------------------------------------------------------------ deciding


def draft_plan(cmd: DraftPlan, read: Reader[Any]) -> Decision:
    record_id = new_id(cmd.plan_id)
    return on_referral(cmd, lambda r: r.draft_plan(
        plan_id=record_id, practitioner=read(Practitioner, cmd.practitioner_id),
        goals=list(cmd.goals), techniques=list(cmd.techniques), sites=dict(cmd.sites),
        frequency_per_week=cmd.frequency_per_week, duration_weeks=cmd.duration_weeks,
        override_reason=cmd.override_reason, occurred_at=cmd.occurred_at, actor=cmd.actor))


def revise_plan(cmd: RevisePlan, read: Reader[Any]) -> Decision:
    return on_referral(cmd, lambda r: r.revise_plan(
        practitioner=read(Practitioner, cmd.practitioner_id), goals=list(cmd.goals),
        techniques=list(cmd.techniques), sites=dict(cmd.sites),
        frequency_per_week=cmd.frequency_per_week,
        duration_weeks=cmd.duration_weeks, reason=cmd.reason,
        override_reason=cmd.override_reason, occurred_at=cmd.occurred_at, actor=cmd.actor))


def certify_plan(cmd: CertifyPlan, read: Reader[Any]) -> Decision:
    return on_referral(cmd, lambda r: r.certify_plan(
        physician=read(Practitioner, cmd.physician_id), certified_from=cmd.certified_from,
        certified_until=cmd.certified_until, occurred_at=cmd.occurred_at, actor=cmd.actor))


def recertify_plan(cmd: RecertifyPlan, read: Reader[Any]) -> Decision:
    return on_referral(cmd, lambda r: r.recertify_plan(
        physician=read(Practitioner, cmd.physician_id), certified_from=cmd.certified_from,
        certified_until=cmd.certified_until, occurred_at=cmd.occurred_at, actor=cmd.actor))


#: This stage's commands, and what decides each.
HANDLERS: dict[type[Command], Handler] = {
    DraftPlan: draft_plan,
    RevisePlan: revise_plan,
    CertifyPlan: certify_plan,
    RecertifyPlan: recertify_plan,
}
