"""Keeping the platform: its schema, its demo data, its tokens, its views, its status."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import typer

from careledger.infra.settings import broker_address
from careledger.main.cli.common import (
    DEMO_FILE,
    commands,
    console,
    escape,
    fail,
    open_database,
    progress,
    read_settings,
)

if TYPE_CHECKING:
    from careledger.infra.settings import Settings

admin = commands("Keeping the platform.")
token_cli = commands("Bearer tokens for the API.")
admin.add_typer(token_cli, name="token")
projections_cli = commands("The read models.")
admin.add_typer(projections_cli, name="projections")

@admin.command()
def migrate(
    list_only: Annotated[bool, typer.Option(
        "--list", help="Only say which migrations are applied and which are pending.")] = False,
) -> None:
    """Apply the pending versioned migrations, then the functions, grants and views."""
    import psycopg

    from careledger.infra.schema import pending_versions
    from careledger.main import bootstrap
    from careledger.projections import VIEWS_VERSION, views_version

    settings = read_settings()
    db = open_database(settings)
    if list_only:
        done, pending = pending_versions(db.admin_url)
        for version in done:
            console().print(f"applied  {version}")
        for version in pending:
            console().print(f"pending  {version}")
        return
    applied = bootstrap.run_migrations(db)
    for version in applied:
        console().print(f"applied {version}")
    console().print("[green]schema is up to date[/green]")
    with psycopg.connect(db.admin_url) as conn:
        built = views_version(conn)
    if built < VIEWS_VERSION:
        console().print(
            f"[yellow]the views were built by an earlier release (version {built}; this one "
            f"makes version {VIEWS_VERSION}): run `careledger projections rebuild` to replay "
            "them from the log; until then they show what that release made of it[/yellow]")


@admin.command()
def seed(
    patients: Annotated[int, typer.Option(help="How many patients, each with an episode.")] = 200,
    seed: Annotated[int, typer.Option(help="The same seed builds the same network.")] = 7,
) -> None:
    """Build the demo network through the application's own commands."""
    seed_demo_network(read_settings(), patients=patients, seed_value=seed)


def seed_demo_network(settings: Settings, *, patients: int, seed_value: int) -> dict[str, object]:
    from careledger.main import bootstrap
    from careledger.main.seed import seed_network

    db = open_database(settings)
    bootstrap.run_migrations(db)
    app = bootstrap.application(db, settings)
    with progress() as bar:
        task = bar.add_task("seeding patients and episodes", total=patients)
        network = seed_network(app, patients=patients, seed=seed_value,
                               progress=lambda n: bar.advance(task, n))
    app.close()
    demo = network.as_dict()
    (settings.data_dir / DEMO_FILE).write_text(json.dumps(demo, indent=2))
    console().print(f"[green]seeded[/green] {patients} patients with {network.commands} commands")
    return demo


@token_cli.command("issue")
def token_issue(
    role: Annotated[str, typer.Option(help="physician, therapist, clinic_admin, "
                                      "network_admin, auditor or biller")],
    subject: Annotated[str, typer.Option(help="The principal's id (a practitioner's id).")],
    clinic: Annotated[list[str] | None, typer.Option(help="A clinic id; repeat for more.")] = None,
    hours: Annotated[int, typer.Option(help="Hours until it expires.")] = 12,
) -> None:
    """Print a signed bearer token."""
    from careledger.access.tokens import Role, TokenService

    try:
        parsed_role = Role(role)
        parsed_subject = UUID(subject)
        clinics = [UUID(c) for c in clinic or []]
    except ValueError:
        fail("role must be one of " + ", ".join(r.value for r in Role)
             + "; subject and clinics must be UUIDs")
        return
    tokens = TokenService(read_settings().token_secret)
    print(tokens.issue(subject=parsed_subject, role=parsed_role, clinics=clinics,
                       ttl=timedelta(hours=hours)))


@projections_cli.command("rebuild")
def projections_rebuild(
    keep_old: Annotated[bool, typer.Option(help="Keep the previous generation's schema.")] = False,
) -> None:
    """Replay the log into fresh views while the live ones keep serving, then switch."""
    from careledger.consumers.collector import set_for_batches
    from careledger.consumers.rebuild import rebuild
    from careledger.main import bootstrap

    settings = read_settings()
    db = open_database(settings)
    bootstrap.run_migrations(db)
    app = bootstrap.application(db, settings)
    set_for_batches()
    with progress() as bar:
        task = bar.add_task("replaying the log into a fresh generation", total=None)
        result = rebuild(app, db, keep_old=keep_old, progress=lambda _n, at, head: bar.update(
            task, completed=at, total=head))
    app.close()
    console().print(f"[green]views rebuilt[/green] from {result.events} events up to position "
                    f"{result.position}; live generation is now {result.new_schema}"
                    + (f" ({result.old_schema} kept)" if keep_old else
                       f" ({result.old_schema} dropped)"))


#: The parts `status --ready` can answer for, and whether each needs the broker.
PARTS = {"api": False, "relay": True, "consume": True}


@admin.command()
def status(
    ready: Annotated[str | None, typer.Option(
        help="api, relay or consume: exit 0 only if that part can work now "
        "(PostgreSQL reachable; for relay and consume, the broker too; for consume, every "
        "partition held by a live member and nothing published left waiting).")] = None,
    group: Annotated[str, typer.Option(
        help="With --ready consume: the consumer group (as `careledger consume`).")] = "views",
    as_json: Annotated[bool, typer.Option("--json", help="The figures as JSON.")] = False,
) -> None:
    """The log's head, the relay's lag, each consumer's lag and freshness."""
    import psycopg

    from careledger.infra.database import database

    if ready is not None and ready not in PARTS:
        fail("--ready is one of: " + ", ".join(PARTS))
    settings = read_settings()
    try:
        db = database(settings, start_embedded=False)
        conn = psycopg.connect(db.app_url, autocommit=True, connect_timeout=3)
    except Exception as e:
        fail(f"PostgreSQL is unreachable ({type(e).__name__}); start it (`careledger up`) "
             "or check CARELEDGER_DATABASE_URL")
        raise
    servers = broker_address(settings)
    if ready is not None:  # a healthcheck, every few seconds: nothing more than this
        with conn:
            _ready(conn, ready, servers, settings, group)
        print(f"{ready} ready", file=sys.stderr)
        return
    from careledger.infra.health import high_watermarks, read_status

    marks: dict[tuple[str, int], int] = {}
    if servers is not None:
        try:
            marks = high_watermarks(servers, settings.events_topic,
                                    client=settings.kafka_client())
        except Exception:
            console().print(f"[yellow]the broker at {servers} does not answer: partition "
                            "lag unknown[/yellow]")
    with conn:
        figures = read_status(conn, high_watermarks=marks)
    if as_json:
        print(json.dumps(figures.as_json(), default=str, indent=2))
        return
    out = console()
    recorded = (f", recorded {figures.head_recorded_at:%Y-%m-%d %H:%M:%S%z}"
                if figures.head_recorded_at else "")
    out.print(f"log head        position {figures.head}{recorded}")
    out.print(f"relay           position {figures.relay_position}, {figures.relay_behind}"
              f" behind, oldest waiting {figures.relay_lag_s:.1f} s")
    out.print(f"views           {figures.views}, {figures.dead_letters} dead letters")
    if figures.views_outdated:
        out.print("[yellow]  built by an earlier release: run `careledger projections rebuild`"
                  "[/yellow]", highlight=False)
    for u in figures.unknown_kinds:
        out.print(f"[yellow]  {escape(u.kind)}: {u.events} events this version does not "
                  f"know (positions {u.first_position} to {u.last_position}, {u.consumer}), "
                  "not applied: upgrade the consumers, then `careledger projections rebuild`"
                  "[/yellow]", soft_wrap=True, highlight=False)
    for c in figures.consumers:
        since = ("never" if c.seconds_since_applied is None
                 else f"{c.seconds_since_applied:.1f} s ago")
        out.print(f"consumer {c.consumer}: applied up to position {c.applied_position}, "
                  f"{c.behind} published events not yet applied, last batch {since}",
                  soft_wrap=True)
    for p in figures.partitions:
        fresh = "?" if p.freshness_ms is None else f"{p.freshness_ms:.0f} ms"
        out.print(f"  {p.consumer} {p.topic}/{p.partition}: position {p.position}, "
                  f"last applied {fresh} after commit", soft_wrap=True)


def _ready(conn: object, part: str, servers: str | None, settings: Settings,
           group: str) -> None:
    """Fail with one line saying why `part` cannot work now."""
    from careledger.infra.health import consumer_trouble, topic_partitions

    if not PARTS[part]:
        return
    topic, client = settings.events_topic, settings.kafka_client()
    partitions = None if servers is None else topic_partitions(servers, topic, client=client)
    if partitions is None:
        fail(f"{part} is not ready: the broker at {servers or '(none configured)'} does "
             "not answer; check CARELEDGER_KAFKA_BOOTSTRAP")
    assert partitions is not None
    if part != "consume":
        return
    trouble = consumer_trouble(conn, consumer=group, group=f"careledger-{group}", topic=topic,
                               partitions=partitions)
    if trouble is not None:
        fail(f"consume is not ready: {trouble}")
