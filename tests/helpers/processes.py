"""Processes the end-to-end tests start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

from careledger.infra.embedded_pg import free_port
from careledger.infra.settings import Settings
from tests.helpers import ROOT


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]


def start_server(settings: Settings, *, port: int | None = None,
                 env: dict[str, str] | None = None, part: str = "serve") -> LiveServer:
    """The real API process (gunicorn, threaded workers) on a loopback port, with `env`
    on top of the test database's settings; `part="stream"`: the live streams' process
    (uvicorn) instead, on that port."""
    port = port or free_port()
    environment = {
        **os.environ,
        "CARELEDGER_DATABASE_URL": settings.database_url or "",
        "CARELEDGER_APP_DB_PASSWORD": settings.app_db_password,
        "CARELEDGER_TOKEN_SECRET": settings.token_secret,
        "CARELEDGER_DATA_DIR": str(settings.data_dir),
        "CARELEDGER_HTTP_PORT": str(port),
        "CARELEDGER_STREAM_PORT": str(port),
        "CARELEDGER_DB_POOL_SIZE": "20",
        # The suite's own pace is not a caller's: budgets are tested where they are set.
        **{f"CARELEDGER_RATE_{area}": "0"
           for area in ("COMMANDS", "READS", "EXPORTS", "STREAMS", "PER_ADDRESS")},
        **(env or {}),
    }
    args = ["serve", "--workers", "2", "--threads", "16"] if part == "serve" else [part]
    process = subprocess.Popen([sys.executable, "-m", "careledger.main.cli", *args],
                               env=environment, cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if process.poll() is not None:
                raise RuntimeError("the API server exited during start-up") from None
            time.sleep(0.2)
    return LiveServer(url=f"http://127.0.0.1:{port}", process=process)


def stop_server(server: LiveServer) -> None:
    server.process.terminate()
    server.process.wait(timeout=20)
