"""Asking the GraphQL API as a client does, and bringing the live views up to the log."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from careledger.consumers.replay import replay
from careledger.domain.application import CareLedger
from careledger.main import bootstrap
from careledger.projections import live_generation

#: A patient's timeline, as the web page asks for it.
TIMELINE = """
query ($id: UUID!, $asOf: DateTime, $first: Int = 50, $after: String) {
  patient(id: $id) {
    id
    timeline(asOf: $asOf, first: $first, after: $after) {
      events { position kind occurredAt recordedAt clinicId }
      endCursor hasNextPage
    }
  }
}
"""

_synced = [0]


def sync_views(app: CareLedger, db: bootstrap.Database) -> int:
    """Apply what the log holds beyond the live views (a rebuild's switch moves the floor);
    answer the log position they now hold."""
    with psycopg.connect(db.admin_url) as conn:
        schema, floor = live_generation(conn)
    _synced[0] = replay(app, db.app_url, schema, after=max(_synced[0], floor))
    return _synced[0]


def ask(client: Any, token: str | None, query: str, **variables: Any) -> dict[str, Any]:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    response = client.post("/graphql", data=json.dumps({"query": query, "variables": variables}),
                           content_type="application/json", **headers)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def kinds(body: dict[str, Any]) -> list[str]:
    return [e["kind"] for e in body["data"]["patient"]["timeline"]["events"]]
