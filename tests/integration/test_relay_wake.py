"""A resting relay is woken by the commit that needs it, and a busy one costs writers no
NOTIFY: append_events notifies only while a relay has marked itself resting, lately."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from careledger.consumers.relay import WAKE_CHANNEL
from careledger.domain.application import CareLedger
from careledger.main import bootstrap
from tests.helpers.network import Network, open_episode

NAME = "wake-test"


@pytest.fixture()
def listener(db: bootstrap.Database) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(db.app_url, autocommit=True) as conn:
        conn.execute(f"LISTEN {WAKE_CHANNEL}")
        yield conn
    with psycopg.connect(db.admin_url, autocommit=True) as admin:
        admin.execute("DELETE FROM careledger.relay_wake WHERE name = %s", (NAME,))


def woken(listener: psycopg.Connection[tuple[object, ...]]) -> int:
    """Notifications delivered so far (a round trip lets the server hand them over)."""
    listener.execute("SELECT 1")
    return sum(1 for _ in listener.notifies(timeout=0.5, stop_after=100))


def mark(db: bootstrap.Database, resting: bool, ago: str = "0 seconds") -> None:
    with psycopg.connect(db.admin_url, autocommit=True) as admin:
        admin.execute("DELETE FROM careledger.relay_wake")
        admin.execute("INSERT INTO careledger.relay_wake (name, resting, since)"
                      " VALUES (%s, %s, now() - %s::interval)", (NAME, resting, ago))


def test_a_commit_wakes_a_resting_relay_and_only_a_resting_one(
    listener: psycopg.Connection[tuple[object, ...]], db: bootstrap.Database,
    app: CareLedger, network: Network,
) -> None:
    mark(db, resting=False)
    open_episode(app, network)
    assert woken(listener) == 0, "a busy relay needs no waking: no NOTIFY on the hot path"

    mark(db, resting=True)
    open_episode(app, network)
    assert woken(listener) >= 1

    # A relay that marked itself resting long ago (it crashed) is not woken for ever.
    mark(db, resting=True, ago="1 minute")
    open_episode(app, network)
    assert woken(listener) == 0
