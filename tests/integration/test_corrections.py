"""Corrections that flow: after an amendment every view gives the value as it now stands,
the timeline keeps the original beside it, an as-of reading before it gives the original,
and a rebuild from the log gives the same views."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from careledger.access.tokens import Role
from careledger.audit.as_of import replay_as_of
from careledger.consumers.replay import checksums, replay
from careledger.domain.application import CareLedger
from careledger.infra.schema import create_views
from careledger.infra.settings import APP_ROLE
from careledger.main import bootstrap
from careledger.projections import live_generation
from tests.helpers.api import post, referral_body
from tests.helpers.graphql import ask, sync_views
from tests.helpers.network import Network

PATIENT = """
query ($id: UUID!, $asOf: DateTime) { patient(id: $id) {
  timeline(first: 100) { events { kind recordId data current amendments { data } } }
  progress(asOf: $asOf) { points { sessionId painAfter
    corrections { field original current reason amendedAt } } }
  goals { goalId baseline latest percentOfWay corrections { field original current reason } }
} }
"""
REFERRALS = """
query ($id: UUID!) { physician(id: $id) { referrals { entries {
  referralId baselinePain latestPain baselineFunction latestFunction
  corrections { field original current reason } } } } }
"""


def _step(client: Any, network: Network, rid: UUID, path: str, body: dict[str, Any],
          auth: dict[str, str] | None = None) -> None:
    response = post(client, f"/referrals/{rid}{path}",
                    {"occurred_at": "2026-03-04T09:00:00+00:00", **body},
                    auth or network.therapist_auth)
    assert response.status_code == 201, (path, response.content)


def test_a_corrected_pain_score_is_the_value_every_view_gives(
    client: Any, network: Network, app: CareLedger, db: bootstrap.Database,
) -> None:
    made = post(client, "/referrals", referral_body(network), network.physician_auth)
    rid = UUID(made.json()["id"])
    _step(client, network, rid, "/acceptance", {})
    _step(client, network, rid, "/assessments", {
        "assessment_id": "a1", "history": "6 weeks", "pain_nprs": 7,
        "functional_instrument": "ODI", "functional_score": 40})
    _step(client, network, rid, "/plan", {
        "goals": [{"goal_id": "pain", "description": "less pain", "metric": "NPRS",
                   "baseline": 7, "target": 3, "unit": "points", "due": "2026-05-01"}],
        "techniques": ["myofascial_release"], "frequency_per_week": 2, "duration_weeks": 6})
    _step(client, network, rid, "/sessions", {
        "session_id": "s1", "scheduled_for": "2026-03-05T10:00:00+00:00"})
    _step(client, network, rid, "/sessions/s1/completion", {
        "soap": {"subjective": "a", "objective": "b", "assessment": "c", "plan": "d"},
        "techniques": [{"technique": "myofascial_release", "minutes": 30}],
        "pain_before": 6, "pain_after": 5, "functional_score": 36,
        "goal_measurements": [{"goal_id": "pain", "value": 5}],
        "occurred_at": "2026-03-05T10:45:00+00:00"})
    sync_views(app, db)
    time.sleep(0.01)
    before_amendment = datetime.now(UTC)
    now = datetime.now(UTC).isoformat()
    _step(client, network, rid, "/amendments", {
        "record_id": "a1", "reason": "pain was misheard", "changes": {"pain_nprs": 6},
        "occurred_at": now})
    _step(client, network, rid, "/amendments", {
        "record_id": "s1", "reason": "pain after was 4",
        "changes": {"pain_after": 4, "goal_measurements": [{"goal_id": "pain", "value": 4}]},
        "occurred_at": now})
    sync_views(app, db)

    physician = network.token(Role.PHYSICIAN, network.physician)
    entries = ask(client, physician, REFERRALS, id=str(network.physician))[
        "data"]["physician"]["referrals"]["entries"]
    entry = next(e for e in entries if e["referralId"] == str(rid))
    assert (entry["baselinePain"], entry["latestPain"]) == (6, 4)
    assert (entry["baselineFunction"], entry["latestFunction"]) == (40, 36)
    # Beside each value as it now stands, the original and the amendment that changed it.
    assert entry["corrections"] == [
        {"field": "baselinePain", "original": 7, "current": 6, "reason": "pain was misheard"},
        {"field": "latestPain", "original": 5, "current": 4, "reason": "pain after was 4"}]

    patient = ask(client, physician, PATIENT, id=str(network.patient))["data"]["patient"]
    points = [(p["sessionId"], p["painAfter"]) for p in patient["progress"][0]["points"]]
    assert points == [(None, 6), ("s1", 4)]
    (goal,) = patient["goals"]
    assert (goal["baseline"], goal["latest"], goal["percentOfWay"]) == (7, 4, 75.0)
    assert goal["corrections"] == [{"field": "latest", "original": 5, "current": 4,
                                    "reason": "pain after was 4"}]
    assessed_point, visit = patient["progress"][0]["points"]
    assert [(c["field"], c["original"], c["current"]) for c in assessed_point["corrections"]
            ] == [("painAfter", 7, 6)]
    assert [(c["field"], c["original"], c["current"]) for c in visit["corrections"]] == [
        ("painAfter", 5, 4)] and visit["corrections"][0]["amendedAt"]
    assessed = next(e for e in patient["timeline"]["events"] if e["recordId"] == "a1")
    assert assessed["data"]["pain_nprs"] == 7  # the original, as recorded
    assert assessed["current"]["pain_nprs"] == 6  # the value as it now stands
    assert [a["data"]["changes"] for a in assessed["amendments"]] == [{"pain_nprs": 6}]

    # As the record stood before the amendments: the original everywhere.
    earlier = ask(client, physician, PATIENT, id=str(network.patient),
                  asOf=before_amendment.isoformat())["data"]["patient"]
    assert [(p["sessionId"], p["painAfter"]) for p in earlier["progress"][0]["points"]] == [
        (None, 7), ("s1", 5)]
    assert not any(p["corrections"] for p in earlier["progress"][0]["points"])
    schema = f"asof_{uuid.uuid4().hex[:8]}"
    replay_as_of(app, db, before_amendment, schema=schema)
    with psycopg.connect(db.app_url, row_factory=dict_row) as conn:
        then = conn.execute(f"SELECT baseline_pain, latest_pain FROM {schema}.referral_progress"
                            " WHERE referral_id = %s", (rid,)).fetchone()
        goal_then = conn.execute(f"SELECT latest FROM {schema}.goals WHERE referral_id = %s",
                                 (rid,)).fetchone()
    assert then == {"baseline_pain": 7, "latest_pain": 5} and goal_then == {"latest": 5}

    # A rebuild from the log makes the very same views.
    with psycopg.connect(db.admin_url) as conn:
        live, _ = live_generation(conn)
    fresh = f"rebuilt_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(db.admin_url, autocommit=True) as admin:
        create_views(admin, app_role=APP_ROLE, schema=fresh)
    replay(app, db.app_url, fresh)
    assert checksums(db.app_url, fresh) == checksums(db.app_url, live)
