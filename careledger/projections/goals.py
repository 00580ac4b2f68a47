"""Goal outcomes per plan: baseline, latest measurement, target, how far, met or not.

Goals come from the plan (drafted or revised), measurements from completed sessions,
and the verdict from discharge. "Percent of the way" is measured from baseline toward
target, whichever direction the target lies (pain falls, range of motion rises).
"""

from __future__ import annotations

from careledger.projections import Projection, Writes, handles
from careledger.projections.envelope import Envelope


class Goals(Projection):
    name = "goals"
    tables = ("goals",)
    DDL = """
    CREATE TABLE IF NOT EXISTS {v}.goals (
      referral_id uuid NOT NULL,
      goal_id text NOT NULL,
      plan_id text NOT NULL,
      patient_id uuid NOT NULL,
      description text NOT NULL,
      metric text NOT NULL,
      unit text NOT NULL,
      baseline double precision NOT NULL,
      target double precision NOT NULL,
      due date,
      latest double precision,
      measured_at timestamptz,
      percent_of_way double precision,
      outcome text,
      position bigint NOT NULL,
      PRIMARY KEY (referral_id, goal_id)
    );
    CREATE INDEX IF NOT EXISTS goals_patient ON {v}.goals (patient_id);
    """

    @handles("Referral.PlanDrafted", "Referral.PlanRevised")
    def planned(self, e: Envelope, out: Writes) -> None:
        d = e.data
        for goal in d["goals"]:
            out.execute(self.sql(
                "INSERT INTO {v}.goals (referral_id, goal_id, plan_id, patient_id, description,"
                " metric, unit, baseline, target, due, position)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (referral_id, goal_id) DO UPDATE SET plan_id = EXCLUDED.plan_id,"
                " description = EXCLUDED.description, metric = EXCLUDED.metric,"
                " unit = EXCLUDED.unit, baseline = EXCLUDED.baseline, target = EXCLUDED.target,"
                " due = EXCLUDED.due, position = EXCLUDED.position"
                " WHERE {v}.goals.position < EXCLUDED.position"
            ), (e.aggregate_id, goal["goal_id"], d.get("plan_id", ""), e.patient_id,
                goal["description"], goal["metric"], goal["unit"], goal["baseline"],
                goal["target"], goal.get("due"), e.position))

    @handles("Referral.SessionCompleted")
    def measured(self, e: Envelope, out: Writes) -> None:
        # A goal measured twice in one session keeps its first value, one row per goal
        # being all one UPDATE can change.
        first: dict[str, float] = {}
        for m in e.data.get("goal_measurements") or []:
            first.setdefault(str(m["goal_id"]), float(m["value"]))
        if not first:
            return
        out.execute(self.sql(
            "UPDATE {v}.goals g SET latest = m.value, measured_at = %s, percent_of_way ="
            " CASE WHEN g.target = g.baseline THEN NULL ELSE round(((m.value - g.baseline)"
            " / (g.target - g.baseline) * 100)::numeric, 1) END, position = %s"
            " FROM unnest(%b::text[], %b::float8[]) AS m(goal_id, value)"
            " WHERE g.referral_id = %s AND g.goal_id = m.goal_id AND g.position < %s"
        ), (e.occurred_at, e.position, list(first), list(first.values()), e.aggregate_id,
            e.position))

    @handles("Referral.Discharged")
    def discharged(self, e: Envelope, out: Writes) -> None:
        for outcome in e.data.get("outcomes") or []:
            out.execute(self.sql(
                "UPDATE {v}.goals SET outcome = %s, position = %s"
                " WHERE referral_id = %s AND goal_id = %s AND position < %s"
            ), (outcome["outcome"], e.position, e.aggregate_id, outcome["goal_id"], e.position))
