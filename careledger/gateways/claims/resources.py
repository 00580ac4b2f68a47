"""A clinic's claims as FHIR R4: a `collection` Bundle of professional Claims (the data
of a CMS-1500 / 837P), with the billing provider, the patients and coverages they name,
and an OperationOutcome saying why each session left off was left off.

One Claim per claimable session: the billing provider (the clinic, its NPI and tax id),
the rendering and referring providers by NPI (careTeam, CARIN Blue Button's roles), the
episode's ICD-10-CM diagnoses and each line's pointers to them, the lines (CPT,
modifiers, units, charges), the place of service (CMS 11 office, 12 home), the date of
service and the payer's prior-authorization number.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from careledger.domain.claiming import Assessed
from careledger.domain.clinical import SessionLocation
from careledger.domain.fees import UNTIMED
from careledger.gateways.claims.gather import Episode, Gathered
from careledger.gateways.fhir.mapping.patient import coverage_resource
from careledger.gateways.fhir.vocabulary import (
    BASE,
    CLAIM_TYPE,
    CPT,
    ICD10CM,
    JSON,
    SID_PATIENT,
    coding,
    concept,
    ref,
    resource_id,
)

NPI = "http://hl7.org/fhir/sid/us-npi"
#: The IRS employer identification number (a tax id), as US Core names it.
EIN = "urn:oid:2.16.840.1.113883.4.4"
PLACE_OF_SERVICE = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
PROCESS_PRIORITY = "http://terminology.hl7.org/CodeSystem/processpriority"
CARE_TEAM_ROLE = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBClaimCareTeamRole"
DIAGNOSIS_TYPE = "http://terminology.hl7.org/CodeSystem/ex-diagnosistype"
UNCLAIMABLE = f"{BASE}/CodeSystem/unclaimable"
SID_CLAIM = f"{BASE}/sid/claim"
#: CMS place-of-service codes for where a session was given.
PLACES = {SessionLocation.CLINIC: ("11", "Office"), SessionLocation.HOME: ("12", "Home")}
#: A CMS-1500 line points to at most four diagnoses, of the twelve a claim holds.
POINTERS = 4
DIAGNOSES = 12


def claims_bundle(gathered: Gathered, now: datetime | None = None) -> str:
    """The Bundle's JSON; each resource validated by fhir.resources on its way in."""
    now = now or datetime.now(UTC)
    clinic = gathered.clinic
    provider_id = resource_id("Organization", "billing", clinic.id)
    resources: list[JSON] = []
    if clinic.billing is not None:
        resources.append({
            "resourceType": "Organization", "id": provider_id,
            "identifier": [{"system": NPI, "value": clinic.billing["npi"]},
                           {"system": EIN, "value": clinic.billing["tax_id"]}],
            "active": True, "name": clinic.name,
            **({"address": [{"text": clinic.address}]} if clinic.address.strip() else {})})
    outcome: list[JSON] = []
    for episode in gathered.episodes:
        named = [a for a in episode.assessed if a.claimable]
        if not episode.assessed:
            continue
        resources.append(_patient(episode))
        coverages = {a.coverage.coverage_id: a.coverage for a in named if a.coverage}
        pid = str(episode.patient.id)
        resources += [coverage_resource(pid, c.as_state()) for c in coverages.values()]
        for assessed in episode.assessed:
            if assessed.claimable:
                resources.append(_claim(gathered, episode, assessed, provider_id, now))
            else:
                outcome += _issues(episode, assessed)
    if outcome:
        resources.append({"resourceType": "OperationOutcome",
                          "id": resource_id("OperationOutcome", clinic.id, gathered.start,
                                            gathered.end), "issue": outcome})
    # A patient with two episodes at the clinic, or a coverage two claims name: once each
    # (a Bundle's fullUrls are unique).
    unique = {r["id"]: r for r in resources}
    entries = [{"fullUrl": f"urn:uuid:{r['id']}",
                "resource": get_fhir_model_class(r["resourceType"]).model_validate(r)}
               for r in unique.values()]
    return Bundle.model_validate({
        "resourceType": "Bundle", "type": "collection", "timestamp": now,
        "id": resource_id("Bundle", "claims", clinic.id, gathered.start, gathered.end, now),
        **({"entry": entries} if entries else {}),
    }).model_dump_json()


def _patient(episode: Episode) -> JSON:
    """What box 2, 3 and 5 of a CMS-1500 need of the patient, and no more."""
    p = episode.patient
    return {"resourceType": "Patient", "id": str(p.id),
            "identifier": [{"system": SID_PATIENT, "value": str(p.id)}],
            "name": [{"family": p.family_name, "given": [p.given_name]}],
            "gender": p.sex, "birthDate": p.birth_date,
            **({"address": [{"text": p.address}]} if p.address.strip() else {})}


def _claim(gathered: Gathered, episode: Episode, assessed: Assessed, provider_id: str,
           now: datetime) -> JSON:
    service, coverage, priced = assessed.service, assessed.coverage, assessed.priced
    assert coverage is not None and priced is not None and service.practitioner_id
    referral = episode.referral
    rendering = gathered.practitioners[service.practitioner_id]
    referring = gathered.practitioners.get(referral.physician_id)
    diagnoses = [d["code"] for d in referral.diagnoses][:DIAGNOSES]
    place = _place(service.location)
    care_team: list[JSON] = [{"sequence": 1, "provider": _npi(rendering.npi, rendering.name),
                              "role": concept(coding(CARE_TEAM_ROLE, "rendering",
                                                     "Rendering provider"))}]
    if referring is not None and referring.npi:
        care_team.append({"sequence": 2, "provider": _npi(referring.npi, referring.name),
                          "role": concept(coding(CARE_TEAM_ROLE, "referring",
                                                 "Referring provider"))})
    insurance: JSON = {"sequence": 1, "focal": True,
                       "coverage": ref(resource_id("Coverage", episode.patient.id,
                                                   coverage.coverage_id))}
    if assessed.authorization is not None and assessed.authorization.number:
        insurance["preAuthRef"] = [assessed.authorization.number]
    items = []
    for n, line in enumerate(priced.lines, start=1):
        fee = _unit_fee(assessed, line.cpt)
        items.append({
            "sequence": n, "careTeamSequence": [1],
            "diagnosisSequence": list(range(1, min(len(diagnoses), POINTERS) + 1)),
            "productOrService": concept(coding(CPT, line.cpt),
                                        text=UNTIMED[line.cpt][0] if line.cpt in UNTIMED
                                        else f"CPT {line.cpt}"),
            **({"modifier": [concept(coding(CPT if m.isdigit() else HCPCS, m))
                             for m in line.modifiers]}
               if line.modifiers else {}),
            "servicedDate": service.on,
            "locationCodeableConcept": concept(coding(PLACE_OF_SERVICE, *place)),
            "quantity": {"value": line.units},
            "unitPrice": _money(fee), "net": _money(line.charge_cents),
        })
    return {
        "resourceType": "Claim",
        "id": resource_id("Claim", referral.id, service.session_id),
        "identifier": [{"system": SID_CLAIM, "value": f"{referral.id}/{service.session_id}"}],
        "status": "active",
        "type": concept(coding(CLAIM_TYPE, "professional", "Professional")),
        "use": "claim",
        "patient": ref(str(episode.patient.id)),
        "billablePeriod": {"start": service.on, "end": service.on},
        "created": now,
        "insurer": {"display": coverage.payer},
        "provider": ref(provider_id),
        "priority": concept(coding(PROCESS_PRIORITY, "normal")),
        "careTeam": care_team,
        "diagnosis": [{"sequence": i, "diagnosisCodeableConcept": concept(
            coding(ICD10CM, code)), "type": [concept(coding(DIAGNOSIS_TYPE, "principal"))]
            if i == 1 else [concept(coding(DIAGNOSIS_TYPE, "clinical"))]}
            for i, code in enumerate(diagnoses, start=1)],
        "insurance": [insurance],
        "item": items,
        "total": _money(sum(line.charge_cents for line in priced.lines)),
    }


def _unit_fee(assessed: Assessed, code: str) -> int:
    assert assessed.schedule is not None
    return int(assessed.schedule.fees[code])


def _issues(episode: Episode, assessed: Assessed) -> list[JSON]:
    p = episode.patient
    where = f"Session of {p.given_name} {p.family_name} on {assessed.service.on.isoformat()}"
    return [{"severity": "warning", "code": "business-rule",
             "details": concept(coding(UNCLAIMABLE, str(r.code)), text=r.text),
             "diagnostics": f"{where}: not claimable"} for r in assessed.reasons]


def _npi(npi: str | None, name: str) -> JSON:
    return {"type": "Practitioner", "identifier": {"system": NPI, "value": npi or ""},
            "display": name}


def _place(location: str | None) -> tuple[str, str]:
    return PLACES[SessionLocation(location or SessionLocation.CLINIC)]


def _money(cents: int) -> JSON:
    return {"value": Decimal(cents) / 100, "currency": "USD"}


def session_rows(gathered: Gathered) -> list[dict[str, Any]]:
    """The CSV's rows: a line of a claim each, or a session left off with its reason."""
    clinic = gathered.clinic
    rows: list[dict[str, Any]] = []
    for episode in gathered.episodes:
        p, referral = episode.patient, episode.referral
        referring = gathered.practitioners.get(referral.physician_id)
        for assessed in episode.assessed:
            service = assessed.service
            who = gathered.practitioners.get(service.practitioner_id) \
                if service.practitioner_id else None
            base = {
                "service_date": service.on.isoformat(), "patient": f"{p.family_name}, "
                f"{p.given_name}", "birth_date": p.birth_date.isoformat(),
                "payer": assessed.coverage.payer if assessed.coverage else "",
                "member_id": assessed.coverage.member_id if assessed.coverage else "",
                "place_of_service": _place(service.location)[0],
                "rendering": who.name if who else "", "rendering_npi": (who.npi or "")
                if who else "", "referring_npi": (referring.npi or "") if referring else "",
                "billing_npi": clinic.billing["npi"] if clinic.billing else "",
                "tax_id": clinic.billing["tax_id"] if clinic.billing else "",
                "prior_authorization": assessed.authorization.number or ""
                if assessed.authorization else "",
                "diagnoses": " ".join(d["code"] for d in referral.diagnoses[:POINTERS]),
            }
            if not assessed.claimable or assessed.priced is None:
                rows.append({**base, "claimable": "no",
                             "reason": "; ".join(r.text for r in assessed.reasons)})
                continue
            for line in assessed.priced.lines:
                rows.append({**base, "cpt": line.cpt, "modifiers": " ".join(line.modifiers),
                             "units": line.units, "minutes": line.minutes,
                             "unit_price": f"{_unit_fee(assessed, line.cpt) / 100:.2f}",
                             "charge": f"{line.charge_cents / 100:.2f}", "claimable": "yes",
                             "reason": "; ".join(f"{c} left off: {why}" for c, why
                                                 in sorted(assessed.priced.left_off.items()))})
    return rows


#: The CSV's columns, in order.
COLUMNS = ("service_date", "patient", "birth_date", "payer", "member_id", "place_of_service",
           "rendering", "rendering_npi", "referring_npi", "billing_npi", "tax_id",
           "prior_authorization", "diagnoses", "cpt", "modifiers", "units", "minutes",
           "unit_price", "charge", "claimable", "reason")
