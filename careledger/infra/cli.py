"""`careledger`: run, migrate, seed and issue tokens. Errors are one line with a next step."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from careledger.infra.settings import Settings

cli = typer.Typer(help="CareLedger: event-sourced care coordination.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
token_cli = typer.Typer(help="Bearer tokens for the API.", no_args_is_help=True)
cli.add_typer(token_cli, name="token")
projections_cli = typer.Typer(help="The read models.", no_args_is_help=True)
cli.add_typer(projections_cli, name="projections")
console = Console(stderr=True)

DEMO_FILE = "demo.json"


def _progress() -> Progress:
    """Long work (seeding, rebuilding) shows how far it got, on stderr."""
    return Progress("[progress.description]{task.description}", BarColumn(),
                    MofNCompleteColumn(), TimeElapsedColumn(), console=console)


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


def _database(settings: Settings):  # type: ignore[no-untyped-def]
    from careledger.infra import bootstrap

    try:
        return bootstrap.database(settings)
    except Exception as e:
        _fail(f"PostgreSQL is not reachable ({type(e).__name__}: {str(e).splitlines()[0][:200]}). "
              "Check CARELEDGER_DATABASE_URL, or unset it to use the embedded server.")
        raise


@cli.command()
def migrate() -> None:
    """Create or update the schema and the application's role (idempotent)."""
    from careledger.infra import bootstrap

    settings = Settings.from_env()
    db = _database(settings)
    bootstrap.run_migrations(db)
    console.print("[green]schema is up to date[/green]")


@cli.command()
def seed(
    patients: Annotated[int, typer.Option(help="How many patients, each with an episode.")] = 200,
    seed: Annotated[int, typer.Option(help="The same seed builds the same network.")] = 7,
) -> None:
    """Build the demo network through the application's own commands."""
    _seed(Settings.from_env(), patients=patients, seed_value=seed)


def _seed(settings: Settings, *, patients: int, seed_value: int) -> dict[str, object]:
    from careledger.infra import bootstrap
    from careledger.infra.seed import seed_network

    db = _database(settings)
    bootstrap.run_migrations(db)
    app = bootstrap.application(db, settings)
    with _progress() as bar:
        task = bar.add_task("seeding patients and episodes", total=patients)
        network = seed_network(app, patients=patients, seed=seed_value,
                               progress=lambda n: bar.advance(task, n))
    app.close()
    demo = network.as_dict()
    (settings.data_dir / DEMO_FILE).write_text(json.dumps(demo, indent=2))
    console.print(f"[green]seeded[/green] {patients} patients with {network.commands} commands")
    return demo


@token_cli.command("issue")
def token_issue(
    role: Annotated[str, typer.Option(help="physician, therapist, clinic_admin, "
                                            "network_admin or auditor")],
    subject: Annotated[str, typer.Option(help="The principal's id (a practitioner's id).")],
    clinic: Annotated[list[str] | None, typer.Option(help="A clinic id; repeat for more.")] = None,
    hours: Annotated[int, typer.Option(help="Hours until it expires.")] = 12,
) -> None:
    """Print a signed bearer token."""
    from careledger.gateways.auth import Role, TokenService

    try:
        parsed_role = Role(role)
        parsed_subject = UUID(subject)
        clinics = [UUID(c) for c in clinic or []]
    except ValueError:
        _fail("role must be one of physician, therapist, clinic_admin, network_admin, auditor; "
              "subject and clinics must be UUIDs")
        return
    tokens = TokenService(Settings.from_env().token_secret)
    print(tokens.issue(subject=parsed_subject, role=parsed_role, clinics=clinics,
                       ttl=timedelta(hours=hours)))


@cli.command()
def serve(
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    threads: Annotated[int, typer.Option(help="Threads per worker.")] = 8,
) -> None:
    """Serve the command API (the schema must be migrated)."""
    from careledger.infra.server import serve as run_server

    settings = Settings.from_env()
    _database(settings)
    run_server(settings, workers=workers, threads=threads)


def _bootstrap(settings: Settings) -> str:
    from careledger.infra.embedded_broker import ensure_topics, wait_until_ready

    if settings.kafka_bootstrap is None:
        _fail("set CARELEDGER_KAFKA_BOOTSTRAP to a Kafka cluster, or run `careledger up`, "
              "which starts the embedded broker")
    assert settings.kafka_bootstrap is not None
    try:
        wait_until_ready(settings.kafka_bootstrap, 30)
        ensure_topics(settings.kafka_bootstrap, {
            settings.events_topic: settings.topic_partitions, settings.dead_letter_topic: 1})
    except RuntimeError as e:
        _fail(str(e))
    return settings.kafka_bootstrap


def _stop_on_signals() -> threading.Event:
    """SIGTERM and Ctrl-C finish the batch in hand, then stop."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


@cli.command()
def relay(
    from_position: Annotated[int | None, typer.Option(
        help="Publish again from this log position (recovery): duplicates, never losses."
    )] = None,
) -> None:
    """Follow the event store's log and publish it to Kafka, in order."""
    from careledger.consumers.relay import Relay
    from careledger.infra import bootstrap

    settings = Settings.from_env()
    db = _database(settings)
    servers = _bootstrap(settings)
    app = bootstrap.application(db, settings)
    publisher = Relay(app, bootstrap=servers, topic=settings.events_topic)
    if from_position is not None:
        publisher.rewind(from_position)
    stop = _stop_on_signals()
    console.print(f"relay: publishing from position {publisher.position()} "
                  f"to {settings.events_topic} at {servers}")
    publisher.run(stop, on_batch=lambda n, at: console.print(
        f"relay: published {n} events, now at position {at}"))
    publisher.close()
    app.close()


@cli.command()
def consume(
    group: Annotated[str, typer.Option(help="Consumer group (one per set of views).")] = "views",
) -> None:
    """Apply the events on Kafka to the views, with tracking, until stopped."""
    from confluent_kafka import Producer

    from careledger.consumers.projector import ProjectionConsumer, Projector

    settings = Settings.from_env()
    db = _database(settings)
    servers = _bootstrap(settings)
    projector = Projector(
        db.app_url, consumer=group,
        dead_letters=Producer({"bootstrap.servers": servers}),
        dead_letter_topic=settings.dead_letter_topic,
    )
    consumer = ProjectionConsumer(projector, bootstrap=servers, topic=settings.events_topic,
                                  group=f"careledger-{group}")
    stop = _stop_on_signals()
    console.print(f"consume: group careledger-{group} on {settings.events_topic} at {servers}")
    consumer.run(stop)
    consumer.close()


@projections_cli.command("rebuild")
def projections_rebuild(
    keep_old: Annotated[bool, typer.Option(help="Keep the previous generation's schema.")] = False,
) -> None:
    """Replay the log into fresh views while the live ones keep serving, then switch."""
    from careledger.consumers.rebuild import rebuild
    from careledger.infra import bootstrap

    settings = Settings.from_env()
    db = _database(settings)
    bootstrap.run_migrations(db)
    app = bootstrap.application(db, settings)
    with _progress() as bar:
        task = bar.add_task("replaying the log into a fresh generation", total=None)
        result = rebuild(app, db, keep_old=keep_old, progress=lambda _n, at, head: bar.update(
            task, completed=at, total=head))
    app.close()
    console.print(f"[green]views rebuilt[/green] from {result.events} events up to position "
                  f"{result.position}; live generation is now {result.new_schema}"
                  + (f" ({result.old_schema} kept)" if keep_old else
                     f" ({result.old_schema} dropped)"))


@cli.command()
def up(
    demo: Annotated[bool, typer.Option(help="Seed the demo network on first start.")] = False,
    fresh: Annotated[bool, typer.Option(help="Delete the local data and start over.")] = False,
    patients: Annotated[int, typer.Option(help="Demo patients.")] = 200,
) -> None:
    """Start everything on this machine: PostgreSQL, the broker, demo data, API, relay, views."""
    from careledger.gateways.auth import Role, TokenService
    from careledger.infra import bootstrap, embedded_pg

    settings = Settings.from_env()
    if fresh and settings.database_url is None and settings.data_dir.exists():
        server = embedded_pg.EmbeddedPostgres(settings.data_dir, 0, "")
        server.stop("immediate")
        shutil.rmtree(settings.data_dir)
        settings = Settings.from_env()
    db = _database(settings)
    bootstrap.run_migrations(db)
    demo_path = settings.data_dir / DEMO_FILE
    if demo and not demo_path.exists():
        _seed(settings, patients=patients, seed_value=7)
    base = f"http://{settings.http_host}:{settings.http_port}"
    out = Console()
    out.print(f"[bold]CareLedger[/bold] is starting at {base}")
    out.print(f"  OpenAPI docs   {base}/api/v1/docs")
    out.print(f"  OpenAPI schema {base}/api/v1/openapi.json")
    out.print(f"  GraphQL        {base}/graphql (GraphiQL with CARELEDGER_DEBUG=1)")
    out.print(f"  PostgreSQL     {db.host}:{db.port} (data in {settings.data_dir})")
    if demo_path.exists():
        network = json.loads(demo_path.read_text())
        tokens = TokenService(settings.token_secret)
        physician = tokens.issue(subject=UUID(network["demo_physician"]), role=Role.PHYSICIAN)
        therapist = tokens.issue(subject=UUID(network["demo_therapist"]), role=Role.THERAPIST,
                                 clinics=[UUID(network["demo_therapist_clinic"])])
        out.print("\nDemo tokens (valid 12 hours):")
        out.print(f"  physician  {physician}", soft_wrap=True)
        out.print(f"  therapist  {therapist}", soft_wrap=True)
        out.print("\nRead the demo patient's shared timeline:")
        patient = network["demo_patient"]
        query = (f'{{ patient(id: \\"{patient}\\") {{ timeline(first: 5) {{ events '
                 '{ kind occurredAt clinicId } } } }')
        out.print(
            f"  curl -s {base}/graphql -H 'Authorization: Bearer {physician}' "
            f"-H 'Content-Type: application/json' -d '{{\"query\": \"{query}\"}}'",
            soft_wrap=True, markup=False,
        )
        out.print("\nTry a command (register a patient):")
        out.print(
            f"  curl -s -X POST {base}/api/v1/patients -H 'Authorization: Bearer {physician}' "
            "-H 'Content-Type: application/json' -d '{\"given_name\":\"Jo\",\"family_name\":"
            "\"Doe\",\"birth_date\":\"1980-02-03\",\"sex\":\"female\"}'",
            soft_wrap=True,
        )
    broker = None
    if settings.kafka_bootstrap is None:
        from careledger.infra.embedded_broker import EmbeddedBroker

        broker = EmbeddedBroker(settings.data_dir / "broker")
        broker.start()
        settings = replace(settings, kafka_bootstrap=broker.bootstrap)
    servers = _bootstrap(settings)
    out.print(f"  Kafka          {servers} ({'embedded' if broker else 'configured'}), "
              f"topic {settings.events_topic}")
    out.print("\nCtrl-C stops everything; the data stays for next time (`--fresh` starts over).")
    sys.stdout.flush()
    # Each part is its own process and session: `up` supervises; Ctrl-C reaches only it.
    env = {**os.environ, "CARELEDGER_KAFKA_BOOTSTRAP": servers,
           "CARELEDGER_DATA_DIR": str(settings.data_dir)}
    api_workers = os.environ.get("CARELEDGER_WORKERS", "2")
    commands = {"api": ["serve", "--workers", api_workers, "--threads", "8"],
                "relay": ["relay"], "consumers": ["consume"]}
    parts = {name: subprocess.Popen([sys.executable, "-m", "careledger.infra.cli", *args],
                                    env=env, start_new_session=True)
             for name, args in commands.items()}
    stop = _stop_on_signals()
    try:
        while not stop.is_set():
            ended = [name for name, part in parts.items() if part.poll() is not None]
            if ended:
                console.print(f"[red]error:[/red] the {', '.join(ended)} stopped; stopping the "
                              "rest (see the messages above)")
                break
            stop.wait(0.5)
    finally:
        _stop_all(list(parts.values()), broker, settings)


def _stop_all(parts: list[subprocess.Popen[bytes]], broker: object,
              settings: Settings) -> None:
    """API first (no new commands), then relay and consumers (each finishes its batch in
    hand), then the broker and PostgreSQL they use."""
    from careledger.infra import embedded_pg
    from careledger.infra.embedded_broker import EmbeddedBroker

    for part in parts:
        part.terminate()
        try:
            part.wait(timeout=30)
        except subprocess.TimeoutExpired:
            part.kill()
            part.wait(timeout=10)
    if isinstance(broker, EmbeddedBroker):
        broker.stop()
    if settings.database_url is None:
        embedded_pg.EmbeddedPostgres(settings.data_dir, 0, "").stop()


export_cli = typer.Typer(help="Exports of a patient's record.", no_args_is_help=True)
cli.add_typer(export_cli, name="export")


@export_cli.command("fhir")
def export_fhir(
    patient: Annotated[str, typer.Option(help="The patient's id.")],
    operator: Annotated[str, typer.Option(
        "--as", help="Your id (a UUID): the access log names you, as an auditor, for this read.",
    )],
    output: Annotated[Path | None, typer.Option(
        help="Write the Bundle to this file (readable by you only); else to stdout.")] = None,
) -> None:
    """The patient's record as a FHIR R4 Bundle, read from the event log (an auditor's read,
    in the access log like any other)."""
    import psycopg

    from careledger.gateways.auth import Principal, Role
    from careledger.gateways.fhir.export import ASKED_CLI, export_patient
    from careledger.graphql.access import PatientNotFound
    from careledger.infra import bootstrap
    from careledger.projections import live_generation

    try:
        patient_id, operator_id = UUID(patient), UUID(operator)
    except ValueError:
        _fail("--patient and --as take UUIDs")
        return
    settings = Settings.from_env()
    db = _database(settings)
    app = bootstrap.application(db, settings)
    auditor = Principal(subject=operator_id, role=Role.AUDITOR, clinics=frozenset())
    try:
        with psycopg.connect(db.app_url, autocommit=True) as conn:
            bundle = export_patient(conn, app, views=live_generation(conn)[0],
                                    principal=auditor, patient_id=patient_id, asked=ASKED_CLI)
    except PatientNotFound:
        _fail(f"no patient {patient_id} in the views (one registered a moment ago appears "
              "once `careledger consume` has applied it); the attempt is in the access log")
        return
    except psycopg.Error as e:
        _fail(f"the export could not read PostgreSQL ({type(e).__name__}: "
              f"{str(e).splitlines()[0][:200]}); is the schema migrated (`careledger migrate`)?")
        return
    finally:
        app.close()
    text = bundle.model_dump_json(indent=2)
    if output is None:
        print(text)
        return
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")
    console.print(f"[green]wrote[/green] {len(bundle.entry or [])} resources of patient "
                  f"{patient_id} to {output}")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
