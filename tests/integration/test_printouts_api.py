"""The episode's documents to print, through the public API on the real PostgreSQL: the
plan of care for the physician's signature, a progress report, the discharge summary and
an insurer's records packet, each from the record, in the clinic's words (names, NPIs,
dates; no ids), under the access rules, and each a disclosure in the access log (with its
recipient). Printing them to PDF in Chromium is tests/e2e/test_printouts.py."""

from __future__ import annotations

import re
from typing import Any
from uuid import uuid4

import psycopg

from careledger.access.tokens import Role
from careledger.domain.application import CareLedger
from careledger.main import bootstrap
from tests.helpers.api import assert_problem
from tests.helpers.graphql import sync_views
from tests.helpers.network import Network
from tests.helpers.printouts import THERAPIST_NPI, twelve_visits

UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _page(client: Any, auth: dict[str, str], rid: Any, kind: str, **query: str) -> Any:
    return client.get(f"/api/v1/referrals/{rid}/printouts/{kind}", query, **auth)


def test_each_document_of_a_twelve_visit_episode_prints_from_the_record(
    client: Any, network: Network, app: CareLedger, db: bootstrap.Database,
) -> None:
    rid = twelve_visits(app, network)
    sync_views(app, db)  # the care team, as every read by id asks it
    physician = network.physician_auth
    pages = {}
    for kind in ("plan-of-care", "progress-report", "discharge-summary", "records-packet"):
        response = _page(client, physician, rid, kind)
        assert response.status_code == 200, (kind, response.content)
        assert response["Content-Type"] == "text/html; charset=utf-8"
        assert response["Cache-Control"] == "no-store"
        pages[kind] = html = response.content.decode()
        assert "Maria Okafor" in html and "M54.50" in html, kind
        assert "Dr. Ada Reyes" in html and "NPI 1234567893" in html, kind
        assert "@page" in html and "<nav" not in html, kind
        assert not UUID_TEXT.search(html), (kind, UUID_TEXT.search(html))
        assert "12 of 13 authorized used" in html and "1 cancelled" in html, kind
    plan = pages["plan-of-care"]
    assert "Physician&#x27;s signature" in plan or "Physician's signature" in plan
    assert "Certified by Dr. Ada Reyes (NPI 1234567893)" in plan
    assert "myofascial release" in plan and "Reduce pain at rest" in plan
    report = pages["progress-report"]
    assert "Progress report 1" in report and "Pain and function improving" in report
    assert f"NPI {THERAPIST_NPI}" in report
    assert "Visit 12" in report  # outcome measures over time, visit by visit
    discharge = pages["discharge-summary"]
    assert "Goals met or nearly" in discharge and "partially met" in discharge
    packet = pages["records-packet"]
    for n in range(1, 13):
        assert f"Visit {n}," in packet
    assert packet.count("Late entry, written") == 1  # visit 1, written days later
    assert "patient travelling" in packet and "Session notes" in packet

    # Handed to an insurer: a disclosure with its recipient; the record's own 404s.
    desk = {"HTTP_AUTHORIZATION": "Bearer "
            + network.token(Role.CLINIC_ADMIN, uuid4(), [network.clinic])}
    assert _page(client, desk, rid, "records-packet",
                 recipient="Empire Plan").status_code == 200
    assert_problem(_page(client, physician, rid, "progress-report", report="2"), 404,
                   "not_found")
    assert_problem(_page(client, physician, rid, "invoice"), 422, "invalid_request")
    assert_problem(_page(client, physician, rid, "plan-of-care", report="1"), 422,
                   "invalid_request")
    for outsider in (Role.PHYSICIAN, Role.BILLER):
        auth = {"HTTP_AUTHORIZATION": "Bearer "
                + network.token(outsider, uuid4(), [network.clinic])}
        assert_problem(_page(client, auth, rid, "records-packet"), 404, "not_found")
    assert_problem(_page(client, physician, uuid4(), "plan-of-care"), 404, "not_found")
    with psycopg.connect(db.app_url) as conn:
        logged = conn.execute(
            "SELECT role, fields, allowed FROM careledger.access_log"
            " WHERE patient_id = %s AND fields LIKE 'printout:%%' ORDER BY id",
            (network.patient,)).fetchall()
    assert ("clinic_admin", "printout:records-packet to Empire Plan", True) in logged
    assert [f for _, f, _ in logged[:4]] == [
        "printout:plan-of-care", "printout:progress-report", "printout:discharge-summary",
        "printout:records-packet"]
    assert {(r, a) for r, _, a in logged if r in ("biller",)} == {("biller", False)}
