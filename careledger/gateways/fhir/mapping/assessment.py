"""The assessment: a ClinicalImpression with its baseline pain and functional score."""

from __future__ import annotations

from typing import Any

from careledger.domain.clinical import FunctionalInstrument
from careledger.domain.events import CareEvent
from careledger.domain.referral import Referral
from careledger.gateways.fhir.folding import CREATE, Change, Episode, Folding, Mapping
from careledger.gateways.fhir.vocabulary import (
    FUNCTIONAL,
    JSON,
    MEASURE,
    NPRS,
    OBSERVATION_CATEGORY,
    SID_RECORD,
    body_site,
    coding,
    concept,
    practitioner,
    quantity,
    ref,
    resource_id,
)
from careledger.projections.envelope import Envelope


def observation(r: Folding, e: Envelope, rid: str, code: JSON, value: JSON,
                 episode: Episode, encounter: str | None = None) -> str:
    observation: JSON = {
        "resourceType": "Observation",
        "id": rid,
        "basedOn": r.based_on(episode),
        "status": "final",
        "category": [concept(coding(OBSERVATION_CATEGORY, "survey", "Survey"))],
        "code": code,
        "subject": r.patient_ref,
        "effectiveDateTime": e.occurred_at,
        "issued": e.recorded_at,
        "performer": [practitioner(e.data["practitioner_id"])],
        **value,
    }
    if encounter is not None:
        observation["encounter"] = ref(encounter)
    return r.put(observation)


def functional(r: Folding, e: Envelope, rid: str, instrument: str | None, score: float,
                episode: Episode, encounter: str | None = None) -> str:
    known = FUNCTIONAL.get(instrument or "")
    code = (concept(known, text=f"{instrument} score") if known
            else concept(text="Functional score"))
    scale = FunctionalInstrument(instrument) if instrument in set(FunctionalInstrument) \
        else None
    # The disability indices are percents (UCUM "%"); the other scales, points of a score.
    value = quantity(score, "%") if scale is None or scale.unit == "%" else quantity(
        score, f"points {scale.unit}", "{score}")
    return observation(r, e, rid, code, {"valueQuantity": value}, episode, encounter)


def tender_points(r: Folding, e: Envelope, rid: str, count: int, episode: Episode,
                  encounter: str | None = None) -> str:
    """The tender points found of the 18 the ACR 1990 criteria examine."""
    made = observation(r, e, rid, concept(
        coding(MEASURE, "tender-point-count", "Tender point count"),
        text="Tender points (of 18)"), {"valueInteger": count, "referenceRange": [
            {"low": {"value": 0}, "high": {"value": 18}}]}, episode, encounter)
    r.get(made)["category"] = [concept(coding(OBSERVATION_CATEGORY, "exam", "Exam"))]
    return made


def assessed(r: Folding, e: Envelope) -> Change:
    d, episode = e.data, r.episode(e)
    record = str(d["assessment_id"])
    episode.instrument = str(d["functional_instrument"])
    base = (episode.referral, record)
    pain = observation(r, e, resource_id("Observation", *base, "nprs"),
                             concept(NPRS, text="Pain at assessment (NPRS 0-10)"),
                             {"valueInteger": d["pain_nprs"]}, episode)
    function = functional(r, e, resource_id("Observation", *base, "function"),
                                episode.instrument, d["functional_score"], episode)
    locations = d.get("pain_locations") or []
    if len(locations) == 1:  # an Observation has one body site
        r.get(pain)["bodySite"] = body_site(locations[0])
    measured = [pain, function]
    if d.get("tender_points") is not None:
        measured.append(tender_points(r, e, resource_id("Observation", *base, "tender-points"),
                                      int(d["tender_points"]), episode))
    notes = [f"History: {d['history']}"] if d.get("history") else []
    notes += [f"Range of motion: {_line(m)}" for m in d.get("range_of_motion", [])]
    notes += [f"Muscle test: {_line(m)}" for m in d.get("muscle_tests", [])]
    notes += [f"Red flag: {flag}" for flag in d.get("red_flags", [])]
    impression: JSON = {
        "resourceType": "ClinicalImpression",
        "id": resource_id("ClinicalImpression", *base),
        "identifier": [{"system": SID_RECORD, "value": f"{episode.referral}/{record}"}],
        "status": "completed",
        "description": "Initial assessment",
        "subject": r.patient_ref,
        "effectiveDateTime": e.occurred_at,
        "date": e.recorded_at,
        "assessor": practitioner(d["practitioner_id"]),
        "problem": [ref(c) for c in episode.conditions],
        "summary": d.get("findings") or None,
        "supportingInfo": [ref(m) for m in measured],
        "finding": [{"itemCodeableConcept": {
            **body_site(site), "text": f"Pain: {body_site(site)['text'].lower()}"}}
            for site in locations] or None,
    }
    if notes:
        impression["note"] = [{"text": n} for n in notes]
    r.put({k: v for k, v in impression.items() if v is not None})
    return Change(CREATE, [*measured, impression["id"]], record=record)


def _line(entry: dict[str, Any]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in entry.items())


#: What each event of this stage does to the record.
MAPPINGS: dict[type[CareEvent], Mapping] = {
    Referral.AssessmentRecorded: assessed,
}
