"""Where PostgreSQL is: the configured server, or the embedded one; as its administrator
and as the application's role. Light on purpose: `careledger status --ready` needs this
and psycopg, nothing of the application."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit

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
    #: The URL's TLS parameters (sslmode=verify-full, sslrootcert=...), which every
    #: connection of the application's role uses too.
    tls: dict[str, str] = field(default_factory=dict)

    @property
    def app_url(self) -> str:
        query = f"?{urlencode(self.tls)}" if self.tls else ""
        return (f"postgresql://{APP_ROLE}:{self.app_password}@{self.host}:{self.port}/"
                f"{self.dbname}{query}")

    def libpq_env(self) -> dict[str, str]:
        """The same TLS parameters as libpq's variables, for connections this code does not
        build itself (the eventsourcing library's pool knows host, port, user, password)."""
        return {f"PG{name.upper()}": value for name, value in self.tls.items()}


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
    tls = {name: value for name, value in parse_qsl(parts.query) if name in TLS_PARAMETERS}
    return Database(
        admin_url=url,
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        dbname=(parts.path or "/postgres").lstrip("/") or "postgres",
        app_password=settings.app_db_password,
        tls=tls,
    )


#: libpq's TLS parameters a CARELEDGER_DATABASE_URL may carry.
TLS_PARAMETERS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl")
