"""The streams process's URLs: the stream, and its own liveness."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import path

from careledger.gateways import health
from careledger.gateways.problems import problem
from careledger.main import wiring

streams = wiring.installed_streams()


async def stream(request: HttpRequest) -> HttpResponseBase:
    return await streams(request)


urlpatterns = [
    path("api/v1/stream", stream),
    path("health/live", health.live),
]


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return problem(404, "this process serves the live streams only: /api/v1/stream",
                   code="not_found")


handler404 = not_found
