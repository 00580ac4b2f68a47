"""The episode's assessment and treatment plan: drafted, revised, certified, recertified."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from careledger.domain.clinical import (
    FunctionalInstrument,
    Goal,
    Technique,
    aware,
    pain_score,
    percent_score,
)
from careledger.domain.episode import EpisodeState
from careledger.domain.errors import InvalidInput, InvariantViolated
from careledger.domain.network import Practitioner
from careledger.domain.plan import check_period
from careledger.domain.referral_events import (
    AssessmentRecorded,
    PlanCertified,
    PlanDrafted,
    PlanRecertified,
    PlanRevised,
)


class Planning(EpisodeState):
    """Assess, then plan; the physician signs each revision of the plan (part of `Referral`)."""


    def record_assessment(
        self,
        *,
        assessment_id: str,
        practitioner: Practitioner,
        history: str,
        pain_nprs: int,
        range_of_motion: list[dict[str, Any]],
        muscle_tests: list[dict[str, Any]],
        functional_instrument: FunctionalInstrument,
        functional_score: float,
        findings: str,
        red_flags: list[str],
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.check_treating(practitioner, occurred_at)
        for test in muscle_tests:
            if not 0 <= int(test.get("grade", -1)) <= 5:
                raise InvalidInput("muscle tests are graded 0-5", field="muscle_tests")
        self.trigger_event(
            AssessmentRecorded,
            assessment_id=assessment_id,
            practitioner_id=str(practitioner.id),
            history=history,
            pain_nprs=pain_score(pain_nprs, "pain_nprs"),
            range_of_motion=range_of_motion,
            muscle_tests=muscle_tests,
            functional_instrument=str(functional_instrument),
            functional_score=percent_score(functional_score, "functional_score"),
            findings=findings,
            red_flags=red_flags,
            occurred_at=occurred_at,
            actor=actor,
        )

    def draft_plan(
        self,
        *,
        plan_id: str,
        practitioner: Practitioner,
        goals: list[Goal],
        techniques: list[Technique],
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
        self._check_plan(goals, techniques, frequency_per_week, duration_weeks, override_reason)
        self.trigger_event(
            PlanDrafted,
            plan_id=plan_id,
            practitioner_id=str(practitioner.id),
            goals=[g.as_dict() for g in goals],
            techniques=[str(t) for t in techniques],
            frequency_per_week=frequency_per_week,
            duration_weeks=duration_weeks,
            override_reason=override_reason,
            occurred_at=occurred_at,
            actor=actor,
        )

    def revise_plan(
        self,
        *,
        practitioner: Practitioner,
        goals: list[Goal],
        techniques: list[Technique],
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
        self._check_plan(goals, techniques, frequency_per_week, duration_weeks, override_reason)
        self.trigger_event(
            PlanRevised,
            plan_id=plan.plan_id,
            revision=plan.revision + 1,
            goals=[g.as_dict() for g in goals],
            techniques=[str(t) for t in techniques],
            frequency_per_week=frequency_per_week,
            duration_weeks=duration_weeks,
            reason=reason,
            override_reason=override_reason,
            occurred_at=occurred_at,
            actor=actor,
        )

    def _check_plan(
        self,
        goals: list[Goal],
        techniques: list[Technique],
        frequency_per_week: int,
        duration_weeks: int,
        override_reason: str | None,
    ) -> None:
        if not goals:
            raise InvariantViolated("a plan has at least one measurable goal")
        if len({g.goal_id for g in goals}) != len(goals):
            raise InvalidInput("goal ids are unique within a plan", field="goals")
        if not techniques:
            raise InvalidInput("a plan names its techniques", field="techniques")
        if not 1 <= frequency_per_week <= 7 or not 1 <= duration_weeks <= 52:
            raise InvalidInput("frequency is 1-7 a week for 1-52 weeks", field="frequency_per_week")
        self.check_contraindications([str(t) for t in techniques], override_reason)

    def certify_plan(
        self,
        *,
        physician: Practitioner,
        certified_from: date,
        certified_until: date,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.check_open()
        plan = self.require_plan()
        if physician.id != self.physician_id:
            raise InvariantViolated("the referring physician certifies the plan")
        physician.check_may_refer(aware(occurred_at).date())
        if plan.certified:
            raise InvariantViolated("this revision is already certified: recertify it")
        check_period(certified_from, certified_until)
        self.trigger_event(
            PlanCertified,
            plan_id=plan.plan_id,
            revision=plan.revision,
            physician_id=str(physician.id),
            certified_from=certified_from,
            certified_until=certified_until,
            occurred_at=occurred_at,
            actor=actor,
        )

    def recertify_plan(
        self,
        *,
        physician: Practitioner,
        certified_from: date,
        certified_until: date,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.check_open()
        plan = self.require_plan()
        if physician.id != self.physician_id:
            raise InvariantViolated("the referring physician recertifies the plan")
        physician.check_may_refer(aware(occurred_at).date())
        if plan.certified_revision != plan.revision:
            raise InvariantViolated("this revision was never certified: certify it first")
        check_period(certified_from, certified_until)
        self.trigger_event(
            PlanRecertified,
            plan_id=plan.plan_id,
            revision=plan.revision,
            physician_id=str(physician.id),
            certified_from=certified_from,
            certified_until=certified_until,
            occurred_at=occurred_at,
            actor=actor,
        )
