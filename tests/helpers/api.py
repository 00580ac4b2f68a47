"""Calling the command API as a client does: a body posted, a problem+json checked."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import psycopg

from careledger.main import bootstrap
from tests.helpers.network import Network

JSON = "application/json"


def post(client: Any, path: str, body: Any, auth: dict[str, str], **headers: str) -> Any:
    return client.post(f"/api/v1{path}", data=json.dumps(body), content_type=JSON,
                       **auth, **headers)


def referral_body(network: Network, **overrides: Any) -> dict[str, Any]:
    body = {
        "patient_id": str(network.patient), "clinic_id": str(network.clinic),
        "discipline": "medical_massage", "diagnoses": ["M54.50"],
        "contraindications": ["deep_tissue"], "precautions": ["anticoagulants"],
        "authorized_visits": 12, "reason": "low back pain",
        "occurred_at": "2026-03-02T09:00:00+00:00",
    }
    body.update(overrides)
    return body


def make_referral(client: Any, network: Network) -> UUID:
    response = post(client, "/referrals", referral_body(network), network.physician_auth)
    assert response.status_code == 201, response.content
    return UUID(response.json()["id"])


def events_of(db: bootstrap.Database, aggregate_id: UUID) -> int:
    with psycopg.connect(db.app_url) as conn:
        row = conn.execute("SELECT count(*) FROM careledger.careledger_events "
                           "WHERE originator_id = %s", (aggregate_id,)).fetchone()
    assert row is not None
    return int(row[0])


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["code"] == code and body["title"]
    assert body["type"].endswith(code)
    return body
