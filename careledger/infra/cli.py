"""`careledger`: run, migrate, seed, audit, issue tokens. Errors are one line with a next step."""

from __future__ import annotations

import functools
import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import typer

from careledger.infra.settings import BROKER_ADDRESS_FILE, Settings, broker_address

if TYPE_CHECKING:
    import psycopg
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from rich.console import Console
    from rich.progress import Progress

    from careledger.audit.check import SignedCheckpoint
    from careledger.infra.database import Database

def commands(help: str) -> typer.Typer:
    """A group of commands with plain help and usage errors (click's): typer's rich ones
    import rich's markdown and tables, a third of a second on every `careledger` start."""
    return typer.Typer(help=help, rich_markup_mode=None, no_args_is_help=True,
                       pretty_exceptions_enable=False)


cli = commands("CareLedger: event-sourced care coordination.")
token_cli = commands("Bearer tokens for the API.")
cli.add_typer(token_cli, name="token")
projections_cli = commands("The read models.")
cli.add_typer(projections_cli, name="projections")
audit_cli = commands("A verifiable log: hash chains, signed checkpoints, proofs.")
cli.add_typer(audit_cli, name="audit")
DEMO_FILE = "demo.json"


@functools.cache
def _console() -> Console:
    """Messages go to stderr, through rich; imported on first use, so a command that
    prints nothing (`--help`, `status --ready`) never pays for it."""
    from rich.console import Console

    return Console(stderr=True)


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def _progress() -> Progress:
    """Long work (seeding, rebuilding) shows how far it got, on stderr."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress("[progress.description]{task.description}", BarColumn(),
                    MofNCompleteColumn(), TimeElapsedColumn(), console=_console())


def _fail(message: str) -> None:
    """One line (never wrapped), the message printed as is (never read as markup)."""
    _console().print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(1)


def _database(settings: Settings) -> Database:
    from careledger.infra.database import database
    from careledger.infra.embedded_pg import EmbeddedUnavailable

    try:
        return database(settings)
    except EmbeddedUnavailable as e:
        _fail(str(e))
        raise
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
    _console().print("[green]schema is up to date[/green]")


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
    _console().print(f"[green]seeded[/green] {patients} patients with {network.commands} commands")
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
    from careledger.infra import bootstrap, telemetry

    settings = Settings.from_env()
    telemetry.configure("relay", console=settings.trace_console)
    db = _database(settings)
    servers = _bootstrap(settings)
    stop = _stop_on_signals()
    app = bootstrap.application_when_reachable(db, settings, wait_s=float("inf"), stop=stop)
    publisher = Relay(app, bootstrap=servers, topic=settings.events_topic)
    if from_position is not None:
        publisher.rewind(from_position)
    _console().print(f"relay: publishing from position {publisher.position()} "
                  f"to {settings.events_topic} at {servers}")
    publisher.run(stop, on_batch=lambda n, at: _console().print(
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
    from careledger.infra import telemetry

    settings = Settings.from_env()
    telemetry.configure("consumers", console=settings.trace_console)
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
    _console().print(f"consume: group careledger-{group} on {settings.events_topic} at {servers}")
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
    _console().print(f"[green]views rebuilt[/green] from {result.events} events up to position "
                  f"{result.position}; live generation is now {result.new_schema}"
                  + (f" ({result.old_schema} kept)" if keep_old else
                     f" ({result.old_schema} dropped)"))


#: `audit verify` exits with this when the log differs (1 is for errors, 2 for usage).
LOG_DIFFERS = 3


def _audit_connection(settings: Settings) -> psycopg.Connection[object]:
    """The application's role: the audit reads the log and adds checkpoints, nothing more."""
    import psycopg

    db = _database(settings)
    try:
        return psycopg.connect(db.app_url, autocommit=True)
    except psycopg.OperationalError as e:
        _fail(f"PostgreSQL refused the application's role ({str(e).splitlines()[0][:200]}); "
              "run `careledger migrate` and check CARELEDGER_APP_DB_PASSWORD")
        raise


def _public_keys(settings: Settings, paths: list[Path] | None) -> list[Ed25519PublicKey]:
    from careledger.audit import keys
    from careledger.audit.check import ProofError, load_public_key
    from careledger.audit.errors import AuditError

    try:
        if paths:
            return [load_public_key(path.read_bytes()) for path in paths]
        if settings.audit_key_path.exists():
            return [keys.load_private_key(settings.audit_key_path).public_key()]
    except (OSError, ProofError, AuditError) as e:
        _fail(f"cannot read a public key ({e}); pass Ed25519 PEM files to --public-key")
    return []


def _exported_checkpoints(paths: list[Path]) -> list[SignedCheckpoint]:
    from careledger.audit.check import ProofError, SignedCheckpoint

    found: list[SignedCheckpoint] = []
    for path in paths:
        try:
            body = json.loads(path.read_bytes())
            found += [SignedCheckpoint.from_json(c)
                      for c in (body if isinstance(body, list) else [body])]
        except (OSError, ValueError, ProofError) as e:
            _fail(f"cannot read the checkpoints in {path} ({e}); pass the JSON that "
                  "`careledger audit checkpoints` printed")
    return found


@audit_cli.command("verify")
def audit_verify(
    from_checkpoint: Annotated[bool, typer.Option(
        "--from-checkpoint", help="Re-hash content only after the latest checkpoint "
        "(signatures, roots and chain links are still checked throughout).")] = False,
    public_key: Annotated[list[Path] | None, typer.Option(
        help="A PEM public key that signed checkpoints; repeat for rotated keys. "
        "Default: the public half of the audit key.")] = None,
    checkpoints: Annotated[list[Path] | None, typer.Option(
        help="Checkpoints kept outside the database (JSON of `audit checkpoints` or "
        "`audit checkpoint`), verified like the stored ones; repeatable.")] = None,
) -> None:
    """Recompute every hash chain (the event log's and the access log's) and every
    checkpoint's root and signature.

    Prints a summary line for each log and exits 0, or names the first place where one
    differs and exits 3.
    """
    from careledger.audit.access_chain import verify_access_log
    from careledger.audit.errors import AuditError
    from careledger.audit.findings import Kind
    from careledger.audit.verify import verify

    settings = Settings.from_env()
    public_keys = _public_keys(settings, public_key)
    exported = _exported_checkpoints(checkpoints or [])
    try:
        with _audit_connection(settings) as conn, _progress() as bar:
            task = bar.add_task("verifying the log (positions)", total=None)
            report = verify(conn, public_keys, incremental=from_checkpoint, exported=exported,
                            progress=lambda at, upto: bar.update(task, completed=at,
                                                                 total=upto))
            reads = bar.add_task("verifying the access log (reads)", total=None)
            access = verify_access_log(conn, progress=lambda done, rows: bar.update(
                reads, completed=done, total=rows))
    except AuditError as e:
        _fail(str(e))
        return
    finding = report.first
    if finding is None and not access.findings:
        print(report.summary())
        print(access.summary())
        return
    incident = ("; treat it as an incident: keep this output, and restore from the backup "
                "your exported checkpoints vouch for")
    if finding is not None:
        next_step = "" if finding.kind is Kind.UNKNOWN_KEY else incident
        _console().print(f"[red]verification failed at {escape(finding.line())}[/red]{next_step}",
                      soft_wrap=True)
    else:
        _console().print(f"[red]verification failed at {escape(access.findings[0].line())}"
                      "[/red]; treat it as an incident: keep this output, and compare the "
                      "access log with a backup taken before that row", soft_wrap=True)
    raise typer.Exit(LOG_DIFFERS)


@audit_cli.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign and store a checkpoint at the log horizon; print it as JSON to keep elsewhere."""
    from careledger.audit import checkpoints, keys
    from careledger.audit.errors import AuditError
    from careledger.infra import bootstrap

    settings = Settings.from_env()
    bootstrap.run_migrations(_database(settings))
    try:
        key = keys.load_or_create(settings.audit_key_path)
        with _audit_connection(settings) as conn, _progress() as bar:
            task = bar.add_task("hashing the log's leaves (positions)", total=None)
            checkpoint = checkpoints.create(conn, key, progress=lambda at, upto: bar.update(
                task, completed=at, total=upto))
    except AuditError as e:
        _fail(str(e))
        return
    print(json.dumps(checkpoint.to_json()))
    _console().print(f"checkpoint #{checkpoint.id} signed: {checkpoint.leaf_count} events up to "
                  f"position {checkpoint.position}, key {checkpoint.key_id}", soft_wrap=True)


@audit_cli.command("checkpoints")
def audit_checkpoints() -> None:
    """Every stored checkpoint, as a JSON array, oldest first."""
    from careledger.audit import checkpoints
    from careledger.audit.errors import AuditError

    settings = Settings.from_env()
    try:
        with _audit_connection(settings) as conn:
            stored = checkpoints.load(conn)
    except AuditError as e:
        _fail(str(e))
        return
    print(json.dumps([c.to_json() for c in stored], indent=2))


@audit_cli.command("prove")
def audit_prove(
    position: Annotated[int, typer.Option(help="The event's log position.")],
    checkpoint: Annotated[int | None, typer.Option(
        help="The checkpoint to prove against (default: the latest).")] = None,
) -> None:
    """Print the inclusion proof of one event (JSON, no event content)."""
    from careledger.audit.errors import AuditError
    from careledger.audit.proof import prove

    settings = Settings.from_env()
    try:
        with _audit_connection(settings) as conn:
            proof = prove(conn, position, checkpoint)
    except AuditError as e:
        _fail(str(e))
        return
    print(json.dumps(proof, indent=2))


@audit_cli.command("check-proof")
def audit_check_proof(
    proof: Annotated[Path, typer.Argument(help="The proof JSON (`careledger audit prove`).")],
    public_key: Annotated[Path, typer.Option(help="The signer's PEM public key.")],
) -> None:
    """Check a proof with nothing but the public key (what `careledger/audit/check.py`,
    run on its own, does for an outside auditor). Exits 0 verified, 1 rejected."""
    from careledger.audit import check

    code = check.main([str(proof), "--public-key", str(public_key)])
    if code:
        raise typer.Exit(code)


@audit_cli.command("public-key")
def audit_public_key() -> None:
    """Print the audit key's public half (PEM), creating the key on first use."""
    from careledger.audit import keys
    from careledger.audit.errors import AuditError

    try:
        key = keys.load_or_create(Settings.from_env().audit_key_path)
    except AuditError as e:
        _fail(str(e))
        return
    sys.stdout.write(keys.public_key_pem(key.public_key()).decode())


def _moment(text: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        _fail(f"{option} is not a moment: give ISO 8601 with a zone, e.g. "
              "2026-03-02T09:00:00+00:00")
        raise
    if moment.tzinfo is None:
        _fail(f"{option} needs a time zone, e.g. 2026-03-02T09:00:00+00:00 or ...Z")
    return moment


#: Who a command-line read of patient data is logged under. A command line holds the
#: database password but no token: the operator names themself, else their account.
AsOperator = Annotated[str | None, typer.Option(
    "--as", help="Your id (a UUID), which the access log names for this read; default: "
    "one derived from this account and host.")]


def _operator(text: str | None) -> UUID:
    from careledger.audit.disclosures import operator

    if text is None:
        return operator()
    try:
        return UUID(text)
    except ValueError:
        _fail("--as is your id, a UUID")
        raise


def _patient(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        _fail("--patient is not a patient id (a UUID)")
        raise


@audit_cli.command("replay")
def audit_replay(
    as_of: Annotated[str, typer.Option("--as-of", help="Transaction time, ISO 8601 with zone.")],
    schema: Annotated[str | None, typer.Option(
        help="Schema to replay into (default careledger_asof_<moment>).")] = None,
    replace: Annotated[bool, typer.Option(help="Drop that schema first if it exists.")] = False,
) -> None:
    """Rebuild every view as it stood at a moment, beside the live ones (never over them)."""
    from careledger.audit.as_of import AsOfError, replay_as_of
    from careledger.infra import bootstrap

    moment = _moment(as_of, "--as-of")
    settings = Settings.from_env()
    db = _database(settings)
    app = bootstrap.application(db, settings)
    try:
        head = app.recorder.horizon()  # type: ignore[attr-defined]
        with _progress() as bar:
            task = bar.add_task("replaying the log as of " + moment.isoformat(), total=head)
            result = replay_as_of(app, db, moment, schema=schema, replace=replace,
                                  progress=lambda _n, at: bar.update(task, completed=at))
    except AsOfError as e:
        _fail(str(e))
    finally:
        app.close()
    _console().print(f"[green]views as of {moment.isoformat()}[/green] in schema {result.schema}:"
                  f" {result.events} events up to position {result.position}")


@audit_cli.command("diff")
def audit_diff(
    patient: Annotated[str, typer.Option(help="The patient's id.")],
    since: Annotated[str, typer.Option("--from", help="First moment, ISO 8601 with zone.")],
    until: Annotated[str, typer.Option("--to", help="Second moment, ISO 8601 with zone.")],
    output: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    operator: AsOperator = None,
) -> None:
    """What changed in a patient's record between two moments, and who changed it."""
    import psycopg

    from careledger.audit.as_of import AsOfError, diff_patient
    from careledger.infra import bootstrap

    if output not in ("text", "json"):
        _fail("--format is text or json")
    patient_id, first, second = _patient(patient), _moment(since, "--from"), _moment(until, "--to")
    settings = Settings.from_env()
    db = _database(settings)
    app = bootstrap.application(db, settings)
    try:
        with psycopg.connect(db.app_url, autocommit=True) as conn:  # a read of the record
            conn.execute("SELECT careledger.log_access(%s, 'auditor', %s, 'cli:audit:diff',"
                         " true, 'auditor', NULL)", (_operator(operator), patient_id))
        diff = diff_patient(app, db, patient_id, first, second)
    except AsOfError as e:
        _fail(str(e))
    finally:
        app.close()
    if output == "json":
        print(json.dumps(asdict(diff), default=str, indent=2))
        return
    _console().print(f"{len(diff.events)} events recorded between {first.isoformat()} and "
                  f"{second.isoformat()}:", soft_wrap=True, markup=False)
    for event in diff.events:
        happened = event.occurred_at.isoformat() if event.occurred_at else "?"
        _console().print(f"  {event.recorded_at.isoformat()}  {event.kind:34s} by "
                      f"{event.actor or '?'}  (happened {happened}, position {event.position})",
                      soft_wrap=True, markup=False)
    _console().print(f"{len(diff.rows)} rows of the patient's views changed:", markup=False)
    for c in diff.rows:
        changed = (sorted(k for k in (c.after or {}) if (c.before or {}).get(k) != c.after[k])
                   if c.before and c.after else [])
        _console().print(f"  {c.table:18s} {c.change}" + (f": {', '.join(changed)}" if changed
                                                        else ""), soft_wrap=True, markup=False)


@audit_cli.command("disclosures")
def audit_disclosures(
    patient: Annotated[str, typer.Option(help="The patient's id.")],
    output: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    since: Annotated[str | None, typer.Option(help="From this moment (ISO 8601, zone).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this moment.")] = None,
    operator: AsOperator = None,
) -> None:
    """Every access to one patient's record (an accounting of disclosures), oldest first."""
    from careledger.audit.disclosures import as_csv, as_json, disclosures

    if output not in ("csv", "json"):
        _fail("--format is csv or json")
    patient_id = _patient(patient)
    first = _moment(since, "--since") if since else None
    last = _moment(until, "--until") if until else None
    with _audit_connection(Settings.from_env()) as conn:
        entries = disclosures(conn, patient_id, since=first, until=last,
                              asked_by=_operator(operator))
    sys.stdout.write(as_csv(entries) if output == "csv" else as_json(entries) + "\n")


#: The parts `status --ready` can answer for, and whether each needs the broker.
PARTS = {"api": False, "relay": True, "consume": True}


@cli.command()
def status(
    ready: Annotated[str | None, typer.Option(
        help="api, relay or consume: exit 0 only if that part can work now "
        "(PostgreSQL reachable; for relay and consume, the broker too).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The figures as JSON.")] = False,
) -> None:
    """The log's head, the relay's lag, each consumer partition's lag and freshness."""
    import psycopg

    from careledger.infra.database import database

    if ready is not None and ready not in PARTS:
        _fail("--ready is one of: " + ", ".join(PARTS))
    settings = Settings.from_env()
    try:
        db = database(settings, start_embedded=False)
        conn = psycopg.connect(db.app_url, autocommit=True, connect_timeout=3)
    except Exception as e:
        _fail(f"PostgreSQL is unreachable ({type(e).__name__}); start it (`careledger up`) "
              "or check CARELEDGER_DATABASE_URL")
        raise
    servers = broker_address(settings)
    if ready is not None:  # a healthcheck, every few seconds: nothing more than this
        conn.close()
        if PARTS[ready] and (servers is None or not _broker_reachable(servers)):
            _fail(f"{ready} is not ready: the broker at {servers or '(none configured)'} does "
                  "not answer; check CARELEDGER_KAFKA_BOOTSTRAP")
        print(f"{ready} ready", file=sys.stderr)
        return
    from careledger.infra.health import high_watermarks, read_status

    marks: dict[tuple[str, int], int] = {}
    if servers is not None:
        try:
            marks = high_watermarks(servers, settings.events_topic)
        except Exception:
            _console().print(f"[yellow]the broker at {servers} does not answer: partition "
                             "lag unknown[/yellow]")
    with conn:
        figures = read_status(conn, high_watermarks=marks)
    if as_json:
        print(json.dumps(figures.as_json(), default=str, indent=2))
        return
    out = _console()
    recorded = (f", recorded {figures.head_recorded_at:%Y-%m-%d %H:%M:%S%z}"
                if figures.head_recorded_at else "")
    out.print(f"log head        position {figures.head}{recorded}")
    out.print(f"relay           position {figures.relay_position}, {figures.relay_behind}"
              f" behind, oldest waiting {figures.relay_lag_s:.1f} s")
    out.print(f"views           {figures.views}, {figures.dead_letters} dead letters")
    for u in figures.unknown_kinds:
        out.print(f"[yellow]  {escape(u.kind)}: {u.events} events this version does not "
                  f"know (positions {u.first_position} to {u.last_position}, {u.consumer}), "
                  "not applied: upgrade the consumers, then `careledger projections rebuild`"
                  "[/yellow]", soft_wrap=True, highlight=False)
    for p in figures.partitions:
        behind = "?" if p.behind is None else str(p.behind)
        fresh = "?" if p.freshness_ms is None else f"{p.freshness_ms:.0f} ms"
        out.print(f"  {p.consumer} {p.topic}/{p.partition}: position {p.position}, "
                  f"{behind} messages behind, last applied {fresh} after commit",
                  soft_wrap=True)


def _broker_reachable(servers: str) -> bool:
    from careledger.infra.health import broker_reachable

    return broker_reachable(servers)


@cli.command()
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
    from careledger.infra import bootstrap, embedded_pg

    settings = Settings.from_env()
    if fresh:
        if settings.database_url is not None:
            _fail("--fresh deletes the embedded server's data folder; with "
                  "CARELEDGER_DATABASE_URL set, drop and recreate that database yourself")
        if settings.data_dir.exists():
            embedded_pg.EmbeddedPostgres(settings.data_dir, 0, "").stop("immediate")
            shutil.rmtree(settings.data_dir)
        settings = Settings.from_env()
    db = _database(settings)
    bootstrap.run_migrations(db)
    demo_path = settings.data_dir / DEMO_FILE
    if demo and not demo_path.exists():
        _seed_demo(settings, patients)
    from careledger.infra.embedded_broker import EmbeddedBroker

    stop = _stop_on_signals()
    broker = EmbeddedBroker(settings.data_dir / "broker") if not settings.kafka_bootstrap \
        else None
    parts: dict[str, subprocess.Popen[bytes]] = {}
    try:
        if broker is not None:
            try:
                broker.start()
            except RuntimeError as e:
                _fail(str(e))
            settings = replace(settings, kafka_bootstrap=broker.bootstrap)
            noted = settings.data_dir / BROKER_ADDRESS_FILE  # for `careledger status`
            noted.parent.mkdir(parents=True, exist_ok=True)
            noted.write_text(broker.bootstrap)
        servers = _bootstrap(settings)
        # GraphiQL (Django's debug mode) only where no one else can reach it.
        graphiql = settings.debug or (demo and "CARELEDGER_DEBUG" not in os.environ
                                      and settings.http_host in LOOPBACK)
        # Each part is its own process and session: `up` supervises; Ctrl-C reaches only it.
        env = {**os.environ, "CARELEDGER_KAFKA_BOOTSTRAP": servers,
               "CARELEDGER_DATA_DIR": str(settings.data_dir),
               **({"CARELEDGER_DEBUG": "1"} if graphiql else {})}
        api_workers = os.environ.get("CARELEDGER_WORKERS", "2")
        commands = {"API": ["serve", "--workers", api_workers, "--threads", "8"],
                    "relay": ["relay"], "consumers": ["consume"]}
        _console().print("starting the API, the relay and the consumers")
        for name, args in commands.items():
            parts[name] = subprocess.Popen([sys.executable, "-m", "careledger.infra.cli", *args],
                                           env=env, start_new_session=True)
        host = "127.0.0.1" if settings.http_host in ("0.0.0.0", "::") else settings.http_host
        base = f"http://{host}:{settings.http_port}"
        if _wait_until_ready(base, db, settings, parts, stop):
            network = json.loads(demo_path.read_text()) if demo_path.exists() else None
            from careledger.infra.demo import banner as demo_banner

            print(demo_banner(
                base=base, graphiql=graphiql, network=network,
                token_secret=settings.token_secret,
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
        _fail("an earlier demo seeding was interrupted, so the data holds part of a demo "
              "network; `careledger up --demo --fresh` starts over")
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    _seed(settings, patients=patients, seed_value=7)
    marker.unlink()


def _ended(parts: dict[str, subprocess.Popen[bytes]]) -> bool:
    ended = [name for name, part in parts.items() if part.poll() is not None]
    if ended:
        _console().print(f"[red]error:[/red] the {', '.join(ended)} stopped; stopping the rest "
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
    with _console().status("waiting for the API and for the views to catch up with the log"):
        while not (api and views):
            if stop.is_set() or _ended(parts):
                return False
            if time.monotonic() > deadline:
                _console().print(f"[yellow]after {READY_TIMEOUT_S} s the "
                              f"{'views are' if api else 'API is'} still not ready: reads may "
                              "answer 'not found' until they are ([bold]careledger status"
                              "[/bold] shows the lag)[/yellow]")
                return True
            try:
                if not api:
                    with urllib.request.urlopen(f"{base}/health/ready", timeout=2):
                        api = True
                if not views:
                    with psycopg.connect(db.app_url, autocommit=True,
                                         connect_timeout=3) as conn:
                        views = caught_up(conn, settings.kafka_bootstrap,
                                          settings.events_topic)
            except Exception:  # not up yet: the next round asks again
                pass
            stop.wait(0.3)
    return True


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
        (settings.data_dir / BROKER_ADDRESS_FILE).unlink(missing_ok=True)
    if settings.database_url is None:
        embedded_pg.EmbeddedPostgres(settings.data_dir, 0, "").stop()


export_cli = commands("Exports of a patient's record.")
cli.add_typer(export_cli, name="export")


@export_cli.command("fhir")
def export_fhir(
    patient: Annotated[str, typer.Option(help="The patient's id.")],
    operator: AsOperator = None,
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

    patient_id, operator_id = _patient(patient), _operator(operator)
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
    parsed = json.loads(bundle)
    text = json.dumps(parsed, indent=2, ensure_ascii=False)
    if output is None:
        print(text)
        return
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")
    _console().print(f"[green]wrote[/green] {len(parsed.get('entry', []))} resources of patient "
                  f"{patient_id} to {output}")


def main() -> None:
    try:
        cli()
    finally:
        # What the imports built lives until the process ends: leave it to the exit rather
        # than a last collection over every object (measured: 0.1 to 0.2 s of each run).
        gc.freeze()


if __name__ == "__main__":
    main()
