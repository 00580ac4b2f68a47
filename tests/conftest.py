"""Fixtures: one real PostgreSQL per test run, a fresh database in it, the real API.

With CARELEDGER_DATABASE_URL set the tests use that server; otherwise they start
the embedded one from the wheel, in a temporary folder.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import psycopg
import pytest

from careledger.domain.application import CareLedger
from careledger.domain.clinical import CredentialKind, Discipline, Profession
from careledger.gateways.auth import Role, TokenService
from careledger.infra import bootstrap, embedded_pg
from careledger.infra.embedded_pg import free_port
from careledger.infra.settings import Settings

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TOKEN_SECRET = "test-secret-" + "x" * 24


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
    from careledger.gateways import services
    from careledger.infra.wsgi import build

    handler = build(settings)
    yield handler
    services.get().app.close()
    services.get().idempotency.pool.close()


@pytest.fixture()
def client(wsgi: Any) -> Any:
    from django.test import Client

    return Client()


@dataclass
class Network:
    """A small network: two clinics, a physician, therapists, a consenting patient."""

    clinic: UUID
    other_clinic: UUID
    physician: UUID
    therapist: UUID
    other_therapist: UUID
    expired_therapist: UUID
    patient: UUID
    tokens: TokenService

    def token(self, role: Role, subject: UUID, clinics: list[UUID] | None = None) -> str:
        return self.tokens.issue(subject=subject, role=role, clinics=clinics or [])

    @property
    def physician_auth(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": "Bearer " + self.token(Role.PHYSICIAN, self.physician)}

    @property
    def therapist_auth(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": "Bearer "
                + self.token(Role.THERAPIST, self.therapist, [self.clinic])}

    @property
    def other_therapist_auth(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": "Bearer "
                + self.token(Role.THERAPIST, self.other_therapist, [self.other_clinic])}


def build_network(app: CareLedger, tokens: TokenService) -> Network:
    actor = "network_admin:test"
    clinic = app.register_clinic(
        name="Riverside", disciplines=[Discipline.MEDICAL_MASSAGE], address="1 River St",
        latitude=42.6, longitude=-73.7, home_visit_radius_km=10, occurred_at=NOW, actor=actor,
    ).aggregate_id
    other = app.register_clinic(
        name="Hudson", disciplines=[Discipline.MEDICAL_MASSAGE, Discipline.PHYSICAL_THERAPY],
        address="2 Broadway", latitude=42.7, longitude=-73.6, home_visit_radius_km=0,
        occurred_at=NOW, actor=actor,
    ).aggregate_id
    physician = app.register_practitioner(
        name="Dr. Ada Reyes", profession=Profession.PHYSICIAN, occurred_at=NOW, actor=actor
    ).aggregate_id
    app.add_credential(physician, kind=CredentialKind.NPI, number="1234567893", issuer="CMS",
                       expires_on=None, occurred_at=NOW, actor=actor)
    app.add_credential(physician, kind=CredentialKind.STATE_LICENSE, number="MD-1",
                       issuer="NYSED", expires_on=date(2030, 1, 1), occurred_at=NOW, actor=actor)

    def therapist(clinic_id: UUID, expires: date) -> UUID:
        tid = app.register_practitioner(
            name="Sam Lee", profession=Profession.MEDICAL_MASSAGE_THERAPIST, occurred_at=NOW,
            actor=actor,
        ).aggregate_id
        app.add_credential(tid, kind=CredentialKind.STATE_LICENSE, number=f"LMT-{tid.hex[:6]}",
                           issuer="NYSED", expires_on=expires, occurred_at=NOW, actor=actor)
        app.affiliate(tid, clinic_id=clinic_id, occurred_at=NOW, actor=actor)
        return tid

    patient = app.register_patient(
        given_name="Maria", family_name="Okafor", birth_date=date(1972, 5, 4), sex="female",
        address="9 Elm St", latitude=42.65, longitude=-73.75, occurred_at=NOW, actor=actor,
    ).aggregate_id
    app.grant_consent(patient, occurred_at=NOW, actor=actor)
    return Network(
        clinic=clinic,
        other_clinic=other,
        physician=physician,
        therapist=therapist(clinic, date(2030, 1, 1)),
        other_therapist=therapist(other, date(2030, 1, 1)),
        expired_therapist=therapist(clinic, NOW.date() - timedelta(days=1)),
        patient=patient,
        tokens=tokens,
    )


def open_episode(app: CareLedger, network: Network, *, authorized_visits: int = 6,
                 accept: bool = False) -> UUID:
    """A referral from the network's physician to its first clinic, optionally accepted."""
    from careledger.domain.clinical import Technique, Urgency

    rid = app.make_referral(
        physician_id=network.physician, patient_id=network.patient, clinic_id=network.clinic,
        discipline=Discipline.MEDICAL_MASSAGE, diagnosis_codes=["M54.50"], precautions=[],
        contraindications=[Technique.DEEP_TISSUE], urgency=Urgency.ROUTINE,
        authorized_visits=authorized_visits, reason="", occurred_at=NOW, actor="physician:t",
    ).aggregate_id
    if accept:
        app.accept_referral(rid, practitioner_id=network.therapist, occurred_at=NOW, actor="t")
    return rid


def referral_to_a_new_patient(app: CareLedger, network: Network, *,
                              made: datetime = NOW) -> UUID:
    """Another consenting patient, referred by the network's physician to its clinic."""
    from careledger.domain.clinical import Urgency

    patient = app.register_patient(
        given_name="Other", family_name="Person", birth_date=date(1980, 1, 1), sex="male",
        address="", latitude=None, longitude=None, occurred_at=NOW, actor="t",
    ).aggregate_id
    app.grant_consent(patient, occurred_at=NOW, actor="t")
    return app.make_referral(
        physician_id=network.physician, patient_id=patient, clinic_id=network.clinic,
        discipline=Discipline.MEDICAL_MASSAGE, diagnosis_codes=["M54.2"], precautions=[],
        contraindications=[], urgency=Urgency.ROUTINE, authorized_visits=4, reason="",
        occurred_at=made, actor="physician:t").aggregate_id


@pytest.fixture()
def network(app: CareLedger, tokens: TokenService) -> Network:
    return build_network(app, tokens)


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]


@pytest.fixture(scope="session")
def live_server(settings: Settings, db: bootstrap.Database) -> Iterator[LiveServer]:
    """The real API process (gunicorn, threaded workers) on a loopback port."""
    port = free_port()
    env = {
        **os.environ,
        "CARELEDGER_DATABASE_URL": settings.database_url or "",
        "CARELEDGER_APP_DB_PASSWORD": settings.app_db_password,
        "CARELEDGER_TOKEN_SECRET": settings.token_secret,
        "CARELEDGER_DATA_DIR": str(settings.data_dir),
        "CARELEDGER_HTTP_PORT": str(port),
        "CARELEDGER_DB_POOL_SIZE": "20",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "careledger.infra.cli", "serve", "--workers", "2",
         "--threads", "16"],
        env=env, cwd=Path(__file__).parent.parent,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if process.poll() is not None:
                raise RuntimeError("the API server exited during start-up") from None
            time.sleep(0.2)
    yield LiveServer(url=f"http://127.0.0.1:{port}", process=process)
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The embedded Tansu broker, or None when CARELEDGER_KAFKA_BOOTSTRAP names a cluster."""
    from careledger.infra.embedded_broker import EmbeddedBroker, wait_until_ready

    configured = os.environ.get("CARELEDGER_KAFKA_BOOTSTRAP")
    if configured:
        wait_until_ready(configured, 30)
        yield None
        return
    embedded = EmbeddedBroker(tmp_path_factory.mktemp("broker"))
    embedded.start()
    yield embedded
    embedded.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(broker: Any) -> str:
    return broker.bootstrap if broker is not None else os.environ["CARELEDGER_KAFKA_BOOTSTRAP"]
