"""Where PostgreSQL is: the configured server, or the embedded one; as its administrator
and as the application's role. Light on purpose: `careledger status --ready` needs this
and psycopg, nothing of the application."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from careledger.infra import embedded_pg
from careledger.infra.settings import APP_ROLE, Settings


@dataclass
class Database:
    """How to reach PostgreSQL: as its administrator (migrations) and as the app."""

    admin_url: str
    host: str
    port: int
    dbname: str
    app_password: str

    @property
    def app_url(self) -> str:
        return (
            f"postgresql://{APP_ROLE}:{self.app_password}@{self.host}:{self.port}/{self.dbname}"
        )


def database(settings: Settings, *, start_embedded: bool = True) -> Database:
    """The configured server, or the embedded one (started on demand unless told not to)."""
    url = settings.database_url
    if url is None:
        server = (embedded_pg.ensure_running(settings.data_dir) if start_embedded
                  else embedded_pg.running(settings.data_dir))
        if server is None:
            raise ConnectionError("the embedded PostgreSQL is not running")
        url = server.url
    parts = urlsplit(url)
    return Database(
        admin_url=url,
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        dbname=(parts.path or "/postgres").lstrip("/") or "postgres",
        app_password=settings.app_db_password,
    )
