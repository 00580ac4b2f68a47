"""Fixtures: one real PostgreSQL per test run, a fresh database in it, the real API.

With CARELEDGER_DATABASE_URL set the tests use that server; otherwise they start
the embedded one from the wheel, in a temporary folder.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from careledger.access.tokens import TokenService
from careledger.domain.application import CareLedger
from careledger.infra import embedded_pg
from careledger.infra.settings import Settings
from careledger.main import bootstrap
from tests.helpers.network import TOKEN_SECRET, Network, build_network


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    data_dir = tmp_path_factory.mktemp("careledger")
    server_url = os.environ.get("CARELEDGER_DATABASE_URL")
    embedded = None
    if server_url is None:
        embedded = embedded_pg.ensure_running(data_dir)
        server_url = embedded.url
    dbname = f"careledger_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    parts = urlsplit(server_url)
    test_url = urlunsplit(parts._replace(path=f"/{dbname}"))
    yield Settings(
        database_url=test_url,
        data_dir=data_dir,
        app_db_password="app-test-password",
        token_secret=TOKEN_SECRET,
        db_pool_size=20,
        # The suite's own pace is not a caller's: budgets are tested where they are set.
        rate_commands=0, rate_reads=0, rate_exports=0, rate_streams=0, rate_per_address=0,
    )
    if embedded is not None:
        embedded.stop("immediate")
    else:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


@pytest.fixture(scope="session")
def db(settings: Settings) -> bootstrap.Database:
    database = bootstrap.database(settings)
    bootstrap.run_migrations(database)
    return database


@pytest.fixture(scope="session")
def app(db: bootstrap.Database, settings: Settings) -> Iterator[CareLedger]:
    application = bootstrap.application(db, settings)
    yield application
    application.close()


@pytest.fixture(scope="session")
def tokens() -> TokenService:
    return TokenService(TOKEN_SECRET)


@pytest.fixture(scope="session")
def wsgi(settings: Settings, db: bootstrap.Database) -> Iterator[Any]:
    from careledger.main import wiring
    from careledger.main.wsgi import build

    handler = build(settings)
    yield handler
    wired = wiring.installed()
    wired.app.close()
    wired.idempotency.pool.close()


@pytest.fixture()
def client(wsgi: Any) -> Any:
    from django.test import Client

    return Client()


@pytest.fixture()
def network(app: CareLedger, tokens: TokenService) -> Network:
    return build_network(app, tokens)

