"""End to end: the API, the relay and the consumers as processes, a real broker."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from careledger.infra.embedded_pg import free_port
from careledger.infra.settings import Settings
from careledger.main import bootstrap
from tests.helpers.processes import LiveServer, start_server, stop_server


@pytest.fixture(scope="session")
def live_server(settings: Settings, db: bootstrap.Database) -> Iterator[LiveServer]:
    server = start_server(settings)
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The embedded Tansu broker, or None when CARELEDGER_KAFKA_BOOTSTRAP names a cluster."""
    from careledger.infra.embedded_broker import EmbeddedBroker, wait_until_ready

    configured = os.environ.get("CARELEDGER_KAFKA_BOOTSTRAP")
    if configured:
        wait_until_ready(configured, 30)
        yield None
        return
    embedded = EmbeddedBroker(tmp_path_factory.mktemp("broker"))
    embedded.start()
    yield embedded
    embedded.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(broker: Any) -> str:
    return broker.bootstrap if broker is not None else os.environ["CARELEDGER_KAFKA_BOOTSTRAP"]


@pytest.fixture(scope="session")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real OIDC provider process on loopback (tests/oidc), for the API below."""
    from tests.helpers import oidc

    if not oidc.available():
        pytest.skip(oidc.NO_PROVIDER)
    started = oidc.OidcProvider(tmp_path_factory.mktemp("oidc"), api_port=free_port()).start()
    yield started
    started.stop()


@pytest.fixture(scope="session")
def oidc_server(settings: Settings, db: bootstrap.Database, provider: Any) -> Iterator[LiveServer]:
    """The API process with the provider's issuer: its tokens only, HS256 refused."""
    from tests.helpers import oidc

    running = start_server(settings, port=provider.api_port, env={
        "CARELEDGER_OIDC_ISSUER": provider.issuer, "CARELEDGER_OIDC_AUDIENCE": oidc.AUDIENCE,
        "CARELEDGER_OIDC_CLIENT_ID": oidc.PAGES_CLIENT,
        "CARELEDGER_RATE_EXPORTS": str(oidc.EXPORTS_PER_MINUTE),
        # Small pools: the suite's other servers hold PostgreSQL connections too.
        "CARELEDGER_DB_POOL_SIZE": "4"})
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (for the pages' tests)."""
    from tests.helpers.browser import NO_CHROMIUM, NO_PLAYWRIGHT, find_chromium

    chromium = find_chromium()
    if chromium is None:
        pytest.skip(NO_CHROMIUM)
    playwright_api = pytest.importorskip("playwright.sync_api", reason=NO_PLAYWRIGHT)
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def follower(app: Any, db: bootstrap.Database) -> Iterator[Any]:
    """Stands in for the consumers: the log replayed into the live views as it grows."""
    from tests.helpers.web import Follower

    running = Follower(app, db)
    yield running
    running.close()

