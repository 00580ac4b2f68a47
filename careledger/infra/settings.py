"""Settings read from the environment, once, with the embedded defaults spelled out."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: Every variable the settings read (tests/test_compose.py checks `from_env` reads these).
ENVIRONMENT_VARIABLES = (
    "CARELEDGER_DATABASE_URL",
    "CARELEDGER_APP_DB_PASSWORD",
    "CARELEDGER_DATA_DIR",
    "CARELEDGER_TOKEN_SECRET",
    "CARELEDGER_HTTP_HOST",
    "CARELEDGER_HTTP_PORT",
    "CARELEDGER_MAX_BODY_BYTES",
    "CARELEDGER_DB_POOL_SIZE",
    "CARELEDGER_DEBUG",
    "CARELEDGER_KAFKA_BOOTSTRAP",
    "CARELEDGER_EVENTS_TOPIC",
    "CARELEDGER_TOPIC_PARTITIONS",
    "CARELEDGER_AUDIT_KEY",
    "CARELEDGER_TRACE_CONSOLE",
    "CARELEDGER_INSTANCE",
)

APP_ROLE = "careledger_app"
#: Where `careledger up` notes the embedded broker's address for later commands.
BROKER_ADDRESS_FILE = "broker/address"


@dataclass(frozen=True)
class Settings:
    """Where the data lives and how the edges are exposed.

    `database_url` names an administrative connection (it runs migrations); the
    application itself always connects as the `careledger_app` role, which may
    append to the event log but never UPDATE or DELETE it.
    """

    database_url: str | None
    data_dir: Path
    app_db_password: str
    token_secret: str
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    max_body_bytes: int = 256 * 1024
    db_pool_size: int = 10
    debug: bool = False
    #: A Kafka cluster; unset, `careledger up` and the tests start the embedded broker.
    kafka_bootstrap: str | None = None
    events_topic: str = "careledger.events"
    topic_partitions: int = 6
    #: The Ed25519 key that signs audit checkpoints; unset, one kept in the data folder.
    audit_key: Path | None = None
    #: Print spans to the console (OTLP export is set by OTEL_EXPORTER_OTLP_ENDPOINT).
    trace_console: bool = False
    #: Which API this is (`/health/ready` names it): `up` waits for its own, not for
    #: another one answering on the same port. Unset, one is made per start.
    instance: str = field(default_factory=lambda: secrets.token_hex(6))

    @property
    def dead_letter_topic(self) -> str:
        return self.events_topic + ".dlq"

    @property
    def audit_key_path(self) -> Path:
        return self.audit_key or self.data_dir / "secrets" / "audit-ed25519.pem"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        # Read through, not copied: what this reads is exactly what a recording mapping
        # sees (tests/test_compose.py checks the compose file's variables that way).
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("CARELEDGER_DATA_DIR") or ".careledger").resolve()
        return cls(
            database_url=env.get("CARELEDGER_DATABASE_URL") or None,
            data_dir=data_dir,
            app_db_password=env.get("CARELEDGER_APP_DB_PASSWORD")
            or _local_secret(data_dir, "app-db-password"),
            token_secret=env.get("CARELEDGER_TOKEN_SECRET")
            or _local_secret(data_dir, "token-secret"),
            http_host=env.get("CARELEDGER_HTTP_HOST") or "127.0.0.1",
            http_port=int(env.get("CARELEDGER_HTTP_PORT") or 8000),
            max_body_bytes=int(env.get("CARELEDGER_MAX_BODY_BYTES") or 256 * 1024),
            db_pool_size=int(env.get("CARELEDGER_DB_POOL_SIZE") or 10),
            debug=(env.get("CARELEDGER_DEBUG") or "").lower() in {"1", "true", "yes", "y"},
            kafka_bootstrap=env.get("CARELEDGER_KAFKA_BOOTSTRAP") or None,
            events_topic=env.get("CARELEDGER_EVENTS_TOPIC") or "careledger.events",
            topic_partitions=int(env.get("CARELEDGER_TOPIC_PARTITIONS") or 6),
            audit_key=Path(env["CARELEDGER_AUDIT_KEY"]).resolve()
            if env.get("CARELEDGER_AUDIT_KEY") else None,
            trace_console=(env.get("CARELEDGER_TRACE_CONSOLE") or "").lower()
            in {"1", "true", "yes", "y"},
            instance=env.get("CARELEDGER_INSTANCE") or secrets.token_hex(6),
        )


def _local_secret(data_dir: Path, name: str) -> str:
    """A secret generated once per data folder, for the embedded setup only.

    Production sets the variable; this keeps a fresh clone working without one
    and keeps tokens valid across restarts of the same demo.
    """
    path = data_dir / "secrets" / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(value)
    tmp.chmod(0o600)
    try:
        os.link(tmp, path)  # first writer wins when processes race
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()


def broker_address(settings: Settings) -> str | None:
    """The configured cluster, else the embedded broker `careledger up` started."""
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    noted = settings.data_dir / BROKER_ADDRESS_FILE
    return noted.read_text().strip() if noted.exists() else None
