"""The golden master's dump (tests/fixtures/golden), restored into a database of its own:
a database as an earlier release made it, before migrations were versioned."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from careledger.infra import embedded_pg
from careledger.infra.settings import Settings
from careledger.main import bootstrap
from tests.helpers import FIXTURES
from tests.helpers.databases import empty_database

GOLDEN = FIXTURES / "golden"


@contextmanager
def restored(settings: Settings, db: bootstrap.Database) -> Iterator[bootstrap.Database]:
    """The dump restored as it is (not migrated), dropped on the way out."""
    with empty_database(settings, db, prefix="careledger_golden") as database:
        subprocess.run([str(embedded_pg._bin_path() / "pg_restore"), "--no-owner",
                        "--no-privileges", "--exit-on-error", "-d", database.admin_url,
                        str(GOLDEN / "seeded.pgdump")], check=True)
        yield database
