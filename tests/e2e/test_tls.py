"""TLS on every edge, each by settings, against a CA made here: HTTPS from the API,
PostgreSQL with sslmode=verify-full, Kafka over SSL. A certificate from another CA is
refused each time."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from typer.testing import CliRunner

from careledger.consumers.relay import Relay
from careledger.domain.application import CareLedger
from careledger.infra.embedded_broker import EmbeddedBroker, ensure_topics
from careledger.infra.embedded_pg import free_port
from careledger.infra.settings import Settings
from careledger.main import bootstrap
from careledger.main.cli import cli
from tests.helpers import ROOT
from tests.helpers.databases import empty_database
from tests.helpers.network import Network, build_network, open_episode
from tests.helpers.tls import Authority, TlsListener


@pytest.fixture()
def authority(tmp_path: Path) -> Authority:
    return Authority(tmp_path / "ca")


def test_the_api_serves_https_with_the_configured_certificate(
    settings: Settings, db: bootstrap.Database, authority: Authority, tmp_path: Path,
) -> None:
    server, port = authority.issue("api"), free_port()
    env = {**os.environ, "CARELEDGER_DATABASE_URL": settings.database_url or "",
           "CARELEDGER_APP_DB_PASSWORD": settings.app_db_password,
           "CARELEDGER_TOKEN_SECRET": settings.token_secret,
           "CARELEDGER_DATA_DIR": str(settings.data_dir), "CARELEDGER_HTTP_PORT": str(port),
           "CARELEDGER_TLS_CERT": str(server.cert), "CARELEDGER_TLS_KEY": str(server.key)}
    api = subprocess.Popen([sys.executable, "-m", "careledger.main.cli", "serve", "--workers",
                            "1", "--threads", "2"], env=env, cwd=ROOT)
    try:
        url = f"https://127.0.0.1:{port}/health/ready"
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(url, verify=ssl.create_default_context(
                    cafile=str(authority.ca)), timeout=5)
                break
            except (httpx.ConnectError, httpx.ConnectTimeout):  # the worker still boots
                assert api.poll() is None and time.monotonic() < deadline, "no HTTPS API"
                time.sleep(0.3)
        assert answer.status_code == 200 and answer.json()["status"] == "ready"
        assert answer.headers["Strict-Transport-Security"].startswith("max-age=")
        stranger = Authority(tmp_path / "other")
        with pytest.raises(httpx.ConnectError):
            httpx.get(url, verify=ssl.create_default_context(cafile=str(stranger.ca)))
        with pytest.raises(httpx.HTTPError):  # plain HTTP on the HTTPS port: no answer
            httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=5)
    finally:
        api.terminate()
        api.wait(timeout=20)


def test_behind_a_proxy_that_ends_tls_the_api_believes_its_forwarded_proto(
    settings: Settings, db: bootstrap.Database,
) -> None:
    port = free_port()
    env = {**os.environ, "CARELEDGER_DATABASE_URL": settings.database_url or "",
           "CARELEDGER_APP_DB_PASSWORD": settings.app_db_password,
           "CARELEDGER_TOKEN_SECRET": settings.token_secret,
           "CARELEDGER_DATA_DIR": str(settings.data_dir), "CARELEDGER_HTTP_PORT": str(port),
           "CARELEDGER_BEHIND_PROXY": "1", "CARELEDGER_PROXY_IPS": "127.0.0.1"}
    api = subprocess.Popen([sys.executable, "-m", "careledger.main.cli", "serve", "--workers",
                            "1", "--threads", "2"], env=env, cwd=ROOT)
    try:
        url, deadline = f"http://127.0.0.1:{port}/health/ready", time.monotonic() + 60
        while True:
            try:
                forwarded = httpx.get(url, headers={"X-Forwarded-Proto": "https"}, timeout=5)
                break
            except (httpx.ConnectError, httpx.ConnectTimeout):
                assert api.poll() is None and time.monotonic() < deadline, "no API"
                time.sleep(0.3)
        # From the proxy's address, "https" is believed: the answer says HTTPS only.
        assert forwarded.status_code == 200
        assert forwarded.headers["Strict-Transport-Security"].startswith("max-age=")
        # A request the proxy did not mark as HTTPS is not treated as one.
        assert "Strict-Transport-Security" not in httpx.get(url, timeout=5).headers
    finally:
        api.terminate()
        api.wait(timeout=20)


def test_a_half_configured_certificate_is_one_line(tmp_path: Path, authority: Authority
                                                   ) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARELEDGER_")}
    done = subprocess.run(
        [sys.executable, "-m", "careledger.main.cli", "serve"], cwd=ROOT, check=False,
        env={**env, "CARELEDGER_DATA_DIR": str(tmp_path / "data"),
             "CARELEDGER_TLS_CERT": str(authority.ca)}, capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip() == ("error: CARELEDGER_TLS_CERT and CARELEDGER_TLS_KEY go "
                                   "together: set both (PEM files) to serve HTTPS, or neither")


@pytest.fixture()
def tls_postgres(settings: Settings, db: bootstrap.Database, authority: Authority
                 ) -> Iterator[tuple[str, TlsListener]]:
    """The session's PostgreSQL, reached through a TLS front with a certificate from the
    test's CA (the embedded server is built without SSL: tests/helpers/tls.py), into a
    database of this test's own."""
    with empty_database(settings, db, prefix="careledger_tls") as own:
        front = TlsListener(own.port, authority.issue("postgres"), postgres=True)
        try:
            parts = urlsplit(own.admin_url)
            yield urlunsplit(parts._replace(netloc=parts.netloc.replace(
                f":{own.port}", f":{front.port}"))), front
        finally:
            front.close()


def test_postgres_is_reached_with_verify_full_by_the_migration_and_the_application(
    tls_postgres: tuple[str, TlsListener], authority: Authority, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, settings: Settings,
) -> None:
    from careledger.access.tokens import TokenService

    for name in ("PGSSLMODE", "PGSSLROOTCERT"):  # put back as they were afterwards
        monkeypatch.setenv(name, os.environ.get(name, ""))
        monkeypatch.delenv(name)
    front_url, front = tls_postgres
    url = f"{front_url}?sslmode=verify-full&sslrootcert={authority.ca}"
    # The role is the server's, shared by every database on it: the session's password.
    over_tls = Settings(database_url=url, data_dir=tmp_path / "data",
                        app_db_password=settings.app_db_password, token_secret="t" * 32,
                        db_pool_size=2)
    db = bootstrap.database(over_tls)
    bootstrap.run_migrations(db)
    app = bootstrap.application(db, over_tls)
    try:
        migrated = front.handshakes
        assert migrated >= 1  # the migration came through the TLS front
        open_episode(app, build_network(app, TokenService(over_tls.token_secret)))
        assert front.handshakes > migrated  # the application's own connections too
        with psycopg.connect(db.app_url) as conn:  # the application's role, as it connects
            assert conn.pgconn.ssl_in_use
    finally:
        app.close()
    stranger = Authority(tmp_path / "other")
    with pytest.raises(psycopg.OperationalError, match="SSL error"):  # not our CA
        psycopg.connect(f"{front_url}?sslmode=verify-full&sslrootcert={stranger.ca}")
    with pytest.raises(psycopg.OperationalError):  # in the clear: refused by the front
        psycopg.connect(f"{front_url}?sslmode=disable", connect_timeout=5)


def test_kafka_is_reached_over_ssl_by_the_relay_and_the_readiness_check(
    tmp_path: Path, authority: Authority, settings: Settings, app: CareLedger,
    network: Network,
) -> None:
    # The broker tells clients to come back to the TLS listener, never to itself.
    listener_port = free_port()
    broker = EmbeddedBroker(tmp_path / "broker", port=free_port(),
                            advertised_port=listener_port)
    listener = TlsListener(broker.port, authority.issue("kafka"), port=listener_port)
    broker.start()
    servers = f"127.0.0.1:{listener.port}"
    broker_env = {"CARELEDGER_KAFKA_SECURITY_PROTOCOL": "ssl",
                  "CARELEDGER_KAFKA_SSL_CA": str(authority.ca)}
    try:
        over_tls = Settings.from_env({"CARELEDGER_DATA_DIR": str(tmp_path / "data"),
                                      "CARELEDGER_APP_DB_PASSWORD": "x",
                                      "CARELEDGER_TOKEN_SECRET": "y" * 32,
                                      "CARELEDGER_KAFKA_BOOTSTRAP": servers, **broker_env})
        client = over_tls.kafka_client()
        assert client == {"security.protocol": "SSL", "ssl.ca.location": str(authority.ca)}
        topic = f"tls.{uuid.uuid4().hex[:6]}"
        ensure_topics(servers, {topic: 1}, client=client)
        producer = Producer({"bootstrap.servers": servers, **client})
        producer.produce(topic, key=b"k", value=b"over TLS")
        assert producer.flush(15) == 0
        consumer = Consumer({"bootstrap.servers": servers, "group.id": uuid.uuid4().hex,
                             "auto.offset.reset": "earliest", **client})
        consumer.subscribe([topic])
        deadline, got = time.monotonic() + 30, None
        while got is None and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                got = message.value()
        consumer.close()
        assert got == b"over TLS"
        open_episode(app, network)
        relay = Relay(app, bootstrap=servers, topic=topic, name="tls-relay", client=client)
        try:
            assert relay.step() > 0  # the log's first batch, published over TLS
        finally:
            relay.close()
        env = {"CARELEDGER_DATABASE_URL": settings.database_url or "",
               "CARELEDGER_APP_DB_PASSWORD": settings.app_db_password,
               "CARELEDGER_DATA_DIR": str(settings.data_dir),
               "CARELEDGER_KAFKA_BOOTSTRAP": servers}
        ready = CliRunner().invoke(cli, ["status", "--ready", "relay"], env={**env, **broker_env})
        assert ready.exit_code == 0, ready.output
        plain = CliRunner().invoke(cli, ["status", "--ready", "relay"], env=env)
        assert plain.exit_code == 1 and "does not answer" in plain.output
        # A client trusting another CA is refused.
        stranger = Authority(tmp_path / "other")
        with pytest.raises(KafkaException):
            ensure_topics(servers, {topic: 1}, timeout=5,
                          client={"security.protocol": "SSL",
                                  "ssl.ca.location": str(stranger.ca)})
    finally:
        listener.close()
        broker.stop()
