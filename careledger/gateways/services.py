"""What the views need, installed once by the process that serves them."""

from __future__ import annotations

from dataclasses import dataclass

from careledger.domain.application import CareLedger
from careledger.gateways.auth import TokenService
from careledger.gateways.idempotency import IdempotencyStore


@dataclass
class Services:
    app: CareLedger
    idempotency: IdempotencyStore
    tokens: TokenService


_installed: Services | None = None


def install(services: Services) -> None:
    global _installed  # noqa: PLW0603 - one process, one set of services
    _installed = services


def uninstall() -> Services | None:
    """Take the services out (a worker that exits); returns what was installed."""
    global _installed
    installed, _installed = _installed, None
    return installed


def get() -> Services:
    if _installed is None:
        raise RuntimeError("services are not installed: start the API through `careledger serve`")
    return _installed
