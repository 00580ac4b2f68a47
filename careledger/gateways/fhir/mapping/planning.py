"""The treatment plan: a CarePlan with its Goals, a draft until the physician certifies it."""

from __future__ import annotations

from careledger.domain.events import CareEvent
from careledger.domain.referral import Referral
from careledger.gateways.fhir.folding import (
    CREATE,
    UPDATE,
    Change,
    Episode,
    Folding,
    Mapping,
    cpt,
    when,
)
from careledger.gateways.fhir.vocabulary import (
    EXT_CERTIFICATION,
    JSON,
    SID_RECORD,
    TECHNIQUE,
    body_site,
    coding,
    concept,
    label,
    measure,
    practitioner,
    quantity,
    ref,
    resource_id,
)
from careledger.projections.envelope import Envelope


def plan_drafted(r: Folding, e: Envelope) -> Change:
    episode = r.episode(e)
    episode.plan = resource_id("CarePlan", episode.referral, e.data["plan_id"])
    goals = set_goals(r, e, episode, "proposed")
    plan: JSON = {
        "resourceType": "CarePlan",
        "id": episode.plan,
        "identifier": [{"system": SID_RECORD,
                        "value": f"{episode.referral}/{e.data['plan_id']}"}],
        "status": "draft",
        "intent": "plan",
        "subject": r.patient_ref,
        "created": e.occurred_at,
        "author": practitioner(e.data["practitioner_id"]),
        "addresses": [ref(c) for c in episode.conditions],
        "supportingInfo": [ref(episode.referral)],
    }
    r.put(plan)
    plan_content(plan, e, episode)
    return Change(CREATE, [episode.plan, *goals], record=str(e.data["plan_id"]))


def plan_revised(r: Folding, e: Envelope) -> Change:
    episode = r.episode(e)
    assert episode.plan is not None
    before = dict(episode.goals)
    goals = set_goals(r, e, episode, "proposed")
    for goal_id, rid in before.items():
        if goal_id not in episode.goals:  # dropped by the revision
            r.get(rid)["lifecycleStatus"] = "cancelled"
            goals.append(rid)
            episode.goals.pop(goal_id, None)
    plan = r.get(episode.plan)
    plan["status"] = "draft"  # a revision is signed again
    plan.pop("extension", None)
    plan_content(plan, e, episode)
    return Change(UPDATE, [episode.plan, *goals], reason=e.data.get("reason"))


def plan_content(plan: JSON, e: Envelope, episode: Episode) -> None:
    d = e.data
    weekly, weeks = int(d["frequency_per_week"]), int(d["duration_weeks"])
    plan["description"] = f"{weekly} sessions a week for {weeks} weeks"
    plan["goal"] = [ref(g) for g in episode.goals.values()]
    sites = d.get("sites") or {}
    plan["activity"] = [{"detail": {
        "code": concept(coding(TECHNIQUE, t, label(t)), *cpt(t), text=label(t)),
        "status": "scheduled",
        "scheduledTiming": {"repeat": {
            "frequency": weekly, "period": 1, "periodUnit": "wk",
            "boundsDuration": quantity(weeks, "wk"),
        }},
        # CarePlan.activity.detail has no bodySite: the sites are its description.
        **({"description": "On the " + ", ".join(
            body_site(s)["text"].lower() for s in sites[t])} if sites.get(t) else {}),
    }} for t in d["techniques"]]
    notes = [f"Caution, {c}" for c in d.get("cautions", [])]
    if d.get("override_reason"):
        notes += [f"Contraindicated, {o}" for o in d.get("overridden", [])]
        notes.append(f"Contraindication override: {d['override_reason']}")
    if notes:
        plan["note"] = [{"text": n} for n in notes]
    else:
        plan.pop("note", None)


def set_goals(r: Folding, e: Envelope, episode: Episode, status: str) -> list[str]:
    rids = []
    # A drafted plan names its practitioner; a revision is the treating one's.
    author = e.data.get("practitioner_id") or episode.practitioner
    for goal in e.data["goals"]:
        rid = resource_id("Goal", episode.referral, e.data["plan_id"], goal["goal_id"])
        r.put({
            "resourceType": "Goal",
            "id": rid,
            "identifier": [{"system": SID_RECORD, "value":
                            f"{episode.referral}/{e.data['plan_id']}/{goal['goal_id']}"}],
            "lifecycleStatus": status,
            "description": {"text": goal["description"] or goal["metric"]},
            "subject": r.patient_ref,
            "startDate": when(e).date().isoformat(),
            "target": [{
                "measure": measure(goal["metric"]),
                "detailQuantity": {"value": goal["target"], "unit": goal["unit"]},
                "dueDate": goal["due"],
            }],
            **({"expressedBy": practitioner(author)} if author else {}),
            "addresses": [ref(c) for c in episode.conditions],
            "note": [{"text": f"Baseline {goal['baseline']:g} {goal['unit']}"}],
        })
        episode.goals[goal["goal_id"]] = rid
        rids.append(rid)
    return rids


def certified(r: Folding, e: Envelope) -> Change:
    episode = r.episode(e)
    assert episode.plan is not None
    d = e.data
    plan = r.get(episode.plan)
    plan["status"] = "active"
    plan["extension"] = [{"url": EXT_CERTIFICATION, "extension": [
        {"url": "period", "valuePeriod": {"start": d["certified_from"],
                                          "end": d["certified_until"]}},
        {"url": "revision", "valueInteger": d["revision"]},
        {"url": "physician", "valueReference": practitioner(d["physician_id"])},
    ]}]
    for rid in episode.goals.values():
        r.get(rid)["lifecycleStatus"] = "active"
    return Change(UPDATE, [episode.plan, *episode.goals.values()], agent_type="attester")


#: What each event of this stage does to the record.
MAPPINGS: dict[type[CareEvent], Mapping] = {
    Referral.PlanDrafted: plan_drafted,
    Referral.PlanRevised: plan_revised,
    Referral.PlanCertified: certified,
    Referral.PlanRecertified: certified,
}
