"""The patient: their registration (the Patient resource) and their consent."""

from __future__ import annotations

from typing import Any

from careledger.domain.consent import Purpose
from careledger.domain.events import CareEvent
from careledger.domain.patient import Patient
from careledger.gateways.fhir.folding import CREATE, UPDATE, Change, Folding, Mapping
from careledger.gateways.fhir.vocabulary import (
    ACT_REASON,
    CONSENT_CATEGORY,
    CONSENT_SCOPE,
    COVERAGE_CLASS,
    JSON,
    PARTICIPATION_TYPE,
    SID_CONSENT_FORM,
    SID_MEMBER,
    SID_PATIENT,
    SUBSCRIBER_RELATIONSHIP,
    clinic,
    coding,
    concept,
    ref,
    resource_id,
)
from careledger.projections.envelope import Envelope

#: The FHIR purpose of use of each of the domain's purposes (v3 ActReason).
PURPOSES = {Purpose.TREATMENT: coding(ACT_REASON, "TREAT", "treatment")}


def registered(r: Folding, e: Envelope) -> Change:
    d = e.data
    patient: JSON = {
        "resourceType": "Patient",
        "id": r.patient_id,
        "identifier": [{"system": SID_PATIENT, "value": r.patient_id}],
        "name": [{"family": d["family_name"], "given": [d["given_name"]]}],
        "gender": d["sex"],
        "birthDate": d["birth_date"],
    }
    return Change(CREATE, [r.put(patient)])


def consent_granted(r: Folding, e: Envelope) -> Change:
    consent: JSON = {
        "resourceType": "Consent",
        "id": resource_id("Consent", r.patient_id, e.aggregate_version),
        "status": "active",
        "scope": concept(coding(CONSENT_SCOPE, "patient-privacy", "Privacy Consent")),
        "category": [concept(CONSENT_CATEGORY)],
        "patient": r.patient_ref,
        "dateTime": e.occurred_at,
        "policyRule": concept(text=f"Sharing with the clinics of the network "
                                   f"(scope: {e.data.get('scope', 'network')})"),
        "provision": {"type": "permit"},
    }
    r.consent = r.put(consent)
    r.consents[_scope(None, Purpose.TREATMENT)] = r.consent
    return Change(CREATE, [r.consent])


def _scope(clinic_id: str | None, purpose: str) -> str:
    return f"{clinic_id or 'network'}:{purpose}"


def consent_decided(r: Folding, e: Envelope) -> Change:
    """A Consent per decision, its provision the decision (permit or deny, the clinic as
    its actor, the purpose, the period); the decision it supersedes, of the same clinic
    (or the network) and purpose, becomes inactive."""
    d = e.data
    provision: JSON = {
        "type": "permit" if d["permit"] else "deny",
        "period": {"start": d["starts_on"], **({"end": d["ends_on"]} if d["ends_on"] else {})},
        "purpose": [PURPOSES[Purpose(d["purpose"])]],
    }
    if d["clinic_id"] is not None:
        provision["actor"] = [{"role": concept(coding(PARTICIPATION_TYPE, "IRCP",
                                                      "information recipient")),
                               "reference": clinic(d["clinic_id"])}]
    where = "this clinic" if d["clinic_id"] else "the clinics of the network"
    consent: JSON = {
        "resourceType": "Consent",
        "id": resource_id("Consent", r.patient_id, d["decision_id"]),
        "status": "active",
        "scope": concept(coding(CONSENT_SCOPE, "patient-privacy", "Privacy Consent")),
        "category": [concept(CONSENT_CATEGORY)],
        "patient": r.patient_ref,
        "dateTime": e.occurred_at,
        # The signed form: its DocumentReference when it was attached, else its reference.
        "sourceReference": ref(r.documents[d["form_reference"]])
        if d["form_reference"] in r.documents else {
            "identifier": {"system": SID_CONSENT_FORM, "value": d["form_reference"]},
            "display": "Signed consent form"},
        "policyRule": concept(text=f"Sharing with {where} for {d['purpose']}"),
        "provision": provision,
    }
    key = _scope(d["clinic_id"], d["purpose"])
    targets = [r.put(consent)]
    earlier = r.consents.get(key)
    if earlier is not None:
        r.get(earlier)["status"] = "inactive"
        targets.append(earlier)
    r.consents[key] = consent["id"]
    return Change(CREATE, targets)


def coverage_recorded(r: Folding, e: Envelope) -> Change:
    return Change(CREATE, [r.put(coverage_resource(r.patient_id, e.data))])


def coverage_resource(patient_id: str, d: dict[str, Any]) -> JSON:
    """A Coverage: the payer, the member id, plan and group as its classes, the
    subscriber, the patient's relation to them, the period and the order (the claims
    export writes the same resource)."""
    patient_ref = ref(patient_id)
    classes = [{"type": concept(coding(COVERAGE_CLASS, kind)), "value": d[kind]}
               for kind in ("plan", "group") if d.get(kind)]
    coverage: JSON = {
        "resourceType": "Coverage",
        "id": resource_id("Coverage", patient_id, d["coverage_id"]),
        "identifier": [{"system": SID_MEMBER, "value": d["member_id"]}],
        "status": "active",
        "subscriberId": d["member_id"],
        "beneficiary": patient_ref,
        "relationship": concept(coding(SUBSCRIBER_RELATIONSHIP, d["relation"])),
        "period": {"start": d["starts_on"], **({"end": d["ends_on"]} if d["ends_on"] else {})},
        "payor": [{"display": d["payer"]}],
        "order": d["order"],
        **({"class": classes} if classes else {}),
    }
    if d["relation"] == "self":
        coverage["subscriber"] = patient_ref
    elif d.get("subscriber"):
        coverage["subscriber"] = {"display": d["subscriber"]}
    return coverage


def consent_revoked(r: Folding, e: Envelope) -> Change:
    if r.consent is None:
        return Change(UPDATE, [r.patient_id], reason=e.data.get("reason"))
    r.get(r.consent)["status"] = "inactive"
    return Change(UPDATE, [r.consent], reason=e.data.get("reason"))


#: What each event of this stage does to the record.
MAPPINGS: dict[type[CareEvent], Mapping] = {
    Patient.Registered: registered,
    Patient.ConsentGranted: consent_granted,
    Patient.ConsentRevoked: consent_revoked,
    Patient.ConsentDecided: consent_decided,
    Patient.CoverageRecorded: coverage_recorded,
}
