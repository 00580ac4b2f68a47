"""The referral: a ServiceRequest for the clinic, with the physician's diagnoses as
Conditions; the visits authorized later add to its quantity, a payer's authorization as
a preauthorization ClaimResponse it references."""

from __future__ import annotations

from careledger.domain.authorization import AuthorizationSource
from careledger.domain.events import CareEvent
from careledger.domain.precautions import CodedPrecaution
from careledger.domain.referral import Referral
from careledger.gateways.fhir.folding import CREATE, UPDATE, Change, Episode, Folding, Mapping
from careledger.gateways.fhir.vocabulary import (
    CLAIM_TYPE,
    CONDITION_CLINICAL,
    CONDITION_VERIFICATION,
    DISCIPLINE,
    ICD10CM,
    JSON,
    SID_PAYER_AUTHORIZATION,
    SID_REFERRAL,
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


def made(r: Folding, e: Envelope) -> Change:
    d = e.data
    referral = str(e.aggregate_id)
    physician = practitioner(d["physician_id"])
    conditions = []
    for diagnosis in d["diagnoses"]:
        conditions.append(r.put({
            "resourceType": "Condition",
            "id": resource_id("Condition", referral, diagnosis["code"]),
            "clinicalStatus": concept(coding(CONDITION_CLINICAL, "active")),
            "verificationStatus": concept(coding(CONDITION_VERIFICATION, "confirmed")),
            "code": concept(coding(ICD10CM, diagnosis["code"], diagnosis.get("description")),
                            text=diagnosis.get("description")),
            "subject": r.patient_ref,
            "recordedDate": e.occurred_at,
            "recorder": physician,
            "asserter": physician,
        }))
    notes = [f"Precaution: {CodedPrecaution.parse(p).label}"
             for p in d.get("coded_precautions", [])]
    notes += [f"Precaution: {p}" for p in d.get("precautions", [])]
    notes += [f"Contraindicated: {label(t)}" for t in d.get("contraindications", [])]
    if d.get("reason"):
        notes.insert(0, str(d["reason"]))
    request: JSON = {
        "resourceType": "ServiceRequest",
        "id": referral,
        "identifier": [{"system": SID_REFERRAL, "value": referral}],
        "status": "active",
        "intent": "order",
        "priority": d["urgency"],
        "code": concept(coding(DISCIPLINE, d["discipline"], label(d["discipline"])),
                        text=label(d["discipline"])),
        "quantityQuantity": quantity(d["authorized_visits"], "visits", "{visit}"),
        "subject": r.patient_ref,
        "authoredOn": e.occurred_at,
        "requester": physician,
        "performer": [clinic(d["clinic_id"])],
        "reasonReference": [ref(c) for c in conditions],
    }
    if notes:
        request["note"] = [{"text": n} for n in notes]
    r.put(request)
    r.episodes[referral] = Episode(
        referral=referral, conditions=conditions, clinic_id=str(d["clinic_id"]),
        contraindications=set(d.get("contraindications", [])))
    return Change(CREATE, [referral, *conditions], record=referral)


def accepted(r: Folding, e: Envelope) -> Change:
    episode = r.episode(e)
    request = r.get(episode.referral)
    episode.practitioner = str(e.data["practitioner_id"])
    request["performer"] = [clinic(episode.clinic_id), practitioner(episode.practitioner)]
    request["status"] = "active"
    return Change(UPDATE, [episode.referral])


def declined(r: Folding, e: Envelope) -> Change:
    episode = r.episode(e)
    r.get(episode.referral)["status"] = "on-hold"
    return Change(UPDATE, [episode.referral], reason=e.data.get("reason"))


def redirected(r: Folding, e: Envelope) -> Change:
    episode = r.episode(e)
    episode.clinic_id = str(e.data["clinic_id"])
    episode.practitioner = None
    request = r.get(episode.referral)
    request["performer"] = [clinic(episode.clinic_id)]
    request["status"] = "active"
    return Change(UPDATE, [episode.referral], reason=e.data.get("reason"))


def cancelled(r: Folding, e: Envelope) -> Change:
    episode = r.episode(e)
    r.get(episode.referral)["status"] = "revoked"
    return Change(UPDATE, [episode.referral], reason=e.data.get("reason"))


def visits_authorized(r: Folding, e: Envelope) -> Change:
    d = e.data
    episode = r.episode(e)
    request = r.get(episode.referral)
    request["quantityQuantity"] = quantity(
        request["quantityQuantity"]["value"] + d["visits"], "visits", "{visit}")
    changed = [episode.referral]
    if d["source"] == AuthorizationSource.PAYER:
        period = {"start": d["starts_on"], **({"end": d["ends_on"]} if d["ends_on"] else {})}
        authorization = r.put({
            "resourceType": "ClaimResponse",
            "id": resource_id("ClaimResponse", episode.referral, d["authorization_id"]),
            "identifier": [{"system": SID_PAYER_AUTHORIZATION, "value": d["number"]}],
            "status": "active",
            "type": concept(coding(CLAIM_TYPE, "professional", "Professional")),
            "use": "preauthorization",
            "patient": r.patient_ref,
            "created": e.occurred_at,
            "insurer": {"display": d["payer"]},
            "requestor": clinic(episode.clinic_id),
            "outcome": "complete",
            "disposition": f"{d['visits']} visits authorized",
            "preAuthRef": d["number"],
            "preAuthPeriod": period,
        })
        coverage = resource_id("Coverage", r.patient_id, d.get("coverage_id"))
        if d.get("coverage_id") and coverage in r.resources:  # the coverage it falls under
            r.get(authorization)["insurance"] = [
                {"sequence": 1, "focal": True, "coverage": ref(coverage)}]
        request.setdefault("supportingInfo", []).append(ref(authorization))
        changed.append(authorization)
    return Change(UPDATE if len(changed) == 1 else CREATE, changed)


#: What each event of this stage does to the record.
MAPPINGS: dict[type[CareEvent], Mapping] = {
    Referral.Made: made,
    Referral.VisitsAuthorized: visits_authorized,
    Referral.Accepted: accepted,
    Referral.Declined: declined,
    Referral.Redirected: redirected,
    Referral.Cancelled: cancelled,
}
