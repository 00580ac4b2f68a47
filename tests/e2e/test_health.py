"""Liveness, readiness and the operator's figures, over HTTP and from the command line."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

import psycopg
from typer.testing import CliRunner, Result

from careledger.consumers.applier import ViewApplier, record_unknown
from careledger.consumers.relay import Relay
from careledger.domain.application import CareLedger
from careledger.domain.referral import Referral
from careledger.infra.embedded_broker import ensure_topics
from careledger.infra.embedded_pg import free_port
from careledger.infra.settings import Settings
from careledger.main import bootstrap
from careledger.main.cli import cli
from careledger.projections import live_generation
from careledger.projections.envelope import Envelope
from tests.helpers.network import NOW, Network, open_episode


def env_of(settings: Settings, **extra: str) -> dict[str, str]:
    return {"CARELEDGER_DATABASE_URL": settings.database_url or "",
            "CARELEDGER_APP_DB_PASSWORD": settings.app_db_password,
            "CARELEDGER_TOKEN_SECRET": settings.token_secret,
            "CARELEDGER_DATA_DIR": str(settings.data_dir), **extra}


def status(settings: Settings, *args: str, **extra: str) -> Result:
    return CliRunner().invoke(cli, ["status", *args], env=env_of(settings, **extra))


def test_the_api_is_live_and_ready_and_shows_its_figures(client: Any, network: Network,
                                                         app: CareLedger) -> None:
    open_episode(app, network)
    assert client.get("/health/live").json() == {"status": "live"}
    ready = client.get("/health/ready").json()
    assert ready["status"] == "ready" and len(ready["instance"]) == 12
    figures = client.get("/health/status").json()
    assert figures["head"] >= 2 and figures["relay_behind"] == figures["head"] - figures[
        "relay_position"]
    assert figures["views"].startswith("careledger_views")
    assert set(figures) >= {"relay_lag_s", "partitions", "dead_letters", "head_recorded_at"}


def test_status_reports_the_relay_and_readiness_needs_the_broker(
    app: CareLedger, db: bootstrap.Database, network: Network, settings: Settings,
    kafka_bootstrap: str,
) -> None:
    open_episode(app, network)
    topic = "careledger.events.status"
    ensure_topics(kafka_bootstrap, {topic: 2})
    relay = Relay(app, bootstrap=kafka_bootstrap, topic=topic, name="relay")
    try:
        while relay.step():
            pass
    finally:
        relay.close()
    with psycopg.connect(db.admin_url) as conn:
        ((head,),) = conn.execute("SELECT max(notification_id) FROM"
                                  " careledger.careledger_events").fetchall()
    figures = json.loads(status(settings, "--json", CARELEDGER_KAFKA_BOOTSTRAP=kafka_bootstrap,
                                CARELEDGER_EVENTS_TOPIC=topic).output)
    assert figures["relay_position"] >= head - 1 and figures["relay_behind"] <= 1
    text = status(settings, CARELEDGER_KAFKA_BOOTSTRAP=kafka_bootstrap)
    assert text.exit_code == 0 and "relay" in text.output and "log head" in text.output

    assert status(settings, "--ready", "relay",
                  CARELEDGER_KAFKA_BOOTSTRAP=kafka_bootstrap).exit_code == 0
    away = f"127.0.0.1:{free_port()}"
    refused = status(settings, "--ready", "consume", CARELEDGER_KAFKA_BOOTSTRAP=away)
    assert refused.exit_code == 1 and "broker" in refused.output
    assert len(refused.output.strip().splitlines()) == 1
    # The API needs only PostgreSQL; with PostgreSQL away, nothing is ready.
    assert status(settings, "--ready", "api", CARELEDGER_KAFKA_BOOTSTRAP=away).exit_code == 0
    gone = status(settings, "--ready", "api",
                  CARELEDGER_DATABASE_URL=f"postgresql://postgres:x@127.0.0.1:{free_port()}/x")
    assert gone.exit_code == 1 and "PostgreSQL is unreachable" in gone.output
    assert status(settings, "--ready", "everything").exit_code == 1


def test_status_names_the_kinds_of_event_the_views_could_not_place(
    db: bootstrap.Database, settings: Settings, network: Network
) -> None:
    newer = Referral.Made.TOPIC.replace(".Made", ".Transferred")
    envelope = Envelope(
        event_id=uuid4(), type=newer, schema_version=1, aggregate_id=uuid4(),
        aggregate_version=2, patient_id=network.patient, clinic_ids=(), occurred_at=NOW,
        recorded_at=NOW, actor="x", data={}, position=10**12, hash="", previous_hash="")
    with psycopg.connect(db.app_url) as conn:
        schema, _ = live_generation(conn)
        with conn.transaction(), conn.cursor() as cur:
            record_unknown(cur, schema, "status-test", ViewApplier(schema).apply(cur, [envelope]))
    try:
        text = status(settings)
        assert text.exit_code == 0, text.output
        line = next(line for line in text.output.splitlines() if "Transferred" in line)
        assert "1 events this version does not know" in line
        assert "upgrade the consumers" in line
        figures = json.loads(status(settings, "--json").output)
        assert {"consumer": "status-test", "kind": newer.partition(":")[2], "events": 1,
                "first_position": 10**12, "last_position": 10**12} in figures["unknown_kinds"]
    finally:
        with psycopg.connect(db.admin_url) as admin:
            admin.execute(f"DELETE FROM {schema}.unknown_kinds WHERE consumer = 'status-test'")
