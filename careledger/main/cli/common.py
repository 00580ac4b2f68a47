"""What every command shares: plain help, one-line errors, progress, the database."""

from __future__ import annotations

import functools
import signal
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import typer

if TYPE_CHECKING:
    import psycopg
    from rich.console import Console
    from rich.progress import Progress

    from careledger.infra.database import Database
    from careledger.infra.settings import Settings

#: Where `seed` writes the demo network's ids (read by `up` for its banner).
DEMO_FILE = "demo.json"


def commands(help: str) -> typer.Typer:
    """A group of commands with plain help and usage errors (click's): typer's rich ones
    import rich's markdown and tables, a third of a second on every `careledger` start."""
    return typer.Typer(help=help, rich_markup_mode=None, no_args_is_help=True,
                       pretty_exceptions_enable=False)


@functools.cache
def console() -> Console:
    """Messages go to stderr, through rich; imported on first use, so a command that
    prints nothing (`--help`, `status --ready`) never pays for it."""
    from rich.console import Console

    return Console(stderr=True)


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def progress() -> Progress:
    """Long work (seeding, rebuilding) shows how far it got, on stderr."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress("[progress.description]{task.description}", BarColumn(),
                    MofNCompleteColumn(), TimeElapsedColumn(), console=console())


def fail(message: str) -> None:
    """One line (never wrapped), the message printed as is (never read as markup)."""
    console().print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(1)


def read_settings() -> Settings:
    """The environment's settings (a bad value stops the command in one line: main()).

    Imported here, when a command runs: the settings' model brings pydantic-settings,
    0.1 s that `careledger --help` and the modules' imports never need."""
    from careledger.infra.settings import Settings

    return Settings.from_env()


def open_database(settings: Settings) -> Database:
    from careledger.infra.database import database
    from careledger.infra.embedded_pg import EmbeddedUnavailable

    try:
        return database(settings)
    except EmbeddedUnavailable as e:
        fail(str(e))
        raise
    except Exception as e:
        fail(f"PostgreSQL is not reachable ({type(e).__name__}: {str(e).splitlines()[0][:200]}). "
             "Check CARELEDGER_DATABASE_URL, or unset it to use the embedded server.")
        raise


def refuse_taken_port(settings: Settings) -> None:
    """Before anything else: a second instance on a taken port would seed, wait for the
    first one's API, print its tokens as its own, then fail."""
    import socket

    host, port = settings.http_host, settings.http_port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind((host, port))
        except OSError:
            fail(f"port {port} on {host} is taken (another CareLedger, or another program): "
                 "stop it, or set CARELEDGER_HTTP_PORT to a free port")


def topics_ready(settings: Settings) -> str:
    from careledger.infra.embedded_broker import ensure_topics, wait_until_ready

    if settings.kafka_bootstrap is None:
        fail("set CARELEDGER_KAFKA_BOOTSTRAP to a Kafka cluster, or run `careledger up`, "
             "which starts the embedded broker")
    assert settings.kafka_bootstrap is not None
    try:
        wait_until_ready(settings.kafka_bootstrap, 30, client=settings.kafka_client())
        ensure_topics(settings.kafka_bootstrap, {
            settings.events_topic: settings.topic_partitions, settings.dead_letter_topic: 1},
            client=settings.kafka_client())
    except RuntimeError as e:
        fail(str(e))
    return settings.kafka_bootstrap


def stop_on_signals() -> threading.Event:
    """SIGTERM and Ctrl-C finish the batch in hand, then stop."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def audit_connection(settings: Settings) -> psycopg.Connection[object]:
    """The application's role: the audit reads the log and adds checkpoints, nothing more."""
    import psycopg

    db = open_database(settings)
    try:
        return psycopg.connect(db.app_url, autocommit=True)
    except psycopg.OperationalError as e:
        fail(f"PostgreSQL refused the application's role ({str(e).splitlines()[0][:200]}); "
             "run `careledger migrate` and check CARELEDGER_APP_DB_PASSWORD")
        raise


def parse_moment(text: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option} is not a moment: give ISO 8601 with a zone, e.g. "
             "2026-03-02T09:00:00+00:00")
        raise
    if moment.tzinfo is None:
        fail(f"{option} needs a time zone, e.g. 2026-03-02T09:00:00+00:00 or ...Z")
    return moment


#: Who a command-line read of patient data is logged under. A command line holds the
#: database password but no token: the operator names themself, else their account.
AsOperator = Annotated[str | None, typer.Option(
    "--as", help="Your id (a UUID), which the access log names for this read; default: "
    "one derived from this account and host.")]


def parse_operator(text: str | None) -> UUID:
    from careledger.audit.disclosures import operator

    if text is None:
        return operator()
    try:
        return UUID(text)
    except ValueError:
        fail("--as is your id, a UUID")
        raise


def parse_patient(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        fail("--patient is not a patient id (a UUID)")
        raise
