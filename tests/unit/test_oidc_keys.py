"""The identity provider's keys as the API holds them: fetched once, fetched again for a
new key id at most once per floor, kept when the provider does not answer, and the
checks of a token (the real provider process is tests/e2e/test_identity.py's).

`fetch` is the Provider's own seam for reading a URL; here it reads from a dict that
plays the provider's published documents, so the counts of fetches can be asserted.
"""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from careledger.access import oidc
from careledger.access.oidc import Provider, ProviderUnavailable

ISSUER = "https://id.example.org/realms/clinics/"
JWKS = "https://id.example.org/realms/clinics/certs"


class Published:
    """What the provider publishes, and how often each address was read."""

    def __init__(self) -> None:
        self.keys: list[tuple[str, Any]] = [("k1", ec.generate_private_key(ec.SECP256R1()))]
        self.reads: dict[str, int] = {}
        self.down = False

    def fetch(self, url: str) -> Any:
        self.reads[url] = self.reads.get(url, 0) + 1
        if self.down:
            raise ProviderUnavailable("down")
        if url.endswith("/.well-known/openid-configuration"):
            return {"issuer": ISSUER, "jwks_uri": JWKS}
        assert url == JWKS
        return {"keys": [{**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(k.public_key())),
                          "kid": kid, "alg": "ES256", "use": "sig"} for kid, k in self.keys]}

    def token(self, kid: str = "k1", **claims: Any) -> str:
        key = dict(self.keys)[kid]
        now = int(time.time())
        body = {"iss": ISSUER, "sub": "u1", "aud": "careledger", "iat": now, "exp": now + 60,
                **claims}
        return jwt.encode(body, key, algorithm="ES256", headers={"kid": kid})


@pytest.fixture()
def published() -> Published:
    return Published()


def provider(published: Published) -> Provider:
    return Provider(ISSUER, audience="careledger", algorithms=["ES256"], leeway_s=30,
                    fetch=published.fetch)


def test_discovery_drops_the_issuers_final_slash_and_keys_are_read_once(
    published: Published
) -> None:
    checked = provider(published)
    for _ in range(5):
        assert checked.access_token(published.token()) == oidc.Identity(ISSUER, "u1")
    assert published.reads == {
        "https://id.example.org/realms/clinics/.well-known/openid-configuration": 1, JWKS: 1}


def test_a_new_key_id_fetches_again_but_never_more_than_once_per_floor(
    published: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked = provider(published)
    assert checked.access_token(published.token()) is not None
    # Made-up key ids, many: the keys were just read, so none of them reads them again.
    for n in range(20):
        assert checked.key(f"made-up-{n}") is None
    assert published.reads[JWKS] == 1
    # The provider rotates; once the floor has passed, a token with the new key id is read.
    published.keys.append(("k2", ec.generate_private_key(ec.SECP256R1())))
    assert checked.access_token(published.token(kid="k2")) is None
    monkeypatch.setattr(oidc, "REFRESH_FLOOR_S", 0.0)
    assert checked.access_token(published.token(kid="k2")) == oidc.Identity(ISSUER, "u1")
    assert published.reads[JWKS] == 2


def test_the_keys_held_go_on_checking_while_the_provider_does_not_answer(
    published: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked = provider(published)
    assert checked.access_token(published.token()) is not None
    published.down = True
    monkeypatch.setattr(oidc, "KEYS_LIFETIME_S", 0.0)  # the keys are old: a refresh is due
    monkeypatch.setattr(oidc, "REFRESH_FLOOR_S", 0.0)
    assert checked.access_token(published.token()) == oidc.Identity(ISSUER, "u1")
    # With nothing held, an outage is said as such (a 503 at the gate), not as a bad token.
    with pytest.raises(ProviderUnavailable):
        provider(published).key("k1")


@pytest.mark.parametrize("why, claims", [
    ("expired beyond the leeway", {"exp": int(time.time()) - 120}),
    ("not yet valid", {"nbf": int(time.time()) + 120}),
    ("another audience", {"aud": "another"}),
    ("another issuer", {"iss": "https://elsewhere.example.org/"}),
    ("an ID token (it carries a nonce)", {"nonce": "n"}),
])
def test_a_token_that_fails_a_check_names_nobody(
    published: Published, why: str, claims: dict[str, Any]
) -> None:
    assert provider(published).access_token(published.token(**claims)) is None, why


def test_within_the_leeway_a_token_is_still_good(published: Published) -> None:
    late = published.token(exp=int(time.time()) - 10)
    assert provider(published).access_token(late) is not None


def test_an_id_token_type_or_an_algorithm_not_pinned_names_nobody(
    published: Published
) -> None:
    key = dict(published.keys)["k1"]
    now = int(time.time())
    body = {"iss": ISSUER, "sub": "u1", "aud": "careledger", "exp": now + 60}
    typed = jwt.encode(body, key, algorithm="ES256", headers={"kid": "k1", "typ": "id_token"})
    assert provider(published).access_token(typed) is None
    hs = jwt.encode(body, "a-shared-secret-of-32-bytes-long!", algorithm="HS256",
                    headers={"kid": "k1"})
    assert provider(published).access_token(hs) is None
