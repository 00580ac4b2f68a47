"""A revocation holds from its 201, whether or not the consumer has applied it.

Real, separate processes, as `careledger up` runs them (bench/stack.py): the API, the
relay and the consumer, over an embedded PostgreSQL and broker of the test's own. The
consumer is frozen (SIGSTOP) before the patient withdraws from the clinic; the clinic's
next read is "not found" all the same, while the views still hold nothing of it.
"""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from bench.stack import Stack, own_stack, wait_for
from careledger.access.tokens import Role, TokenService
from careledger.projections import live_generation
from tests.helpers.network import Network, referrals_in

pytestmark = pytest.mark.slow

READ = "query ($id: UUID!) { patient(id: $id) { id timeline(first: 3) { events { kind } } } }"


@pytest.fixture()
def stack(tmp_path: Path) -> Iterator[tuple[Stack, Network, TokenService]]:
    with own_stack(tmp_path) as stack:
        network, _, tokens = referrals_in(stack.settings, 1)
        stack.start("api", "serve", "--workers", "1", "--threads", "4")
        stack.start("relay")
        stack.start("consumer")
        stack.wait_until_ready()
        yield stack, network, tokens


def _read(http: httpx.Client, token: str, patient: uuid.UUID) -> dict[str, Any]:
    response = http.post("/graphql", json={"query": READ, "variables": {"id": str(patient)}},
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _in_views(stack: Stack, position: int) -> bool:
    with psycopg.connect(stack.settings.database_url or "") as conn:
        views, _ = live_generation(conn)
        return conn.execute(f"SELECT 1 FROM {views}.timeline WHERE position = %s",
                            (position,)).fetchone() is not None


def test_a_revocation_holds_while_the_consumer_is_stopped(
    stack: tuple[Stack, Network, TokenService],
) -> None:
    running, network, tokens = stack
    therapist = tokens.issue(subject=network.therapist, role=Role.THERAPIST,
                             clinics=[network.clinic])
    physician = tokens.issue(subject=network.physician, role=Role.PHYSICIAN)
    front_desk = tokens.issue(subject=uuid.uuid4(), role=Role.CLINIC_ADMIN,
                              clinics=[network.other_clinic])
    with httpx.Client(base_url=running.base) as http:
        wait_for(lambda: "errors" not in _read(http, therapist, network.patient), 60,
                 "the clinic's referral on its care team")

        consumer = running.parts["consumer"]
        os.killpg(consumer.pid, signal.SIGSTOP)
        try:
            revoked = http.post(
                f"/api/v1/patients/{network.patient}/consent-decisions",
                json={"clinic_id": str(network.clinic), "decision": "deny",
                      "form_reference": "CF-7"},
                headers={"Authorization": f"Bearer {front_desk}"}, timeout=10)
            assert revoked.status_code == 201, revoked.text
            position = revoked.json()["position"]

            denied = _read(http, therapist, network.patient)
            assert denied["data"] is None
            assert denied["errors"][0]["extensions"] == {"code": "NOT_FOUND"}
            export = http.get(f"/api/v1/patients/{network.patient}/fhir",
                              headers={"Authorization": f"Bearer {therapist}"}, timeout=10)
            assert export.status_code == 404
            assert "errors" not in _read(http, physician, network.patient)
            assert not _in_views(running, position)  # the consumer has not applied it
        finally:
            os.killpg(consumer.pid, signal.SIGCONT)

        wait_for(lambda: _in_views(running, position), 60, "the views to catch up")
        assert _read(http, therapist, network.patient)["data"] is None
    with psycopg.connect(running.settings.database_url or "") as conn:
        logged = conn.execute(
            "SELECT role, allowed, basis, reason FROM careledger.access_log"
            " WHERE patient_id = %s AND role = 'therapist' ORDER BY id DESC LIMIT 2",
            (network.patient,)).fetchall()
    assert logged == [("therapist", False, None, "consent_revoked")] * 2
