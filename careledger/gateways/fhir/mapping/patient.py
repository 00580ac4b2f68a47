"""The patient: their registration (the Patient resource) and their consent."""

from __future__ import annotations

from careledger.domain.events import CareEvent
from careledger.domain.patient import Patient
from careledger.gateways.fhir.folding import CREATE, UPDATE, Change, Folding, Mapping
from careledger.gateways.fhir.vocabulary import (
    CONSENT_CATEGORY,
    CONSENT_SCOPE,
    JSON,
    SID_PATIENT,
    coding,
    concept,
    resource_id,
)
from careledger.projections.envelope import Envelope


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
    return Change(CREATE, [r.consent])


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
}
