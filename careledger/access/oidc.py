"""An OpenID Connect provider, as CareLedger trusts it: its discovery document and keys,
fetched and cached, and the checks every token it signs must pass.

The provider is named by its issuer URL alone; everything else (the endpoints, the JSON
Web Key Set) comes from its discovery document, whose `issuer` must be that URL exactly
(OpenID Connect Discovery §4.3). Keys are cached and fetched again when a token names a
key id the cache does not hold (the provider rotated its keys), at most once per
`REFRESH_FLOOR_S`, so tokens with made-up key ids cannot make us hammer the provider.
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
        self._metadata: dict[str, Any] | None = None
        self._keys: dict[str, jwt.PyJWK] = {}
        self._keys_fetched = float("-inf")

    # --- what the provider publishes ----------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """The discovery document, fetched once (again only after a failed fetch)."""
        with self._lock:
            if self._metadata is None:
                document = self._fetch(self.issuer + "/.well-known/openid-configuration")
                if not isinstance(document, dict) or document.get("issuer") != self.issuer:
                    raise ProviderUnavailable(
                        "the identity provider's discovery document names another issuer: "
                        "set CARELEDGER_OIDC_ISSUER to exactly the issuer it gives")
                self._metadata = document
            return self._metadata

    def endpoint(self, name: str) -> str:
        value = self.metadata().get(name)
        if not isinstance(value, str):
            raise ProviderUnavailable(f"the identity provider publishes no {name}")
        return value

    def key(self, kid: str | None) -> jwt.PyJWK | None:
        """The signing key a token names, fetching the key set again if it is new to us."""
        now = time.monotonic()
        with self._lock:
            stale = now - self._keys_fetched > KEYS_LIFETIME_S
            unknown = kid not in self._keys and now - self._keys_fetched > REFRESH_FLOOR_S
        if stale or unknown:
            self._refresh_keys()
        with self._lock:
            if kid is None and len(self._keys) == 1:
                return next(iter(self._keys.values()))
            return self._keys.get(kid or "")

    def _refresh_keys(self) -> None:
        document = self._fetch(self.endpoint("jwks_uri"))
        keys: dict[str, jwt.PyJWK] = {}
        for entry in document.get("keys", []) if isinstance(document, dict) else []:
            if entry.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.PyJWK.from_dict(entry)
            except (jwt.PyJWKError, jwt.InvalidKeyError):
                continue  # a key type we do not use: not a reason to refuse the others
            keys[str(entry.get("kid", ""))] = key
        with self._lock:
            self._keys = keys
            self._keys_fetched = time.monotonic()

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
        """Who an access token names, or None for any token that fails a check."""
        try:
            claims = self.claims(token, audience=self.audience,
                                 require=("exp", "iss", "sub", "aud"))
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            return None
        return Identity(issuer=self.issuer, subject=subject)
