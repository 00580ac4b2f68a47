"""The patient's insurance coverage, through the public API and GraphQL on the real
PostgreSQL: a primary and a secondary coverage from the front desk; two coverages in
force together never share an order; a subscriber is named when it is not the patient;
a payer's authorization names the coverage it falls under (its payer by default), which
must be in force on its first day; GraphQL lists them in order; the FHIR export has a
Coverage each, and the payer's ClaimResponse names it as its insurance."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from careledger.access.tokens import Role
from careledger.domain.application import CareLedger
from careledger.main import bootstrap
from tests.helpers.api import assert_problem, post, referral_body
from tests.helpers.graphql import ask, sync_views
from tests.helpers.network import Network

COVERAGE = """query ($id: UUID!) { patient(id: $id) { coverage {
  coverageId payer memberId plan group relation subscriber startsOn endsOn order } } }"""
PRIMARY = {"coverage_id": "bcbs", "payer": "Blue Cross NY", "member_id": "XJH-449920",
           "plan": "PPO Gold", "group": "G-1200", "starts_on": "2026-01-01", "order": 1}
SECONDARY = {"coverage_id": "aetna", "payer": "Aetna", "member_id": "W-77-1", "order": 2,
             "relation": "spouse", "subscriber": "Chris Okafor", "starts_on": "2026-02-01",
             "ends_on": "2026-12-31"}


def test_coverages_in_order_named_by_a_payers_authorization(
    client: Any, network: Network, app: CareLedger, db: bootstrap.Database,
) -> None:
    desk = {"HTTP_AUTHORIZATION": "Bearer " + network.token(Role.CLINIC_ADMIN, uuid.uuid4(),
                                                            [network.clinic])}
    path = f"/patients/{network.patient}/coverage"
    assert post(client, path, PRIMARY, desk).status_code == 201
    assert post(client, path, SECONDARY, desk).status_code == 201
    # Another primary over part of the same period; a spouse's plan without its subscriber.
    clash = assert_problem(post(client, path, {**PRIMARY, "coverage_id": "x",
                                               "starts_on": "2026-06-01"}, desk),
                           409, "invariant_violated")
    assert "another order" in clash["detail"]
    assert_problem(post(client, path, {**SECONDARY, "coverage_id": "y", "order": 3,
                                       "subscriber": None}, desk), 422, "invalid_input")
    assert_problem(post(client, path, {**PRIMARY, "coverage_id": "z", "order": 4,
                                       "ends_on": "2025-01-01"}, desk), 422, "invalid_input")
    # A physician who never referred the patient finds no such patient.
    stranger = {"HTTP_AUTHORIZATION": "Bearer " + network.token(Role.PHYSICIAN, uuid.uuid4())}
    assert_problem(post(client, path, {**PRIMARY, "coverage_id": "w", "order": 5}, stranger),
                   404, "not_found")

    made = post(client, "/referrals", referral_body(network), network.physician_auth)
    rid = UUID(made.json()["id"])
    authorize = f"/referrals/{rid}/authorizations"
    named = post(client, authorize, {"visits": 6, "starts_on": "2026-03-05", "number": "PA-1",
                                     "coverage_id": "bcbs"}, desk)
    assert named.status_code == 201, named.content
    assert_problem(post(client, authorize, {"visits": 2, "starts_on": "2026-03-05",
                                            "number": "PA-2", "coverage_id": "nope"}, desk),
                   422, "invalid_input")
    assert_problem(post(client, authorize, {"visits": 2, "starts_on": "2026-03-05",
                                            "number": "PA-3", "coverage_id": "bcbs",
                                            "payer": "Aetna"}, desk), 422, "invalid_input")
    late = assert_problem(post(client, authorize, {
        "visits": 2, "starts_on": "2027-01-04", "number": "PA-4", "coverage_id": "aetna"},
        desk), 409, "invariant_violated")  # the secondary coverage ended with 2026
    assert "not in force" in late["detail"]
    sync_views(app, db)

    listed = ask(client, network.token(Role.PHYSICIAN, network.physician), COVERAGE,
                 id=str(network.patient))["data"]["patient"]["coverage"]
    assert [(c["coverageId"], c["order"], c["relation"], c["subscriber"]) for c in listed] == [
        ("bcbs", 1, "self", None), ("aetna", 2, "spouse", "Chris Okafor")]
    assert listed[0]["memberId"] == "XJH-449920" and listed[1]["endsOn"] == "2026-12-31"

    bundle = client.get(f"/api/v1/patients/{network.patient}/fhir",
                        **network.physician_auth).json()
    resources = [e["resource"] for e in bundle["entry"]]
    coverages = {r["subscriberId"]: r for r in resources if r["resourceType"] == "Coverage"}
    assert set(coverages) == {"XJH-449920", "W-77-1"}
    primary = coverages["XJH-449920"]
    assert (primary["order"], primary["payor"], primary["relationship"]["coding"][0]["code"]) \
        == (1, [{"display": "Blue Cross NY"}], "self")
    assert {c["value"] for c in primary["class"]} == {"PPO Gold", "G-1200"}
    assert coverages["W-77-1"]["subscriber"] == {"display": "Chris Okafor"}
    (claim,) = [r for r in resources if r["resourceType"] == "ClaimResponse"]
    assert claim["insurer"] == {"display": "Blue Cross NY"}
    assert claim["insurance"] == [{"sequence": 1, "focal": True,
                                   "coverage": {"reference": f"urn:uuid:{primary['id']}"}}]
