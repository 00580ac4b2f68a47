"""The API with an identity provider: a real OIDC provider process on loopback
(tests/oidc, panva's oidc-provider), the real API process configured with its issuer.

Who a caller is comes from the provider's access token; what they may do, from the
directory the sign-in is linked to. Every token that fails a check is a 401 problem.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from careledger.access.signins import DIRECTORY_TTL_S
from careledger.access.tokens import Role, TokenService
from careledger.domain.application import CareLedger
from careledger.domain.identity import LinkSignIn, PersonKind, UnlinkSignIn
from careledger.infra.settings import Settings
from tests.helpers import oidc
from tests.helpers.network import Network, build_network
from tests.helpers.oidc import AUDIENCE, EXPORTS_PER_MINUTE, OidcProvider
from tests.helpers.processes import LiveServer

pytestmark = pytest.mark.skipif(not oidc.available(), reason=oidc.NO_PROVIDER)

#: How long a key rotation or an unlink may take to be seen (the API's key refetch floor
#: is 10 s, its directory memory 5 s).
SEEN_WITHIN_S = 60


def link(app: CareLedger, provider: OidcProvider, person: uuid.UUID) -> str:
    """A new subject at the provider, linked to this practitioner; answers the subject."""
    subject = f"user-{uuid.uuid4().hex[:12]}"
    app.handle(LinkSignIn(issuer=provider.issuer, subject=subject, person_id=person,
                          person_kind=PersonKind.PRACTITIONER,
                          occurred_at=datetime.now(UTC), actor="operator:test"))
    return subject


def me(server: LiveServer, token: str) -> dict[str, Any]:
    answer = httpx.post(server.url + "/graphql", json={"query": "{ me { id role clinicIds } }"},
                        headers={"Authorization": f"Bearer {token}"}, timeout=20)
    return dict(answer.json())


def export(server: LiveServer, token: str, patient: uuid.UUID) -> httpx.Response:
    return httpx.get(f"{server.url}/api/v1/patients/{patient}/fhir",
                     headers={"Authorization": f"Bearer {token}"}, timeout=20)


def claims(provider: OidcProvider, subject: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": provider.issuer, "sub": subject, "aud": AUDIENCE, "iat": now,
            "exp": now + 300, "scope": "careledger", **changes}


def unsigned(payload: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


def assert_refused(answer: httpx.Response) -> None:
    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "not_authenticated"


@pytest.fixture()
def network(app: CareLedger, tokens: TokenService) -> Network:
    return build_network(app, tokens)


def test_a_linked_practitioner_signs_in_with_the_role_the_directory_gives(
    app: CareLedger, provider: OidcProvider, oidc_server: LiveServer, network: Network
) -> None:
    subject = link(app, provider, network.therapist)
    token = provider.access_token(subject)
    assert me(oidc_server, token)["data"]["me"] == {
        "id": str(network.therapist), "role": "therapist", "clinicIds": [str(network.clinic)]}
    # Claims the provider could mint are not believed: the directory says therapist.
    minted = provider.sign(claims(provider, subject, role="network_admin",
                                  clinics=[str(network.other_clinic)]))
    assert me(oidc_server, minted)["data"]["me"]["role"] == "therapist"
    refused = httpx.post(oidc_server.url + "/api/v1/clinics", json={
        "name": "Elsewhere", "disciplines": ["physical_therapy"], "address": "2 Main St",
        "latitude": 42.0, "longitude": -73.0}, headers={"Authorization": f"Bearer {minted}"},
        timeout=20)
    assert refused.status_code == 403, refused.text


def test_every_token_that_fails_a_check_is_a_401_problem(
    app: CareLedger, provider: OidcProvider, oidc_server: LiveServer, network: Network,
    settings: Settings
) -> None:
    subject = link(app, provider, network.physician)
    now = int(time.time())
    stranger_key = oidc.new_key()
    refused = {
        "expired": provider.sign(claims(provider, subject, iat=now - 1200, exp=now - 600)),
        "another audience": provider.sign(claims(provider, subject, aud="urn:another:api")),
        "another issuer": provider.sign(claims(provider, subject, iss="http://127.0.0.1:9")),
        "an unknown key": provider.sign(claims(provider, subject), key=stranger_key),
        "alg none": unsigned(claims(provider, subject)),
        "HS256 once an issuer is set": TokenService(settings.token_secret).issue(
            subject=network.physician, role=Role.PHYSICIAN),
        "not a token": "not-a-token",
    }
    for why, token in refused.items():
        answer = export(oidc_server, token, network.patient)
        assert answer.status_code == 401, why
        assert_refused(answer)
    # The same subject's real token is accepted: each refusal was the token's own fault.
    assert me(oidc_server, provider.access_token(subject))["data"]["me"]["role"] == "physician"


def test_an_identity_nobody_linked_is_refused_and_an_unlinked_one_soon_is(
    app: CareLedger, provider: OidcProvider, oidc_server: LiveServer, network: Network
) -> None:
    assert_refused(export(oidc_server, provider.access_token("nobody-linked-this"),
                          network.patient))
    subject = link(app, provider, network.physician)
    token = provider.access_token(subject)
    assert me(oidc_server, token)["data"]["me"]["role"] == "physician"
    app.handle(UnlinkSignIn(issuer=provider.issuer, subject=subject,
                            occurred_at=datetime.now(UTC), actor="operator:test"))
    deadline = time.monotonic() + SEEN_WITHIN_S
    while "errors" not in me(oidc_server, token):
        assert time.monotonic() < deadline, "an unlinked sign-in was still accepted"
        time.sleep(0.5)
    # One API process has seen it; what the others remembered from before the unlink is
    # older than their memory lasts once that memory's time has passed again.
    time.sleep(DIRECTORY_TTL_S + 0.5)
    for _ in range(6):  # each of the API's processes, whichever answers
        assert me(oidc_server, token)["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_a_principal_over_its_budget_gets_429_while_another_is_served(
    app: CareLedger, provider: OidcProvider, oidc_server: LiveServer, network: Network
) -> None:
    busy = provider.access_token(link(app, provider, network.physician))
    other = provider.access_token(link(app, provider, network.therapist))
    # A budget of 3 a minute: within 7 requests (two windows at most), one is refused.
    answers = [export(oidc_server, busy, network.patient)
               for _ in range(2 * EXPORTS_PER_MINUTE + 1)]
    refused = [a for a in answers if a.status_code == 429]
    assert refused, [a.status_code for a in answers]
    assert refused[0].headers["content-type"].startswith("application/problem+json")
    assert refused[0].json()["code"] == "rate_limited"
    assert 1 <= int(refused[0].headers["Retry-After"]) <= 60
    assert export(oidc_server, other, network.patient).status_code != 429


def test_keys_rotated_at_the_provider_are_taken_while_the_api_runs(
    app: CareLedger, provider: OidcProvider, oidc_server: LiveServer, network: Network
) -> None:
    subject = link(app, provider, network.physician)
    before = provider.access_token(subject)
    assert me(oidc_server, before)["data"]["me"]["role"] == "physician"
    provider.rotate()
    after = provider.access_token(subject)
    deadline = time.monotonic() + SEEN_WITHIN_S
    while "errors" in me(oidc_server, after):
        assert time.monotonic() < deadline, "a token signed with the new key was refused"
        time.sleep(1)
