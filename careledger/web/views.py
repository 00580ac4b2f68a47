"""Serve the page, and how it shows each event, with a strict Content-Security-Policy:
scripts, styles, images and requests from this origin only, no inline code, no framing,
no form posts elsewhere."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_GET

PAGE = Path(__file__).with_name("page.html")

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
])
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@cache
def _page() -> bytes:
    return PAGE.read_bytes()


@require_GET
def page(request: HttpRequest, *, also_connect: str | None = None) -> HttpResponse:
    """The page; `also_connect` is the live streams' origin where they answer on one of
    their own (the demo's second port): the only other place the page may connect to."""
    response = HttpResponse(_page(), content_type="text/html; charset=utf-8")
    for name, value in HEADERS.items():
        response[name] = value
    if also_connect:
        response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
            "connect-src 'self'", f"connect-src 'self' {also_connect}")
    return response


@require_GET
def events(request: HttpRequest) -> HttpResponse:
    """How the page names and shows each kind of event (no patient data: no token)."""
    from careledger.web.events import catalogue_json

    response = HttpResponse(catalogue_json(), content_type="application/json")
    for name, value in HEADERS.items():
        response[name] = value
    return response


def to_page(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect("/app/")
