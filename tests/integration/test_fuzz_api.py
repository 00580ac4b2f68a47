"""Fuzzing the command API with schemathesis, against its own OpenAPI document.

Every operation gets generated requests, valid and invalid by the schema, sent to the
real WSGI application over the real PostgreSQL: with a token of a role that may issue
the command, with none, with a forged one; against ids that exist or not. Whatever comes
back must be documented (status, content type, body), never a 5xx, and every error is
RFC 9457 problem+json that does not echo what was sent. Bounded and seeded
(`derandomize`), so a run is the same every time and fits in CI.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

import careledger
from careledger.access.tokens import Role, TokenService
from careledger.domain.application import CareLedger
from careledger.domain.network import RegisterPractitioner
from tests.helpers.network import NOW, TOKEN_SECRET, Network, build_network, open_episode

#: Who issues each command in the fuzz runs: a role the route lets through.
ROLES: dict[str, Role] = {
    **dict.fromkeys(("register_clinic", "register_practitioner", "add_credential",
                     "affiliate_practitioner", "record_experience", "offer_home_visits",
                     "rename_practitioner", "end_affiliation", "record_continuing_education",
                     "upload_certificate", "read_certificate", "register_staff_member",
                     "link_sign_in", "unlink_sign_in"),
                    Role.NETWORK_ADMIN),
    **dict.fromkeys(("record_billing_provider", "set_fee_schedule"), Role.CLINIC_ADMIN),
    "export_claims": Role.BILLER, "export_session_claim": Role.BILLER,
    **dict.fromkeys(("register_patient", "grant_consent", "revoke_consent", "decide_consent",
                     "record_coverage",
                     "make_referral",
                     "redirect_referral", "cancel_referral", "certify_plan", "recertify_plan",
                     "amend", "request_amendment", "accept_amendment", "deny_amendment",
                     "file_disagreement", "export_patient_fhir", "authorize_visits",
                     "acknowledge_plan_deviation", "reply_to_message", "read_document",
                     "print_document"),
                    Role.PHYSICIAN),
    **dict.fromkeys(("accept_referral", "decline_referral", "record_assessment", "draft_plan",
                     "revise_plan", "schedule_session", "complete_session", "cancel_session",
                     "record_no_show", "send_progress_report", "discharge", "send_message",
                     "acknowledge_message", "attach_document"), Role.THERAPIST),
}
#: Generated requests per operation and mode (valid and invalid by the schema).
EXAMPLES = 20
#: How a request authenticates: mostly as the role, sometimes not at all or forged.
AUTH = ("role", "role", "role", "role", "none", "forged", "expired")
#: Where path ids come from: generated (almost always unknown) or records that exist.
IDS = ("generated", "real", "real")

SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)


@pytest.fixture(scope="session")
def api_schema(wsgi: Any) -> Any:
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", wsgi)


#: Hypothesis also sends string constants it finds in the code under test: a value found
#: in our own source is a fixed text of the API, not an echo of the request.
SOURCE = "\n".join(p.read_text() for p in Path(careledger.__file__).parent.rglob("*.py"))


def vocabulary(document: Any) -> set[str]:
    """Every enum value and property name of the document: an error may name those."""
    words: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            words.update(str(v) for v in node.get("enum", ()))
            words.update(node.get("properties", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    return words


def sent_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from sent_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from sent_strings(v)


def assert_problem(response: Any, case: Any, words: set[str]) -> None:
    """A 4xx is RFC 9457 problem+json and quotes nothing the request carried."""
    assert response.headers["content-type"] == ["application/problem+json"], (
        response.status_code, response.headers)
    body = json.loads(response.content)
    assert body["status"] == response.status_code
    assert body["type"].startswith("https://careledger.dev/problems/")
    assert body["title"] and body["detail"] and body["code"]
    text = response.content.decode()
    escaped = json.dumps(body)
    sent = [*sent_strings(case.body), *sent_strings(case.path_parameters)]
    for value in sent:
        if len(value.strip()) >= 8 and value not in words and value not in SOURCE:
            assert value not in text and json.dumps(value)[1:-1] not in escaped, (
                f"the error echoes the input {value!r}: {text}")


class Tokens:
    """Tokens for the fuzz runs: each role scoped to the network's records."""

    def __init__(self, tokens: TokenService, network: Network) -> None:
        self.tokens, self.network = tokens, network

    def bearer(self, role: Role) -> str:
        n = self.network
        subject = {Role.PHYSICIAN: n.physician, Role.THERAPIST: n.therapist}.get(role, uuid4())
        clinics = [n.clinic] if role in (Role.THERAPIST, Role.CLINIC_ADMIN, Role.BILLER) else []
        return self.tokens.issue(subject=subject, role=role, clinics=clinics)

    def headers(self, kind: str, role: Role) -> dict[str, str]:
        if kind == "none":
            return {}
        if kind == "forged":
            return {"Authorization": "Bearer " + self.bearer(role)[:-4] + "AAAA"}
        if kind == "expired":
            return {"Authorization": "Bearer " + self.tokens.issue(
                subject=self.network.physician, role=role, ttl=timedelta(seconds=-1))}
        return {"Authorization": "Bearer " + self.bearer(role)}


def real_ids(app: CareLedger, network: Network, case: Any) -> None:
    """Point the case's path at records that exist and the caller may act on."""
    params = case.path_parameters
    if "referral_id" in params:
        params["referral_id"] = str(open_episode(app, network, accept=True))
    if "patient_id" in params:
        params["patient_id"] = str(network.patient)
    if "clinic_id" in params:
        params["clinic_id"] = str(network.clinic)
    if "practitioner_id" in params:
        params["practitioner_id"] = str(app.handle(RegisterPractitioner(
            name="Fuzz", profession=network_profession(), occurred_at=NOW,
            actor="network_admin:fuzz")).aggregate_id)


def network_profession() -> Any:
    from careledger.domain.clinical import Profession

    return Profession.MEDICAL_MASSAGE_THERAPIST


def operation_ids(document: dict[str, Any]) -> set[str]:
    return {op["operationId"] for path in document["paths"].values() for op in path.values()}


def test_every_operation_has_a_fuzzing_role(api_schema: Any) -> None:
    assert operation_ids(api_schema.raw_schema) == set(ROLES)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("operation_id", sorted(ROLES))
def test_fuzz_operation(operation_id: str, mode: GenerationMode, api_schema: Any,
                        app: CareLedger, tokens: TokenService) -> None:
    operation = api_schema.find_operation_by_id(operation_id)
    network = build_network(app, tokens)
    issuer = Tokens(tokens, network)
    words = vocabulary(api_schema.raw_schema)
    role = ROLES[operation_id]

    # The token is the test's to choose: schemathesis must not count it as the invalid part.
    strategy = operation.as_strategy(generation_mode=mode,
                                     headers={"Authorization": "Bearer set-below"})

    @SETTINGS
    @hypothesis.given(case=strategy,
                      auth=st.sampled_from(AUTH), ids=st.sampled_from(IDS))
    def fuzz(case: Any, auth: str, ids: str) -> None:
        if ids == "real":
            real_ids(app, network, case)
        headers = issuer.headers(auth, role)
        case.headers.pop("Authorization", None)
        if auth != "role":
            response = case.call(headers=headers)
            assert response.status_code == 401, (auth, response.status_code, response.text)
            assert_problem(response, case, words)
            return
        response = case.call(headers=headers)
        if response.status_code == 413:  # refused by its size, before its schema is read
            assert_problem(response, case, words)
            return
        case.validate_response(response, headers=headers,
                               excluded_checks=[positive_data_acceptance])
        assert response.status_code < 500
        if response.status_code >= 400:
            assert_problem(response, case, words)
        else:
            assert response.status_code in (200, 201)

    fuzz()


#: Stateful runs: scenarios, and calls per scenario, following the document's links.
SCENARIOS = 60
STEPS = 20
#: Each stateful run covers one area, so that one area's loops do not starve another's:
#: its operations, and those that must have answered 201 at least once (on linked ids).
#: The episode's scenarios start from a patient's registration (its one reliable root).
NETWORK = {"register_clinic", "register_practitioner", "add_credential",
           "record_continuing_education", "upload_certificate", "read_certificate",
           "affiliate_practitioner", "record_experience", "offer_home_visits",
           "rename_practitioner", "end_affiliation", "register_staff_member", "link_sign_in",
           "unlink_sign_in"}
BILLING = {"record_billing_provider", "set_fee_schedule", "export_claims",
           "export_session_claim"}
TREATMENT = {"register_patient", "grant_consent", "make_referral", "accept_referral",
             "record_assessment", "draft_plan", "certify_plan"}
AREAS = {
    # (An affiliation's end needs one the chain made first: not every run reaches it.)
    # (A course is recorded only once completed, by a day no generated body names; a
    # certificate is a file, read back by the hash of one uploaded.)
    # (A sign-in links a person of the directory by an id no generated body names, and a
    # staff member's clinics are ids too.)
    "network": (NETWORK, NETWORK - {"register_clinic", "end_affiliation",
                                    "record_continuing_education", "upload_certificate",
                                    "read_certificate", "register_staff_member",
                                    "link_sign_in", "unlink_sign_in"}),
    # (The FHIR export and a document's bytes are left out: a fresh patient's are a 404
    # to anyone, a dead end.)
    # (A clinic's billing stands beside the episode: its own runs, one operation each.)
    "episode": (set(ROLES) - NETWORK - BILLING - {"export_patient_fhir", "read_document",
                                                  "print_document"},
                {"register_patient", "grant_consent", "revoke_consent", "make_referral",
                 "accept_referral", "decline_referral", "cancel_referral"}),
    # The path to treatment alone: with every operation in play, a chain reaches an
    # accepted referral's assessment only now and then (how often depends on the seed,
    # which depends on the string constants in our code).
    "treatment": (TREATMENT, TREATMENT),
}


def steer(network: Network, operation_id: str, body: Any) -> None:
    """Keep a chain going: the records a body names are the network's, dates sensible.

    Only what links cannot carry (a clinic in a body, a certification's 90-day window,
    an ICD-10-CM code that exists, the ids a later link reads from this request);
    every other field stays as generated.
    """
    if not isinstance(body, dict):
        return
    today = NOW.date()
    match operation_id:
        case "make_referral":  # the patient comes by the link from their consent
            body.update(clinic_id=str(network.clinic), discipline="medical_massage",
                        diagnoses=["M54.50"], contraindications=[])
        case "accept_referral":
            body["practitioner_id"] = str(network.therapist)
        case "redirect_referral":
            body["clinic_id"] = str(network.other_clinic)
        case "affiliate_practitioner":
            body["clinic_id"] = str(network.clinic)
        case "record_experience":
            body["conditions"] = ["M54.50", "fibromyalgia"]
        case "draft_plan" | "revise_plan" if not body.get("goals"):
            body["goals"] = [{"goal_id": "pain", "description": "less pain", "metric": "NPRS",
                              "baseline": 7, "target": 3, "unit": "points",
                              "due": str(today + timedelta(42))}]
        case "certify_plan" | "recertify_plan":
            body.update(certified_from=str(today), certified_until=str(today + timedelta(60)))
        case "schedule_session" | "request_amendment" | "send_message" | "reply_to_message":
            key = {"schedule_session": "session_id", "request_amendment": "request_id"}.get(
                operation_id, "message_id")
            if not body.get(key):
                body[key] = f"fuzz-{uuid4().hex[:8]}"


@pytest.mark.parametrize("area", sorted(AREAS))
def test_stateful_chains_follow_the_links_on_real_ids(area: str, wsgi: Any, app: CareLedger,
                                                      tokens: TokenService) -> None:
    """Scenarios of linked commands: register, consent, refer, accept, assess, plan, ...

    Valid requests only: the invalid ones, and missing or forged tokens, are
    test_fuzz_operation's; here every step should have a chance to move the episode on.
    """
    operations, must_succeed = AREAS[area]
    api_schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", wsgi)
    api_schema.config.generation.update(modes=[GenerationMode.POSITIVE])
    network = build_network(app, tokens)
    issuer = Tokens(tokens, network)
    words = vocabulary(api_schema.raw_schema)
    by_label = {f"{method.upper()} {path}": op["operationId"]
                for path, ops in api_schema.raw_schema["paths"].items()
                for method, op in ops.items()}
    answered: Counter[tuple[str, int]] = Counter()
    machine = api_schema.include(operation_id=sorted(operations)).as_state_machine()

    class Chains(machine):  # type: ignore[misc, valid-type]
        def before_call(self, case: Any) -> None:
            operation_id = by_label[case.operation.label]
            if case.meta is None or case.meta.generation.mode.is_positive:
                steer(network, operation_id, case.body)
            case.headers["Authorization"] = issuer.headers("role", ROLES[operation_id])[
                "Authorization"]

        def validate_response(self, response: Any, case: Any,
                              additional_checks: Any = None, **kwargs: Any) -> None:
            answered[by_label[case.operation.label], response.status_code] += 1
            # Tokens are set here, not by schemathesis's auth, so its ignored_auth replay
            # would resend ours: test_fuzz_operation sends none, forged and expired ones.
            case.validate_response(response, excluded_checks=[positive_data_acceptance,
                                                              ignored_auth],
                                   transport_kwargs=kwargs)
            assert response.status_code < 500
            if response.status_code >= 400:
                assert_problem(response, case, words)

    Chains.run(settings=hypothesis.settings(
        SETTINGS, max_examples=SCENARIOS, stateful_step_count=STEPS,
        phases=[Phase.generate, Phase.shrink]))
    recorded = {operation for (operation, status) in answered if status == 201}
    assert must_succeed <= recorded, answered


# ---------------------------------------------------------------- what the fuzzers found


def test_a_body_that_is_not_json_is_a_documented_400_problem(client: Any) -> None:
    network_admin = TokenService(TOKEN_SECRET).issue(subject=uuid4(), role=Role.NETWORK_ADMIN)
    response = client.post("/api/v1/clinics", data=b"\x00", content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {network_admin}")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "malformed_request"
    document = client.get("/api/v1/openapi.json").json()
    assert "400" in document["paths"]["/api/v1/clinics"]["post"]["responses"]


def test_every_documented_error_is_problem_json(client: Any) -> None:
    document = client.get("/api/v1/openapi.json").json()
    for path in document["paths"].values():
        for operation in path.values():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], (
                        operation["operationId"], status)


def test_a_number_is_not_a_time(client: Any) -> None:
    """Pydantic alone reads 1700000000 as seconds since 1970: a time nobody stated."""
    physician = TokenService(TOKEN_SECRET).issue(subject=uuid4(), role=Role.PHYSICIAN)
    for body in ({"given_name": "A", "family_name": "B", "birth_date": "1970-01-01",
                  "sex": "female", "occurred_at": -1062735},
                 {"given_name": "A", "family_name": "B", "birth_date": 0, "sex": "female"}):
        response = client.post("/api/v1/patients", data=json.dumps(body),
                               content_type="application/json",
                               HTTP_AUTHORIZATION=f"Bearer {physician}")
        assert response.status_code == 422, response.content
        assert response.json()["code"] == "invalid_request"


def test_a_body_that_is_not_an_object_is_refused(client: Any, network: Network) -> None:
    """Ninja's schemas read attributes of anything: `true` passed as an empty command."""
    for body in ("true", "[]", '"x"', "1", "null"):
        response = client.post(f"/api/v1/patients/{network.patient}/consent", data=body,
                               content_type="application/json", **network.physician_auth)
        assert response.status_code == 422, (body, response.content)
        assert response["Content-Type"] == "application/problem+json"
    nested = client.post(f"/api/v1/referrals/{uuid4()}/assessments", data=json.dumps({
        "history": "x", "pain_nprs": 3, "functional_instrument": "ODI", "functional_score": 3,
        "range_of_motion": [True]}), content_type="application/json", **network.therapist_auth)
    assert nested.status_code == 422, nested.content


def test_text_with_nul_is_refused_before_it_reaches_the_log(client: Any,
                                                            network: Network) -> None:
    """The log took "\\u0000" (events are bytes); no view could apply it (jsonb, text)."""
    body = {"patient_id": str(network.patient), "clinic_id": str(network.clinic),
            "discipline": "medical_massage", "diagnoses": ["M54.50"], "authorized_visits": 3,
            "precautions": ["p\x00"]}
    response = client.post("/api/v1/referrals", data=json.dumps(body),
                           content_type="application/json", **network.physician_auth)
    assert response.status_code == 422, response.content


def test_a_key_the_client_chose_is_not_echoed(client: Any, network: Network) -> None:
    key = "Quintessa-Vantablack-" + "x" * 60
    response = client.post(f"/api/v1/referrals/{uuid4()}/discharge", data=json.dumps(
        {"outcomes": {key: "nope"}, "summary": "s"}), content_type="application/json",
        **network.therapist_auth)
    assert response.status_code == 422
    assert "Quintessa" not in response.content.decode()
    assert response.json()["errors"][0]["field"].startswith("outcomes.*")


def test_a_zone_offset_postgresql_cannot_hold_is_refused(client: Any, network: Network) -> None:
    """+20:13 passed pydantic, entered the log, and no view could apply the event."""
    for at in ("0297-06-13T19:18:24.4+20:13", "2026-03-02T09:00:00-16:00"):
        response = client.post(f"/api/v1/patients/{network.patient}/consent",
                               data=json.dumps({"occurred_at": at}),
                               content_type="application/json", **network.physician_auth)
        assert response.status_code == 422, (at, response.content)
    ok = client.post(f"/api/v1/patients/{network.patient}/consent",
                     data=json.dumps({"occurred_at": "2026-03-02T09:00:00+14:00"}),
                     content_type="application/json", **network.physician_auth)
    assert ok.status_code == 409, ok.content  # valid: on to the rule (consent is granted)


def test_nan_is_not_a_number_the_log_takes(client: Any, network: Network) -> None:
    body = ('{"history": "h", "pain_nprs": 3, "functional_instrument": "ODI",'
            ' "functional_score": NaN}')
    response = client.post(f"/api/v1/referrals/{uuid4()}/assessments", data=body,
                           content_type="application/json", **network.therapist_auth)
    assert response.status_code == 422, response.content
    from careledger.gateways.routes.referrals import GoalIn

    with pytest.raises(ValueError):
        GoalIn(goal_id="g", description="d", metric="m", baseline=float("nan"), target=1,
               unit="u", due="2026-05-01")
