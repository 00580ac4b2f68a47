"""Sessions: an Encounter each, its SOAP note, measurements, Procedures and ChargeItems."""

from __future__ import annotations

import html
from typing import Any

from careledger.domain.events import CareEvent
from careledger.domain.fees import UNTIMED
from careledger.domain.referral import Referral
from careledger.gateways.fhir.folding import CREATE, UPDATE, Change, Episode, Folding, Mapping, cpt
from careledger.gateways.fhir.mapping.assessment import functional, observation, tender_points
from careledger.gateways.fhir.vocabulary import (
    CPT,
    EXT_TIMED_MINUTES,
    JSON,
    NPRS,
    SID_RECORD,
    TECHNIQUE,
    V3_ACT_CODE,
    body_site,
    clinic,
    coding,
    concept,
    label,
    practitioner,
    quantity,
    ref,
    resource_id,
)
from careledger.projections.envelope import Envelope


def encounter_of(r: Folding, e: Envelope, episode: Episode) -> JSON:
    session = str(e.data["session_id"])
    rid = episode.encounters.get(session)
    if rid is not None:
        return r.get(rid)
    rid = resource_id("Encounter", episode.referral, session)
    episode.encounters[session] = rid
    encounter: JSON = {
        "resourceType": "Encounter",
        "id": rid,
        "identifier": [{"system": SID_RECORD, "value": f"{episode.referral}/{session}"}],
        "status": "planned",
        "class": _encounter_class("clinic"),
        "subject": r.patient_ref,
        "basedOn": r.based_on(episode),
        "serviceProvider": clinic(episode.clinic_id),
    }
    r.put(encounter)
    return encounter


def scheduled(r: Folding, e: Envelope) -> Change:
    episode = r.episode(e)
    encounter = encounter_of(r, e, episode)
    encounter["class"] = _encounter_class(e.data["location"])
    encounter["participant"] = [{"individual": practitioner(e.data["practitioner_id"])}]
    encounter["period"] = {"start": e.data["scheduled_for"]}
    return Change(CREATE, [encounter["id"]])


def completed(r: Folding, e: Envelope) -> Change:
    d, episode = e.data, r.episode(e)
    session = str(d["session_id"])
    encounter = encounter_of(r, e, episode)
    eid = encounter["id"]
    encounter.update({
        "status": "finished",
        "class": _encounter_class(d["location"]),
        "participant": [{"individual": practitioner(d["practitioner_id"])}],
        "period": {"start": e.occurred_at},
        "length": quantity(d["total_timed_minutes"], "min"),
        "text": {"status": "additional", "div": _soap(d["soap"])},
    })
    base = (episode.referral, session)
    made = [eid,
            observation(r, e, resource_id("Observation", *base, "pain-before"),
                              concept(NPRS, text="Pain before treatment (NPRS 0-10)"),
                              {"valueInteger": d["pain_before"]}, episode, eid),
            observation(r, e, resource_id("Observation", *base, "pain-after"),
                              concept(NPRS, text="Pain after treatment (NPRS 0-10)"),
                              {"valueInteger": d["pain_after"]}, episode, eid)]
    if d.get("functional_score") is not None:
        made.append(functional(r, e, resource_id("Observation", *base, "function"),
                                     episode.instrument, d["functional_score"], episode,
                                     eid))
    if d.get("tender_points") is not None:
        made.append(tender_points(r, e, resource_id("Observation", *base, "tender-points"),
                                  int(d["tender_points"]), episode, eid))
    procedures: dict[str, list[str]] = {}
    for i, used in enumerate(d["techniques"]):
        technique = str(used["technique"])
        codes = cpt(technique)
        procedure: JSON = {
            "resourceType": "Procedure",
            "id": resource_id("Procedure", *base, i, technique),
            "extension": [{"url": EXT_TIMED_MINUTES,
                           "valueQuantity": quantity(used["minutes"], "min")}],
            "basedOn": r.based_on(episode),
            "status": "completed",
            "code": concept(*codes, coding(TECHNIQUE, technique, label(technique)),
                            text=label(technique)),
            "subject": r.patient_ref,
            "encounter": ref(eid),
            "performedDateTime": e.occurred_at,
            "performer": [{"actor": practitioner(d["practitioner_id"])}],
            "reasonReference": [ref(c) for c in episode.conditions],
        }
        if used.get("sites"):
            procedure["bodySite"] = [body_site(s) for s in used["sites"]]
        notes = _notes(d, technique, episode.contraindications)
        if notes:
            procedure["note"] = [{"text": n} for n in notes]
        made.append(r.put(procedure))
        episode.procedures.setdefault(session, []).append(procedure["id"])
        for c in codes:
            procedures.setdefault(c["code"], []).append(procedure["id"])
    for line in d.get("billing_lines", []):
        untimed = UNTIMED.get(str(line["cpt"]))
        made.append(r.put({
            "resourceType": "ChargeItem",
            "id": resource_id("ChargeItem", *base, line["cpt"]),
            # An untimed service (an evaluation, a manipulation) bills once: no minutes.
            **({} if untimed else {"extension": [{
                "url": EXT_TIMED_MINUTES, "valueQuantity": quantity(line["minutes"], "min")}]}),
            # A code the 8-minute rule gives no units: its minutes, not a charge.
            "status": "billable" if line["units"] else "not-billable",
            "code": concept(coding(CPT, str(line["cpt"])),
                            text=untimed[0] if untimed else f"CPT {line['cpt']}"),
            "subject": r.patient_ref,
            "context": ref(eid),
            "occurrenceDateTime": e.occurred_at,
            "performer": [{"actor": practitioner(d["practitioner_id"])}],
            "quantity": {"value": line["units"], "unit": "units"},
            "service": [ref(p) for p in procedures.get(str(line["cpt"]), [])],
        }))
    return Change(CREATE, made, record=session)


def _notes(d: dict[str, Any], technique: str, contraindicated: set[str]) -> list[str]:
    """What the note says of this technique: the cautions and overridden contraindications
    that name it (their sentences name techniques in words), and what went beyond the plan."""
    words = technique.replace("_", " ")
    notes = [f"Caution, {c}" for c in d.get("cautions", []) if words in c]
    overridden = [o for o in d.get("overridden", []) if words in o]
    if d.get("override_reason") and (overridden or technique in contraindicated):
        notes += [f"Contraindicated, {o}" for o in overridden]
        notes.append(f"Override: {d['override_reason']}")
    beyond = [b for b in d.get("off_plan", []) if b.startswith(words)]
    if beyond:
        notes += [f"Beyond the plan, {b}" for b in beyond]
        notes.append(f"Reason: {d.get('off_plan_reason')}")
    return notes


def deviation_acknowledged(r: Folding, e: Envelope) -> Change:
    """The referring physician's acknowledgement, on each Procedure of the session."""
    episode = r.episode(e)
    targets = episode.procedures.get(str(e.data["session_id"]), [])
    text = "Acknowledged by the referring physician" + (
        f": {e.data['note']}" if e.data.get("note") else "")
    for rid in targets:
        r.get(rid).setdefault("note", []).append({"text": text})
    return Change(UPDATE, list(targets), agent_type="verifier")


def session_cancelled(r: Folding, e: Envelope) -> Change:
    encounter = encounter_of(r, e, r.episode(e))
    encounter["status"] = "cancelled"
    return Change(UPDATE, [encounter["id"]], reason=e.data.get("reason"))


def no_show(r: Folding, e: Envelope) -> Change:
    encounter = encounter_of(r, e, r.episode(e))
    encounter["status"] = "cancelled"
    return Change(UPDATE, [encounter["id"]], reason="the patient did not attend")


def _encounter_class(location: str) -> JSON:
    """At the clinic an ambulatory encounter; at the patient's home, home health."""
    if location == "home":
        return coding(V3_ACT_CODE, "HH", "home health")
    return coding(V3_ACT_CODE, "AMB", "ambulatory")


def _soap(soap: dict[str, Any]) -> str:
    """The SOAP note as the Encounter's narrative (XHTML, every word escaped)."""
    parts = "".join(f"<p><b>{title}:</b> {html.escape(str(soap.get(key, '')))}</p>"
                    for key, title in (("subjective", "Subjective"), ("objective", "Objective"),
                                       ("assessment", "Assessment"), ("plan", "Plan")))
    return f'<div xmlns="http://www.w3.org/1999/xhtml">{parts}</div>'


#: What each event of this stage does to the record.
MAPPINGS: dict[type[CareEvent], Mapping] = {
    Referral.SessionScheduled: scheduled,
    Referral.SessionCompleted: completed,
    Referral.PlanDeviationAcknowledged: deviation_acknowledged,
    Referral.SessionCancelled: session_cancelled,
    Referral.PatientDidNotAttend: no_show,
}
