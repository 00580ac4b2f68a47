"""The FHIR fold on its own: a patient's events (from the in-memory store) in, resources
and their Provenance out. The export over PostgreSQL is tests/integration/test_fhir.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from careledger.access.tokens import TokenService
from careledger.domain.amendments import Amend
from careledger.domain.application import CareLedger
from careledger.domain.clinical import GoalOutcome
from careledger.domain.closing import Discharge
from careledger.domain.referral import Referral
from careledger.gateways.fhir.record import PatientRecord
from careledger.projections.envelope import Envelope
from tests.helpers.care import DAY, Care, two_clinic_care
from tests.helpers.log import envelopes
from tests.helpers.network import Network, build_network

START = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
def care() -> tuple[Network, Care, list[Envelope]]:
    app = CareLedger()
    network = build_network(app, TokenService("unit-test-secret-0123456789"))
    care = two_clinic_care(app, network, START)
    app.handle(Amend(referral_id=care.riverside, record_id="s01", reason="wrong pain score",
                     changes={"pain_after": 4}, occurred_at=START + 10 * DAY,
                     actor=f"therapist:{network.therapist}"))
    app.handle(Discharge(referral_id=care.riverside, practitioner_id=network.therapist,
                         outcomes={"pain": GoalOutcome.MET, "function": GoalOutcome.PARTIALLY_MET},
                         summary="independent with home exercises", occurred_at=START + 20 * DAY,
                         actor=f"therapist:{network.therapist}"))
    mine = [e for e in envelopes(app) if e.patient_id == network.patient]
    return network, care, mine


def fold(events: list[Envelope], patient: Any) -> dict[str, dict[str, Any]]:
    record = PatientRecord(str(patient))
    for envelope in events:
        record.add(envelope)
    assert record.skipped == 0
    return {r["id"]: r for r in record.resources()}


def of_type(resources: dict[str, dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in resources.values() if r["resourceType"] == kind]


def test_every_event_is_one_provenance_and_every_resource_is_valid_fhir(care: Any) -> None:
    network, _care, events = care
    resources = fold(events, network.patient)
    provenance = of_type(resources, "Provenance")
    assert sorted(p["id"] for p in provenance) == sorted(str(e.event_id) for e in events)
    for resource in resources.values():
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def test_a_resource_shows_its_record_as_it_stands_after_the_last_event(care: Any) -> None:
    network, episodes, events = care
    resources = fold(events, network.patient)
    requests = {r["id"]: r for r in of_type(resources, "ServiceRequest")}
    assert requests[str(episodes.riverside)]["status"] == "completed"  # discharged
    assert requests[str(episodes.hudson)]["status"] == "active"  # still planned
    plans = {p["status"] for p in of_type(resources, "CarePlan")}
    assert plans == {"completed", "draft"}  # Riverside's signed and closed; Hudson's unsigned
    achieved = {g["achievementStatus"]["text"] for g in of_type(resources, "Goal")
                if "achievementStatus" in g}
    assert achieved == {"met", "partially met"}


def test_an_amendment_changes_no_resource_and_says_what_it_changed(care: Any) -> None:
    network, _episodes, events = care
    assert [e.type for e in events[-2:]] == [Referral.Amended.TOPIC, Referral.Discharged.TOPIC]
    before = fold(events[:-2], network.patient)  # the amendment and the discharge are last
    after = fold(events[:-1], network.patient)
    new = set(after) - set(before)
    assert [after[r]["resourceType"] for r in new] == ["Provenance"]
    amendment = after[new.pop()]
    assert amendment["activity"]["coding"][0]["code"] == "UPDATE"
    assert amendment["reason"][0]["text"] == "wrong pain score"
    changes = [x for ext in amendment["extension"] for x in ext.get("extension", [])
               if x["url"] == "changes"]
    assert json.loads(changes[0]["valueString"]) == {"pain_after": 4}
    targets = {t["reference"] for t in amendment["target"]}
    encounter = next(r for r in of_type(after, "Encounter")
                     if f"urn:uuid:{r['id']}" in targets)
    assert encounter == before[encounter["id"]]  # the original stays as it was recorded
