"""`GET /api/v1/stream`: server-sent events of what changed in the views, for a patient
(`?patient=ID`, the open chart) or for everything the caller works on (their worklist,
caseload and messages), resumed exactly after `Last-Event-ID`.

Each event's id is the change's number in the feed (infra/changes.py), never a log
position, so a reconnecting client gets every change after its last one, once, in the
order the views applied them, then the live ones. Each change passes the same
`authorize()` as a read of that patient, and is in the access log before it is sent;
one the caller may not see (a clinic whose consent was revoked, say) is not sent, and
the stream says nothing about it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar
from uuid import UUID

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse

from careledger.access.policy import PatientNotFound, authorize
from careledger.access.sessions import COOKIE, Sessions
from careledger.access.signins import Authenticator
from careledger.access.tokens import Principal
from careledger.gateways.problems import problem
from careledger.gateways.streams.hub import Change, Full, Hub, Listener

log = logging.getLogger("careledger.streams")
R = TypeVar("R", bound=HttpResponseBase)
#: What the wait for the next change gives when only the heartbeat is due.
NOTHING: Any = object()

#: A comment line this often keeps proxies and load balancers from closing the stream.
HEARTBEAT_S = 15.0
#: How soon a client reconnects after the stream ends (the `retry:` field, in ms).
RETRY_MS = 2000
#: Longest digits a change number can have (a bigint).
MAX_ID_DIGITS = 18
#: How often an open stream checks that its caller is still signed in.
RECHECK_S = HEARTBEAT_S


def _last_event_id(request: HttpRequest) -> int | str | None:
    raw = request.headers.get("Last-Event-ID") or request.GET.get("after")
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= MAX_ID_DIGITS):
        return "bad"
    return int(raw)


def frame(change: Change) -> bytes:
    data = {"kind": change.kind, "patientId": str(change.patient_id),
            "recordId": str(change.record_id), "position": change.position}
    return f"id: {change.seq}\nevent: change\ndata: {json.dumps(data)}\n\n".encode()


class Streams:
    """The stream endpoint over one process's hub."""

    def __init__(self, hub: Hub, authenticator: Authenticator, sessions: Sessions,
                 allowed_origins: frozenset[str] = frozenset()) -> None:
        self.hub = hub
        self.authenticator = authenticator
        self.sessions = sessions
        #: Where the pages are served, when the streams answer on another origin (the
        #: demo's separate port): those may read the stream with the session cookie.
        self.allowed_origins = allowed_origins

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.method != "GET":
            return problem(405, "GET opens a stream", code="method_not_allowed")
        principal = getattr(request, "principal", None)
        if not isinstance(principal, Principal):
            return self._cors(request, problem(
                401, "sign in first: the page's session, or a bearer token",
                code="not_authenticated"))
        after = _last_event_id(request)
        patient: UUID | None = None
        if "patient" in request.GET:
            try:
                patient = UUID(request.GET["patient"])
            except ValueError:
                return self._cors(request, problem(422, "patient is a patient's id",
                                                   code="invalid_request"))
        if after == "bad":
            return self._cors(request, problem(
                422, "Last-Event-ID is the id of the last event received", code="invalid_request"))
        if patient is not None and not await self._may_see(principal, patient, "stream:open"):
            return self._cors(request, problem(404, "no such patient", code="not_found"))
        if self.hub.full:
            return self._cors(request, problem(
                503, "this server holds as many live streams as it may: retry shortly",
                code="streams_full", headers={"Retry-After": "10"}))
        listener = Listener(principal=principal, patient=patient)
        # Joined once the response streams (a client gone before then leaves nothing).
        response = StreamingHttpResponse(
            self._events(listener, after if isinstance(after, int) else None,
                         self._signed_in(request)),
            content_type="text/event-stream")
        response["Cache-Control"] = "no-store"
        response["X-Accel-Buffering"] = "no"  # nginx: pass each event on as it comes
        return self._cors(request, response)

    def _cors(self, request: HttpRequest, response: R) -> R:
        origin = request.headers.get("Origin")
        if origin is not None and origin in self.allowed_origins:
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Allow-Credentials"] = "true"
            response["Vary"] = "Origin"
        return response

    async def _may_see(self, principal: Principal, patient: UUID, asked: str) -> bool:
        def decide() -> bool:
            with self.hub.pool.connection() as conn:
                try:
                    authorize(conn, self.hub.views.schema(conn), principal, patient, asked)
                except PatientNotFound:
                    return False
            return True
        return await sync_to_async(decide, thread_sensitive=False)()

    def _signed_in(self, request: HttpRequest) -> Callable[[], bool]:
        """Whether the caller is still signed in as they were: the page's session still
        open (not moved by the stream: only the user's own requests keep it), or the
        bearer token still good and its sign-in still linked."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token:
            return lambda: self.authenticator.bearer(token.strip()) is not None
        cookie = request.COOKIES.get(COOKIE, "")
        return lambda: bool(cookie) and self.sessions.alive(cookie)

    async def _events(self, listener: Listener, after: int | None,
                      signed_in: Callable[[], bool]) -> AsyncIterator[bytes]:
        """What happened after `after` (read here, up to where the hub took over), then
        what the hub hands on; each one authorized and logged before it is sent. The
        stream ends when its caller is no longer signed in."""
        try:
            start = await self.hub.join(listener)
        except Full:
            return  # filled up since the check: the client retries
        sent = start if after is None else after
        checked = time.monotonic()
        try:
            yield f"retry: {RETRY_MS}\n\n".encode()
            while sent < start:  # the changes missed while away, read once
                missed = await sync_to_async(self.hub.read, thread_sensitive=False)(sent, start)
                if not missed:
                    break
                for change in missed:
                    if listener.may_want(change) and await self._may_see(
                            listener.principal, change.patient_id, f"stream:{change.kind}"):
                        yield frame(change)
                    sent = change.seq
            while True:
                try:
                    handed = await asyncio.wait_for(listener.queue.get(), HEARTBEAT_S)
                except TimeoutError:
                    handed = NOTHING
                if time.monotonic() - checked > RECHECK_S:
                    checked = time.monotonic()
                    if not await sync_to_async(signed_in, thread_sensitive=False)():
                        return  # signed out, idle, or unlinked: the stream ends here
                if handed is NOTHING:
                    yield b": still here\n\n"
                    continue
                if handed is None:
                    return  # too slow: the client reconnects and resumes from `sent`
                if handed.seq <= sent:
                    continue
                if await self._may_see(listener.principal, handed.patient_id,
                                       f"stream:{handed.kind}"):
                    yield frame(handed)
                sent = handed.seq
        finally:
            self.hub.leave(listener)
