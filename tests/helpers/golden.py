"""The golden master's dump (tests/fixtures/golden), restored into a database of its own:
a database as an earlier release made it, before migrations were versioned."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg

from careledger.infra import embedded_pg
from careledger.infra.settings import Settings
from careledger.main import bootstrap
from tests.helpers import FIXTURES

GOLDEN = FIXTURES / "golden"


@contextmanager
def restored(settings: Settings, db: bootstrap.Database) -> Iterator[bootstrap.Database]:
    """The dump restored as it is (not migrated), dropped on the way out."""
    assert settings.database_url is not None
    name = f"careledger_golden_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(db.admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(settings.database_url)._replace(path=f"/{name}"))
    try:
        subprocess.run([str(embedded_pg._bin_path() / "pg_restore"), "--no-owner",
                        "--no-privileges", "--exit-on-error", "-d", url,
                        str(GOLDEN / "seeded.pgdump")], check=True)
        yield bootstrap.database(Settings(
            database_url=url, data_dir=settings.data_dir,
            app_db_password=settings.app_db_password, token_secret=settings.token_secret,
            db_pool_size=4))
    finally:
        with psycopg.connect(db.admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
