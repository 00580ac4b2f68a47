"""`careledger backup` and `careledger restore`: the record to a file and back, with the
audit's word on what came back."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from careledger.main.cli.common import (
    commands,
    console,
    fail,
    open_database,
    progress,
    read_settings,
)

backups = commands("Backups of the record.")


@backups.command()
def backup(
    output: Annotated[Path | None, typer.Option(
        help="The file to write (default: backups/careledger-<UTC time>.dump in the data "
        "folder).")] = None,
) -> None:
    """A consistent copy of the event log, the access log and the checkpoints (pg_dump)."""
    from careledger.infra.backup import BackupError
    from careledger.infra.backup import backup as dump

    settings = read_settings()
    db = open_database(settings)
    target = output or settings.data_dir / "backups" / (
        f"careledger-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.dump")
    try:
        with console().status("writing the backup"):
            held = dump(db.admin_url, target)
    except BackupError as e:
        fail(str(e))
        return
    console().print(
        f"[green]backed up[/green] the log up to position {held.position} ({held.events} "
        f"events, {held.checkpoints} signed checkpoints, {held.reads} logged reads) to "
        f"{target}; keep it with the checkpoints `careledger audit checkpoints` prints",
        soft_wrap=True)


@backups.command()
def restore(
    source: Annotated[Path, typer.Argument(help="A file `careledger backup` wrote.")],
    checkpoints: Annotated[list[Path] | None, typer.Option(
        help="Checkpoints kept outside the database (JSON of `audit checkpoints`): the "
        "restored log is verified against them; repeatable.")] = None,
    public_key: Annotated[list[Path] | None, typer.Option(
        help="A PEM public key that signed checkpoints; repeat for rotated keys. "
        "Default: the public half of the audit key.")] = None,
) -> None:
    """Restore a backup into an empty database, migrate it, replay the views, verify it."""
    from careledger.audit.errors import AuditError
    from careledger.audit.verify import verify
    from careledger.consumers.collector import set_for_batches
    from careledger.consumers.rebuild import rebuild
    from careledger.infra.backup import BackupError
    from careledger.infra.backup import restore as load
    from careledger.main import bootstrap
    from careledger.main.cli.audit import exported_checkpoints, public_keys_from
    from careledger.main.cli.common import audit_connection

    settings = read_settings()
    exported = exported_checkpoints(checkpoints or [])
    db = open_database(settings)
    try:
        with console().status("restoring the record"):
            back = load(db.admin_url, source)
    except BackupError as e:
        fail(str(e))
        return
    bootstrap.run_migrations(db)
    app = bootstrap.application(db, settings)
    set_for_batches()
    try:
        with progress() as bar:
            task = bar.add_task("replaying the log into the views", total=None)
            rebuild(app, db, progress=lambda _n, at, head: bar.update(
                task, completed=at, total=head))
    finally:
        app.close()
    console().print(f"[green]restored[/green] the log up to position {back.position} "
                    f"({back.events} events, {back.checkpoints} signed checkpoints, "
                    f"{back.reads} logged reads); the views replayed from it", soft_wrap=True)
    beyond = [c for c in exported if c.position > back.position]
    for c in beyond:
        console().print(
            f"[yellow]checkpoint #{c.id} (position {c.position}, signed "
            f"{c.created_at}) is beyond this backup: the events it vouches for "
            f"after position {back.position} are not in it; restore a later backup, if there "
            "is one[/yellow]", soft_wrap=True, highlight=False)
    reached = [c for c in exported if c.position <= back.position]
    try:
        with audit_connection(settings) as conn:
            report = verify(conn, public_keys_from(settings, public_key), exported=reached)
    except AuditError as e:
        fail(str(e))
        return
    if report.first is not None:
        console().print(f"[red]the restored log differs at {report.first.line()}[/red]; "
                        "do not serve it: restore another backup", soft_wrap=True)
        raise typer.Exit(3)
    print(report.summary())
