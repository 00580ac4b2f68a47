"""Fifty clinicians press the same button at once, through the real API server."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import psycopg

from careledger.domain.application import CareLedger
from careledger.infra import bootstrap
from tests.conftest import LiveServer, Network, open_episode

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
