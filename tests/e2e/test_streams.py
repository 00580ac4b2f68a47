"""The live streams end to end: commands → the event store → the relay → Kafka (three
partitions) → the live views' consumer, which numbers each change at its commit → the
streams process (uvicorn), which sends them as server-sent events, authorized and logged
like reads, and resumes exactly after Last-Event-ID.

The stack has a database of its own (the live views here are fed by the real consumer
only, never by the suite's replays), on the suite's PostgreSQL server and broker.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest

from careledger.access.tokens import Role, TokenService
from careledger.consumers.member import ProjectionConsumer
from careledger.consumers.projector import Projector
from careledger.consumers.rebuild import rebuild
from careledger.consumers.relay import Relay
from careledger.domain.application import CareLedger
from careledger.domain.clinical import Discipline, Urgency
from careledger.domain.patient import GrantConsent, Patient, RegisterPatient, RevokeConsent
from careledger.domain.referral import MakeReferral, Referral
from careledger.infra.embedded_broker import ensure_topics
from careledger.infra.embedded_pg import free_port
from careledger.infra.settings import Settings
from careledger.main import bootstrap
from tests.helpers.network import NOW, Network, build_network
from tests.helpers.processes import LiveServer, start_server, stop_server
from tests.helpers.sse import Stream

PARTITIONS = 3
#: What went wrong in the relay-and-views thread, for the test that waits on it to say.
FAILURES: list[BaseException] = []


@dataclass
class Stack:
    settings: Settings
    db: bootstrap.Database
    app: CareLedger
    network: Network
    streams: LiveServer
    topic: str
    api: LiveServer
    #: Cleared, the relay and the consumer stand still (a consumer that lags).
    running: threading.Event

    def url(self, patient: uuid.UUID | None = None) -> str:
        query = f"?patient={patient}" if patient else ""
        return f"{self.streams.url}/api/v1/stream{query}"

    def token(self, role: Role, subject: uuid.UUID, clinics: list[uuid.UUID] | None = None
              ) -> str:
        return self.network.token(role, subject, clinics)

    def partition_of(self, patient: uuid.UUID) -> int:
        """Where the relay puts a patient's events (murmur2, as Kafka's Java clients)."""
        return (murmur2(str(patient).encode()) & 0x7FFFFFFF) % PARTITIONS


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (the relay's `murmur2_random` partitioner), for choosing patients
    whose events land on different partitions."""
    m, length = 0x5BD1E995, len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    rest = data[length - length % 4:]
    if len(rest) == 3:
        h ^= rest[2] << 16
    if len(rest) >= 2:
        h ^= rest[1] << 8
    if rest:
        h ^= rest[0]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


@pytest.fixture(scope="module")
def stack(settings: Settings, kafka_bootstrap: str) -> Iterator[Stack]:
    name = f"careledger_streams_{uuid.uuid4().hex[:8]}"
    assert settings.database_url is not None
    parts = urlsplit(settings.database_url)
    with psycopg.connect(settings.database_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    own = settings.model_copy(update={
        "database_url": urlunsplit(parts._replace(path=f"/{name}"))})
    db = bootstrap.database(own)
    bootstrap.run_migrations(db)
    app = bootstrap.application(db, own)
    tag = uuid.uuid4().hex[:6]
    topic = f"careledger.events.streams{tag}"
    ensure_topics(kafka_bootstrap, {topic: PARTITIONS, topic + ".dlq": 1})
    relay = Relay(app, bootstrap=kafka_bootstrap, topic=topic, name="relay",
                  delivery_timeout_s=5)
    consumer = ProjectionConsumer(Projector(db.app_url, consumer="views"),
                                  bootstrap=kafka_bootstrap, topic=topic,
                                  group=f"views-{tag}")  # a group of its own, on the broker
    stop, running = threading.Event(), threading.Event()
    running.set()

    def run() -> None:  # the relay and the live views' consumer, as their processes do
        while not stop.is_set():
            if not running.wait(0.2):
                continue
            try:
                relay.step()
                consumer.poll_once()
            except Exception as e:  # said where a test waits for what they do
                FAILURES[:] = [e]
                stop.wait(0.5)

    worker = threading.Thread(target=run, name="relay-and-views", daemon=True)
    worker.start()
    api_port, stream_port = free_port(), free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    # As `careledger up` runs them: the streams on a port of their own, the pages told
    # where, the streams told the pages' origin (whose page may read them).
    # Small pools: the suite's other servers hold PostgreSQL connections too.
    small = {"CARELEDGER_DB_POOL_SIZE": "4"}
    streams = start_server(own, part="stream", port=stream_port,
                           env={"CARELEDGER_PUBLIC_URL": api_url, **small})
    api = start_server(own, port=api_port, env={
        "CARELEDGER_STREAM_URL": f"http://127.0.0.1:{stream_port}/api/v1/stream", **small})
    network = build_network(app, TokenService(own.token_secret))
    yield Stack(own, db, app, network, streams, topic, api, running)
    stop_server(api)
    stop_server(streams)
    stop.set()
    worker.join(timeout=30)
    consumer.close()
    relay.close()
    app.close()


def new_patient(stack: Stack, *, partition: int | None = None) -> uuid.UUID:
    """A consenting patient, whose events the relay puts on `partition` (if given)."""
    while True:
        patient = stack.app.handle(RegisterPatient(
            given_name="Ada", family_name="Stone", birth_date=date(1980, 1, 2), sex="female",
            address="", latitude=None, longitude=None, occurred_at=NOW, actor="t",
        )).aggregate_id
        if partition is None or stack.partition_of(patient) == partition:
            break
    stack.app.handle(GrantConsent(patient_id=patient, occurred_at=NOW, actor="t"))
    return patient


def refer(stack: Stack, patient: uuid.UUID) -> uuid.UUID:
    """The network's physician refers the patient to the network's clinic."""
    return stack.app.handle(MakeReferral(
        physician_id=stack.network.physician, patient_id=patient,
        clinic_id=stack.network.clinic, discipline=Discipline.MEDICAL_MASSAGE,
        diagnosis_codes=["M54.2"], precautions=[], contraindications=[],
        urgency=Urgency.ROUTINE, authorized_visits=4, reason="", occurred_at=NOW,
        actor=f"physician:{stack.network.physician}")).aggregate_id


def until(stream: Stream, record: uuid.UUID) -> list[dict[str, Any]]:
    """What the stream says, up to and with the change of `record`."""
    said = [stream.next().data]
    while said[-1]["recordId"] != str(record):
        said.append(stream.next().data)
    return said


def test_a_change_reaches_the_stream_and_a_resumed_one_gets_exactly_what_it_missed(
    stack: Stack
) -> None:
    physician = stack.token(Role.PHYSICIAN, stack.network.physician)
    first = new_patient(stack, partition=0)
    live = Stream(stack.url(), token=physician)
    assert live.opened() == 200
    seen = refer(stack, first)
    said = until(live, seen)[-1]
    assert isinstance(said.pop("position"), int)
    assert said == {"kind": Referral.Made.KIND, "patientId": str(first),
                    "recordId": str(seen)}
    # Three patients, on two partitions (and more), registered while the stream is open.
    patients = [new_patient(stack, partition=p) for p in (1, 2, 1)]
    applied(stack, patients)
    live.close()
    last = max_seq(stack)

    # Away: a change for each of them.
    missed = [refer(stack, patient) for patient in patients]
    back = Stream(stack.url(), token=physician, last_event_id=last)
    assert back.opened() == 200
    arrived = [back.next() for _ in missed]
    assert [e.data["recordId"] for e in arrived] == [str(r) for r in missed]
    assert [e.id for e in arrived] == sorted(e.id for e in arrived)
    assert all(e.id > last for e in arrived)
    # Once each: what comes next is new, not one of them again.
    after = refer(stack, first)
    assert back.next().data["recordId"] == str(after)
    back.close()
    with psycopg.connect(stack.db.admin_url) as conn:
        logged = conn.execute(
            "SELECT count(*) FROM careledger.access_log WHERE principal = %s"
            " AND fields LIKE 'stream:%%' AND allowed", (stack.network.physician,)).fetchone()
    assert logged is not None and logged[0] >= len(missed) + 2


def test_an_outsider_hears_nothing_of_the_patient_and_a_revoked_clinic_goes_silent(
    stack: Stack
) -> None:
    patient = new_patient(stack)
    refer(stack, patient)
    outsider = Stream(stack.url(patient), token=stack.token(Role.PHYSICIAN, uuid.uuid4()))
    assert outsider.opened() == 404
    outsider.close()

    clinic = Stream(stack.url(), token=stack.token(Role.THERAPIST, stack.network.therapist,
                                                   [stack.network.clinic]))
    assert clinic.opened() == 200
    before = refer(stack, patient)
    assert until(clinic, before)[-1]["patientId"] == str(patient)
    # The revocation is itself a change of the patient's record: from it on, the clinic's
    # stream says nothing of the patient.
    stack.app.handle(RevokeConsent(patient_id=patient, reason="moved away", occurred_at=NOW,
                                   actor="t"))
    other = new_patient(stack)
    visible = refer(stack, other)  # and something it may hear, after it
    heard = until(clinic, visible)
    assert [h for h in heard if h["patientId"] == str(patient)] == []
    clinic.close()


def test_past_its_bound_a_streams_process_answers_503_with_retry_after(stack: Stack) -> None:
    full = start_server(stack.settings, part="stream", env={
        "CARELEDGER_STREAM_LIMIT": "1", "CARELEDGER_DB_POOL_SIZE": "2"})
    try:
        token = stack.token(Role.PHYSICIAN, stack.network.physician)
        url = f"{full.url}/api/v1/stream"
        held = Stream(url, token=token)
        assert held.opened() == 200
        answer = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert answer.status_code == 503
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["code"] == "streams_full" and answer.headers["Retry-After"]
        held.close()
    finally:
        stop_server(full)


def test_a_change_a_rebuild_applied_before_the_live_consumer_is_still_in_the_feed(
    stack: Stack
) -> None:
    """The live consumer lags: a change is in the log, not yet in the live views, when a
    rebuild replays it into the new generation and switches; the consumer then skips it
    as applied. The rebuild's switch numbers it, so a stream still hears of it."""
    patient = new_patient(stack)
    applied(stack, [patient])
    physician = stack.token(Role.PHYSICIAN, stack.network.physician)
    last = max_seq(stack)
    stack.running.clear()  # the relay and the consumer stand still
    try:
        referral = refer(stack, patient)
        rebuild(stack.app, stack.db)
    finally:
        stack.running.set()
    back = Stream(stack.url(), token=physician, last_event_id=last)
    assert back.opened() == 200
    assert until(back, referral)[-1]["kind"] == Referral.Made.KIND
    after = refer(stack, patient)  # and the consumer, going on, goes on numbering
    assert back.next().data["recordId"] == str(after)
    back.close()


def applied(stack: Stack, patients: list[uuid.UUID]) -> None:
    """Wait until the live views' consumer has applied what these patients' registration
    and consent changed (their changes are numbered)."""
    deadline = time.monotonic() + 60
    with psycopg.connect(stack.db.admin_url, autocommit=True) as conn:
        while (conn.execute("SELECT count(DISTINCT patient_id) FROM careledger.view_changes"
                           " WHERE patient_id = ANY(%s) AND kind = %s",
                           (patients, Patient.ConsentGranted.KIND)).fetchone()
               != (len(patients),)):
            assert time.monotonic() < deadline, f"the views' consumer did not: {FAILURES[-1:]}"
            time.sleep(0.05)


def max_seq(stack: Stack) -> int:
    with psycopg.connect(stack.db.admin_url) as conn:
        row = conn.execute("SELECT coalesce(max(seq), 0) FROM careledger.view_changes"
                           ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.browser
def test_the_physicians_open_chart_shows_the_clinics_work_without_a_reload(
    stack: Stack, browser: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two browsers: the physician's chart is open; in the other, the clinic's therapist
    accepts the referral; the chart shows it, with no reload."""
    from playwright.sync_api import expect

    from tests.helpers.web import VIEWPORT, WAIT_MS, screenshot

    patient = new_patient(stack)
    referral = refer(stack, patient)
    applied(stack, [patient])
    errors: list[str] = []
    pages = []
    for role, subject, clinics in (
            (Role.PHYSICIAN, stack.network.physician, []),
            (Role.THERAPIST, stack.network.therapist, [stack.network.clinic])):
        context = browser.new_context(viewport=VIEWPORT, timezone_id="UTC")
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{stack.api.url}/app/")
        page.get_by_label("Bearer token").fill(stack.token(role, subject, clinics))
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("Signed in as a").wait_for()
        pages.append(page)
    chart, clinic = pages
    chart.goto(f"{stack.api.url}/app/#/patient/{patient}")
    expect(chart.locator("#timeline > li", has_text="Referral made")).to_have_count(1)
    accepted = chart.locator("#timeline > li", has_text="Referral accepted")
    expect(accepted).to_have_count(0)
    answer = clinic.evaluate("""async (referral) => {
        const { csrf } = await (await fetch("/app/session")).json();
        const r = await fetch(`/api/v1/referrals/${referral}/acceptance`, {
            method: "POST", headers: {"Content-Type": "application/json",
                                      "X-CSRF-Token": csrf}, body: "{}"});
        return r.status;
    }""", str(referral))
    assert answer == 201
    expect(accepted).to_have_count(1)  # no reload: the stream said so
    screenshot(chart, "live-update.png", capsys)
    for page in pages:
        page.context.close()
    assert errors == []
