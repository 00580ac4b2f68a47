"""Sessions held to the plan, through the public API on the real PostgreSQL: a technique
the plan does not name, or a site outside those it names for a technique, is refused
without a stated reason and recorded with it; it waits on the referring physician's
worklist until they acknowledge it or the plan is revised; the FHIR export gives each
Procedure its body sites and what the note said of the plan."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from careledger.access.tokens import Role
from careledger.domain.application import CareLedger
from careledger.main import bootstrap
from tests.helpers.api import assert_problem, post, referral_body
from tests.helpers.graphql import ask, sync_views
from tests.helpers.network import Network

SOAP = {"subjective": "a", "objective": "b", "assessment": "c", "plan": "d"}
LUMBAR, THORACIC = {"region": "lumbar"}, {"region": "thoracic"}
BEYOND = """query ($id: UUID!) { physician(id: $id) {
  beyondPlan { sessionId what reason ageDays occurredAt } } }"""
GOALS = [{"goal_id": "pain", "description": "less pain", "metric": "NPRS", "baseline": 7,
          "target": 3, "unit": "points", "due": "2026-05-01"}]


def _session(client: Any, network: Network, rid: UUID, sid: str, day: int,
             techniques: list[dict[str, Any]], **extra: Any) -> Any:
    at = f"2026-03-{day:02d}T10:00:00+00:00"
    if extra.pop("schedule", True):
        scheduled = post(client, f"/referrals/{rid}/sessions",
                         {"session_id": sid, "scheduled_for": at}, network.therapist_auth)
        assert scheduled.status_code == 201, scheduled.content
    return post(client, f"/referrals/{rid}/sessions/{sid}/completion", {
        "soap": SOAP, "techniques": techniques, "pain_before": 6, "pain_after": 5,
        "occurred_at": at, **extra}, network.therapist_auth)


def _beyond(client: Any, network: Network, app: CareLedger,
            db: bootstrap.Database) -> list[dict[str, Any]]:
    sync_views(app, db)
    body = ask(client, network.token(Role.PHYSICIAN, network.physician), BEYOND,
               id=str(network.physician))
    rows: list[dict[str, Any]] = body["data"]["physician"]["beyondPlan"]
    return rows


def test_a_session_beyond_the_plan_needs_a_reason_and_waits_for_the_physician(
    client: Any, network: Network, app: CareLedger, db: bootstrap.Database,
) -> None:
    t, p = network.therapist_auth, network.physician_auth
    rid = UUID(post(client, "/referrals", referral_body(network, contraindications=[]),
                    p).json()["id"])
    for path, body, auth in [
        ("/acceptance", {}, t),
        ("/assessments", {"history": "6 weeks", "pain_nprs": 7, "functional_instrument": "ODI",
                          "functional_score": 44}, t),
        ("/plan", {"goals": GOALS, "techniques": ["myofascial_release", "stretching"],
                   "sites": {"myofascial_release": [LUMBAR]}, "frequency_per_week": 2,
                   "duration_weeks": 6}, t),
        ("/plan/certification", {"certified_from": "2026-03-03",
                                 "certified_until": "2026-05-31"}, p),
    ]:
        answer = post(client, f"/referrals/{rid}{path}", body, auth)
        assert answer.status_code == 201, (path, answer.content)

    # Within the plan: its technique on its site; stretching, for which it names none.
    within = _session(client, network, rid, "s1", 5, [
        {"technique": "myofascial_release", "minutes": 15, "sites": [LUMBAR]},
        {"technique": "stretching", "minutes": 10,
         "sites": [{"region": "thigh", "side": "left"}]}])
    assert within.status_code == 201, within.content

    # A technique the plan does not name; then the plan's technique on another site.
    refused = assert_problem(_session(client, network, rid, "s2", 6, [
        {"technique": "trigger_point", "minutes": 15, "sites": [LUMBAR]}]),
        409, "invariant_violated")
    assert "trigger point: not in the plan" in refused["detail"]
    assert "reason" in refused["detail"]
    assert _session(client, network, rid, "s2", 6, [
        {"technique": "trigger_point", "minutes": 15, "sites": [LUMBAR]}], schedule=False,
        off_plan_reason="active trigger point found today").status_code == 201
    refused = assert_problem(_session(client, network, rid, "s3", 7, [
        {"technique": "myofascial_release", "minutes": 15, "sites": [THORACIC]}]),
        409, "invariant_violated")
    assert "myofascial release on the thoracic: the plan names the lumbar" in refused["detail"]
    assert _session(client, network, rid, "s3", 7, [
        {"technique": "myofascial_release", "minutes": 15, "sites": [THORACIC]}],
        schedule=False, off_plan_reason="pain moved up the back").status_code == 201

    waiting = _beyond(client, network, app, db)
    assert [(w["sessionId"], w["what"], w["reason"]) for w in waiting] == [
        ("s2", ["trigger point: not in the plan"], "active trigger point found today"),
        ("s3", ["myofascial release on the thoracic: the plan names the lumbar"],
         "pain moved up the back")]
    assert all(w["ageDays"] >= 0 for w in waiting)

    # Only the referring physician acknowledges, and only what waits.
    ack = f"/referrals/{rid}/sessions/s2/deviation-acknowledgement"
    assert_problem(post(client, ack, {}, t), 403, "not_permitted")
    assert post(client, ack, {"note": "fine, keep it short"}, p).status_code == 201
    assert_problem(post(client, ack, {}, p), 409, "invariant_violated")
    assert_problem(post(client, f"/referrals/{rid}/sessions/s1/deviation-acknowledgement",
                        {}, p), 409, "invariant_violated")
    assert [w["sessionId"] for w in _beyond(client, network, app, db)] == ["s3"]

    # A revised plan answers what is left.
    revised = post(client, f"/referrals/{rid}/plan/revisions", {
        "goals": GOALS, "techniques": ["myofascial_release", "stretching", "trigger_point"],
        "sites": {"myofascial_release": [LUMBAR, THORACIC]}, "frequency_per_week": 2,
        "duration_weeks": 6, "reason": "pain spread to the thoracic spine"}, t)
    assert revised.status_code == 201, revised.content
    assert _beyond(client, network, app, db) == []
    assert _session(client, network, rid, "s4", 8, [
        {"technique": "myofascial_release", "minutes": 15, "sites": [THORACIC]}]
    ).status_code == 201

    bundle = client.get(f"/api/v1/patients/{network.patient}/fhir", **p).json()
    procedures = {r["id"]: r for e in bundle["entry"]
                  if (r := e["resource"])["resourceType"] == "Procedure"}

    sited = [b["text"] for r in procedures.values() for b in r.get("bodySite", [])]
    assert {"Lumbar", "Thoracic", "Left thigh"} <= set(sited), sited
    notes = [n["text"] for r in procedures.values() for n in r.get("note", [])]
    assert "Beyond the plan, myofascial release on the thoracic: the plan names the lumbar" \
        in notes
    assert "Reason: pain moved up the back" in notes
    assert "Acknowledged by the referring physician: fine, keep it short" in notes
