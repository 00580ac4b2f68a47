"""Code systems, identifier systems and the small builders every resource uses.

Standard systems where a code is known to exist (ICD-10-CM, LOINC, CPT, HL7's own);
CareLedger's own systems under https://careledger.dev/fhir for the rest (disciplines,
techniques, the Neck Disability Index, whose LOINC code we could not verify).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

JSON = dict[str, Any]

BASE = "https://careledger.dev/fhir"

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
CPT = "http://www.ama-assn.org/go/cpt"
UCUM = "http://unitsofmeasure.org"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
GOAL_ACHIEVEMENT = "http://terminology.hl7.org/CodeSystem/goal-achievement"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
COVERAGE_CLASS = "http://terminology.hl7.org/CodeSystem/coverage-class"
SUBSCRIBER_RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"

DISCIPLINE = f"{BASE}/CodeSystem/discipline"
TECHNIQUE = f"{BASE}/CodeSystem/technique"
#: A body region with its side, as a technique names it (domain/body.py): `lower_leg-left`.
BODY_SITE = f"{BASE}/CodeSystem/body-site"
#: What a document is: consent_form, referral_letter, imaging_report, other.
DOCUMENT_CATEGORY = f"{BASE}/CodeSystem/document-category"
#: Measures no public code system names: `tender-point-count` (of 18, ACR 1990).
MEASURE = f"{BASE}/CodeSystem/measure"
INSTRUMENT = f"{BASE}/CodeSystem/functional-instrument"
EVENT_TYPE = f"{BASE}/CodeSystem/event-type"

SID_PATIENT = f"{BASE}/sid/patient"
SID_PRACTITIONER = f"{BASE}/sid/practitioner"
SID_CLINIC = f"{BASE}/sid/clinic"
SID_REFERRAL = f"{BASE}/sid/referral"
#: A payer's authorization number, as the payer issued it (per payer: the value is theirs).
SID_PAYER_AUTHORIZATION = f"{BASE}/sid/payer-authorization"
SID_RECORD = f"{BASE}/sid/record"
SID_ACTOR = f"{BASE}/sid/actor"
SID_EVENT = f"{BASE}/sid/event"
SID_EXPORT = f"{BASE}/sid/export"
SID_CONSENT_FORM = f"{BASE}/sid/consent-form"
#: A coverage's member id, as the payer issued it.
SID_MEMBER = f"{BASE}/sid/member-id"
#: A document's SHA-256, in hex: the name the log gives it.
SID_DOCUMENT = f"{BASE}/sid/document-sha256"

EXT_TIMED_MINUTES = f"{BASE}/StructureDefinition/timed-minutes"
EXT_CERTIFICATION = f"{BASE}/StructureDefinition/certification"
EXT_LOG_ENTRY = f"{BASE}/StructureDefinition/log-entry"
EXT_AMENDMENT = f"{BASE}/StructureDefinition/amendment"
#: A step of a patient's request to amend (HIPAA 164.526): request, acceptance, denial,
#: statement of disagreement.
EXT_AMENDMENT_REQUEST = f"{BASE}/StructureDefinition/amendment-request"
#: On the Provenance of a record written more than 24 hours after it happened.
EXT_LATE_ENTRY = f"{BASE}/StructureDefinition/late-entry"
RECORD_FLAG = f"{BASE}/CodeSystem/record-flag"
#: On each resource such a record created.
LATE_ENTRY_TAG = {"system": RECORD_FLAG, "code": "late-entry", "display": "Late entry"}

NPRS: JSON = {"system": LOINC, "code": "72514-3",
              "display": "Pain severity - 0-10 verbal numeric rating [Score] - Reported"}
#: Verified at loinc.org/97909-6. The Neck Disability Index has no LOINC code we could
#: verify, so it is coded in CareLedger's own system.
FUNCTIONAL: dict[str, JSON] = {
    "ODI": {"system": LOINC, "code": "97909-6", "display": "Oswestry disability index score ODI"},
    "NDI": {"system": INSTRUMENT, "code": "NDI", "display": "Neck Disability Index score"},
}
CONSENT_CATEGORY: JSON = {"system": LOINC, "code": "59284-0", "display": "Patient Consent"}

#: Discharge outcomes as FHIR goal achievement: "partially met" is progress short of the
#: target, which FHIR calls improving; the clinic's own word stays in the text.
ACHIEVEMENT = {"met": "achieved", "partially_met": "improving", "not_met": "not-achieved"}

#: Resource ids are derived from the log, so the same log exports the same ids.
RESOURCE_NAMESPACE = UUID("0b8f6a2e-5c1d-4f47-9f0e-3a7c2d9b41e6")


def resource_id(kind: str, *parts: object) -> str:
    return str(uuid5(RESOURCE_NAMESPACE, ":".join([kind, *(str(p) for p in parts)])))


def ref(rid: str) -> JSON:
    """A reference to a resource in the Bundle (its fullUrl is urn:uuid:<id>)."""
    return {"reference": f"urn:uuid:{rid}"}


def practitioner(pid: object) -> JSON:
    """A practitioner is not part of the patient's record: a logical reference by id."""
    return {"type": "Practitioner", "identifier": {"system": SID_PRACTITIONER, "value": str(pid)}}


def clinic(cid: object) -> JSON:
    return {"type": "Organization", "identifier": {"system": SID_CLINIC, "value": str(cid)}}


def actor(who: str, named: str | None = None) -> JSON:
    """Who recorded an event, as the event names them (`role:id`); shown by `named` (their
    name, role and clinics as they were then) when the export knows it."""
    role, _, subject = who.partition(":")
    reference: JSON = {"identifier": {"system": SID_ACTOR, "value": who},
                       "display": named or who}
    if role in {"physician", "therapist"} and subject:
        reference["type"] = "Practitioner"
    return reference


def coding(system: str, code: str, display: str | None = None) -> JSON:
    result: JSON = {"system": system, "code": code}
    if display:
        result["display"] = display
    return result


def concept(*codings: JSON, text: str | None = None) -> JSON:
    result: JSON = {"coding": list(codings)} if codings else {}
    if text:
        result["text"] = text
    return result


def label(code: str) -> str:
    """`myofascial_release` reads as `Myofascial release`."""
    return code.replace("_", " ").capitalize()


def body_site(site: dict[str, Any]) -> JSON:
    """A stored site ({"region", "side"}) as a Procedure's or an activity's bodySite."""
    region, side = str(site["region"]), site.get("side")
    text = f"{side} {region.replace('_', ' ')}" if side else region.replace("_", " ")
    code = f"{region}-{side}" if side else region
    return concept(coding(BODY_SITE, code, text.capitalize()), text=text.capitalize())


def quantity(value: float | int, unit: str, code: str | None = None) -> JSON:
    return {"value": value, "unit": unit, "system": UCUM, "code": code or unit}


def measure(metric: str) -> JSON:
    """What a goal's target measures: NPRS and ODI by LOINC, NDI by our code, else text."""
    key = metric.strip().upper()
    if key == "NPRS":
        return concept(NPRS, text=metric)
    if key in FUNCTIONAL:
        return concept(FUNCTIONAL[key], text=metric)
    return concept(text=metric)
