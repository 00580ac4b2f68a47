"""`careledger up`: the whole platform on this machine, supervised, until Ctrl-C."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Annotated

import typer

from careledger.infra.settings import BROKER_ADDRESS_FILE
from careledger.main.cli.admin import seed_demo_network
from careledger.main.cli.common import (
    DEMO_FILE,
    commands,
    console,
    fail,
    open_database,
    read_settings,
    refuse_taken_port,
    stop_on_signals,
    topics_ready,
)

if TYPE_CHECKING:
    import ssl

    from careledger.infra.database import Database
    from careledger.infra.settings import Settings

local = commands("The platform on this machine.")

@local.command()
def up(
    demo: Annotated[bool, typer.Option(help="Seed the demo network on first start; GraphiQL "
                                            "on loopback.")] = False,
    fresh: Annotated[bool, typer.Option(help="Delete the local data and start over.")] = False,
    patients: Annotated[int, typer.Option(help="Demo patients.")] = 200,
) -> None:
    """Start everything on this machine: PostgreSQL, the broker, demo data, API, relay, views.

    Prints the URLs, the demo's tokens and examples once the API answers and the views
    have caught up with the log. Ctrl-C stops everything; the data stays for next time.
    """
    from careledger.infra import embedded_pg
    from careledger.main import bootstrap

    settings = read_settings()
    refuse_taken_port(settings)
    if fresh:
        if settings.database_url is not None:
            fail("--fresh deletes the embedded server's data folder; with "
                 "CARELEDGER_DATABASE_URL set, drop and recreate that database yourself")
        if settings.data_dir.exists():
            embedded_pg.EmbeddedPostgres(settings.data_dir, 0, "").stop("immediate")
            shutil.rmtree(settings.data_dir)
        settings = read_settings()
    db = open_database(settings)
    bootstrap.run_migrations(db)
    demo_path = settings.data_dir / DEMO_FILE
    if demo and not demo_path.exists():
        _seed_demo(settings, patients)
    from careledger.infra.embedded_broker import EmbeddedBroker

    stop = stop_on_signals()
    broker = EmbeddedBroker(settings.data_dir / "broker") if not settings.kafka_bootstrap \
        else None
    parts: dict[str, subprocess.Popen[bytes]] = {}
    try:
        if broker is not None:
            try:
                broker.start()
            except RuntimeError as e:
                fail(str(e))
            settings = settings.model_copy(update={"kafka_bootstrap": broker.bootstrap})
            noted = settings.data_dir / BROKER_ADDRESS_FILE  # for `careledger status`
            noted.parent.mkdir(parents=True, exist_ok=True)
            noted.write_text(broker.bootstrap)
        servers = topics_ready(settings)
        # GraphiQL (Django's debug mode) only where no one else can reach it.
        graphiql = settings.debug or (demo and "CARELEDGER_DEBUG" not in os.environ
                                      and settings.http_host in LOOPBACK)
        host = "127.0.0.1" if settings.http_host in ("0.0.0.0", "::") else settings.http_host
        scheme = "https" if settings.tls_cert else "http"
        base = f"{scheme}://{host}:{settings.http_port}"
        # With no proxy in front, the live streams answer on their own port; the pages
        # are told where (a proxy would send /api/v1/stream there on one origin).
        stream_url = settings.stream_url or \
            f"{scheme}://{host}:{settings.stream_port}/api/v1/stream"
        # Each part is its own process and session: `up` supervises; Ctrl-C reaches only it.
        env = {**os.environ, "CARELEDGER_KAFKA_BOOTSTRAP": servers,
               "CARELEDGER_DATA_DIR": str(settings.data_dir),
               "CARELEDGER_INSTANCE": settings.instance,
               "CARELEDGER_STREAM_URL": stream_url,
               **({"CARELEDGER_DEBUG": "1"} if graphiql else {})}
        api_workers = os.environ.get("CARELEDGER_WORKERS", "2")
        commands = {"API": ["serve", "--workers", api_workers, "--threads", "8"],
                    "streams": ["stream"], "relay": ["relay"], "consumers": ["consume"]}
        console().print("starting the API, the live streams, the relay and the consumers")
        for name, args in commands.items():
            parts[name] = subprocess.Popen([sys.executable, "-m", "careledger.main.cli", *args],
                                           env=env, start_new_session=True)
        if _wait_until_ready(base, db, settings, parts, stop):
            network = json.loads(demo_path.read_text()) if demo_path.exists() else None
            from careledger.main.demo import banner as demo_banner

            print(demo_banner(
                base=base, graphiql=graphiql, network=network,
                token_secret=settings.token_secret, streams=stream_url,
                postgres=f"{db.host}:{db.port} (data in {settings.data_dir})",
                kafka=f"{servers} ({'embedded' if broker else 'configured'}), topic "
                      f"{settings.events_topic}"))
            print("\nCtrl-C stops everything; the data stays for next time "
                  "(`careledger up --fresh` starts over).", flush=True)
            while not stop.is_set() and not _ended(parts):
                stop.wait(0.5)
    finally:
        _stop_all(list(parts.values()), broker, settings)
    if not stop.is_set():  # a part stopped on its own
        raise typer.Exit(1)


#: Hosts only this machine reaches.
LOOPBACK = ("127.0.0.1", "localhost", "::1")

#: How long `up` waits for the API to answer and the views to catch up with the log.
READY_TIMEOUT_S = 180


def _seed_demo(settings: Settings, patients: int) -> None:
    """Seed once: an interrupted seeding is never silently seeded again on top."""
    marker = settings.data_dir / (DEMO_FILE + ".seeding")
    if marker.exists():
        fail("an earlier demo seeding was interrupted, so the data holds part of a demo "
             "network; `careledger up --demo --fresh` starts over")
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    seed_demo_network(settings, patients=patients, seed_value=7)
    marker.unlink()


def _ended(parts: dict[str, subprocess.Popen[bytes]]) -> bool:
    ended = [name for name, part in parts.items() if part.poll() is not None]
    if ended:
        console().print(f"[red]error:[/red] the {', '.join(ended)} stopped; stopping the rest "
                        "(see the messages above)")
    return bool(ended)


def _wait_until_ready(base: str, db: Database, settings: Settings,
                      parts: dict[str, subprocess.Popen[bytes]], stop: threading.Event) -> bool:
    """Until the API answers /health/ready and the views hold everything the log holds;
    False if a part stopped or Ctrl-C came first."""
    import time
    import urllib.request

    import psycopg

    from careledger.infra.health import caught_up

    assert settings.kafka_bootstrap is not None
    deadline = time.monotonic() + READY_TIMEOUT_S
    api = views = False
    with console().status("waiting for the API and for the views to catch up with the log"):
        while not (api and views):
            if stop.is_set() or _ended(parts):
                return False
            if time.monotonic() > deadline:
                console().print(f"[yellow]after {READY_TIMEOUT_S} s the "
                                f"{'views are' if api else 'API is'} still not ready: reads may "
                                "answer 'not found' until they are ([bold]careledger status"
                                "[/bold] shows the lag)[/yellow]")
                return True
            try:
                if not api:  # ours: another instance may answer on the port first
                    with urllib.request.urlopen(f"{base}/health/ready", timeout=2,
                                                context=_own_api(settings)) as answer:
                        api = json.load(answer).get("instance") == settings.instance
                if not views:
                    with psycopg.connect(db.app_url, autocommit=True,
                                         connect_timeout=3) as conn:
                        views = caught_up(conn, settings.kafka_bootstrap,
                                          settings.events_topic, settings.kafka_client())
            except Exception:  # not up yet: the next round asks again
                pass
            stop.wait(0.3)
    return True


def _own_api(settings: Settings) -> ssl.SSLContext | None:
    """How `up` reaches the API it started: over HTTPS, trusting the certificate it was
    given (the API's own chain, read as the authority for this one loopback call)."""
    import ssl

    if settings.tls_cert is None:
        return None
    context = ssl.create_default_context(cafile=str(settings.tls_cert))
    context.check_hostname = False  # loopback by address; the chain is still verified
    return context


def _stop_all(parts: list[subprocess.Popen[bytes]], broker: object,
              settings: Settings) -> None:
    """API and streams first (no new commands, no stream held open), then relay and
    consumers (each finishes its batch in hand), then the broker and PostgreSQL they use."""
    from careledger.infra import embedded_pg
    from careledger.infra.embedded_broker import EmbeddedBroker

    servers = [what for what, started in (
        ("the API, the live streams, the relay and the consumers", parts),
        ("the embedded broker", isinstance(broker, EmbeddedBroker)),
        ("the embedded PostgreSQL", settings.database_url is None)) if started]
    if servers:
        console().print(f"stopping {', then '.join(servers)}; the data stays in "
                        f"{settings.data_dir}", soft_wrap=True)
    for part in parts:
        part.terminate()
        try:
            part.wait(timeout=30)
        except subprocess.TimeoutExpired:
            part.kill()
            part.wait(timeout=10)
    if isinstance(broker, EmbeddedBroker):
        broker.stop()
        (settings.data_dir / BROKER_ADDRESS_FILE).unlink(missing_ok=True)
    if settings.database_url is None:
        embedded_pg.EmbeddedPostgres(settings.data_dir, 0, "").stop()
    if servers:
        console().print("stopped")
