"""Versioned migrations: a database an earlier release made is adopted and brought up to
date, its events still verify and its views rebuild equal; a fresh one gets the same
schema; running again applies nothing and changes nothing."""

from __future__ import annotations

import subprocess

import psycopg
from typer.testing import CliRunner

from careledger.audit.verify import verify
from careledger.consumers.rebuild import rebuild
from careledger.consumers.replay import checksums, replay
from careledger.infra import embedded_pg
from careledger.infra.schema import MIGRATIONS, create_views, pending_versions
from careledger.infra.settings import APP_ROLE, Settings
from careledger.main import bootstrap
from careledger.main.cli import cli
from careledger.projections import VIEWS_SCHEMA, VIEWS_VERSION, views_version
from tests.helpers.golden import restored

VERSIONS = sorted(path.stem for path in MIGRATIONS.glob("*.sql"))
#: The tables whose values VIEWS_VERSION 2's handlers make anew from events the golden
#: master holds: an assessment's amended pain moves the worklist's baseline; the goals
#: and the billed sessions gain what a later amendment needs; VIEWS_VERSION 3's billing
#: lines keep a code the 8-minute rule gives no units; the timeline holds the fields the
#: upcasts of Made, AssessmentRecorded, PlanDrafted, PlanRevised and SessionCompleted add.
#: (Migration 0006 adds the documents' table.)
REMADE = {"referral_progress", "goals", "billed_sessions", "billing_lines", "timeline"}


def schema_of(url: str) -> list[str]:
    """The careledger schema's definition as pg_dump writes it, comments left out."""
    dump = subprocess.run(
        [str(embedded_pg._bin_path() / "pg_dump"), "--schema-only", "--no-owner",
         "--no-privileges", "--schema", "careledger", url],
        check=True, capture_output=True, text=True).stdout
    return [line for line in dump.splitlines()
            if line.strip() and not line.startswith(("--", "SET ", "SELECT pg_catalog", "\\"))]


def test_the_previous_release_is_adopted_migrated_and_still_verifies_and_rebuilds_equal(
    settings: Settings, db: bootstrap.Database,
) -> None:
    assert VERSIONS[:2] == ["0001.baseline", "0002.consumer-members"]
    with restored(settings, db) as old:
        assert pending_versions(old.admin_url) == ([], VERSIONS)
        env = {"CARELEDGER_DATABASE_URL": old.admin_url,
               "CARELEDGER_APP_DB_PASSWORD": settings.app_db_password,
               "CARELEDGER_DATA_DIR": str(settings.data_dir)}
        listed = CliRunner().invoke(cli, ["migrate", "--list"], env=env)
        assert listed.exit_code == 0 and "pending  0002.consumer-members" in listed.output

        migrated = CliRunner().invoke(cli, ["migrate"], env=env)
        assert migrated.exit_code == 0, migrated.output
        assert [line for line in migrated.output.splitlines() if line.startswith("applied")] \
            == [f"applied {version}" for version in VERSIONS]
        assert pending_versions(old.admin_url) == (VERSIONS, [])
        with psycopg.connect(old.app_url, autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM careledger.consumer_members"
                                ).fetchone() == (0,)
            report = verify(conn, [])
        assert report.findings == [] and report.events == 722

        # The views the old release built equal a replay with today's handlers, but for
        # the tables this release's handlers make something else of (amendments move the
        # values they hold: VIEWS_VERSION 2), which migrate says want a rebuild.
        assert "run `careledger projections rebuild`" in migrated.output
        with psycopg.connect(old.admin_url) as conn:
            assert views_version(conn) == 1 < VIEWS_VERSION
        app = bootstrap.application(old, settings)
        try:
            with psycopg.connect(old.admin_url, autocommit=True) as admin:
                create_views(admin, app_role=APP_ROLE, schema="careledger_views_rebuilt")
            replay(app, old.app_url, "careledger_views_rebuilt")
        finally:
            app.close()
        live = checksums(old.app_url, VIEWS_SCHEMA)
        replayed = checksums(old.app_url, "careledger_views_rebuilt")
        assert {t: c for t, c in live.items() if t not in REMADE} == {
            t: c for t, c in replayed.items() if t not in REMADE}
        assert {t for t in REMADE if live[t] != replayed[t]} == REMADE

        # Again: nothing pending, nothing applied, the schema as it was.
        before = schema_of(old.admin_url)
        assert bootstrap.run_migrations(old) == []
        assert schema_of(old.admin_url) == before

        # A fresh database, migrated from nothing, has the very same schema.
        assert schema_of(db.admin_url) == before

        # The rebuild migrate asked for: the live views then equal a replay, and are current.
        app = bootstrap.application(old, settings)
        try:
            switched = rebuild(app, old)
        finally:
            app.close()
        assert checksums(old.app_url, switched.new_schema) == replayed
        with psycopg.connect(old.admin_url) as conn:
            assert views_version(conn) == VIEWS_VERSION
        again = CliRunner().invoke(cli, ["migrate"], env=env)
        assert again.exit_code == 0 and "rebuild" not in again.output


def test_the_application_role_cannot_touch_the_migration_records(
    db: bootstrap.Database,
) -> None:
    with psycopg.connect(db.app_url, autocommit=True) as conn:
        try:
            conn.execute("DELETE FROM careledger_migrations._yoyo_migration")
        except psycopg.errors.InsufficientPrivilege:
            return
    raise AssertionError("the application's role could change the migration records")
