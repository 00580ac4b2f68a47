"""The live streams' process: the same settings, database, gate and sign-in as the API,
under an ASGI server (uvicorn), where one process holds many open streams on one event
loop; the WSGI API's threads are never held by a stream."""

from __future__ import annotations

import os
from typing import Any

from careledger.infra.settings import Settings


def build(settings: Settings | None = None) -> Any:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careledger.main.django_settings")
    settings = settings or Settings.from_env()
    os.environ.setdefault("CARELEDGER_MAX_BODY_BYTES", str(settings.max_body_bytes))

    from django.conf import settings as django_settings
    from django.core.asgi import get_asgi_application

    from careledger.gateways.streams.hub import Hub
    from careledger.gateways.streams.view import Streams
    from careledger.infra import telemetry
    from careledger.main import wiring
    from careledger.main.wsgi import wire
    from careledger.projections import LiveGenerations

    telemetry.configure("streams", console=settings.trace_console, instrument_django=True)
    db, pool = wire(settings)
    gate = wiring.installed().gate
    wiring.install_streams(Streams(
        Hub(db.app_url, pool, LiveGenerations(), limit=settings.stream_limit),
        gate.authenticator, gate.sessions, allowed_origins=gate.stream_origins))
    django_settings.ROOT_URLCONF = "careledger.main.stream_urls"
    return get_asgi_application()
