"""The initial assessment: history, pain, range of motion, muscle tests, a functional score."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from careledger.domain.body import Site
from careledger.domain.clinical import (
    AmendableRecord,
    FunctionalInstrument,
    pain_score,
    percent_score,
    tender_point_count,
)
from careledger.domain.commands import Command, Decision, Handler, Reader, new_id
from careledger.domain.episode import EpisodeState, Event, OnReferral, on_referral
from careledger.domain.errors import InvalidInput
from careledger.domain.network import Practitioner

if TYPE_CHECKING:
    from careledger.domain.referral import Referral


class AssessmentRecorded(Event):
    """Version 2 adds the tender-point count (of 18; None: not examined) and where the
    patient hurts (`pain_locations`, body sites)."""

    TOPIC = "careledger:Referral.AssessmentRecorded"
    class_version = 2
    assessment_id: str
    practitioner_id: str
    history: str
    pain_nprs: int
    range_of_motion: list[dict[str, Any]]
    muscle_tests: list[dict[str, Any]]
    functional_instrument: str
    functional_score: float
    findings: str
    red_flags: list[str]
    tender_points: int | None
    pain_locations: list[dict[str, Any]]

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state.update(tender_points=None, pain_locations=[])

    def apply(self, referral: Referral) -> None:
        referral.assessment_ids.append(self.assessment_id)
        referral.functional_instrument = self.functional_instrument
        referral.records[self.assessment_id] = AmendableRecord.ASSESSMENT.value


@dataclass(frozen=True, kw_only=True)
class RecordAssessment(OnReferral):
    practitioner_id: UUID
    history: str
    pain_nprs: int
    range_of_motion: Sequence[Mapping[str, Any]]
    muscle_tests: Sequence[Mapping[str, Any]]
    functional_instrument: FunctionalInstrument
    functional_score: float
    findings: str
    red_flags: Sequence[str]
    #: The record's id, if the caller chose one (else one is drawn).
    assessment_id: str | None = None
    tender_points: int | None = None
    pain_locations: Sequence[Site] = ()


class Assessing(EpisodeState):
    """The treating practitioner assesses before any plan (part of `Referral`)."""

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
        tender_points: int | None,
        pain_locations: list[Site],
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
            functional_score=percent_score(functional_score, "functional_score",
                                           FunctionalInstrument(functional_instrument)),
            findings=findings,
            red_flags=red_flags,
            tender_points=tender_point_count(tender_points),
            pain_locations=[s.as_dict() for s in sorted(set(pain_locations))],
            occurred_at=occurred_at,
            actor=actor,
        )


# ------------------------------------------------------------------ deciding


def record_assessment(cmd: RecordAssessment, read: Reader[Any]) -> Decision:
    record_id = new_id(cmd.assessment_id)
    return on_referral(cmd, lambda r: r.record_assessment(
        assessment_id=record_id, practitioner=read(Practitioner, cmd.practitioner_id),
        history=cmd.history, pain_nprs=cmd.pain_nprs,
        range_of_motion=[dict(m) for m in cmd.range_of_motion],
        muscle_tests=[dict(m) for m in cmd.muscle_tests],
        functional_instrument=cmd.functional_instrument,
        functional_score=cmd.functional_score, findings=cmd.findings,
        red_flags=list(cmd.red_flags), tender_points=cmd.tender_points,
        pain_locations=list(cmd.pain_locations), occurred_at=cmd.occurred_at, actor=cmd.actor))


#: This stage's commands, and what decides each.
HANDLERS: dict[type[Command], Handler] = {
    RecordAssessment: record_assessment,
}
