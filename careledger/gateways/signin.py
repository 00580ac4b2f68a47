"""Signing in to the pages: through the identity provider (authorization code with PKCE),
or, where none is configured (the demo, the tests), with one of CareLedger's own tokens;
either way into a session cookie no script can read, never a token the page keeps.

The provider's flow: `/app/sign-in` sends the browser to the provider with a fresh
state, nonce and PKCE challenge (RFC 7636, S256), kept in a short-lived cookie signed by
this server; `/app/signed-in` checks the state, exchanges the code with the verifier,
checks the ID token (issuer, audience = our client, nonce, expiry, the provider's key)
and opens a session for the identity, if the directory links it to someone; no token is
kept. Signing out ends the session here and sends the browser to the provider's
end-session endpoint.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse

from careledger.access.oidc import FETCH_TIMEOUT_S, Identity, ProviderUnavailable
from careledger.access.sessions import COOKIE, PageSession, Sessions
from careledger.access.signins import Authenticator
from careledger.access.tokens import Principal, TokenService
from careledger.gateways.problems import problem

STATE_COOKIE = "careledger_sign_in"
STATE_PATH = "/app/signed-in"
STATE_MAX_AGE_S = 600
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


@dataclass(frozen=True)
class PagesSignIn:
    sessions: Sessions
    tokens: TokenService
    authenticator: Authenticator
    base_url: str
    #: Signs the sign-in state cookie (derived from the token secret: every API process
    #: holds the same, so the callback may land on any of them).
    state_key: bytes
    client_id: str | None = None
    client_secret: str | None = None
    #: Where the pages open the live stream (a path here, behind a proxy that sends it to
    #: the streams' process, or that process's own origin); None: no live stream.
    stream_url: str | None = None

    @property
    def method(self) -> str:
        """How the page signs in: `provider`, `token` (no provider), or `none`."""
        if self.authenticator.provider is None:
            return "token"
        return "provider" if self.client_id else "none"

    @property
    def redirect_uri(self) -> str:
        return self.base_url + STATE_PATH

    # --- the signed state cookie -----------------------------------------------------------

    def seal(self, data: dict[str, Any]) -> str:
        body = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
        mac = hmac.new(self.state_key, body.encode(), hashlib.sha256).hexdigest()
        return f"{body}.{mac}"

    def unseal(self, sealed: str) -> dict[str, Any] | None:
        body, _, mac = sealed.rpartition(".")
        expected = hmac.new(self.state_key, body.encode(), hashlib.sha256).hexdigest()
        if not body or not same(mac, expected):
            return None
        data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        return data if data.get("until", 0) > time.time() else None


def same(sent: str, kept: str) -> bool:
    """Constant-time, and for any text a browser sends (compare_digest refuses non-ASCII
    str, which would be a 500)."""
    return hmac.compare_digest(sent.encode(), kept.encode())


def _set_cookie(response: HttpResponse, name: str, value: str, *, path: str = "/",
                max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path=path, secure=True, httponly=True,
                        samesite="Lax")


def _about(session: PageSession | None, principal: Principal | None,
           pages: PagesSignIn) -> dict[str, Any]:
    if session is None or principal is None:
        return {"signedIn": False, "signIn": pages.method}
    return {"signedIn": True, "role": principal.role.value, "csrf": session.csrf,
            "idleSeconds": session.idle_s, "signIn": pages.method,
            "throughProvider": session.identity is not None, "streamUrl": pages.stream_url}


def session(request: HttpRequest, *, pages: PagesSignIn) -> HttpResponse:
    """GET: who this page's session signs in (and its CSRF token); POST (no provider
    only): sign in with a CareLedger token, which the page sends once and never keeps."""
    current: PageSession | None = getattr(request, "page_session", None)
    principal: Principal | None = getattr(request, "principal", None)
    if request.method == "GET":
        return JsonResponse(_about(current, principal, pages), headers=NO_STORE)
    if request.method != "POST":
        return problem(405, "GET to learn who is signed in, POST a token to sign in",
                       code="method_not_allowed")
    if pages.method != "token":
        return problem(404, "sign in through the identity provider: /app/sign-in",
                       code="not_found")
    origin = request.headers.get("Origin")
    if origin is not None and origin != pages.base_url and origin != _own_origin(request):
        return problem(403, "sign in from this server's own page", code="not_permitted")
    try:
        token = json.loads(request.body or b"{}").get("token")
    except (ValueError, AttributeError):
        token = None
    signed = pages.tokens.verify(token) if isinstance(token, str) else None
    if signed is None:
        return problem(401, "that token was not accepted: it may have expired or come from "
                       "another server", code="not_authenticated")
    expiry = jwt.decode(token, options={"verify_signature": False})["exp"]  # verified above
    cookie = pages.sessions.open(principal=signed,
                                 not_after=datetime.fromtimestamp(expiry, UTC))
    opened = pages.sessions.current(cookie)
    response = JsonResponse(_about(opened, signed, pages), headers=NO_STORE)
    _set_cookie(response, COOKIE, cookie)
    return response


def _own_origin(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


def sign_in(request: HttpRequest, *, pages: PagesSignIn) -> HttpResponse:
    """Off to the provider, with a new state, nonce and PKCE challenge."""
    provider = pages.authenticator.provider
    if provider is None or not pages.client_id:
        return HttpResponseRedirect("/app/")
    verifier = secrets.token_urlsafe(48)
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()
                                         ).decode().rstrip("=")
    try:
        endpoint = provider.endpoint("authorization_endpoint")
    except ProviderUnavailable:
        return HttpResponseRedirect("/app/?signed-out=provider-unavailable")
    query = urllib.parse.urlencode({
        "response_type": "code", "client_id": pages.client_id,
        "redirect_uri": pages.redirect_uri, "scope": "openid", "state": state,
        "nonce": nonce, "code_challenge": challenge, "code_challenge_method": "S256",
        # Signed in at the provider longer ago than the idle time: sign in there again,
        # so a workstation left alone does not let the next person in through it.
        "max_age": str(pages.sessions.idle_s)})
    response = HttpResponseRedirect(f"{endpoint}?{query}")
    _set_cookie(response, STATE_COOKIE, pages.seal({
        "state": state, "nonce": nonce, "verifier": verifier,
        "until": time.time() + STATE_MAX_AGE_S}), path=STATE_PATH, max_age=STATE_MAX_AGE_S)
    return response


def signed_in(request: HttpRequest, *, pages: PagesSignIn) -> HttpResponse:
    """Back from the provider: the code for the tokens, the ID token checked, a session."""
    provider = pages.authenticator.provider
    directory = pages.authenticator.directory
    sealed = request.COOKIES.get(STATE_COOKIE, "")
    pending = pages.unseal(sealed) if sealed else None
    code, state = request.GET.get("code"), request.GET.get("state", "")
    if (provider is None or directory is None or pending is None or not code
            or not same(state, str(pending["state"]))):
        return _back("sign-in-failed")
    try:
        tokens = _exchange(pages, provider.endpoint("token_endpoint"), code,
                           str(pending["verifier"]))
        claims = provider.claims(str(tokens["id_token"]), audience=str(pages.client_id),
                                 require=("exp", "iat", "iss", "sub", "aud", "nonce",
                                          "auth_time"))
    except ProviderUnavailable:
        return _back("provider-unavailable")
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        return _back("sign-in-failed")
    if not same(str(claims["nonce"]), str(pending["nonce"])):
        return _back("sign-in-failed")
    if not isinstance(claims["auth_time"], int | float) or (
            time.time() - claims["auth_time"] > pages.sessions.idle_s + provider.leeway_s):
        return _back("sign-in-failed")  # the provider did not honour max_age
    identity = Identity(issuer=provider.issuer, subject=str(claims["sub"]))
    if directory.principal(identity) is None:
        return _back("not-linked")
    cookie = pages.sessions.open(identity=identity)
    response = HttpResponseRedirect("/app/")
    _set_cookie(response, COOKIE, cookie)
    response.delete_cookie(STATE_COOKIE, path=STATE_PATH)
    return response


def _exchange(pages: PagesSignIn, endpoint: str, code: str, verifier: str) -> dict[str, Any]:
    form = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": pages.redirect_uri, "code_verifier": verifier,
            "client_id": str(pages.client_id)}
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "Accept": "application/json"}
    if pages.client_secret:
        basic = f"{urllib.parse.quote(str(pages.client_id))}:" \
                f"{urllib.parse.quote(pages.client_secret)}"
        headers["Authorization"] = "Basic " + base64.b64encode(basic.encode()).decode()
    request = urllib.request.Request(endpoint, data=urllib.parse.urlencode(form).encode(),
                                     headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S) as answer:
            data: dict[str, Any] = json.loads(answer.read(1_000_000))
            return data
    except urllib.error.HTTPError as e:
        raise ValueError(f"the provider refused the code ({e.code})") from e
    except (urllib.error.URLError, OSError) as e:
        raise ProviderUnavailable(f"the token endpoint does not answer: {type(e).__name__}") \
            from e


def _back(reason: str) -> HttpResponse:
    """To the page, saying why it is not signed in (a word, never a detail)."""
    return HttpResponseRedirect(f"/app/?signed-out={reason}")


def sign_out(request: HttpRequest, *, pages: PagesSignIn) -> HttpResponse:
    """POST (with the page's CSRF token, checked before this runs): the session ends
    here, and the answer says where to go to end it at the provider too."""
    if request.method != "POST":
        return problem(405, "POST, with the page's CSRF token, to sign out",
                       code="method_not_allowed")
    cookie = request.COOKIES.get(COOKIE)
    through_provider = pages.sessions.close(cookie) if cookie else False
    then = "/app/?signed-out=signed-out"
    provider = pages.authenticator.provider
    if provider is not None and through_provider:
        try:
            # By client_id, not id_token_hint (OIDC RP-Initiated Logout §2): no token ever
            # travels in an address.
            end = provider.endpoint("end_session_endpoint")
            then = end + "?" + urllib.parse.urlencode({
                "client_id": str(pages.client_id),
                "post_logout_redirect_uri": pages.base_url + "/app/"})
        except ProviderUnavailable:
            pass  # signed out here; the provider's own session ends on its own
    response = JsonResponse({"then": then}, headers=NO_STORE)
    response.delete_cookie(COOKIE, path="/")
    return response
