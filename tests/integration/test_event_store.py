"""The event store on real PostgreSQL: append-only, hash-chained, stable names, upcasting."""

from __future__ import annotations

import hashlib
import json
import struct
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent

from careledger.domain.application import CareLedger
from careledger.domain.intake import AcceptReferral
from careledger.domain.planning import CertifyPlan
from careledger.domain.referral import Referral
from careledger.domain.treatment import ScheduleSession
from careledger.main import bootstrap
from tests.helpers.episode import assess
from tests.helpers.episode import plan as draft_plan
from tests.helpers.network import NOW, Network, open_episode

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def expected_hash(previous: bytes, originator_id: UUID, version: int, recorded_at: datetime,
                  topic: str, state: bytes) -> bytes:
    micros = (recorded_at - EPOCH) // timedelta(microseconds=1)
    name = topic.encode()
    return hashlib.sha256(
        previous + originator_id.bytes + struct.pack(">q", version) + struct.pack(">q", micros)
        + struct.pack(">i", len(name)) + name + state
    ).digest()


@pytest.mark.parametrize("statement", [
    "UPDATE careledger.careledger_events SET topic = 'x'",
    "DELETE FROM careledger.careledger_events",
    "TRUNCATE careledger.careledger_events",
    "UPDATE careledger.idempotency SET version = 0",
    "DELETE FROM careledger.careledger_snapshots",
    "INSERT INTO careledger.careledger_events (originator_id, originator_version, topic, state,"
    " previous_hash, event_hash) VALUES (gen_random_uuid(), 1, 'x', '', '', '')",
    "INSERT INTO careledger.idempotency (principal, key, request_hash, command, aggregate_id,"
    " version) VALUES ('p', 'k', 'h', 'c', gen_random_uuid(), 1)",
])
def test_the_application_role_cannot_change_the_log(
    db: bootstrap.Database, app: CareLedger, network: Network, statement: str
) -> None:
    open_episode(app, network)
    with psycopg.connect(db.app_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)


def test_even_the_owner_cannot_update_or_delete_events(
    db: bootstrap.Database, app: CareLedger, network: Network
) -> None:
    open_episode(app, network)
    with psycopg.connect(db.admin_url) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("DELETE FROM careledger.careledger_events")
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("UPDATE careledger.careledger_events SET state = 'x'")


def test_each_event_chains_to_the_one_before_in_its_stream(
    db: bootstrap.Database, app: CareLedger, network: Network
) -> None:
    rid = open_episode(app, network)
    app.handle(AcceptReferral(referral_id=rid, practitioner_id=network.therapist, occurred_at=NOW,
                              actor="t"))
    with psycopg.connect(db.admin_url) as conn:
        rows = conn.execute(
            "SELECT originator_version, topic, state, recorded_at, previous_hash, event_hash "
            "FROM careledger.careledger_events WHERE originator_id = %s "
            "ORDER BY originator_version", (rid,),
        ).fetchall()
    previous = bytes(32)
    for version, topic, state, recorded_at, stored_previous, stored_hash in rows:
        assert bytes(stored_previous) == previous
        assert bytes(stored_hash) == expected_hash(previous, rid, version, recorded_at, topic,
                                                   bytes(state))
        previous = bytes(stored_hash)
    assert [r[0] for r in rows] == [1, 2]


def test_recorded_time_is_the_stores_not_the_clinicians(
    db: bootstrap.Database, app: CareLedger, network: Network
) -> None:
    before = datetime.now(UTC)
    rid = open_episode(app, network)  # occurred_at is NOW, in March 2026
    with psycopg.connect(db.admin_url) as conn:
        (recorded_at,) = conn.execute(
            "SELECT recorded_at FROM careledger.careledger_events WHERE originator_id = %s",
            (rid,),
        ).fetchone()  # type: ignore[misc]
    assert before - timedelta(seconds=5) <= recorded_at <= datetime.now(UTC)
    assert app.events.get(rid).__next__().occurred_at == NOW  # type: ignore[attr-defined]


def test_events_are_stored_under_explicit_stable_names(
    db: bootstrap.Database, app: CareLedger, network: Network
) -> None:
    rid = open_episode(app, network)
    app.handle(AcceptReferral(referral_id=rid, practitioner_id=network.therapist, occurred_at=NOW,
                              actor="t"))
    with psycopg.connect(db.admin_url) as conn:
        topics = {r[0] for r in conn.execute(
            "SELECT DISTINCT topic FROM careledger.careledger_events").fetchall()}
    assert {"careledger:Referral.Made", "careledger:Referral.Accepted",
            "careledger:Patient.Registered", "careledger:Practitioner.CredentialAdded"} <= topics
    assert not any("careledger.domain" in t for t in topics), "names must not follow modules"


def test_a_version_1_referral_is_upcast_when_loaded(app: CareLedger, network: Network) -> None:
    """Referral.Made version 1 stored bare codes; version 2 has diagnoses with descriptions."""
    rid = uuid4()
    old_state = {
        "timestamp": {"_type_": "datetime_iso", "_data_": "2025-01-02T09:00:00+00:00"},
        "originator_topic": "careledger:Referral",
        "patient_id": {"_type_": "uuid_hex", "_data_": network.patient.hex},
        "physician_id": {"_type_": "uuid_hex", "_data_": network.physician.hex},
        "clinic_id": {"_type_": "uuid_hex", "_data_": network.clinic.hex},
        "discipline": "medical_massage", "icd10_codes": ["M54.2"], "precautions": [],
        "contraindications": [], "urgency": "routine", "authorized_visits": 4, "reason": "",
        "occurred_at": {"_type_": "datetime_iso", "_data_": "2025-01-02T09:00:00+00:00"},
        "actor": "physician:legacy",
    }
    app.recorder.insert_events([StoredEvent(
        originator_id=rid, originator_version=1, topic="careledger:Referral.Made",
        state=json.dumps(old_state).encode(),
    )])
    referral = app.load(Referral, rid)
    assert referral.diagnoses == [{"code": "M54.2", "description": "Cervicalgia"}]
    app.handle(AcceptReferral(referral_id=rid, practitioner_id=network.therapist, occurred_at=NOW,
                              actor="t"))
    assert app.load(Referral, rid).version == 2


def test_long_episodes_load_from_snapshots(app: CareLedger, network: Network) -> None:
    rid = open_episode(app, network, authorized_visits=200, accept=True)
    for _ in range(120):
        app.handle(ScheduleSession(referral_id=rid, practitioner_id=network.therapist,
                                   scheduled_for=NOW,
                                   location="clinic", occurred_at=NOW, actor="t"))  # type: ignore[arg-type]
    assert app.snapshots is not None
    snapshots = list(app.snapshots.get(rid))
    assert [s.originator_version for s in snapshots] == [100]
    fresh = bootstrap_fresh_copy(app)
    assert fresh.load(Referral, rid).version == 122
    fresh.close()


def test_a_snapshot_keeps_the_certified_plan(app: CareLedger, network: Network) -> None:
    rid = open_episode(app, network, authorized_visits=200, accept=True)
    assess(app, network, rid)
    draft_plan(app, network, rid)
    app.handle(CertifyPlan(referral_id=rid, physician_id=network.physician,
                           certified_from=NOW.date(),
                           certified_until=NOW.date() + timedelta(days=60),
                           occurred_at=NOW, actor="p"))
    for _ in range(100):
        app.handle(ScheduleSession(referral_id=rid, practitioner_id=network.therapist,
                                   scheduled_for=NOW, location="clinic", occurred_at=NOW,
                                   actor="t"))
    assert app.snapshots is not None and list(app.snapshots.get(rid))
    fresh = bootstrap_fresh_copy(app)
    try:
        assert fresh.load(Referral, rid).plan == app.load(Referral, rid).plan
        assert fresh.load(Referral, rid).plan.certified  # type: ignore[union-attr]
    finally:
        fresh.close()


def bootstrap_fresh_copy(app: CareLedger) -> CareLedger:
    """A second application on the same store: nothing cached, so it reads the snapshot."""
    return CareLedger(env=dict(app.env))
