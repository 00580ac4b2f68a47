"""An OpenID Connect provider, as CareLedger trusts it: its discovery document and keys,
fetched and cached, and the checks every token it signs must pass.

The provider is named by its issuer URL alone; everything else (the endpoints, the JSON
Web Key Set) comes from its discovery document, whose `issuer` must be that URL exactly
(OpenID Connect Discovery §4.3). Keys are cached and fetched again when a token names a
key id the cache does not hold (the provider rotated its keys), at most once per
`REFRESH_FLOOR_S` and one at a time, so tokens with made-up key ids cannot make us
hammer the provider; when it does not answer, the keys already held go on checking
what they signed.
The algorithms are pinned by the settings: a token's header never chooses them, so
`alg: none` and HS256 (a public key used as an HMAC secret) are refused.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jwt

#: How long fetched keys are trusted before they are fetched again anyway.
KEYS_LIFETIME_S = 300.0
#: The least time between two fetches of the keys (a token naming an unknown key id).
REFRESH_FLOOR_S = 10.0
FETCH_TIMEOUT_S = 5.0
#: Header types that say a token is an ID token, never to be taken as an access token.
ID_TOKEN_TYPES = frozenset({"id_token", "id+jwt"})

Fetch = Callable[[str], Any]


class ProviderUnavailable(Exception):
    """The identity provider did not answer: no token can be checked (a 503, not a 401)."""


@dataclass(frozen=True)
class Identity:
    """Who a token says its bearer is: the pair the directory links to a person."""

    issuer: str
    subject: str


def fetch_json(url: str) -> Any:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S) as response:
            return json.loads(response.read(1_000_000))
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise ProviderUnavailable(f"the identity provider at {url} does not answer: "
                                  f"{type(e).__name__}") from e


class Provider:
    def __init__(self, issuer: str, *, audience: str, algorithms: Sequence[str],
                 leeway_s: int, fetch: Fetch = fetch_json) -> None:
        self.issuer = issuer
        self.audience = audience
        self.algorithms = list(algorithms)
        self.leeway_s = leeway_s
        self._fetch = fetch
        self._lock = threading.Lock()
        #: One fetch of the keys at a time: the others wait for it and use what it got.
        self._refreshing = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._keys: dict[str, jwt.PyJWK] = {}
        #: When the keys were last asked for, answered or not (a failed fetch waits the
        #: floor too, so an outage is not hammered; the keys held are kept meanwhile).
        self._keys_asked = float("-inf")

    # --- what the provider publishes ----------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """The discovery document, fetched once (again only after a failed fetch)."""
        with self._lock:
            if self._metadata is not None:
                return self._metadata
        # Discovery §4: the issuer without its final slash, then the well-known path.
        document = self._fetch(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
        if not isinstance(document, dict) or document.get("issuer") != self.issuer:
            raise ProviderUnavailable(
                "the identity provider's discovery document names another issuer: "
                "set CARELEDGER_OIDC_ISSUER to exactly the issuer it gives")
        with self._lock:
            self._metadata = document
        return document

    def endpoint(self, name: str) -> str:
        value = self.metadata().get(name)
        if not isinstance(value, str):
            raise ProviderUnavailable(f"the identity provider publishes no {name}")
        return value

    def key(self, kid: str | None) -> jwt.PyJWK | None:
        """The signing key a token names, fetching the key set again if it is new to us
        (or the set is old), at most once per REFRESH_FLOOR_S whatever the tokens say."""
        found = self._held(kid)
        if found is not None and not self._due(KEYS_LIFETIME_S):
            return found
        if self._due(REFRESH_FLOOR_S):
            with self._refreshing:
                if self._due(REFRESH_FLOOR_S):  # nobody fetched while this one waited
                    self._refresh_keys()
        return self._held(kid)

    def _due(self, after_s: float) -> bool:
        with self._lock:
            return time.monotonic() - self._keys_asked > after_s

    def _held(self, kid: str | None) -> jwt.PyJWK | None:
        with self._lock:
            if kid is None and len(self._keys) == 1:
                return next(iter(self._keys.values()))
            return self._keys.get(kid or "")

    def _refresh_keys(self) -> None:
        with self._lock:
            self._keys_asked = time.monotonic()
            held = bool(self._keys)
        try:
            document = self._fetch(self.endpoint("jwks_uri"))
        except ProviderUnavailable:
            if held:
                return  # the keys we hold still check what they signed
            raise
        keys: dict[str, jwt.PyJWK] = {}
        for entry in document.get("keys", []) if isinstance(document, dict) else []:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.PyJWK.from_dict(entry)
            except (jwt.PyJWKError, jwt.InvalidKeyError):
                continue  # a key type we do not use: not a reason to refuse the others
            keys[str(entry.get("kid", ""))] = key
        with self._lock:
            self._keys = keys

    # --- checking what it signed ---------------------------------------------------------

    def claims(self, token: str, *, audience: str, require: Sequence[str]) -> dict[str, Any]:
        """The claims of a token this provider signed for `audience`, all checks passed;
        jwt.PyJWTError for any token that is not."""
        header = jwt.get_unverified_header(token)
        if header.get("alg") not in self.algorithms:
            raise jwt.InvalidAlgorithmError("an algorithm the settings do not allow")
        key = self.key(header.get("kid"))
        if key is None:
            raise jwt.InvalidKeyError("signed by a key the provider does not publish")
        return jwt.decode(token, key, algorithms=self.algorithms, audience=audience,
                          issuer=self.issuer, leeway=self.leeway_s,
                          options={"require": list(require)})

    def access_token(self, token: str) -> Identity | None:
        """Who an access token names, or None for any token that fails a check.

        An ID token is not an access token, even for our audience: one that carries a
        `nonce` (ours always do) or says it is one (`typ`) is refused."""
        try:
            if jwt.get_unverified_header(token).get("typ", "").lower() in ID_TOKEN_TYPES:
                return None
            claims = self.claims(token, audience=self.audience,
                                 require=("exp", "iss", "sub", "aud"))
        except (jwt.PyJWTError, ValueError, TypeError, AttributeError):
            return None
        subject = claims.get("sub")
        if "nonce" in claims or not isinstance(subject, str) or not subject:
            return None
        return Identity(issuer=self.issuer, subject=subject)
