"""Fuzzing GraphQL: generated queries over the schema, valid and not, as every role.

hypothesis-graphql writes queries from the schema itself (every root field, arguments of
every type, ids of records that exist or not), valid ones and ones with one violation;
beside them, documents that are broken on purpose: syntax errors, unknown fields, wrong
argument types, too many aliases, too deep. Whatever comes back: never a 5xx, every error
either a validation error about the query text or one with a code in `extensions`, no
"Unexpected error." (a masked failure is still a failure), and no error that quotes the
patient: a patient is seeded with names, an address, notes and a diagnosis that no
message may contain. Bounded and seeded (`derandomize`).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import hypothesis
import hypothesis_graphql
import pytest
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from hypothesis_graphql import nodes

from careledger.access.tokens import Role, TokenService
from careledger.domain.application import CareLedger
from careledger.domain.assessment import RecordAssessment
from careledger.domain.clinical import Discipline, FunctionalInstrument, Technique, Urgency
from careledger.domain.intake import AcceptReferral
from careledger.domain.patient import GrantConsent, RegisterPatient
from careledger.domain.referral import MakeReferral
from careledger.main import bootstrap
from tests.helpers.graphql import sync_views
from tests.helpers.network import NOW, Network, build_network

#: The seeded patient's data: no error may contain any of it.
PHI = {
    "given_name": "Quintessa", "family_name": "Vantablack-Marlowe",
    "address": "77 Obsidian Lane, Troy", "history": "fell from a ladder at the orchard",
    "findings": "guarded lumbar flexion after the orchard fall",
    "reason": "persistent sciatica since the ladder accident",
    "diagnosis": "Low back pain, unspecified",
}
EXAMPLES = 60
SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck), print_blob=False,
)
#: Error codes the read API gives (PublicError) besides validation errors.
CODES = {"NOT_FOUND", "UNAUTHENTICATED", "BAD_INPUT", "NOT_CAUGHT_UP", "BAD_REQUEST"}


class Seeded:
    def __init__(self, network: Network, referral: UUID) -> None:
        self.network, self.referral = network, referral


@pytest.fixture(scope="module")
def seeded(app: CareLedger, db: bootstrap.Database, tokens: TokenService) -> Seeded:
    network = build_network(app, tokens)
    actor = "network_admin:fuzz"
    patient = app.handle(RegisterPatient(
        given_name=PHI["given_name"], family_name=PHI["family_name"],
        birth_date=date(1961, 2, 3), sex="female", address=PHI["address"], latitude=42.7,
        longitude=-73.7, occurred_at=NOW, actor=actor)).aggregate_id
    app.handle(GrantConsent(patient_id=patient, occurred_at=NOW, actor=actor))
    network.patient = patient
    rid = app.handle(MakeReferral(
        physician_id=network.physician, patient_id=patient, clinic_id=network.clinic,
        discipline=Discipline.MEDICAL_MASSAGE, diagnosis_codes=["M54.50"],
        precautions=["anticoagulants"], contraindications=[Technique.DEEP_TISSUE],
        urgency=Urgency.ROUTINE, authorized_visits=6, reason=PHI["reason"], occurred_at=NOW,
        actor="physician:fuzz")).aggregate_id
    app.handle(AcceptReferral(referral_id=rid, practitioner_id=network.therapist, occurred_at=NOW,
                              actor="t"))
    app.handle(RecordAssessment(
        referral_id=rid, practitioner_id=network.therapist, history=PHI["history"], pain_nprs=7,
        range_of_motion=[], muscle_tests=[], functional_instrument=FunctionalInstrument.ODI,
        functional_score=40, findings=PHI["findings"], red_flags=[], occurred_at=NOW,
        actor="t"))
    sync_views(app, db)
    return Seeded(network, rid)


def tokens_for(seeded: Seeded) -> dict[str, str | None]:
    n = seeded.network
    return {
        "physician": n.token(Role.PHYSICIAN, n.physician),
        "therapist": n.token(Role.THERAPIST, n.therapist, [n.clinic]),
        "clinic_admin": n.token(Role.CLINIC_ADMIN, uuid4(), [n.clinic]),
        "stranger": n.token(Role.PHYSICIAN, uuid4()),
        "auditor": n.token(Role.AUDITOR, uuid4()),
        "network_admin": n.token(Role.NETWORK_ADMIN, uuid4()),
        "none": None,
        "forged": n.token(Role.AUDITOR, uuid4())[:-4] + "AAAA",
    }


def scalars(seeded: Seeded) -> dict[str, st.SearchStrategy[Any]]:
    n = seeded.network
    ids = [n.patient, n.physician, n.therapist, n.clinic, n.other_clinic, seeded.referral]
    moments = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1),
                           timezones=st.just(UTC)).map(lambda d: d.isoformat())
    return {
        "UUID": st.one_of(st.sampled_from(ids), st.uuids()).map(nodes.String),
        "DateTime": st.one_of(moments, st.text(max_size=30)).map(nodes.String),
        "Date": st.one_of(st.dates().map(str), st.text(max_size=12)).map(nodes.String),
        "JSON": st.text(max_size=20).map(nodes.String),
    }


def post(client: Any, token: str | None, query: str, headers: dict[str, str] | None = None
         ) -> Any:
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}
    return client.post("/graphql", data=json.dumps({"query": query}),
                       content_type="application/json", **auth, **extra)


def assert_safe(response: Any) -> None:
    """No 5xx; every error coded or about the query text, none masked, none quoting PHI.

    The seeded patient's data may be in `data` (for those allowed to read it), never in
    an error.
    """
    assert response.status_code < 500, response.content
    body = response.json()
    errors = body.get("errors") or []
    text = json.dumps(errors)
    for value in PHI.values():
        for fragment in (value, *value.split(" ")):
            assert len(fragment) < 6 or fragment not in text, (fragment, text[:500])
    for error in errors:
        assert error["message"] != "Unexpected error.", error
        code = (error.get("extensions") or {}).get("code")
        # A validation error is about the query text: no path, no code.
        assert code in CODES or ("path" not in error and code is None), error


@pytest.mark.parametrize("mode", [hypothesis_graphql.Mode.POSITIVE,
                                  hypothesis_graphql.Mode.NEGATIVE])
def test_fuzz_generated_queries(mode: Any, client: Any, seeded: Seeded) -> None:
    from careledger.graphql.schema import schema

    tokens = tokens_for(seeded)
    strategy = hypothesis_graphql.queries(schema.as_str(), custom_scalars=scalars(seeded),
                                          mode=mode)

    @SETTINGS
    @hypothesis.given(query=strategy, who=st.sampled_from(sorted(tokens)))
    def fuzz(query: str, who: str) -> None:
        response = post(client, tokens[who], query)
        assert_safe(response)
        body = response.json()
        errors = body.get("errors") or []
        # Past validation (depth, aliases, tokens): resolvers ran, and their errors have a
        # path; a refused document's errors never do.
        executed = not errors or any("path" in error for error in errors)
        answered[(executed, bool(body.get("data")))] += 1

    answered: Counter[tuple[bool, bool]] = Counter()
    fuzz()
    if mode is hypothesis_graphql.Mode.POSITIVE:
        # Not all refused: a good share of the documents run (the generator also writes
        # them deeper or longer than allowed), and of those, some get past the token, the
        # care team and the arguments' bounds (random page sizes and cursors) to data.
        ran = answered[(True, True)] + answered[(True, False)]
        assert ran >= EXAMPLES // 4 and answered[(True, True)] >= ran // 20, answered


def broken_documents(patient: UUID) -> st.SearchStrategy[str]:
    """Documents wrong on purpose: the text, the fields, the types, the size."""
    valid = f'{{ patient(id: "{patient}") {{ id timeline {{ events {{ kind data }} }} }} }}'
    syntax = st.builds(lambda cut, junk: valid[:cut] + junk,
                       st.integers(0, len(valid)), st.text(max_size=20))
    unknown = st.from_regex(r"\A[a-z][a-zA-Z]{0,15}\Z").map(
        lambda name: f'{{ patient(id: "{patient}") {{ {name} }} }}')
    wrong_types = st.sampled_from([
        '{ patient(id: 42) { id } }', '{ patient(id: "not-a-uuid") { id } }',
        f'{{ patient(id: "{patient}") {{ timeline(first: "ten") {{ hasNextPage }} }} }}',
        f'{{ patient(id: "{patient}") {{ timeline(first: 99999999999) {{ hasNextPage }} }} }}',
        f'{{ patient(id: "{patient}") {{ timeline(asOf: "yesterday") {{ hasNextPage }} }} }}',
        f'{{ patient(id: "{patient}") {{ timeline(after: "%%%") {{ hasNextPage }} }} }}',
        f'{{ patient(id: "{patient}", minPosition: -5) {{ id }} }}',
        f'{{ patient(id: "{patient}", emergencyReason: "{PHI["family_name"]}") {{ id }} }}',
        '{ matchPractitioners(condition: "M54", discipline: "' + PHI["given_name"]
        + '", near: {latitude: 1e400, longitude: 0}) { name } }',
        '{ auditTrail(aggregateId: null) { hash } }',
        '{ __typename ' + ' '.join(f"a{i}: __typename" for i in range(5000)) + ' }',
        "query { " * 200 + "}" * 200,
    ])
    aliases = st.integers(16, 200).map(lambda k: "{ " + " ".join(
        f'a{i}: patient(id: "{patient}") {{ id }}' for i in range(k)) + " }")
    depth = st.integers(9, 60).map(lambda d: f'{{ patient(id: "{patient}") {{ timeline {{ '
                                   "events { " + "amendments { " * d + "kind" + " }" * d
                                   + " } } } }")
    return st.one_of(syntax, unknown, wrong_types, aliases, depth, st.text(max_size=200))


def test_fuzz_broken_documents(client: Any, seeded: Seeded) -> None:
    tokens = tokens_for(seeded)

    @SETTINGS
    @hypothesis.given(query=broken_documents(seeded.network.patient),
                      who=st.sampled_from(sorted(tokens)))
    def fuzz(query: str, who: str) -> None:
        assert_safe(post(client, tokens[who], query))

    fuzz()


def test_odd_min_position_headers_are_refused_not_crashed(client: Any, seeded: Seeded) -> None:
    token = tokens_for(seeded)["physician"]
    query = f'{{ patient(id: "{seeded.network.patient}") {{ id }} }}'
    for raw in ("²", "١٢", "99999999999999999999999", "-1", "1e3"):
        response = post(client, token, query, {"CareLedger-Min-Position": raw})
        assert_safe(response)
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_INPUT"


def test_a_request_without_a_query_is_graphql_json(client: Any) -> None:
    response = client.post("/graphql", data=json.dumps({"query": ""}),
                           content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
