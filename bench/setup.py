"""One fresh database per benchmark run, on the configured or the embedded server."""

from __future__ import annotations

import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from careledger.infra import embedded_pg
from careledger.infra.settings import Settings
from careledger.main import bootstrap

#: The API's request budgets, as high as they go but on: a benchmark's load is one
#: principal from one address, far past any clinic's, and the counting is part of the
#: cost it measures.
BUDGETS = {f"CARELEDGER_RATE_{area}": str(10**9)
           for area in ("COMMANDS", "READS", "EXPORTS", "STREAMS", "PER_ADDRESS")}


@dataclass
class BenchDatabase:
    work: Path
    url: str
    settings: Settings
    db: bootstrap.Database

    def stop(self) -> None:
        """Stop the embedded server this run started (a configured one is left alone)."""
        if "CARELEDGER_DATABASE_URL" not in os.environ:
            embedded_pg.EmbeddedPostgres(self.work, 0, "").stop("immediate")


def bench_database(name: str, *, pool_size: int = 8) -> BenchDatabase:
    """A new, migrated database named for this run; the embedded server unless configured."""
    work = Path(tempfile.mkdtemp(prefix=f"careledger-bench-{name}-"))
    server_url = os.environ.get("CARELEDGER_DATABASE_URL") or embedded_pg.ensure_running(work).url
    dbname = f"careledger_bench_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    url = urlunsplit(urlsplit(server_url)._replace(path=f"/{dbname}"))
    settings = Settings(database_url=url, data_dir=work, app_db_password="bench-app-password",
                        token_secret="bench-secret-" + "y" * 20, db_pool_size=pool_size)
    db = bootstrap.database(settings)
    bootstrap.run_migrations(db)
    return BenchDatabase(work=work, url=url, settings=settings, db=db)
