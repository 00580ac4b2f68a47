"""A whole CareLedger of its own: embedded PostgreSQL and broker, and the API, relay and
consumer as the separate processes `careledger up` runs, on loopback ports.

The fault-injection test kills and restarts its parts; the load harness drives it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.setup import BUDGETS
from careledger.infra import embedded_pg
from careledger.infra.embedded_broker import EmbeddedBroker
from careledger.infra.settings import Settings

#: How each part starts: the commands `careledger up` runs.
PARTS = {"api": ["serve", "--workers", "2", "--threads", "8"], "relay": ["relay"],
         "consumer": ["consume"], "streams": ["stream"]}


@dataclass
class Stack:
    data: Path
    settings: Settings
    broker: EmbeddedBroker
    port: int
    logs: Path
    parts: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    stream_port: int = field(default_factory=embedded_pg.free_port)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "CARELEDGER_DATABASE_URL": self.settings.database_url or "",
                "CARELEDGER_APP_DB_PASSWORD": self.settings.app_db_password,
                "CARELEDGER_TOKEN_SECRET": self.settings.token_secret,
                "CARELEDGER_DATA_DIR": str(self.data),
                "CARELEDGER_KAFKA_BOOTSTRAP": self.broker.bootstrap,
                "CARELEDGER_HTTP_PORT": str(self.port),
                "CARELEDGER_STREAM_PORT": str(self.stream_port),
                "CARELEDGER_DB_POOL_SIZE": str(self.settings.db_pool_size), **BUDGETS}

    def start(self, name: str, *args: str) -> None:
        log = (self.logs / f"{name}.log").open("ab")
        self.parts[name] = subprocess.Popen(
            [sys.executable, "-m", "careledger.main.cli", *(args or PARTS[name])],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self, name: str) -> None:
        """SIGKILL: no cleanup, no last batch, as a crash or an OOM kill."""
        part = self.parts[name]
        os.killpg(part.pid, signal.SIGKILL)
        part.wait(timeout=10)

    def stop_all(self) -> None:
        for part in self.parts.values():
            if part.poll() is None:
                os.killpg(part.pid, signal.SIGTERM)
        for part in self.parts.values():
            try:
                part.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(part.pid, signal.SIGKILL)

    def restart_postgres(self, outage_s: float) -> None:
        self.stop_postgres()
        time.sleep(outage_s)
        self.start_postgres()

    def stop_postgres(self) -> None:
        """As a crash: connections dropped, nothing flushed politely."""
        embedded_pg.EmbeddedPostgres(self.data, 0, "").stop("immediate")

    def start_postgres(self) -> None:
        server = embedded_pg.ensure_running(self.data)
        assert f":{server.port}/" in (self.settings.database_url or ""), "the port moved"

    def restart_broker_empty(self) -> None:
        """The embedded broker keeps its log in memory: restarted, it has no topics."""
        self.broker.stop()
        self.broker.start()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A `careledger` command against this stack, as an operator runs it."""
        return subprocess.run([sys.executable, "-m", "careledger.main.cli", *args],
                              env=self.env, capture_output=True, text=True, timeout=60,
                              check=False)

    def unexpected_exits(self) -> list[str]:
        return [name for name, part in self.parts.items() if part.poll() is not None]

    def wait_until_ready(self, seconds: float = 60) -> None:
        wait_for(lambda: httpx.get(f"{self.base}/health/ready").status_code == 200, seconds,
                 "the API to be ready")


@contextmanager
def own_stack(work: Path, *, pool_size: int = 4) -> Iterator[Stack]:
    """PostgreSQL and a broker in `work`, stopped (with every part) on the way out."""
    data = work / "data"
    server = embedded_pg.ensure_running(data)
    settings = Settings(database_url=server.url, data_dir=data,
                        app_db_password="stack-app-password",
                        token_secret="stack-secret-" + "z" * 20, db_pool_size=pool_size)
    broker = EmbeddedBroker(work / "broker")
    broker.start()
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    stack = Stack(data=data, settings=settings, broker=broker, port=embedded_pg.free_port(),
                  logs=logs)
    try:
        yield stack
    finally:
        stack.stop_all()
        broker.stop()
        embedded_pg.EmbeddedPostgres(data, 0, "").stop("immediate")


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception:  # not up yet: a refused connection, a restarting server
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")
