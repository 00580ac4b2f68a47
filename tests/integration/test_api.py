"""The command API over real PostgreSQL: statuses, problem+json, idempotency, scope."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from careledger.access.tokens import Role
from careledger.main import bootstrap
from tests.helpers.api import assert_problem, events_of, make_referral, post, referral_body
from tests.helpers.network import Network


def test_a_command_answers_201_with_id_version_and_position(client: Any, network: Network) -> None:
    response = post(client, "/referrals", referral_body(network), network.physician_auth)
    assert response.status_code == 201
    body = response.json()
    assert UUID(body["id"]) and body["version"] == 1 and body["position"] > 0


def test_a_whole_episode_through_the_api(client: Any, network: Network) -> None:
    rid = make_referral(client, network)
    t = network.therapist_auth
    steps: list[tuple[str, dict[str, Any], dict[str, str]]] = [
        ("/acceptance", {}, t),
        ("/assessments", {"history": "6 weeks", "pain_nprs": 7, "functional_instrument": "ODI",
                          "functional_score": 44, "muscle_tests": [{"muscle": "psoas",
                                                                    "grade": 4}]}, t),
        ("/plan", {"goals": [{"goal_id": "pain", "description": "less pain", "metric": "NPRS",
                              "baseline": 7, "target": 3, "unit": "points",
                              "due": "2026-05-01"}],
                   "techniques": ["myofascial_release"], "frequency_per_week": 2,
                   "duration_weeks": 6}, t),
        ("/plan/certification", {"certified_from": "2026-03-03",
                                 "certified_until": "2026-05-31"}, network.physician_auth),
        ("/sessions", {"session_id": "s1", "scheduled_for": "2026-03-05T10:00:00+00:00"}, t),
        ("/sessions/s1/completion", {
            "soap": {"subjective": "a", "objective": "b", "assessment": "c", "plan": "d"},
            "techniques": [{"technique": "myofascial_release", "minutes": 23}],
            "pain_before": 6, "pain_after": 4,
            "occurred_at": "2026-03-05T10:45:00+00:00"}, t),
        ("/progress-reports", {"summary": "improving"}, t),
        ("/discharge", {"outcomes": {"pain": "partially_met"}, "summary": "home program"}, t),
        ("/amendments", {"record_id": "s1", "reason": "typo in minutes",
                         "changes": {"techniques": [{"technique": "myofascial_release",
                                                      "minutes": 25}]}}, t),
    ]
    for version, (path, body, auth) in enumerate(steps, start=2):
        response = post(client, f"/referrals/{rid}{path}", body, auth)
        assert response.status_code == 201, (path, response.content)
        assert response.json()["version"] == version


def test_401_without_a_valid_token(client: Any, network: Network) -> None:
    assert_problem(post(client, "/referrals", referral_body(network), {}), 401,
                   "not_authenticated")
    forged = {"HTTP_AUTHORIZATION": "Bearer " + network.tokens.issue(
        subject=network.physician, role=Role.PHYSICIAN)[:-3] + "abc"}
    assert_problem(post(client, "/referrals", referral_body(network), forged), 401,
                   "not_authenticated")


def test_401_for_an_expired_token(client: Any, network: Network) -> None:
    from datetime import timedelta

    expired = network.tokens.issue(subject=network.physician, role=Role.PHYSICIAN,
                                   ttl=timedelta(seconds=-1))
    response = post(client, "/referrals", referral_body(network),
                    {"HTTP_AUTHORIZATION": f"Bearer {expired}"})
    assert_problem(response, 401, "not_authenticated")


def test_403_when_the_role_may_not_issue_the_command(client: Any, network: Network) -> None:
    auditor = {"HTTP_AUTHORIZATION": "Bearer " + network.token(Role.AUDITOR, uuid4())}
    assert_problem(post(client, "/referrals", referral_body(network), auditor), 403,
                   "not_permitted")
    assert_problem(post(client, "/referrals", referral_body(network), network.therapist_auth),
                   403, "not_permitted")


def test_404_for_unknown_ids_and_for_records_outside_the_callers_scope(
    client: Any, network: Network
) -> None:
    assert_problem(post(client, f"/referrals/{uuid4()}/acceptance", {},
                        network.therapist_auth), 404, "not_found")
    rid = make_referral(client, network)
    # A therapist of another clinic cannot tell this referral from one that does not exist.
    assert_problem(post(client, f"/referrals/{rid}/acceptance", {},
                        network.other_therapist_auth), 404, "not_found")
    # A token naming the clinic does not help a physician who did not refer.
    other_doc = {"HTTP_AUTHORIZATION": "Bearer " + network.token(
        Role.PHYSICIAN, uuid4(), [network.clinic])}
    assert_problem(post(client, f"/referrals/{rid}/cancellation", {"reason": "x"}, other_doc),
                   404, "not_found")


def test_409_for_a_broken_invariant(client: Any, network: Network) -> None:
    rid = make_referral(client, network)
    body = assert_problem(post(client, f"/referrals/{rid}/plan", {
        "goals": [{"goal_id": "g", "description": "", "metric": "NPRS", "baseline": 7,
                   "target": 3, "unit": "points", "due": "2026-05-01"}],
        "techniques": ["stretching"], "frequency_per_week": 2, "duration_weeks": 4},
        network.therapist_auth), 409, "invariant_violated")
    assert "accepted" in body["detail"]


def test_409_for_a_stale_if_match(client: Any, network: Network, db: bootstrap.Database) -> None:
    rid = make_referral(client, network)
    response = post(client, f"/referrals/{rid}/acceptance", {}, network.therapist_auth,
                    HTTP_IF_MATCH='"5"')
    assert_problem(response, 409, "version_conflict")
    assert events_of(db, rid) == 1
    ok = post(client, f"/referrals/{rid}/acceptance", {}, network.therapist_auth,
              HTTP_IF_MATCH='"1"')
    assert ok.status_code == 201 and ok.json()["version"] == 2


def test_422_names_the_invalid_field(client: Any, network: Network) -> None:
    body = assert_problem(
        post(client, "/referrals", referral_body(network, authorized_visits=0),
             network.physician_auth), 422, "invalid_request")
    assert body["errors"][0]["field"] == "authorized_visits"
    body = assert_problem(
        post(client, "/referrals", referral_body(network, diagnoses=["M54.5"]),
             network.physician_auth), 422, "invalid_input")
    assert body["errors"] == [{"field": "diagnoses", "message": body["detail"]}]
    body = assert_problem(
        post(client, "/referrals", referral_body(network, occurred_at="2026-03-02T09:00:00"),
             network.physician_auth), 422, "invalid_request")
    assert body["errors"][0]["field"] == "occurred_at"
    assert_problem(post(client, "/referrals", referral_body(network), network.physician_auth,
                        HTTP_IF_MATCH="latest"), 422, "invalid_request")


def test_true_and_false_are_not_numbers(client: Any, network: Network) -> None:
    """Pydantic's lax mode reads `false` as 0.0 (the fuzzer found a patient registered at
    longitude false): a number field takes numbers only."""
    admin = {"HTTP_AUTHORIZATION": "Bearer " + network.token(Role.NETWORK_ADMIN, uuid4())}
    clinic = {"name": "Lakeside", "disciplines": ["physical_therapy"], "address": "3 Lake Rd",
              "latitude": 42.1, "longitude": False}
    body = assert_problem(post(client, "/clinics", clinic, admin), 422, "invalid_request")
    assert body["errors"][0]["field"] == "longitude"
    assert post(client, "/clinics", {**clinic, "longitude": -73}, admin).status_code == 201
    body = assert_problem(post(client, "/referrals", referral_body(network, authorized_visits=True),
                               network.physician_auth), 422, "invalid_request")
    assert body["errors"][0]["field"] == "authorized_visits"


def test_error_texts_carry_no_patient_data(client: Any, network: Network) -> None:
    response = post(client, "/patients", {"given_name": "Zebediah", "family_name": "Quixote",
                                          "birth_date": "2999-01-01", "sex": "female"},
                    network.physician_auth)
    body = assert_problem(response, 422, "invalid_input")
    assert "Zebediah" not in response.content.decode() and "2999" not in body["detail"]


def test_413_for_an_oversized_body(client: Any, network: Network) -> None:
    big = referral_body(network, reason="x" * 300_000)
    assert_problem(post(client, "/referrals", big, network.physician_auth), 413,
                   "body_too_large")


def test_a_retried_command_with_the_same_key_stores_nothing_new(
    client: Any, network: Network, db: bootstrap.Database
) -> None:
    rid = make_referral(client, network)
    key = {"HTTP_IDEMPOTENCY_KEY": f"accept-{rid}"}
    first = post(client, f"/referrals/{rid}/acceptance", {}, network.therapist_auth, **key)
    again = post(client, f"/referrals/{rid}/acceptance", {}, network.therapist_auth, **key)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert events_of(db, rid) == 2
    reused = post(client, f"/referrals/{rid}/decline", {"reason": "full"},
                  network.therapist_auth, **key)
    assert_problem(reused, 422, "invalid_request")
    assert events_of(db, rid) == 2


def test_a_retried_creation_returns_the_same_record(
    client: Any, network: Network, db: bootstrap.Database
) -> None:
    key = {"HTTP_IDEMPOTENCY_KEY": str(uuid4())}
    first = post(client, "/referrals", referral_body(network), network.physician_auth, **key)
    again = post(client, "/referrals", referral_body(network), network.physician_auth, **key)
    assert first.json() == again.json()
    assert events_of(db, UUID(first.json()["id"])) == 1


def test_the_openapi_document_lists_every_command(client: Any) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    operations = {op["operationId"] for path in schema["paths"].values() for op in path.values()}
    assert {"make_referral", "accept_referral", "decline_referral", "redirect_referral",
            "cancel_referral", "record_assessment", "draft_plan", "revise_plan", "certify_plan",
            "recertify_plan", "schedule_session", "complete_session", "cancel_session",
            "record_no_show", "send_progress_report", "discharge", "amend", "register_clinic",
            "register_practitioner", "add_credential", "affiliate_practitioner",
            "register_patient", "grant_consent", "revoke_consent"} <= operations
    assert client.get("/api/v1/docs").status_code == 200


def test_unknown_paths_answer_problem_json(client: Any) -> None:
    assert_problem(client.get("/api/v1/nowhere"), 404, "not_found")


def test_the_network_admin_builds_the_network(client: Any, network: Network) -> None:
    admin = {"HTTP_AUTHORIZATION": "Bearer " + network.token(Role.NETWORK_ADMIN, uuid4())}
    clinic = post(client, "/clinics", {"name": "North", "disciplines": ["chiropractic"],
                                       "address": "1 North Rd", "latitude": 43.0,
                                       "longitude": -73.8}, admin)
    assert clinic.status_code == 201
    doc = post(client, "/practitioners", {"name": "Ray", "profession": "chiropractor"}, admin)
    pid = doc.json()["id"]
    assert post(client, f"/practitioners/{pid}/credentials", {
        "kind": "state_license", "number": "DC-1", "issuer": "NYSED",
        "expires_on": "2030-01-01"}, admin).status_code == 201
    assert post(client, f"/practitioners/{pid}/affiliations",
                {"clinic_id": clinic.json()["id"]}, admin).json()["version"] == 3
