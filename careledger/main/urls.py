"""The API process's URLs: the gateways, built on the services `wsgi.build` wired."""

from __future__ import annotations

from functools import partial
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.staticfiles.views import serve as serve_static
from django.http import HttpRequest, HttpResponse
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt

from careledger.gateways import health, signin
from careledger.gateways.api import build_api
from careledger.gateways.problems import problem
from careledger.graphql.schema import schema
from careledger.graphql.view import CareLedgerGraphQLView
from careledger.main import wiring
from careledger.web import views as web


def _origin(url: str | None) -> str | None:
    """`http://host:port` of an absolute URL; None for a path on this origin (or none)."""
    if url is None:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme else None


services = wiring.installed()
pages = wiring.installed_pages()
pool = services.idempotency.pool

urlpatterns = [
    path("api/v1/", build_api(services).urls),
    path("health/live", health.live),
    path("health/ready", partial(health.ready, pool=pool, instance=services.instance)),
    path("health/status", partial(health.status, pool=pool)),
    path("graphql", csrf_exempt(CareLedgerGraphQLView.as_view(
        schema=schema, graphql_ide="graphiql" if settings.DEBUG else None,
        pool=pool))),
    # The physician's web page; its scripts and styles are static files like the docs'.
    path("app/", partial(web.page, also_connect=_origin(pages.stream_url))),
    path("app/events.json", web.events),
    # Signing in to the pages: a session cookie, through the provider or a local token.
    path("app/session", csrf_exempt(partial(signin.session, pages=pages))),
    path("app/sign-in", partial(signin.sign_in, pages=pages)),
    path("app/signed-in", partial(signin.signed_in, pages=pages)),
    path("app/sign-out", csrf_exempt(partial(signin.sign_out, pages=pages))),
    path("app", web.to_page),
    # The OpenAPI page's own scripts, served locally: the docs work with no network.
    re_path(r"^static/(?P<path>.*)$", serve_static, {"insecure": True}),
]


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return problem(404, "no such resource", code="not_found")


def server_error(request: HttpRequest) -> HttpResponse:
    return problem(500, "an unexpected error occurred; it has been logged", code="internal")


handler404 = not_found
handler500 = server_error
