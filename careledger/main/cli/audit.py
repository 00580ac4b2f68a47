"""`careledger audit`: verify the logs, sign checkpoints, prove, replay, diff, disclose."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from careledger.main.cli.common import (
    AsOperator,
    audit_connection,
    commands,
    console,
    escape,
    fail,
    open_database,
    parse_moment,
    parse_operator,
    parse_patient,
    progress,
    read_settings,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from careledger.audit.check import SignedCheckpoint
    from careledger.infra.settings import Settings

audit_cli = commands("A verifiable log: hash chains, signed checkpoints, proofs.")

#: `audit verify` exits with this when the log differs (1 is for errors, 2 for usage).
LOG_DIFFERS = 3


def public_keys_from(settings: Settings, paths: list[Path] | None) -> list[Ed25519PublicKey]:
    from careledger.audit import keys
    from careledger.audit.check import ProofError, load_public_key
    from careledger.audit.errors import AuditError

    try:
        if paths:
            return [load_public_key(path.read_bytes()) for path in paths]
        if settings.audit_key_path.exists():
            return [keys.load_private_key(settings.audit_key_path).public_key()]
    except (OSError, ProofError, AuditError) as e:
        fail(f"cannot read a public key ({e}); pass Ed25519 PEM files to --public-key")
    return []


def exported_checkpoints(paths: list[Path]) -> list[SignedCheckpoint]:
    from careledger.audit.check import ProofError, SignedCheckpoint

    found: list[SignedCheckpoint] = []
    for path in paths:
        try:
            body = json.loads(path.read_bytes())
            found += [SignedCheckpoint.from_json(c)
                      for c in (body if isinstance(body, list) else [body])]
        except (OSError, ValueError, ProofError) as e:
            fail(f"cannot read the checkpoints in {path} ({e}); pass the JSON that "
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

    settings = read_settings()
    public_keys = public_keys_from(settings, public_key)
    exported = exported_checkpoints(checkpoints or [])
    try:
        with audit_connection(settings) as conn, progress() as bar:
            task = bar.add_task("verifying the log (positions)", total=None)
            report = verify(conn, public_keys, incremental=from_checkpoint, exported=exported,
                            progress=lambda at, upto: bar.update(task, completed=at,
                                                                 total=upto))
            reads = bar.add_task("verifying the access log (reads)", total=None)
            access = verify_access_log(conn, progress=lambda done, rows: bar.update(
                reads, completed=done, total=rows))
    except AuditError as e:
        fail(str(e))
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
        console().print(f"[red]verification failed at {escape(finding.line())}[/red]{next_step}",
                        soft_wrap=True)
    else:
        console().print(f"[red]verification failed at {escape(access.findings[0].line())}"
                        "[/red]; treat it as an incident: keep this output, and compare the "
                        "access log with a backup taken before that row", soft_wrap=True)
    raise typer.Exit(LOG_DIFFERS)


@audit_cli.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign and store a checkpoint at the log horizon; print it as JSON to keep elsewhere."""
    from careledger.audit import checkpoints, keys
    from careledger.audit.errors import AuditError
    from careledger.main import bootstrap

    settings = read_settings()
    bootstrap.run_migrations(open_database(settings))
    try:
        key = keys.load_or_create(settings.audit_key_path)
        with audit_connection(settings) as conn, progress() as bar:
            task = bar.add_task("hashing the log's leaves (positions)", total=None)
            checkpoint = checkpoints.create(conn, key, progress=lambda at, upto: bar.update(
                task, completed=at, total=upto))
    except AuditError as e:
        fail(str(e))
        return
    print(json.dumps(checkpoint.to_json()))
    console().print(f"checkpoint #{checkpoint.id} signed: {checkpoint.leaf_count} events up to "
                    f"position {checkpoint.position}, key {checkpoint.key_id}", soft_wrap=True)


@audit_cli.command("checkpoints")
def audit_checkpoints() -> None:
    """Every stored checkpoint, as a JSON array, oldest first."""
    from careledger.audit import checkpoints
    from careledger.audit.errors import AuditError

    settings = read_settings()
    try:
        with audit_connection(settings) as conn:
            stored = checkpoints.load(conn)
    except AuditError as e:
        fail(str(e))
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

    settings = read_settings()
    try:
        with audit_connection(settings) as conn:
            proof = prove(conn, position, checkpoint)
    except AuditError as e:
        fail(str(e))
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
        key = keys.load_or_create(read_settings().audit_key_path)
    except AuditError as e:
        fail(str(e))
        return
    sys.stdout.write(keys.public_key_pem(key.public_key()).decode())


@audit_cli.command("replay")
def audit_replay(
    as_of: Annotated[str, typer.Option("--as-of", help="Transaction time, ISO 8601 with zone.")],
    schema: Annotated[str | None, typer.Option(
        help="Schema to replay into (default careledger_asof_<moment>).")] = None,
    replace: Annotated[bool, typer.Option(help="Drop that schema first if it exists.")] = False,
) -> None:
    """Rebuild every view as it stood at a moment, beside the live ones (never over them)."""
    from careledger.audit.as_of import AsOfError, replay_as_of
    from careledger.consumers.collector import set_for_batches
    from careledger.main import bootstrap

    moment = parse_moment(as_of, "--as-of")
    settings = read_settings()
    db = open_database(settings)
    app = bootstrap.application(db, settings)
    set_for_batches()
    try:
        head = app.recorder.horizon()  # type: ignore[attr-defined]
        with progress() as bar:
            task = bar.add_task("replaying the log as of " + moment.isoformat(), total=head)
            result = replay_as_of(app, db, moment, schema=schema, replace=replace,
                                  progress=lambda _n, at: bar.update(task, completed=at))
    except AsOfError as e:
        fail(str(e))
    finally:
        app.close()
    console().print(f"[green]views as of {moment.isoformat()}[/green] in schema {result.schema}:"
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
    from careledger.main import bootstrap

    if output not in ("text", "json"):
        fail("--format is text or json")
    patient_id = parse_patient(patient)
    first, second = parse_moment(since, "--from"), parse_moment(until, "--to")
    settings = read_settings()
    db = open_database(settings)
    app = bootstrap.application(db, settings)
    try:
        with psycopg.connect(db.app_url, autocommit=True) as conn:  # a read of the record
            conn.execute("SELECT careledger.log_access(%s, 'auditor', %s, 'cli:audit:diff',"
                         " true, 'auditor', NULL)", (parse_operator(operator), patient_id))
        diff = diff_patient(app, db, patient_id, first, second)
    except AsOfError as e:
        fail(str(e))
    finally:
        app.close()
    if output == "json":
        print(json.dumps(asdict(diff), default=str, indent=2))
        return
    console().print(f"{len(diff.events)} events recorded between {first.isoformat()} and "
                    f"{second.isoformat()}:", soft_wrap=True, markup=False)
    for event in diff.events:
        happened = event.occurred_at.isoformat() if event.occurred_at else "?"
        console().print(f"  {event.recorded_at.isoformat()}  {event.kind:34s} by "
                        f"{event.actor or '?'}  (happened {happened}, position {event.position})",
                        soft_wrap=True, markup=False)
    console().print(f"{len(diff.rows)} rows of the patient's views changed:", markup=False)
    for c in diff.rows:
        changed = (sorted(k for k in (c.after or {}) if (c.before or {}).get(k) != c.after[k])
                   if c.before and c.after else [])
        console().print(f"  {c.table:18s} {c.change}" + (f": {', '.join(changed)}" if changed
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
        fail("--format is csv or json")
    patient_id = parse_patient(patient)
    first = parse_moment(since, "--since") if since else None
    last = parse_moment(until, "--until") if until else None
    with audit_connection(read_settings()) as conn:
        entries = disclosures(conn, patient_id, since=first, until=last,
                              asked_by=parse_operator(operator))
    sys.stdout.write(as_csv(entries) if output == "csv" else as_json(entries) + "\n")
