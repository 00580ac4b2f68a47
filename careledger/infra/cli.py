"""`careledger`: run, migrate, seed and issue tokens. Errors are one line with a next step."""

from __future__ import annotations

import json
import os
import shutil
import sys
from datetime import timedelta
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
console = Console(stderr=True)

DEMO_FILE = "demo.json"


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
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar:
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


@cli.command()
def up(
    demo: Annotated[bool, typer.Option(help="Seed the demo network on first start.")] = False,
    fresh: Annotated[bool, typer.Option(help="Delete the local data and start over.")] = False,
    patients: Annotated[int, typer.Option(help="Demo patients.")] = 200,
) -> None:
    """Start everything on this machine: PostgreSQL, migrations, demo data, the API."""
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
        out.print("\nTry a command (register a patient):")
        out.print(
            f"  curl -s -X POST {base}/api/v1/patients -H 'Authorization: Bearer {physician}' "
            "-H 'Content-Type: application/json' -d '{\"given_name\":\"Jo\",\"family_name\":"
            "\"Doe\",\"birth_date\":\"1980-02-03\",\"sex\":\"female\"}'",
            soft_wrap=True,
        )
    out.print("\nCtrl-C stops the API; the data stays for next time (`--fresh` starts over).")
    sys.stdout.flush()
    from careledger.infra.server import serve as run_server

    try:
        run_server(settings, workers=int(os.environ.get("CARELEDGER_WORKERS", "2")), threads=8)
    finally:
        if settings.database_url is None:
            embedded_pg.EmbeddedPostgres(settings.data_dir, 0, "").stop()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
