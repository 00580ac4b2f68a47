"""Reporting back and closing: progress reports as Communications, the discharge."""

from __future__ import annotations

from careledger.domain.events import CareEvent
from careledger.domain.referral import Referral
from careledger.gateways.fhir.folding import CREATE, UPDATE, Change, Folding, Mapping, when
from careledger.gateways.fhir.vocabulary import (
    ACHIEVEMENT,
    GOAL_ACHIEVEMENT,
    SID_RECORD,
    coding,
    concept,
    practitioner,
    ref,
    resource_id,
)
from careledger.projections.envelope import Envelope


def progress_reported(r: Folding, e: Envelope) -> Change:
    d, episode = e.data, r.episode(e)
    lines = [str(d["summary"]), f"{d['visits_to_date']} visits to date"]
    lines += [f"Goal {s.get('goal_id')}: latest {s.get('latest')}"
              + (f" ({s['note']})" if s.get("note") else "") for s in d.get("goal_status", [])]
    rid = r.put({
        "resourceType": "Communication",
        "id": resource_id("Communication", episode.referral, d["report_id"]),
        "identifier": [{"system": SID_RECORD, "value": f"{episode.referral}/{d['report_id']}"}],
        "basedOn": r.based_on(episode),
        "status": "completed",
        "subject": r.patient_ref,
        "topic": concept(text="Progress report"),
        "about": [ref(episode.referral)] + ([ref(episode.plan)] if episode.plan else []),
        "sent": e.occurred_at,
        "recipient": [practitioner(d["physician_id"])],
        "sender": practitioner(d["practitioner_id"]),
        "payload": [{"contentString": line} for line in lines],
    })
    return Change(CREATE, [rid], record=str(d["report_id"]))


def discharged(r: Folding, e: Envelope) -> Change:
    d, episode = e.data, r.episode(e)
    r.get(episode.referral)["status"] = "completed"
    targets = [episode.referral]
    if episode.plan is not None:
        plan = r.get(episode.plan)
        plan["status"] = "completed"
        plan["note"] = [*plan.get("note", []),
                        {"text": f"Discharged after {d['visits']} visits: {d['summary']}"}]
        for activity in plan.get("activity", []):
            activity["detail"]["status"] = "completed"
        targets.append(episode.plan)
    for outcome in d["outcomes"]:
        rid = episode.goals.get(outcome["goal_id"])
        if rid is None:
            continue
        said = str(outcome["outcome"])
        r.get(rid).update({
            "lifecycleStatus": "completed",
            "achievementStatus": concept(
                coding(GOAL_ACHIEVEMENT, ACHIEVEMENT.get(said, "no-progress")),
                text=said.replace("_", " ")),
            "statusDate": when(e).date().isoformat(),
        })
        targets.append(rid)
    return Change(UPDATE, targets, record="discharge")


#: What each event of this stage does to the record.
MAPPINGS: dict[type[CareEvent], Mapping] = {
    Referral.ProgressReported: progress_reported,
    Referral.Discharged: discharged,
}
