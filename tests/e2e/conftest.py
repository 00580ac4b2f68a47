"""End to end: the API, the relay and the consumers as processes, a real broker."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from careledger.infra.embedded_pg import free_port
from careledger.infra.settings import Settings
from careledger.main import bootstrap
from tests.helpers import ROOT
from tests.helpers.processes import LiveServer


@pytest.fixture(scope="session")
def live_server(settings: Settings, db: bootstrap.Database) -> Iterator[LiveServer]:
    """The real API process (gunicorn, threaded workers) on a loopback port."""
    port = free_port()
    env = {
        **os.environ,
        "CARELEDGER_DATABASE_URL": settings.database_url or "",
        "CARELEDGER_APP_DB_PASSWORD": settings.app_db_password,
        "CARELEDGER_TOKEN_SECRET": settings.token_secret,
        "CARELEDGER_DATA_DIR": str(settings.data_dir),
        "CARELEDGER_HTTP_PORT": str(port),
        "CARELEDGER_DB_POOL_SIZE": "20",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "careledger.main.cli", "serve", "--workers", "2",
         "--threads", "16"],
        env=env, cwd=ROOT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if process.poll() is not None:
                raise RuntimeError("the API server exited during start-up") from None
            time.sleep(0.2)
    yield LiveServer(url=f"http://127.0.0.1:{port}", process=process)
    process.terminate()
    process.wait(timeout=20)


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
