"""Databases of a test's own on the session's PostgreSQL server, dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg

from careledger.infra.settings import Settings
from careledger.main import bootstrap


@contextmanager
def empty_database(settings: Settings, db: bootstrap.Database, prefix: str = "careledger"
                   ) -> Iterator[bootstrap.Database]:
    """A new, empty database (nothing migrated), as the application would reach it."""
    assert settings.database_url is not None
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(db.admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(settings.database_url)._replace(path=f"/{name}"))
    try:
        yield bootstrap.database(Settings(
            database_url=url, data_dir=settings.data_dir,
            app_db_password=settings.app_db_password, token_secret=settings.token_secret,
            db_pool_size=4))
    finally:
        with psycopg.connect(db.admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
