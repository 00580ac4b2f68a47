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
    "CARELEDGER_TLS_CERT",
    "CARELEDGER_TLS_KEY",
    "CARELEDGER_BEHIND_PROXY",
    "CARELEDGER_PROXY_IPS",
    "CARELEDGER_KAFKA_SECURITY_PROTOCOL",
    "CARELEDGER_KAFKA_SSL_CA",
    "CARELEDGER_KAFKA_SSL_CERT",
    "CARELEDGER_KAFKA_SSL_KEY",
)

APP_ROLE = "careledger_app"
#: Where `careledger up` notes the embedded broker's address for later commands.
BROKER_ADDRESS_FILE = "broker/address"


class SettingError(ValueError):
    """A setting that cannot be used, said in one line: which, and what it must be."""


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
    #: Serve HTTPS directly with this certificate chain and key (PEM), instead of HTTP.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: Behind a proxy that ends TLS: trust its X-Forwarded-Proto (and only from
    #: `proxy_ips`), so the API knows a request came over HTTPS.
    behind_proxy: bool = False
    proxy_ips: str = "127.0.0.1"
    #: `ssl` for Kafka's SSL listeners, with the CA that signed the brokers' certificates
    #: (and a client certificate and key where the brokers ask for one).
    kafka_security: str = "plaintext"
    kafka_ca: Path | None = None
    kafka_cert: Path | None = None
    kafka_key: Path | None = None

    @property
    def https(self) -> bool:
        return self.tls_cert is not None or self.behind_proxy

    def kafka_client(self) -> dict[str, str]:
        """What every Kafka client of this process adds to its configuration."""
        if self.kafka_security == "plaintext":
            return {}
        config = {"security.protocol": "SSL"}
        if self.kafka_ca is not None:
            config["ssl.ca.location"] = str(self.kafka_ca)
        if self.kafka_cert is not None and self.kafka_key is not None:
            config["ssl.certificate.location"] = str(self.kafka_cert)
            config["ssl.key.location"] = str(self.kafka_key)
        return config

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
            http_port=_number(env, "CARELEDGER_HTTP_PORT", 8000, most=65535),
            max_body_bytes=_number(env, "CARELEDGER_MAX_BODY_BYTES", 256 * 1024),
            db_pool_size=_number(env, "CARELEDGER_DB_POOL_SIZE", 10, most=1000),
            debug=_flag(env, "CARELEDGER_DEBUG"),
            kafka_bootstrap=env.get("CARELEDGER_KAFKA_BOOTSTRAP") or None,
            events_topic=env.get("CARELEDGER_EVENTS_TOPIC") or "careledger.events",
            topic_partitions=_number(env, "CARELEDGER_TOPIC_PARTITIONS", 6, most=1000),
            audit_key=Path(env["CARELEDGER_AUDIT_KEY"]).resolve()
            if env.get("CARELEDGER_AUDIT_KEY") else None,
            trace_console=_flag(env, "CARELEDGER_TRACE_CONSOLE"),
            instance=env.get("CARELEDGER_INSTANCE") or secrets.token_hex(6),
            tls_cert=_file(env, "CARELEDGER_TLS_CERT"),
            tls_key=_file(env, "CARELEDGER_TLS_KEY"),
            behind_proxy=_flag(env, "CARELEDGER_BEHIND_PROXY"),
            proxy_ips=env.get("CARELEDGER_PROXY_IPS") or "127.0.0.1",
            kafka_security=_choice(env, "CARELEDGER_KAFKA_SECURITY_PROTOCOL",
                                   ("plaintext", "ssl")),
            kafka_ca=_file(env, "CARELEDGER_KAFKA_SSL_CA"),
            kafka_cert=_file(env, "CARELEDGER_KAFKA_SSL_CERT"),
            kafka_key=_file(env, "CARELEDGER_KAFKA_SSL_KEY"),
        )._checked()

    def _checked(self) -> Settings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise SettingError("CARELEDGER_TLS_CERT and CARELEDGER_TLS_KEY go together: set "
                               "both (PEM files) to serve HTTPS, or neither")
        if (self.kafka_cert is None) != (self.kafka_key is None):
            raise SettingError("CARELEDGER_KAFKA_SSL_CERT and CARELEDGER_KAFKA_SSL_KEY go "
                               "together: set both, or neither")
        if self.kafka_security == "plaintext" and (self.kafka_ca or self.kafka_cert):
            raise SettingError("CARELEDGER_KAFKA_SSL_* is set but "
                               "CARELEDGER_KAFKA_SECURITY_PROTOCOL is not ssl: set it to ssl")
        return self


_TRUE, _FALSE = {"1", "true", "yes", "y", "on"}, {"", "0", "false", "no", "n", "off"}


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = (env.get(name) or "").strip().lower()
    if value not in _TRUE | _FALSE:
        raise SettingError(f"{name} is 1 or 0 (true or false), not {value[:40]!r}")
    return value in _TRUE


def _number(env: Mapping[str, str], name: str, default: int, *, most: int | None = None
            ) -> int:
    value = (env.get(name) or "").strip()
    if not value:
        return default
    if not value.isascii() or not value.isdigit() or int(value) < 1 or (
            most is not None and int(value) > most):
        bound = f" up to {most}" if most is not None else ""
        raise SettingError(f"{name} is a whole number from 1{bound}, not {value[:40]!r}")
    return int(value)


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    value = (env.get(name) or choices[0]).strip().lower()
    if value not in choices:
        raise SettingError(f"{name} is one of {', '.join(choices)}, not {value[:40]!r}")
    return value


def _file(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(name)
    if not value:
        return None
    path = Path(value).resolve()
    if not path.is_file():
        raise SettingError(f"{name} names {path}, which is not a readable file")
    return path


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
