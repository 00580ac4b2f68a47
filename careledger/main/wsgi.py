"""The API process: settings → PostgreSQL → application → Django, built per worker."""

from __future__ import annotations

import atexit
import gc
import os
from typing import Any

from careledger.infra.settings import Settings


def build(settings: Settings | None = None) -> Any:
    """Wire the services the gateways need and return the WSGI handler.

    Called in each worker after the fork, so connection pools are never shared
    between processes.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careledger.main.django_settings")
    settings = settings or Settings.from_env()
    os.environ.setdefault("CARELEDGER_MAX_BODY_BYTES", str(settings.max_body_bytes))

    from django.core.wsgi import get_wsgi_application

    from careledger.infra import telemetry

    # Before Django builds its middleware chain, which the instrumentation joins.
    telemetry.configure("api", console=settings.trace_console, instrument_django=True)
    wire(settings)
    atexit.register(_close)  # a worker that exits closes its pools itself
    return get_wsgi_application()


def wire(settings: Settings) -> tuple[Any, Any]:
    """PostgreSQL, the application and what the edges are given, installed for Django's
    URLs (the API's and the streams' processes alike); answers the database and the
    edges' pool."""
    from careledger.main import bootstrap, wiring

    db = bootstrap.database(settings)
    # Within gunicorn's boot timeout: a worker started during an outage waits it out.
    app = bootstrap.application_when_reachable(db, settings, wait_s=30)
    pool = bootstrap.app_pool(db, settings)
    services, pages = _services(app, pool, settings)
    wiring.install(services, pages)
    return db, pool


def _services(app: Any, pool: Any, settings: Settings) -> tuple[Any, Any]:
    """The gateways' services and the pages' sign-in, from the settings."""
    import hashlib
    import hmac
    from datetime import timedelta

    from careledger.access.oidc import Provider
    from careledger.access.sessions import Sessions
    from careledger.access.signins import Authenticator, Directory
    from careledger.access.tokens import TokenService
    from careledger.gateways.callers import Gate
    from careledger.gateways.idempotency import IdempotencyStore
    from careledger.gateways.rate_limits import Budgets, RateLimits
    from careledger.gateways.services import Services
    from careledger.gateways.signin import PagesSignIn

    tokens = TokenService(settings.token_secret)
    provider = None if settings.oidc_issuer is None else Provider(
        settings.oidc_issuer, audience=settings.oidc_audience,
        algorithms=settings.oidc_algorithms, leeway_s=settings.oidc_leeway_seconds)
    authenticator = Authenticator(tokens, provider,
                                  None if provider is None else Directory(app))
    sessions = Sessions(pool, idle=timedelta(minutes=settings.session_idle_minutes),
                        lifetime=timedelta(hours=settings.session_max_hours))
    limits = RateLimits(pool, Budgets(
        commands=settings.rate_commands, reads=settings.rate_reads,
        exports=settings.rate_exports, streams=settings.rate_streams,
        per_address=settings.rate_per_address))
    proxies = frozenset(ip.strip() for ip in settings.proxy_ips.split(",")) \
        if settings.behind_proxy else frozenset()
    services = Services(app=app, idempotency=IdempotencyStore(pool), tokens=tokens,
                        gate=Gate(authenticator, sessions, limits, proxies,
                                  stream_origins=frozenset({settings.base_url})),
                        instance=settings.instance)
    pages = PagesSignIn(
        sessions=sessions, tokens=tokens, authenticator=authenticator,
        base_url=settings.base_url,
        state_key=hmac.new(settings.token_secret.encode(), b"careledger sign-in state",
                           hashlib.sha256).digest(),
        client_id=settings.oidc_client_id, client_secret=settings.oidc_client_secret,
        stream_url=settings.stream_url)
    return services, pages


def _close() -> None:
    """Close the application and let it be collected now, while every module is loaded.

    The library's datastore closes itself again when collected; left to the interpreter's
    teardown, that happens after the modules it uses are gone, and prints a traceback.
    """
    from careledger.main import wiring

    installed = wiring.uninstall()
    if installed is not None:
        installed.app.close()
        installed.idempotency.pool.close()
    del installed
    gc.collect()
