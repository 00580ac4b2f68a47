"""A real OpenID Connect provider process on loopback for the tests (tests/oidc: panva's
oidc-provider on node), with keys the test writes, and a programmatic sign-in through its
login and consent forms, as a browser would, for access tokens the API is sent.

The test holds the provider's private keys, so it can also sign exactly the tokens a
provider must never be believed for (expired, for another audience) and rotate the keys
by restarting the provider on the same port with new ones.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import shutil
import socket
import subprocess
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from tests.helpers import ROOT

HERE = ROOT / "tests" / "oidc"
AUDIENCE = "urn:careledger:api"
PAGES_CLIENT = "careledger-pages"
API_CLIENT = "careledger-tests"
#: The OIDC-configured API's budget small enough to spend in a test: FHIR exports per
#: principal per minute.
EXPORTS_PER_MINUTE = 3
NO_PROVIDER = ("the OIDC provider's tests need node and `npm ci --prefix tests/oidc` "
               "(make install does it)")


def available() -> bool:
    return shutil.which("node") is not None and (HERE / "node_modules" / "oidc-provider").is_dir()


def new_key(kid: str | None = None) -> dict[str, Any]:
    """A private ES256 JWK with a key id of its own."""
    key = ec.generate_private_key(ec.SECP256R1())
    jwk: dict[str, Any] = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key))
    jwk.update(kid=kid or secrets.token_hex(8), alg="ES256", use="sig")
    return jwk


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class OidcProvider:
    folder: Path
    #: The port of the API that signs in through it (its redirect addresses name it).
    api_port: int
    port: int = field(default_factory=_free_port)
    keys: list[dict[str, Any]] = field(default_factory=lambda: [new_key()])
    process: subprocess.Popen[bytes] | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> OidcProvider:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "keys.json").write_text(json.dumps({"keys": self.keys}))
        (self.folder / "config.json").write_text(json.dumps({"audience": AUDIENCE, "clients": [
            {"client_id": PAGES_CLIENT, "token_endpoint_auth_method": "none",
             "redirect_uris": [f"{self.api}/app/signed-in"],
             "post_logout_redirect_uris": [f"{self.api}/app/"],
             "grant_types": ["authorization_code"], "response_types": ["code"],
             "id_token_signed_response_alg": "ES256"},
            {"client_id": API_CLIENT, "token_endpoint_auth_method": "none",
             "redirect_uris": ["http://127.0.0.1/tests-callback"],
             "grant_types": ["authorization_code"], "response_types": ["code"],
             "id_token_signed_response_alg": "ES256"},
        ]}))
        log = (self.folder / "provider.log").open("ab")
        self.process = subprocess.Popen(
            ["node", str(HERE / "provider.mjs"), str(self.port),
             str(self.folder / "keys.json"), str(self.folder / "config.json")],
            cwd=HERE, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.issuer + "/.well-known/openid-configuration",
                             timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the OIDC provider did not start: "
                                   + (self.folder / "provider.log").read_text()[-2000:])
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None

    def rotate(self) -> None:
        """New signing keys: the provider restarts on the same port publishing only them."""
        self.stop()
        self.keys = [new_key()]
        self.start()

    # --- tokens ---------------------------------------------------------------------------

    def access_token(self, subject: str) -> str:
        """Sign in as `subject` through the provider's own forms (code flow with PKCE) and
        answer the JWT access token it issues for the API."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(
            hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        redirect = "http://127.0.0.1/tests-callback"
        with httpx.Client(base_url=self.issuer, follow_redirects=False, timeout=10) as http:
            answer = http.get("/auth", params={
                "client_id": API_CLIENT, "response_type": "code", "redirect_uri": redirect,
                "scope": "openid careledger", "resource": AUDIENCE, "state": "s",
                "code_challenge": challenge, "code_challenge_method": "S256"})
            code = self._through_forms(http, answer, subject, redirect)
            tokens = http.post("/token", data={
                "grant_type": "authorization_code", "code": code, "redirect_uri": redirect,
                "client_id": API_CLIENT, "code_verifier": verifier, "resource": AUDIENCE})
            assert tokens.status_code == 200, tokens.text
            return str(tokens.json()["access_token"])

    def _through_forms(self, http: httpx.Client, answer: httpx.Response, subject: str,
                       redirect: str) -> str:
        """Follow the login and consent forms until the provider redirects with a code."""
        for _ in range(10):
            location = answer.headers.get("location")
            if location is not None and location.startswith(redirect):
                query = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
                assert "code" in query, location
                return query["code"][0]
            if location is not None:
                answer = http.get(location)
                continue
            action = re.search(r'<form[^>]*action="([^"]+)"', answer.text)
            assert action is not None, answer.text[:500]
            fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"',
                                     answer.text))
            if 'name="login"' in answer.text:
                fields.update(login=subject, password="any")
            answer = http.post(action.group(1), data=fields)
        raise AssertionError("the provider's forms did not end in a code")

    def sign(self, claims: dict[str, Any], *, key: dict[str, Any] | None = None) -> str:
        """A token signed with the provider's own key (or `key`), with these claims."""
        jwk = key or self.keys[0]
        private = jwt.algorithms.ECAlgorithm.from_jwk(json.dumps(jwk))
        return jwt.encode(claims, private, algorithm="ES256",  # type: ignore[arg-type]
                          headers={"kid": jwk["kid"], "typ": "at+jwt"})
