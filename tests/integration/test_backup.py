"""The restore drill, end to end through the command line: back up, keep the checkpoints
elsewhere, restore into an empty database, and the audit proves nothing was lost or
changed; an older backup is told which checkpoints it no longer reaches."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import psycopg
from typer.testing import CliRunner, Result

from careledger.access.tokens import TokenService
from careledger.audit import checkpoints, keys
from careledger.domain.catalogue import record_of
from careledger.domain.patient import Patient
from careledger.domain.referral import Referral
from careledger.infra.settings import Settings
from careledger.main import bootstrap
from careledger.main.cli import LOG_DIFFERS, cli
from careledger.projections import live_generation
from tests.helpers.databases import empty_database
from tests.helpers.network import build_network, open_episode


def run(settings: Settings, database: bootstrap.Database, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={
        "CARELEDGER_DATABASE_URL": database.admin_url,
        "CARELEDGER_APP_DB_PASSWORD": settings.app_db_password,
        "CARELEDGER_TOKEN_SECRET": settings.token_secret,
        "CARELEDGER_DATA_DIR": str(settings.data_dir)})


def checkpoint(settings: Settings, database: bootstrap.Database, into: Path) -> int:
    """Sign a checkpoint and keep it outside the database, as an auditor would."""
    key = keys.load_or_create(settings.audit_key_path)
    with psycopg.connect(database.app_url, autocommit=True) as conn:
        signed = checkpoints.create(conn, key)
    into.write_text(json.dumps([signed.to_json()]))
    return signed.id


def counts(database: bootstrap.Database) -> tuple[int, int, int]:
    with psycopg.connect(database.admin_url) as conn:
        views, _ = live_generation(conn)
        row = conn.execute(
            "SELECT (SELECT count(*) FROM careledger.careledger_events),"
            " (SELECT count(*) FROM careledger.access_log),"
            f" (SELECT count(*) FROM {views}.timeline)").fetchone()
    assert row is not None
    return row


def test_a_backup_restored_into_an_empty_database_verifies_and_an_older_one_says_what_it_lacks(
    settings: Settings, db: bootstrap.Database, tokens: TokenService, tmp_path: Path,
) -> None:
    with empty_database(settings, db) as source:
        bootstrap.run_migrations(source)
        app = bootstrap.application(source, settings)
        try:
            network = build_network(app, tokens)
            for _ in range(3):
                open_episode(app, network, accept=True)
        finally:
            app.close()
        with psycopg.connect(source.app_url, autocommit=True) as conn:
            conn.execute("SELECT careledger.log_access(%s, 'physician', %s, 'patient:timeline',"
                         " true, 'care_team', NULL)", (uuid.uuid4(), network.patient))
        first = checkpoint(settings, source, tmp_path / "first.json")
        dump = tmp_path / "backups" / "monday.dump"
        backed = run(settings, source, "backup", "--output", str(dump))
        assert backed.exit_code == 0, backed.output
        assert "backed up the log up to position" in backed.output
        assert dump.stat().st_mode & 0o077 == 0, "a backup holds patient data: owner only"
        held = counts(source)

        # Care goes on after the backup, and a later checkpoint vouches for it.
        app = bootstrap.application(source, settings)
        try:
            open_episode(app, network, accept=True)
        finally:
            app.close()
        later = checkpoint(settings, source, tmp_path / "later.json")

        with empty_database(settings, db) as target:
            restored = run(settings, target, "restore", str(dump),
                           "--checkpoints", str(tmp_path / "first.json"))
            assert restored.exit_code == 0, restored.output
            assert "restored the log up to position" in restored.output
            assert "verified:" in restored.output and "beyond" not in restored.output
            events, reads, _ = counts(target)
            assert (events, reads) == held[:2]
            # The views were replayed from the restored log: every patient event is there.
            with psycopg.connect(target.admin_url) as conn:
                topics = [t for (t,) in conn.execute(
                    "SELECT topic FROM careledger.careledger_events").fetchall()]
            patient_events = sum(1 for t in topics if record_of(t) in (Patient, Referral))
            assert counts(target)[2] == patient_events > 0
            verified = run(settings, target, "audit", "verify",
                           "--checkpoints", str(tmp_path / "first.json"))
            assert verified.exit_code == 0, verified.output
            assert f"verified: {events} events" in verified.output

            # Restoring over a log is refused, and the log stays as it was.
            again = run(settings, target, "restore", str(dump))
            assert again.exit_code == 1
            assert "already holds an event log" in again.output
            assert len(again.output.strip().splitlines()) == 1
            assert counts(target)[:2] == held[:2]

        # Monday's backup, restored after the later checkpoint: it is told what it lacks.
        with empty_database(settings, db) as older:
            told = run(settings, older, "restore", str(dump), "--checkpoints",
                       str(tmp_path / "first.json"), "--checkpoints",
                       str(tmp_path / "later.json"))
            assert told.exit_code == 0, told.output
            lines = [line for line in told.output.splitlines() if "beyond this backup" in line]
            assert len(lines) == 1 and f"checkpoint #{later} " in lines[0], told.output
            assert f"checkpoint #{first} " not in told.output
            lost = run(settings, older, "audit", "verify",
                       "--checkpoints", str(tmp_path / "later.json"))
            assert lost.exit_code == LOG_DIFFERS, lost.output


def test_a_missing_backup_file_is_one_line(settings: Settings, db: bootstrap.Database,
                                           tmp_path: Path) -> None:
    with empty_database(settings, db) as target:
        missing = run(settings, target, "restore", str(tmp_path / "nothing.dump"))
    assert missing.exit_code == 1
    assert missing.output.strip() == (f"error: no backup at {tmp_path / 'nothing.dump'}: "
                                      "give the file `careledger backup` wrote")
