"""What a patient's chart adds to the timeline: progress per plan, and who is who.

Values are as the record now stands (or stood at `asOf`): each record's amendments are
applied over it, by the domain's rule (`corrections.as_amended`).

Both are fields of `Patient`, so they are read only after `patient(id)` has authorized
the caller and logged the read (the fields asked for are in the log line). Each is one
statement over the views, however many plans, sessions or providers there are.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

import strawberry

from careledger.domain.catalogue import kinds
from careledger.domain.corrections import as_amended
from careledger.domain.referral import Referral
from careledger.graphql.context import Info, read_views
from careledger.graphql.corrections import corrections
from careledger.graphql.patient.types import (
    RECORD_KINDS,
    GoalTarget,
    PlanProgress,
    ProgressPoint,
    Provider,
)

#: The timeline rows that carry measurements or a plan's goals.
MEASURED = kinds(Referral.AssessmentRecorded, Referral.PlanDrafted, Referral.PlanRevised,
                 Referral.SessionCompleted)


@strawberry.type
class PatientChart:
    id: UUID

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Pain (NPRS), the functional score (ODI or NDI) and the tender-point "
        "count (when counted) per episode, from "
        "the assessment through every completed session, with the goals of the latest "
        "plan. `asOf`: as the record stood at that moment.")
    def progress(self, info: Info,
                 as_of: datetime | None = None) -> list[PlanProgress]:
        return _progress(read_views(
            info, "SELECT t.referral_id, t.clinic_id, t.kind, t.occurred_at, t.data,"
            " (SELECT json_agg(json_build_object('changes', a.data -> 'changes', 'reason',"
            " a.data ->> 'reason', 'at', a.recorded_at) ORDER BY a.position) FROM {v}.timeline a"
            " WHERE a.patient_id = t.patient_id AND a.referral_id = t.referral_id"
            " AND a.amends_record_id = t.record_id AND a.kind = %s"
            " AND (%s::timestamptz IS NULL OR a.recorded_at <= %s)) AS corrections"
            " FROM {v}.timeline t"
            " WHERE t.patient_id = %s AND t.kind = ANY(%s) AND t.referral_id IS NOT NULL"
            " AND (%s::timestamptz IS NULL OR t.recorded_at <= %s)"
            " ORDER BY t.occurred_at, t.position",
            (Referral.Amended.KIND, as_of, as_of, self.id, MEASURED, as_of, as_of)))

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="The clinics and practitioners the patient's record names, for "
        "showing who and where.")
    def providers(self, info: Info) -> list[Provider]:
        rows = read_views(
            info, "SELECT c.clinic_id AS id, 'clinic' AS kind, c.name, NULL AS profession"
            " FROM {v}.clinics c WHERE c.clinic_id IN (SELECT t.clinic_id FROM {v}.timeline t"
            " WHERE t.patient_id = %s)"
            " UNION ALL SELECT p.practitioner_id, 'practitioner', p.name, p.profession"
            " FROM {v}.practitioners p WHERE p.practitioner_id IN (SELECT t.practitioner_id"
            " FROM {v}.timeline t WHERE t.patient_id = %s) ORDER BY kind, name",
            (self.id, self.id))
        return [Provider(**row) for row in rows]


#: The fields a point shows, as the record names them -> as the point does.
ASSESSED = {"pain_nprs": "painAfter", "functional_score": "functionalScore",
            "tender_points": "tenderPoints"}
MEASURED_AT_VISIT = {"pain_before": "painBefore", "pain_after": "painAfter",
                     "functional_score": "functionalScore", "tender_points": "tenderPoints"}


def _progress(rows: list[dict[str, Any]]) -> list[PlanProgress]:
    plans: dict[UUID, PlanProgress] = {}
    for row in rows:
        plan = plans.get(row["referral_id"])
        if plan is None:
            plan = plans[row["referral_id"]] = PlanProgress(
                referral_id=row["referral_id"], clinic_id=row["clinic_id"], plan_id=None,
                instrument=None, points=[], goals=[])
        # The values as they stood (as of `asOf`): the record's amendments applied.
        amendments = row["corrections"] or []
        kind = RECORD_KINDS[row["kind"]]
        data = as_amended(kind, row["data"], [a["changes"] for a in amendments])
        if row["kind"] == Referral.AssessmentRecorded.KIND:
            plan.instrument = data.get("functional_instrument")
            plan.points.append(ProgressPoint(
                occurred_at=row["occurred_at"], session_id=None, pain_before=None,
                pain_after=data.get("pain_nprs"), functional_score=data.get("functional_score"),
                tender_points=data.get("tender_points"),
                corrections=corrections(kind, row["data"], amendments, ASSESSED)))
        elif row["kind"] == Referral.SessionCompleted.KIND:
            plan.clinic_id = row["clinic_id"] or plan.clinic_id
            plan.points.append(ProgressPoint(
                occurred_at=row["occurred_at"], session_id=data.get("session_id"),
                pain_before=data.get("pain_before"), pain_after=data.get("pain_after"),
                functional_score=data.get("functional_score"),
                tender_points=data.get("tender_points"),
                corrections=corrections(kind, row["data"], amendments, MEASURED_AT_VISIT)))
        else:  # a plan drafted or revised: its goals replace the earlier ones
            plan.plan_id = data.get("plan_id")
            plan.goals = [GoalTarget(
                goal_id=g["goal_id"], description=g["description"], metric=g["metric"],
                unit=g["unit"], baseline=g["baseline"], target=g["target"],
                due=date.fromisoformat(g["due"]) if g.get("due") else None,
            ) for g in data.get("goals") or []]
    return list(plans.values())
