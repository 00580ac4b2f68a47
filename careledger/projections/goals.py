"""Goal outcomes per plan: baseline, latest measurement, target, how far, met or not.

Goals come from the plan (drafted or revised), measurements from completed sessions,
and the verdict from discharge. "Percent of the way" is measured from baseline toward
target, whichever direction the target lies (pain falls, range of motion rises).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from careledger.domain.clinical import AmendableRecord
from careledger.domain.corrections import valid_changes
from careledger.domain.referral import Referral
from careledger.projections.envelope import Envelope
from careledger.projections.memory import typed
from careledger.projections.model import (
    Change,
    Column,
    Projection,
    Read,
    Row,
    Table,
    Update,
    Upsert,
)
from careledger.projections.placement import ignored

GOALS = Table("goals", (
    Column("referral_id", "uuid", "NOT NULL"),
    Column("goal_id", "text", "NOT NULL"),
    Column("plan_id", "text", "NOT NULL"),
    Column("patient_id", "uuid", "NOT NULL"),
    Column("description", "text", "NOT NULL"),
    Column("metric", "text", "NOT NULL"),
    Column("unit", "text", "NOT NULL"),
    Column("baseline", "double precision", "NOT NULL"),
    Column("target", "double precision", "NOT NULL"),
    Column("due", "date"),
    Column("latest", "double precision"),
    Column("measured_at", "timestamptz"),
    #: The session the latest measurement comes from, so that its amendment moves it.
    Column("measured_record", "text"),
    Column("percent_of_way", "double precision"),
    Column("outcome", "text"),
    Column("position", "bigint", "NOT NULL"),
), key=("referral_id", "goal_id"), indexes=(
    "CREATE INDEX IF NOT EXISTS goals_patient ON {v}.goals (patient_id)",
))

goals = Projection("goals", [GOALS], ignores=ignored("goals"))

#: The goals of an episode, with their baselines and targets.
EPISODE_GOALS = Read(GOALS, "referral_id")

_TENTH = Decimal("0.1")


def percent_of_way(value: float, baseline: float, target: float) -> float | None:
    """How far from baseline toward target, in percent to one decimal.

    Rounded as PostgreSQL rounds a double precision cast to numeric (15 significant
    digits, then half away from zero; numeric has no -0), which is how these rows were
    computed before.
    """
    if target == baseline:
        return None
    share = (value - baseline) / (target - baseline) * 100
    return float(Decimal(f"{share:.15g}").quantize(_TENTH, rounding=ROUND_HALF_UP)) + 0.0


@goals.handles(Referral.PlanDrafted, Referral.PlanRevised)
def planned(e: Envelope) -> list[Change]:
    d = e.data
    return [Upsert(GOALS, {
        "referral_id": e.aggregate_id, "goal_id": goal["goal_id"],
        "plan_id": d.get("plan_id", ""), "patient_id": e.patient_id,
        "description": goal["description"], "metric": goal["metric"], "unit": goal["unit"],
        "baseline": goal["baseline"], "target": goal["target"], "due": goal.get("due"),
        "position": e.position,
    }, update=("plan_id", "description", "metric", "unit", "baseline", "target", "due",
               "position")) for goal in d["goals"]]


@goals.handles(Referral.SessionCompleted, reads=[EPISODE_GOALS])
def measured(e: Envelope, planned_goals: list[Row]) -> list[Change]:
    # A goal measured twice in one session keeps its first value.
    first: dict[str, float] = {}
    for m in e.data.get("goal_measurements") or []:
        first.setdefault(str(m["goal_id"]), float(m["value"]))
    return [Update(GOALS, {"referral_id": e.aggregate_id, "goal_id": goal["goal_id"]}, {
        "latest": first[goal["goal_id"]], "measured_at": e.occurred_at,
        "measured_record": e.data["session_id"],
        "percent_of_way": percent_of_way(first[goal["goal_id"]], goal["baseline"],
                                         goal["target"]),
    }, e.position) for goal in planned_goals if goal["goal_id"] in first]


@goals.handles(Referral.Amended, reads=[EPISODE_GOALS])
def amended(e: Envelope, planned_goals: list[Row]) -> list[Change]:
    """A corrected measurement (of the session a goal's latest comes from) or a corrected
    goal of the plan: the goal's values as they now stand, and how far it has come."""
    d = e.data
    kind = AmendableRecord(d["record_kind"])
    changes = valid_changes(kind, d["changes"], {"goal_measurements", "goals"})
    out: list[Change] = []
    if kind == AmendableRecord.SESSION and "goal_measurements" in changes:
        first: dict[str, float] = {}
        for m in changes["goal_measurements"]:
            if "goal_id" in m and isinstance(m.get("value"), int | float):
                first.setdefault(str(m["goal_id"]), float(m["value"]))
        out += [Update(GOALS, {"referral_id": e.aggregate_id, "goal_id": goal["goal_id"]}, {
            "latest": first[goal["goal_id"]],
            "percent_of_way": percent_of_way(first[goal["goal_id"]], goal["baseline"],
                                             goal["target"]),
        }, e.position) for goal in planned_goals
            if goal["goal_id"] in first and goal["measured_record"] == d["record_id"]]
    if kind == AmendableRecord.PLAN and "goals" in changes:
        corrected = {str(g["goal_id"]): g for g in changes["goals"] if _goal_shaped(g)}
        for goal in planned_goals:
            new = corrected.get(goal["goal_id"])
            if new is None or goal["plan_id"] != d["record_id"]:
                continue
            baseline, target = float(new["baseline"]), float(new["target"])
            out.append(Update(GOALS, {"referral_id": e.aggregate_id, "goal_id": goal["goal_id"]}, {
                "description": new["description"], "metric": new["metric"],
                "unit": new["unit"], "baseline": baseline, "target": target,
                "due": typed(GOALS, "due", new.get("due")),
                "percent_of_way": None if goal["latest"] is None else percent_of_way(
                    goal["latest"], baseline, target),
            }, e.position))
    return out


def _goal_shaped(goal: Row) -> bool:
    """A goal as a plan writes it (an amendment stored before they were checked may not be)."""
    return all(isinstance(goal.get(k), str) for k in ("goal_id", "description", "metric",
                                                      "unit")) and all(
        isinstance(goal.get(k), int | float) for k in ("baseline", "target"))


@goals.handles(Referral.Discharged)
def discharged(e: Envelope) -> list[Change]:
    return [Update(GOALS, {"referral_id": e.aggregate_id, "goal_id": o["goal_id"]},
                   {"outcome": o["outcome"]}, e.position)
            for o in e.data.get("outcomes") or []]
