"""Records kept in memory never decide anything on their own.

Two applications on one store stand for two API processes: what one keeps in memory,
the other can change behind its back. A stale copy must cost a retry, never a wrong
decision, a lost event or a wrong refusal.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, timedelta
from uuid import UUID

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent

from careledger.domain.application import CareLedger
from careledger.domain.clinical import CredentialKind, SessionLocation
from careledger.domain.errors import InvariantViolated, StaleRead, VersionConflict
from careledger.domain.network import AddCredential, Practitioner, RecordExperience
from careledger.domain.referral import Referral
from careledger.domain.treatment import ScheduleSession
from careledger.main import bootstrap
from tests.helpers.network import NOW, Network, open_episode


@pytest.fixture()
def other(app: CareLedger) -> Iterator[CareLedger]:
    """A second process on the same store, with its own memory."""
    second = CareLedger(env=dict(app.env))
    yield second
    second.close()


def schedule(app: CareLedger, rid: object, therapist: object,
             expected_version: int | None = None) -> int:
    return app.handle(ScheduleSession(
        referral_id=rid, practitioner_id=therapist, scheduled_for=NOW,  # type: ignore[arg-type]
        location=SessionLocation.CLINIC, occurred_at=NOW, actor="t",
    ), expected_version=expected_version).version


def test_the_store_refuses_a_decision_on_a_record_that_moved_on(
    app: CareLedger, network: Network
) -> None:
    seen = app.load(Practitioner, network.therapist).version
    app.handle(RecordExperience(practitioner_id=network.therapist, conditions=["M54.50"],
                                occurred_at=NOW, actor="t"))
    with pytest.raises(StaleRead):
        app.recorder.insert_events(
            [StoredEvent(originator_id=network.clinic, originator_version=99, topic="t:x",
                         state=b"{}")],
            reads={network.therapist: seen},
        )
    assert app.load(Practitioner, network.therapist).version == seen + 1


def test_a_decision_on_a_stale_read_is_taken_again_on_fresh_records(
    app: CareLedger, other: CareLedger, network: Network
) -> None:
    rid = open_episode(app, network, accept=True)
    schedule(app, rid, network.therapist)  # the therapist is now in this process's memory
    other.handle(RecordExperience(practitioner_id=network.therapist, conditions=["M54.2"],
                                  occurred_at=NOW, actor="t"))
    assert schedule(app, rid, network.therapist) == 4
    current = other.load(Practitioner, network.therapist).version
    assert app.working_set.get(network.therapist).version == current  # type: ignore[union-attr]


def test_a_stale_copy_of_the_referral_loses_no_event(
    app: CareLedger, other: CareLedger, network: Network
) -> None:
    rid = open_episode(app, network, accept=True, authorized_visits=10)
    schedule(app, rid, network.therapist)
    schedule(other, rid, network.therapist)  # app's copy is now one version behind
    assert schedule(app, rid, network.therapist) == 5
    assert len(app.load(Referral, rid).sessions) == 3


def test_if_match_is_judged_against_the_store_not_the_copy(
    app: CareLedger, other: CareLedger, network: Network
) -> None:
    rid = open_episode(app, network, accept=True)
    schedule(app, rid, network.therapist)
    schedule(other, rid, network.therapist)
    # The client saw version 4 (from the other process): that is current, so it lands.
    assert schedule(app, rid, network.therapist, expected_version=4) == 5
    # Version 4 again is now stale, whatever either process holds in memory.
    with pytest.raises(VersionConflict):
        schedule(other, rid, network.therapist, expected_version=4)


def test_a_refusal_on_a_stale_copy_is_checked_against_the_store(
    app: CareLedger, other: CareLedger, network: Network
) -> None:
    rid = open_episode(app, network, accept=True)
    with pytest.raises(InvariantViolated, match="license"):
        schedule(app, rid, network.expired_therapist)
    other.handle(AddCredential(practitioner_id=network.expired_therapist,
                               kind=CredentialKind.STATE_LICENSE,
                               number="LMT-RENEWED", issuer="NYSED",
                               expires_on=date.today() + timedelta(days=365),
                               occurred_at=NOW, actor="t"))
    assert schedule(app, rid, network.expired_therapist) == 3


def test_a_writer_whose_connection_died_reconnects_on_the_next_command(
    db: bootstrap.Database, app: CareLedger, network: Network
) -> None:
    rid = open_episode(app, network, accept=True, authorized_visits=10)
    schedule(app, rid, network.therapist)
    writer = app.recorder.writers.connection()  # type: ignore[attr-defined]
    with psycopg.connect(db.admin_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (writer.info.backend_pid,))
    with pytest.raises(psycopg.OperationalError):
        schedule(app, rid, network.therapist)
    assert schedule(app, rid, network.therapist) == 4  # the failed one stored nothing
    assert len(app.load(Referral, rid).sessions) == 2


def test_each_answer_names_the_version_its_own_command_wrote(
    app: CareLedger, network: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight threads on one referral: each answer's version is its own, never the next
    command's (the record is shared in memory; its version is read under its lock)."""
    rid = open_episode(app, network, accept=True, authorized_visits=200)
    lock = app.working_set.lock

    @contextmanager
    def lingering(cls: type, aggregate_id: UUID) -> Iterator[None]:
        with lock(cls, aggregate_id):
            yield
        time.sleep(0.002)  # the moment just after the release, widened: others go first

    monkeypatch.setattr(app.working_set, "lock", lingering)

    def schedule(i: int) -> int:
        return app.handle(ScheduleSession(referral_id=rid, practitioner_id=network.therapist,
                                          scheduled_for=NOW,
                                          location=SessionLocation.CLINIC, occurred_at=NOW,
                                          actor=f"t{i}")).version

    with ThreadPoolExecutor(max_workers=8) as pool:
        versions = sorted(pool.map(schedule, range(96)))
    assert versions == list(range(3, 3 + 96))
