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

    from careledger.access.tokens import TokenService
    from careledger.gateways.idempotency import IdempotencyStore
    from careledger.gateways.services import Services
    from careledger.main import bootstrap, wiring

    db = bootstrap.database(settings)
    # Within gunicorn's boot timeout: a worker started during an outage waits it out.
    app = bootstrap.application_when_reachable(db, settings, wait_s=30)
    atexit.register(_close)  # a worker that exits closes its pools itself
    wiring.install(Services(app=app, idempotency=IdempotencyStore(bootstrap.app_pool(db, settings)),
                            tokens=TokenService(settings.token_secret),
                            instance=settings.instance))
    return get_wsgi_application()


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
