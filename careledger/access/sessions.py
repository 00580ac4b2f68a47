"""The web pages' sessions: a random cookie the browser holds (HttpOnly, so no script can
read it), a row here that says who it signs in, and a CSRF token the page must echo on
every request that changes anything.

The row keeps the cookie's SHA-256, never the cookie, so a copy of the table signs nobody
in. A session ends when it has done nothing for the idle time (automatic logoff, HIPAA
45 CFR 164.312(a)(2)(iii)), at its end (a fixed time after sign-in), or at sign-out.
Each request moves `last_seen_at` in the same statement that finds the session, so every
API process sees one clock: PostgreSQL's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from careledger.access.oidc import Identity
from careledger.access.tokens import Principal, Role

#: `__Host-`: only this host, over HTTPS (or loopback), for the whole site (RFC 6265bis
#: §4.1.3), so a sibling subdomain cannot plant one.
COOKIE = "__Host-careledger_session"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class PageSession:
    csrf: str
    #: Signed in through the identity provider: resolved through the directory each time.
    identity: Identity | None
    #: Signed in locally (no provider: the demo and the tests): who, as the token said.
    principal: Principal | None
    idle_s: int

    def csrf_matches(self, sent: str | None) -> bool:
        return sent is not None and hmac.compare_digest(sent.encode(), self.csrf.encode())


def _digest(cookie: str) -> bytes:
    return hashlib.sha256(cookie.encode()).digest()


def _principal_json(principal: Principal) -> str:
    return json.dumps({"subject": str(principal.subject), "role": principal.role.value,
                       "clinics": sorted(str(c) for c in principal.clinics)})


def _principal(data: dict[str, Any]) -> Principal:
    return Principal(subject=UUID(data["subject"]), role=Role(data["role"]),
                     clinics=frozenset(UUID(c) for c in data["clinics"]))


class Sessions:
    def __init__(self, pool: ConnectionPool, *, idle: timedelta, lifetime: timedelta) -> None:
        self.pool = pool
        self.idle = idle
        self.lifetime = lifetime

    @property
    def idle_s(self) -> int:
        return int(self.idle.total_seconds())

    def open(self, *, identity: Identity | None = None, principal: Principal | None = None,
             not_after: datetime | None = None) -> str:
        """A new session; answers the cookie to set (kept nowhere else). A local sign-in
        ends no later than the token it was made from would have (`not_after`)."""
        assert (identity is None) != (principal is None)
        cookie = secrets.token_urlsafe(32)
        with self.pool.connection() as conn:
            # Sessions long over go first: the table holds the living and the recent.
            conn.execute("DELETE FROM careledger.page_sessions "
                         "WHERE ends_at < now() - interval '1 day'")
            conn.execute(
                """INSERT INTO careledger.page_sessions
                     (cookie_sha256, csrf, issuer, subject, principal, ends_at)
                   VALUES (%s, %s, %s, %s, %s::jsonb,
                           LEAST(now() + %s, COALESCE(%s, 'infinity'::timestamptz)))""",
                (_digest(cookie), secrets.token_urlsafe(32),
                 identity.issuer if identity else None, identity.subject if identity else None,
                 _principal_json(principal) if principal else None, self.lifetime,
                 not_after))
        return cookie

    def current(self, cookie: str) -> PageSession | None:
        """The session this cookie holds, if it is still open; it is active from now."""
        with self.pool.connection() as conn:
            row = conn.execute(
                """UPDATE careledger.page_sessions SET last_seen_at = now()
                    WHERE cookie_sha256 = %s AND ends_at > now()
                      AND last_seen_at > now() - %s
                RETURNING csrf, issuer, subject, principal""",
                (_digest(cookie), self.idle)).fetchone()
        if row is None:
            return None
        csrf, issuer, subject, principal = row
        return PageSession(
            csrf=csrf, identity=Identity(issuer, subject) if issuer else None,
            principal=_principal(principal) if principal else None,
            idle_s=self.idle_s)

    def alive(self, cookie: str) -> bool:
        """Still open, without counting as activity: a live stream does not keep its
        session from the idle logoff; only what the user does does."""
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT 1 FROM careledger.page_sessions WHERE cookie_sha256 = %s"
                " AND ends_at > now() AND last_seen_at > now() - %s",
                (_digest(cookie), self.idle)).fetchone()
        return row is not None

    def close(self, cookie: str) -> bool:
        """End the session; answers whether it was opened through the identity provider
        (so the browser goes on to sign out there too)."""
        with self.pool.connection() as conn:
            row = conn.execute("DELETE FROM careledger.page_sessions WHERE cookie_sha256 = %s "
                               "RETURNING issuer IS NOT NULL", (_digest(cookie),)).fetchone()
        return bool(row and row[0])
