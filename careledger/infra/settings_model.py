"""Every setting, once: its variable, type, default and meaning (`Settings`).

The type is the check: a port is a whole number from 1 up to 65535, a flag one of the
usual spellings, a certificate a file that is there. What a value cannot be is said in
one line naming the variable (`SettingError`); the CLI prints it and exits 2. The README's
table is rendered from the same fields (infra/settings_table.py), and the variables read
are the fields' names (`ENVIRONMENT_VARIABLES`), so none is documented and not read, or
read and not documented. Imported through infra/settings.py, on first use.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, JsonValue, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from careledger.infra.settings import SettingError, local_secret
from careledger.infra.settings_values import (
    ALGORITHMS,
    File,
    Flag,
    PerMinute,
    Port,
    Refused,
    algorithm_list,
    browser_url,
    issuer_url,
    one_of,
    resolved,
    whole,
)

PREFIX = "CARELEDGER_"


def _field(default: Any = ..., meaning: str = "", *, unset: str | None = None,
           factory: Callable[[], Any] | None = None, env: str | None = None,
           secret: bool = False) -> Any:
    """A setting's field: `meaning` is what the operator reads in the README; `unset` what
    leaving the variable unset does, where its default value would not say it."""
    extra: dict[str, JsonValue] | None = None if unset is None else {"default_text": unset}
    if factory is not None:
        return Field(default_factory=factory, description=meaning, validation_alias=env,
                     repr=not secret, json_schema_extra=extra)
    return Field(default, description=meaning, validation_alias=env, repr=not secret,
                 json_schema_extra=extra)


class Settings(BaseSettings):
    """Where the data lives and how the edges are exposed.

    `database_url` names an administrative connection (it runs migrations); the
    application itself always connects as the `careledger_app` role, which may
    append to the event log but never UPDATE or DELETE it.

    Only the values given are used (`settings_customise_sources`): the environment is
    read by `from_env`, through the mapping it is given, so a test's `Settings(...)` is
    exactly what it says, whatever the test process's environment holds.
    """

    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True, populate_by_name=True,
                                      extra="forbid")

    database_url: str | None = _field(
        None, "PostgreSQL, as its administrator (`postgresql://user:password@host/db`): the "
        "migrations run with it; the application connects as the `careledger_app` role, "
        "which may add to the event log but never change it",
        unset="unset: embedded server", secret=True)
    app_db_password: str = _field(
        meaning="password of the `careledger_app` role the application connects as",
        unset="generated into `.careledger/secrets/`", secret=True)
    token_secret: str = _field(
        meaning="signs the API's bearer tokens (HS256, `careledger token issue`); the same on "
        "every API process", unset="generated into `.careledger/secrets/`", secret=True)
    data_dir: Annotated[Path, BeforeValidator(resolved)] = _field(
        Path(".careledger"), "embedded data and secrets: PostgreSQL's and the broker's files, "
        "generated secrets, backups, the audit key")
    http_host: str = _field("127.0.0.1", "where the API listens (`0.0.0.0`: every address)")
    http_port: Port = _field(8000, "the port the API listens on")
    debug: Flag = _field(False, "GraphiQL at `/graphql`, Django's debug pages",
                         unset="off (`up --demo`: on, if the API listens on loopback)")
    max_body_bytes: Annotated[int, whole(1)] = _field(
        256 * 1024, "larger request bodies get 413")
    db_pool_size: Annotated[int, whole(1, 1000)] = _field(10, "connections per API worker")
    kafka_bootstrap: str | None = _field(
        None, "a Kafka cluster (`host:port`, comma-separated) for the relay and consumers",
        unset="unset: embedded broker (`up`, tests)")
    events_topic: str = _field(
        "careledger.events",
        "the topic the relay publishes to (dead letters go to `<topic>.dlq`)")
    topic_partitions: Annotated[int, whole(1, 1000)] = _field(
        6, "partitions when the topic is created")
    trace_console: Flag = _field(
        False, "print every span to the console (export to a collector: `OTEL_*`, below)")
    tls_cert: File = _field(
        None, "serve HTTPS directly with this certificate chain (PEM), and "
        "`CARELEDGER_TLS_KEY`: both or neither; HSTS is sent", unset="unset: HTTP")
    tls_key: File = _field(None, "the private key (PEM) of `CARELEDGER_TLS_CERT`",
                           unset="unset: HTTP")
    behind_proxy: Flag = _field(
        False, "a proxy in front ends TLS: its `X-Forwarded-Proto` is believed, from "
        "`CARELEDGER_PROXY_IPS` only; HSTS is sent")
    proxy_ips: str = _field("127.0.0.1", "the proxy's addresses (comma-separated), with "
                            "`CARELEDGER_BEHIND_PROXY`")
    kafka_security: Annotated[Literal["plaintext", "ssl"], one_of("plaintext", "ssl")] = \
        _field("plaintext", "`ssl` for Kafka's SSL listeners",
               env="CARELEDGER_KAFKA_SECURITY_PROTOCOL")
    kafka_ca: File = _field(None, "the CA (PEM) that signed the brokers' certificates, "
                            "with `ssl`", unset="unset: the system's CAs",
                            env="CARELEDGER_KAFKA_SSL_CA")
    kafka_cert: File = _field(None, "a client certificate (PEM), where the brokers ask for "
                              "one, and `CARELEDGER_KAFKA_SSL_KEY`: both or neither",
                              unset="unset: none", env="CARELEDGER_KAFKA_SSL_CERT")
    kafka_key: File = _field(None, "the private key (PEM) of `CARELEDGER_KAFKA_SSL_CERT`",
                             unset="unset: none", env="CARELEDGER_KAFKA_SSL_KEY")
    instance: str = _field(
        meaning="the name `/health/ready` gives this API (`up` passes its own and waits for "
        "it, not for another API answering on the same port)", unset="made at each start",
        factory=lambda: secrets.token_hex(6))
    audit_key: Annotated[Path | None, BeforeValidator(resolved)] = _field(
        None, "the Ed25519 private key (PEM, PKCS 8) that signs audit checkpoints; keep it "
        "off the database's host",
        unset="`.careledger/secrets/audit-ed25519.pem`, created (0600) on first use")
    public_url: Annotated[str | None, BeforeValidator(browser_url)] = _field(
        None, "where browsers reach this API (`https://host[:port]`, no path), for the "
        "sign-in redirect",
        unset="unset: `http://HOST:PORT` of `CARELEDGER_HTTP_HOST` and `_PORT` (`https` "
        "when served over TLS or behind the proxy)")
    oidc_issuer: Annotated[str | None, BeforeValidator(issuer_url)] = _field(
        None, "the identity provider's issuer URL, exactly as it states it (https; http "
        "only on 127.0.0.1, localhost or ::1): once set, API tokens must come from it and "
        "HS256 tokens are refused", unset="unset: tokens from `careledger token issue`")
    oidc_audience: str = _field("careledger", "the `aud` an access token must carry")
    oidc_algorithms: Annotated[tuple[str, ...], BeforeValidator(algorithm_list)] = _field(
        ("RS256", "ES256"), "the signature algorithms a provider's token may use "
        "(comma-separated: " + " ".join(ALGORITHMS) + "); `none` and HS* are refused")
    oidc_client_id: str | None = _field(
        None, "the web pages' client at the provider (authorization code with PKCE); needs "
        "`CARELEDGER_OIDC_ISSUER`", unset="unset: no sign-in from the pages")
    oidc_client_secret: str | None = _field(
        None, "the client's secret, for a confidential client only",
        unset="unset: a public client (PKCE alone)", secret=True)
    oidc_leeway_seconds: Annotated[int, whole(0, 300)] = _field(
        60, "clock difference allowed with the provider on a token's exp, nbf and iat")
    session_idle_minutes: Annotated[int, whole(1, 1440)] = _field(
        15, "a page session with no request for this long is signed out (automatic logoff, "
        "45 CFR 164.312(a)(2)(iii))")
    session_max_hours: Annotated[int, whole(1, 168)] = _field(
        12, "a page session ends this long after sign-in, active or not")
    rate_commands: PerMinute = _field(
        600, "requests a minute for each user: POST, PUT, PATCH, DELETE under `/api/v1` "
        "(0: unlimited)")
    rate_reads: PerMinute = _field(
        1200, "requests a minute for each user: GraphQL and other GETs (0: unlimited)")
    rate_exports: PerMinute = _field(
        60, "requests a minute for each user: FHIR bundles, claims, printouts (0: unlimited)")
    rate_streams: PerMinute = _field(
        30, "live streams opened a minute for each user (0: unlimited)")
    rate_per_address: PerMinute = _field(
        3000, "requests a minute from one client address, everything together "
        "(0: unlimited)")
    stream_port: Port = _field(
        8001, "where `careledger stream` (the live streams' own process) listens, on "
        "`CARELEDGER_HTTP_HOST`")
    stream_url: str | None = _field(
        None, "where the pages open the live stream: a path on this origin (behind a proxy "
        "that sends it to the streams' process) or a full URL",
        unset="unset: the pages open no live stream (`careledger up` sets it)")
    stream_limit: Annotated[int, whole(1, 100000)] = _field(
        1000, "live streams one streams process holds; past it, 503 with Retry-After")

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)

    @model_validator(mode="before")
    @classmethod
    def _generated_secrets(cls, values: Any) -> Any:
        """Unset, the application's password and the token secret are made once per data
        folder (`local_secret`), so a fresh clone runs without either."""
        if not isinstance(values, dict):
            return values
        data_dir = Path(values.get("data_dir") or ".careledger").resolve()
        return {**values, **{name: local_secret(data_dir, file) for name, file in (
            ("app_db_password", "app-db-password"), ("token_secret", "token-secret"))
            if not values.get(name)}}

    @model_validator(mode="after")
    def _checked(self) -> Settings:
        """What no single value says: the settings that only go together."""
        if (self.tls_cert is None) != (self.tls_key is None):
            raise Refused("CARELEDGER_TLS_CERT and CARELEDGER_TLS_KEY go together: set "
                          "both (PEM files) to serve HTTPS, or neither")
        if (self.kafka_cert is None) != (self.kafka_key is None):
            raise Refused("CARELEDGER_KAFKA_SSL_CERT and CARELEDGER_KAFKA_SSL_KEY go "
                          "together: set both, or neither")
        if self.kafka_security == "plaintext" and (self.kafka_ca or self.kafka_cert):
            raise Refused("CARELEDGER_KAFKA_SSL_* is set but "
                          "CARELEDGER_KAFKA_SECURITY_PROTOCOL is not ssl: set it to ssl")
        if self.oidc_client_secret is not None and self.oidc_client_id is None:
            raise Refused("CARELEDGER_OIDC_CLIENT_SECRET is set without "
                          "CARELEDGER_OIDC_CLIENT_ID: set the client id the provider gave "
                          "the pages, or unset the secret")
        if self.oidc_client_id is not None and self.oidc_issuer is None:
            raise Refused("CARELEDGER_OIDC_CLIENT_ID is set without CARELEDGER_OIDC_ISSUER: "
                          "set the identity provider's issuer URL, or unset the client id")
        if self.stream_url is not None and not self.stream_url.startswith(
                ("/", "http://", "https://")):
            raise Refused("CARELEDGER_STREAM_URL is a path (/api/v1/stream) or a full "
                          "http(s) URL, not " + repr(self.stream_url[:40]))
        if self.oidc_client_id is not None and self.oidc_client_id == self.oidc_audience:
            # The pages' ID tokens carry the client id as their audience: were it the
            # API's too, an ID token could pass for an access token.
            raise Refused("CARELEDGER_OIDC_AUDIENCE is the pages' client id: give the API "
                          "an audience of its own at the provider (README: Signing in)")
        return self

    @property
    def https(self) -> bool:
        return self.tls_cert is not None or self.behind_proxy

    @property
    def base_url(self) -> str:
        """Where browsers reach this API: `public_url`, else what it listens on."""
        if self.public_url is not None:
            return self.public_url
        host = f"[{self.http_host}]" if ":" in self.http_host else self.http_host
        return f"{'https' if self.https else 'http'}://{host}:{self.http_port}"

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
        """The settings `environ` (the process's environment) gives, each variable read
        once, by name, through the mapping: what a recording mapping sees is exactly what
        is read (tests/e2e/test_compose.py checks the compose file's variables that way).
        An empty variable is an unset one."""
        env = os.environ if environ is None else environ
        try:
            return cls(**Environment(cls, env)())
        except ValidationError as e:
            raise SettingError(one_line(e)) from None


def env_name(name: str, field: FieldInfo) -> str:
    """A field's variable: its alias, else the prefix and its name (pydantic-settings')."""
    alias = field.validation_alias
    return alias if isinstance(alias, str) else PREFIX + name.upper()


#: Field name to variable, in the fields' order.
ENV_NAMES = {name: env_name(name, field) for name, field in Settings.model_fields.items()}
#: Every variable the settings read (tests/e2e/test_compose.py checks `from_env` reads these).
ENVIRONMENT_VARIABLES = tuple(ENV_NAMES.values())


class Environment(PydanticBaseSettingsSource):
    """The set, non-empty variables of a mapping, by field: one `get` for each field."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        name = env_name(field_name, field)
        return self.environ.get(name), name, False

    def __call__(self) -> dict[str, Any]:
        found = {name: self.get_field_value(field, name)[0]
                 for name, field in self.settings_cls.model_fields.items()}
        return {name: value for name, value in found.items() if value and value.strip()}


def one_line(error: ValidationError) -> str:
    """Pydantic's errors as the operator reads them: each names its variable, then says
    what it must be; several are joined on the one line."""
    said: list[str] = []
    for e in error.errors(include_url=False):
        field = str(e["loc"][0]) if e["loc"] else ""
        name = ENV_NAMES.get(field, field)
        refused = (e.get("ctx") or {}).get("error")
        if isinstance(refused, Refused):
            said.append(f"{name} {refused}" if name else str(refused))
        else:
            said.append(f"{name}: {e['msg']}" if name else e["msg"])
    return "; ".join(dict.fromkeys(said)).replace("\n", " ")
