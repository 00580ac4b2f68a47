"""Serve the API with gunicorn's threaded workers.

Django's views here are synchronous and spend their time waiting on PostgreSQL;
threads overlap that wait, and a few processes use both cores. HTTPS is either served
here (CARELEDGER_TLS_CERT and _KEY) or ended by a proxy in front
(CARELEDGER_BEHIND_PROXY, whose X-Forwarded-Proto is trusted from CARELEDGER_PROXY_IPS).
"""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from careledger.infra.settings import Settings


class ApiServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, *, workers: int, threads: int) -> None:
        self.settings = settings
        self.options = {
            "bind": f"{settings.http_host}:{settings.http_port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
            "graceful_timeout": 10,
            "timeout": 60,
            "keepalive": 5,
        }
        if settings.tls_cert is not None:  # HTTPS served directly
            self.options |= {"certfile": str(settings.tls_cert),
                             "keyfile": str(settings.tls_key)}
        if settings.behind_proxy:  # the proxy ends TLS; trust what it says, from it only
            self.options |= {"forwarded_allow_ips": settings.proxy_ips}
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from careledger.main.wsgi import build

        return build(self.settings)


def serve(settings: Settings, *, workers: int = 2, threads: int = 8) -> None:
    ApiServer(settings, workers=workers, threads=threads).run()
