"""Billing a biller can read, through the public API on the real PostgreSQL: each
session's lines by the 8-minute rule (7, 8, 22, 23, 37 and 38 minutes; 10 + 10 minutes
of two codes), an episode's totals, a clinic's totals over a period, and the FHIR
export's ChargeItems (a line without units is not billable)."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from careledger.access.tokens import Role
from careledger.domain.application import CareLedger
from careledger.main import bootstrap
from tests.helpers.api import post, referral_body
from tests.helpers.graphql import ask, sync_views
from tests.helpers.network import Network

BILLING = """query ($id: UUID!) { patient(id: $id) { billing {
  sessions { sessionId serviceDate minutes units lines { cpt minutes units billable certified } }
  episodes { referralId sessions minutes units certifiedUnits
             codes { cpt units minutes sessions } }
} } }"""
CLINIC = """query ($id: UUID!, $since: Date!, $until: Date!) { clinic(id: $id) {
  billing(since: $since, until: $until) { since until sessions minutes units certifiedUnits
    codes { cpt units minutes sessions } therapists { practitionerId name sessions units } }
} }"""
SOAP = {"subjective": "a", "objective": "b", "assessment": "c", "plan": "d"}
#: (session, its techniques and minutes, the lines it bills: code, minutes, units)
VISITS = [
    ("m7", [("swedish_massage", 7)], [("97124", 7, 0)]),
    ("m8", [("swedish_massage", 8)], [("97124", 8, 1)]),
    ("m22", [("swedish_massage", 22)], [("97124", 22, 1)]),
    ("m23", [("swedish_massage", 23)], [("97124", 23, 2)]),
    ("m37", [("swedish_massage", 37)], [("97124", 37, 2)]),
    ("m38", [("swedish_massage", 38)], [("97124", 38, 3)]),
    ("two", [("swedish_massage", 10), ("myofascial_release", 10)],
     [("97124", 10, 1), ("97140", 10, 0)]),
]


def _step(client: Any, network: Network, rid: UUID, path: str, body: dict[str, Any]) -> None:
    response = post(client, f"/referrals/{rid}{path}",
                    {"occurred_at": "2026-03-04T09:00:00+00:00", **body},
                    network.therapist_auth)
    assert response.status_code == 201, (path, response.content)


def test_each_session_bills_by_the_eight_minute_rule_and_the_totals_add_up(
    client: Any, network: Network, app: CareLedger, db: bootstrap.Database,
) -> None:
    made = post(client, "/referrals", referral_body(network, contraindications=[]),
                network.physician_auth)
    rid = UUID(made.json()["id"])
    _step(client, network, rid, "/acceptance", {})
    for day, (session, techniques, _) in enumerate(VISITS, start=5):
        at = f"2026-03-{day:02d}T10:00:00+00:00"
        _step(client, network, rid, "/sessions", {"session_id": session, "scheduled_for": at})
        _step(client, network, rid, f"/sessions/{session}/completion", {
            "soap": SOAP, "techniques": [{"technique": t, "minutes": m} for t, m in techniques],
            "pain_before": 6, "pain_after": 5, "occurred_at": at})
    sync_views(app, db)

    billing = ask(client, network.token(Role.THERAPIST, network.therapist, [network.clinic]),
                  BILLING, id=str(network.patient))["data"]["patient"]["billing"]
    sessions = {s["sessionId"]: s for s in billing["sessions"]}
    for session, _, lines in VISITS:
        assert [(line["cpt"], line["minutes"], line["units"], line["billable"])
                for line in sessions[session]["lines"]] == [
            (cpt, minutes, units, units > 0) for cpt, minutes, units in lines], session
        assert sessions[session]["units"] == sum(u for *_, u in lines)
    assert not any(line["certified"] for s in billing["sessions"] for line in s["lines"])
    (episode,) = [e for e in billing["episodes"] if e["referralId"] == str(rid)]
    assert (episode["sessions"], episode["minutes"], episode["units"],
            episode["certifiedUnits"]) == (7, 155, 10, 0)
    assert episode["codes"] == [
        {"cpt": "97124", "units": 10, "minutes": 145, "sessions": 7},
        {"cpt": "97140", "units": 0, "minutes": 10, "sessions": 1}]

    # The clinic's month, per code and per therapist; a period that ends before it starts
    # is refused with a code.
    admin = network.token(Role.CLINIC_ADMIN, uuid4(), [network.clinic])
    month = ask(client, admin, CLINIC, id=str(network.clinic), since="2026-03-01",
                until="2026-03-31")["data"]["clinic"]["billing"]
    assert (month["sessions"], month["minutes"], month["units"]) == (7, 155, 10)
    assert month["codes"] == episode["codes"]
    assert month["therapists"] == [{"practitionerId": str(network.therapist),
                                    "name": "Sam Lee", "sessions": 7, "units": 10}]
    later = ask(client, admin, CLINIC, id=str(network.clinic), since="2026-04-01",
                until="2026-04-30")["data"]["clinic"]["billing"]
    assert (later["sessions"], later["units"], later["codes"]) == (0, 0, [])
    backwards = ask(client, admin, CLINIC, id=str(network.clinic), since="2026-03-31",
                    until="2026-03-01")
    assert backwards["errors"][0]["extensions"]["code"] == "BAD_INPUT"
    elsewhere = ask(client, admin, CLINIC, id=str(network.other_clinic), since="2026-03-01",
                    until="2026-03-31")
    assert elsewhere["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    # The FHIR export: a ChargeItem per line, the one without units not billable.
    bundle = client.get(f"/api/v1/patients/{network.patient}/fhir",
                        **network.physician_auth).json()
    charges = {(c["context"]["reference"], c["code"]["coding"][0]["code"]): c
               for c in (e["resource"] for e in bundle["entry"])
               if c["resourceType"] == "ChargeItem"}
    statuses = sorted((c["quantity"]["value"], c["status"]) for c in charges.values())
    assert statuses[0] == (0, "not-billable") and statuses[1] == (0, "not-billable")
    assert all(status == "billable" for units, status in statuses if units)
