"""A directory that matches codes, through the public API on the real PostgreSQL:
experience recorded as words is resolved to its ICD-10-CM code, or refused with the
codes to choose from; a search by code, by category and by words finds it; each match
shows the practitioner's credentials (the AMMA certification too), the experience that
matched, the distance and the home-visit radius."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from careledger.access.tokens import Role
from careledger.domain.application import CareLedger
from careledger.main import bootstrap
from tests.helpers.api import assert_problem, post
from tests.helpers.graphql import ask, sync_views
from tests.helpers.network import Network

MATCH = """query ($condition: String!) {
  matchPractitioners(condition: $condition, discipline: "medical_massage",
                     near: {latitude: 42.6, longitude: -73.7, withinKm: 30}) {
    practitionerId distanceKm homeVisitRadiusKm
    matched { code description }
    credentials { kind number issuer expiresOn current }
  } }"""


def test_experience_is_coded_and_found_by_code_category_and_words(
    client: Any, network: Network, app: CareLedger, db: bootstrap.Database,
) -> None:
    admin = {"HTTP_AUTHORIZATION": "Bearer " + network.token(Role.NETWORK_ADMIN, uuid4())}
    path = f"/practitioners/{network.therapist}"
    ambiguous = assert_problem(post(client, f"{path}/experience",
                                    {"conditions": ["back pain"]}, admin), 422, "invalid_input")
    assert "M54.5 Low back pain" in ambiguous["detail"], ambiguous
    assert_problem(post(client, f"{path}/experience", {"conditions": ["qqzzx"]}, admin),
                   422, "invalid_input")
    for conditions in (["fibromyalgia"], ["M54"]):  # words, then a category; each adds
        answer = post(client, f"{path}/experience", {"conditions": conditions}, admin)
        assert answer.status_code == 201, answer.content
    assert post(client, f"{path}/credentials", {
        "kind": "amma_certification", "number": "AMMA-77", "issuer": "AMMA",
        "expires_on": "2030-06-30"}, admin).status_code == 201
    assert post(client, f"{path}/home-visits", {"radius_km": 12}, admin).status_code == 201
    sync_views(app, db)

    token = network.token(Role.PHYSICIAN, network.physician)

    def found(condition: str) -> list[dict[str, Any]]:
        matches = ask(client, token, MATCH, condition=condition)["data"]["matchPractitioners"]
        return [m for m in matches if m["practitionerId"] == str(network.therapist)]

    for condition in ("M79.7", "fibromyalgia", "M79"):  # the code, its words, its category
        (match,) = found(condition)
        assert match["matched"] == [{"code": "M79.7", "description": "Fibromyalgia"}], condition
    (match,) = found("M54.50")  # experience with the category matches its codes
    assert match["matched"] == [{"code": "M54", "description": "Dorsalgia"}]
    assert match["homeVisitRadiusKm"] == 12 and match["distanceKm"] < 1
    assert {(c["kind"], c["number"], c["current"]) for c in match["credentials"]} == {
        ("amma_certification", "AMMA-77", True),
        ("state_license", f"LMT-{network.therapist.hex[:6]}", True)}
    assert found("M25.561") == []  # knee pain: not their experience

    refused = ask(client, token, MATCH, condition="back pain")
    assert refused["errors"][0]["extensions"]["code"] == "BAD_INPUT"
    assert "M54.5" in refused["errors"][0]["message"]
