"""Fifty clinicians press the same button at once, through the real API server."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import psycopg

from careledger.domain.application import CareLedger
from careledger.main import bootstrap
from tests.helpers.network import Network, open_episode
from tests.helpers.processes import LiveServer

CONCURRENT = 50


def schedule_all(live_server: LiveServer, network: Network, rid: UUID,
                 headers: dict[str, str]) -> list[httpx.Response]:
    auth = {"Authorization": network.therapist_auth["HTTP_AUTHORIZATION"], **headers}

    def schedule(i: int) -> httpx.Response:
        with httpx.Client(base_url=live_server.url, timeout=60) as http:
            when = datetime(2026, 4, 1, 9, tzinfo=UTC) + timedelta(hours=i)
            return http.post(f"/api/v1/referrals/{rid}/sessions", headers=auth,
                             json={"session_id": f"s{i:02d}", "scheduled_for": when.isoformat()})

    with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        return list(pool.map(schedule, range(CONCURRENT)))


def stored_versions(db: bootstrap.Database, rid: UUID) -> list[int]:
    with psycopg.connect(db.app_url) as conn:
        return [r[0] for r in conn.execute(
            "SELECT originator_version FROM careledger.careledger_events "
            "WHERE originator_id = %s ORDER BY originator_version", (rid,)).fetchall()]


def test_fifty_commands_pinned_to_one_version_one_wins(
    live_server: LiveServer, app: CareLedger, network: Network, db: bootstrap.Database
) -> None:
    rid = open_episode(app, network, authorized_visits=120, accept=True)
    responses = schedule_all(live_server, network, rid, {"If-Match": '"2"'})
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: CONCURRENT - 1}, statuses
    assert all(r.headers["content-type"] == "application/problem+json"
               for r in responses if r.status_code == 409)
    assert stored_versions(db, rid) == [1, 2, 3]


def test_fifty_unpinned_commands_all_land_one_version_apart(
    live_server: LiveServer, app: CareLedger, network: Network, db: bootstrap.Database
) -> None:
    rid = open_episode(app, network, authorized_visits=120, accept=True)
    responses = schedule_all(live_server, network, rid, {})
    assert Counter(r.status_code for r in responses) == {201: CONCURRENT}
    versions: list[Any] = sorted(r.json()["version"] for r in responses)
    assert versions == list(range(3, 3 + CONCURRENT))
    assert stored_versions(db, rid) == list(range(1, 3 + CONCURRENT))


def test_writers_on_shared_and_separate_referrals_while_a_follower_reads_the_log(
    live_server: LiveServer, app: CareLedger, network: Network, db: bootstrap.Database
) -> None:
    """Eight writers over four referrals (two on each) through the real server, while a
    follower reads the log as the relay does: no version gap or repeat in any stream, and
    the follower sees every position exactly once, in order."""
    referrals = [open_episode(app, network, authorized_visits=200, accept=True)
                 for _ in range(4)]
    start = app.recorder.horizon()  # type: ignore[attr-defined]
    auth = {"Authorization": network.therapist_auth["HTTP_AUTHORIZATION"]}
    done = threading.Event()
    seen: list[int] = []

    def follow() -> None:
        position = start
        while True:
            finished = done.is_set()  # read once more after the writers stop
            for entry in app.recorder.read_log(position, 100):  # type: ignore[attr-defined]
                seen.append(entry.position)
                position = entry.position
            if finished:
                return

    def write(writer: int) -> list[int]:
        rid = referrals[writer % len(referrals)]
        statuses = []
        with httpx.Client(base_url=live_server.url, timeout=60) as http:
            for i in range(25):
                when = datetime(2026, 5, 1, 9, tzinfo=UTC) + timedelta(hours=writer * 100 + i)
                statuses.append(http.post(f"/api/v1/referrals/{rid}/sessions", headers=auth,
                                          json={"scheduled_for": when.isoformat()}).status_code)
        return statuses

    follower = threading.Thread(target=follow)
    follower.start()
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = [s for batch in pool.map(write, range(8)) for s in batch]
    done.set()
    follower.join(timeout=60)
    assert Counter(statuses) == {201: 200}
    for rid in referrals:
        assert stored_versions(db, rid) == list(range(1, 2 + 1 + 50))  # made, accepted, 50
    with psycopg.connect(db.app_url) as conn:
        committed = [p for (p,) in conn.execute(
            "SELECT notification_id FROM careledger.careledger_events"
            " WHERE notification_id > %s ORDER BY 1", (start,))]
    assert seen == committed  # each once, in order, none skipped
    assert len(committed) == 200
