"""Who each request comes from, decided once, before any route runs: a bearer token, or
the pages' session cookie (with its CSRF token on every request to the APIs and on
anything that changes state); then whether the caller is within its budgets.

The routes and GraphQL read `request.principal` (None: nobody signed in, which each
answers as it always has: 401 for the command API, UNAUTHENTICATED for GraphQL). A page
session's request without the page's CSRF token is refused before the route sees it:
another site can make a browser send the cookie, never the token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from django.http import HttpRequest, HttpResponse

from careledger.access.oidc import ProviderUnavailable
from careledger.access.sessions import COOKIE, CSRF_HEADER, PageSession, Sessions
from careledger.access.signins import Authenticator
from careledger.access.tokens import Principal
from careledger.gateways.problems import problem
from careledger.gateways.rate_limits import UNSAFE, RateLimits, area_of

log = logging.getLogger("careledger.api")

#: What a caller reaches through this gate: the APIs and the pages' session endpoints.
GUARDED = ("/api/", "/graphql", "/app/session", "/app/sign-in", "/app/signed-in",
           "/app/sign-out")


@dataclass(frozen=True)
class Gate:
    authenticator: Authenticator
    sessions: Sessions
    limits: RateLimits
    #: Behind a proxy, the client's address is the last the proxy added, from these only.
    proxies: frozenset[str] = frozenset()
    #: Where the pages are served, when the streams answer on an origin of their own:
    #: only those pages may open a stream with the session cookie.
    stream_origins: frozenset[str] = frozenset()

    def address(self, request: HttpRequest) -> str:
        remote = str(request.META.get("REMOTE_ADDR") or "")
        forwarded = request.headers.get("X-Forwarded-For")
        if forwarded and remote in self.proxies:
            return forwarded.split(",")[-1].strip()[:64]
        return remote

    def caller(self, request: HttpRequest) -> tuple[Principal | None, PageSession | None]:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token:
            return self.authenticator.bearer(token.strip()), None
        cookie = request.COOKIES.get(COOKIE)
        if not cookie:
            return None, None
        session = self.sessions.current(cookie)
        if session is None:
            return None, None
        if session.identity is not None:
            if self.authenticator.directory is None:
                return None, None  # signed in through a provider no longer configured
            return self.authenticator.directory.principal(session.identity), session
        if self.authenticator.provider is not None:
            return None, None  # a local sign-in, from before a provider was configured
        return session.principal, session


def needs_csrf(request: HttpRequest) -> bool:
    """Over the cookie, every request to the APIs carries the page's CSRF token, reads
    too: a link on another site can make the browser send the cookie with a GET (SameSite
    Lax lets it), and a read is logged as the signed-in user's; and every change does."""
    return request.path.startswith(("/api/", "/graphql")) or request.method in UNSAFE


#: The live stream: an EventSource, which cannot send a header of its own.
STREAM_PATH = "/api/v1/stream"


def opened_by_own_page(request: HttpRequest, origins: frozenset[str]) -> bool:
    """A stream the site's own page opened: the browser says where a request comes from
    in Sec-Fetch-Site and Origin, which no page can set. From this origin; or, where the
    streams answer on a port of their own (the demo), from the pages' origin exactly
    (same-site alone would take any port of the host, any sibling subdomain)."""
    if request.path != STREAM_PATH or request.method != "GET":
        return False
    fetched_from = request.headers.get("Sec-Fetch-Site")
    return fetched_from == "same-origin" or (
        fetched_from == "same-site" and request.headers.get("Origin") in origins)


class Callers:
    """The Django middleware; `gate` is given by the composition root."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse],
                 gate: Callable[[], Gate]) -> None:
        self.get_response = get_response
        self.gate = gate

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(GUARDED):
            return self.get_response(request)
        gate = self.gate()
        try:
            principal, session = gate.caller(request)
            if (session is not None and needs_csrf(request)
                    and not session.csrf_matches(request.headers.get(CSRF_HEADER))
                    and not opened_by_own_page(request, gate.stream_origins)):
                return problem(403, f"this page's request lacks its {CSRF_HEADER}: reload "
                               "the page and try again", code="csrf_failed")
            refusal = gate.limits.charge(address=gate.address(request), principal=principal,
                                         area=area_of(request))
        except ProviderUnavailable as e:
            log.warning("identity provider unavailable: %s", e)
            return problem(503, "the identity provider does not answer, so no sign-in can "
                           "be checked: retry shortly", code="identity_provider_unavailable",
                           headers={"Retry-After": "5"})
        except psycopg.OperationalError as e:
            log.warning("sessions or rate limits unavailable: %s", type(e).__name__)
            return problem(503, "the database is unavailable; nothing was done, retry shortly",
                           code="store_unavailable", headers={"Retry-After": "2"})
        if refusal is not None:
            return problem(429, f"too many requests from this {refusal.budget}: wait "
                           f"{refusal.retry_after_s} s and try again", code="rate_limited",
                           headers={"Retry-After": str(refusal.retry_after_s)})
        request.principal = principal  # type: ignore[attr-defined]
        request.page_session = session  # type: ignore[attr-defined]
        return self.get_response(request)
