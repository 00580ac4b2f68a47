"""Fibromyalgia's tender points and where the patient hurts, through the public API on the
real PostgreSQL: counted at the assessment (of 18, with the pain's body sites) and at
each visit, on the timeline, as a trend in the chart, and in the FHIR export."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from careledger.access.tokens import Role
from careledger.domain.application import CareLedger
from careledger.domain.referral import Referral
from careledger.main import bootstrap
from tests.helpers.api import assert_problem, post, referral_body
from tests.helpers.graphql import ask, sync_views
from tests.helpers.network import Network

SOAP = {"subjective": "a", "objective": "b", "assessment": "c", "plan": "d"}
CHART = """query ($id: UUID!) { patient(id: $id) {
  progress { referralId points { sessionId painAfter tenderPoints } }
  timeline { events { kind data } } } }"""
WHERE = [{"region": "neck"}, {"region": "thoracic"}, {"region": "shoulder", "side": "left"}]
ASSESSMENT = {"history": "widespread pain for 2 years", "pain_nprs": 7,
              "functional_instrument": "ODI", "functional_score": 48, "tender_points": 14,
              "pain_locations": WHERE, "occurred_at": "2026-03-03T10:00:00+00:00"}


def test_tender_points_and_pain_locations_are_recorded_charted_and_exported(
    client: Any, network: Network, app: CareLedger, db: bootstrap.Database,
) -> None:
    t = network.therapist_auth
    rid = UUID(post(client, "/referrals", referral_body(
        network, diagnoses=["M79.7"], contraindications=[]),
        network.physician_auth).json()["id"])
    assert post(client, f"/referrals/{rid}/acceptance", {}, t).status_code == 201

    # Counted of 18; a site names its side where it has one.
    for wrong in ({"tender_points": 19}, {"tender_points": -1},
                  {"pain_locations": [{"region": "shoulder"}]},
                  {"pain_locations": [{"region": "elbow", "side": "left"}]}):
        assert_problem(post(client, f"/referrals/{rid}/assessments", {**ASSESSMENT, **wrong},
                            t), 422, "invalid_request")
    answer = post(client, f"/referrals/{rid}/assessments", ASSESSMENT, t)
    assert answer.status_code == 201, answer.content
    for day, (sid, count) in enumerate((("s1", 12), ("s2", None), ("s3", 9)), start=5):
        at = f"2026-03-{day:02d}T10:00:00+00:00"
        assert post(client, f"/referrals/{rid}/sessions",
                    {"session_id": sid, "scheduled_for": at}, t).status_code == 201
        done = post(client, f"/referrals/{rid}/sessions/{sid}/completion", {
            "soap": SOAP, "techniques": [{"technique": "swedish_massage", "minutes": 30}],
            "pain_before": 6, "pain_after": 5, "occurred_at": at,
            **({"tender_points": count} if count is not None else {})}, t)
        assert done.status_code == 201, done.content
    sync_views(app, db)

    body = ask(client, network.token(Role.PHYSICIAN, network.physician), CHART,
               id=str(network.patient))["data"]["patient"]
    (progress,) = [p for p in body["progress"] if p["referralId"] == str(rid)]
    assert [(p["sessionId"], p["tenderPoints"]) for p in progress["points"]] == [
        (None, 14), ("s1", 12), ("s2", None), ("s3", 9)]
    (assessed,) = [e["data"] for e in body["timeline"]["events"]
                   if e["kind"] == Referral.AssessmentRecorded.KIND]
    assert assessed["tender_points"] == 14
    assert assessed["pain_locations"] == [
        {"region": "neck", "side": None}, {"region": "shoulder", "side": "left"},
        {"region": "thoracic", "side": None}]

    bundle = client.get(f"/api/v1/patients/{network.patient}/fhir",
                        **network.physician_auth).json()
    resources = [e["resource"] for e in bundle["entry"]]
    counts = sorted(r["valueInteger"] for r in resources if r["resourceType"] == "Observation"
                    and r["code"]["coding"][0]["code"] == "tender-point-count")
    assert counts == [9, 12, 14]
    (impression,) = [r for r in resources if r["resourceType"] == "ClinicalImpression"]
    assert [f["itemCodeableConcept"]["text"] for f in impression["finding"]] == [
        "Pain: neck", "Pain: left shoulder", "Pain: thoracic"]
