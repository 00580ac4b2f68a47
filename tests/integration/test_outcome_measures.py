"""The outcome measure on its schedule, through the public API and GraphQL on the real
PostgreSQL: taken at the assessment, due again for every progress report and for the
discharge; the therapist's caseload flags it before the report falls due and until it is
taken; the printed report shows it, or that it was not taken; each instrument's scale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from careledger.access.tokens import Role
from careledger.domain.application import CareLedger
from careledger.domain.authorizing import AuthorizeVisits
from careledger.domain.clinical import FunctionalInstrument, Technique
from careledger.domain.closing import SendProgressReport
from careledger.domain.planning import CertifyPlan
from careledger.domain.treatment import CompleteSession
from careledger.main import bootstrap
from tests.helpers.api import assert_problem, post, referral_body
from tests.helpers.care import SOAP, episode, schedule
from tests.helpers.graphql import ask, sync_views
from tests.helpers.network import Network

CASELOAD = """query ($id: UUID!) { therapist(id: $id) { caseload {
  referralId visitsUsed outcomeMeasureDue functionalInstrument } } }"""


def _visit(app: CareLedger, network: Network, rid: UUID, n: int, at: datetime,
           score: float | None) -> None:
    schedule(app, rid, network.therapist, f"s{n:02d}", at)
    app.handle(CompleteSession(
        referral_id=rid, session_id=f"s{n:02d}", practitioner_id=network.therapist,
        soap=SOAP, techniques=[(Technique.MYOFASCIAL_RELEASE, 25)], pain_before=6,
        pain_after=5, location="clinic", functional_score=score,  # type: ignore[arg-type]
        goal_measurements=[], override_reason=None, occurred_at=at, actor="therapist:t"))


def test_the_measure_is_due_for_each_report_flagged_until_taken_and_printed(
    client: Any, network: Network, app: CareLedger, db: bootstrap.Database,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=4)
    rid = episode(app, network, clinic=network.clinic, therapist=network.therapist, at=start,
                  code="M54.50", instrument=FunctionalInstrument.ODI, pain=7, score=44.0,
                  reason="low back pain")
    app.handle(CertifyPlan(referral_id=rid, physician_id=network.physician,
                           certified_from=start.date(),
                           certified_until=(start + timedelta(days=60)).date(),
                           occurred_at=start + timedelta(days=2, hours=1), actor="physician:t"))
    app.handle(AuthorizeVisits(referral_id=rid, visits=12, starts_on=start.date(),
                               physician_id=network.physician,
                               occurred_at=start + timedelta(days=2, hours=2),
                               actor="physician:t"))
    token = network.token(Role.THERAPIST, network.therapist, [network.clinic])

    def due() -> tuple[int, bool]:
        sync_views(app, db)
        answer = ask(client, token, CASELOAD, id=str(network.therapist))
        assert "errors" not in answer, answer
        (entry,) = answer["data"]["therapist"]["caseload"]
        assert entry["functionalInstrument"] == "ODI"
        return entry["visitsUsed"], entry["outcomeMeasureDue"]

    at = now - timedelta(hours=20)
    for n in range(1, 8):  # seven visits, no score: the report is three visits away
        _visit(app, network, rid, n, at + timedelta(hours=n), None)
    assert due() == (7, False)
    _visit(app, network, rid, 8, at + timedelta(hours=8), None)
    assert due() == (8, True)  # the report falls due within two visits: take it now
    _visit(app, network, rid, 9, at + timedelta(hours=9), 30.0)
    assert due() == (9, False)
    _visit(app, network, rid, 10, at + timedelta(hours=10), None)
    app.handle(SendProgressReport(referral_id=rid, practitioner_id=network.therapist,
                                  summary="improving", goal_status=[],
                                  occurred_at=at + timedelta(hours=10, minutes=30),
                                  actor="therapist:t"))
    assert due() == (10, False)  # the next report wants its own, ten visits on
    for n in range(11, 19):
        _visit(app, network, rid, n, at + timedelta(hours=n), None)
    assert due() == (18, True)
    app.handle(SendProgressReport(referral_id=rid, practitioner_id=network.therapist,
                                  summary="slower progress", goal_status=[],
                                  occurred_at=at + timedelta(hours=18, minutes=30),
                                  actor="therapist:t"))
    sync_views(app, db)

    def printed(report: int) -> str:
        page = client.get(f"/api/v1/referrals/{rid}/printouts/progress-report",
                          {"report": str(report)}, **network.therapist_auth)
        assert page.status_code == 200, page.content
        return " ".join(page.content.decode().split())

    assert f"ODI 30.0 on {(at + timedelta(hours=9)).day} " in printed(1)
    assert "ODI not taken for this report" in printed(2)


def test_each_instrument_scores_on_its_own_scale(
    client: Any, network: Network, app: CareLedger, db: bootstrap.Database,
) -> None:
    made = post(client, "/referrals", referral_body(network), network.physician_auth)
    rid = made.json()["id"]
    assert post(client, f"/referrals/{rid}/acceptance", {},
                network.therapist_auth).status_code == 201
    body = {"history": "knee pain", "pain_nprs": 6, "functional_instrument": "LEFS",
            "functional_score": 85}
    refused = assert_problem(post(client, f"/referrals/{rid}/assessments", body,
                                  network.therapist_auth), 422, "invalid_input")
    assert refused["errors"][0]["field"] == "functional_score"
    assert "LEFS scores are 0-80" in refused["errors"][0]["message"]
    assert post(client, f"/referrals/{rid}/assessments", {**body, "functional_score": 52},
                network.therapist_auth).status_code == 201
    # A visit's score is held to the scale the assessment chose.
    assert post(client, f"/referrals/{rid}/sessions", {
        "session_id": "s1", "scheduled_for": "2026-03-05T10:00:00+00:00"},
        network.therapist_auth).status_code == 201
    visit = {"soap": {"subjective": "a", "objective": "b", "assessment": "c", "plan": "d"},
             "techniques": [{"technique": "myofascial_release", "minutes": 25}],
             "pain_before": 6, "pain_after": 5, "functional_score": 85,
             "occurred_at": "2026-03-05T10:00:00+00:00"}
    off_scale = assert_problem(post(client, f"/referrals/{rid}/sessions/s1/completion", visit,
                                    network.therapist_auth), 422, "invalid_input")
    assert "LEFS scores are 0-80" in off_scale["errors"][0]["message"]
    assert post(client, f"/referrals/{rid}/sessions/s1/completion",
                {**visit, "functional_score": 60}, network.therapist_auth).status_code == 201
    # LEFS rises as function improves: 52, 60, 62 with less pain is not "not improving".
    assert post(client, f"/referrals/{rid}/sessions", {
        "session_id": "s2", "scheduled_for": "2026-03-06T10:00:00+00:00"},
        network.therapist_auth).status_code == 201
    assert post(client, f"/referrals/{rid}/sessions/s2/completion", {
        **visit, "functional_score": 62, "occurred_at": "2026-03-06T10:00:00+00:00"},
        network.therapist_auth).status_code == 201
    sync_views(app, db)
    listed = ask(client, network.token(Role.PHYSICIAN, network.physician),
                 """query ($id: UUID!) { physician(id: $id) { notImproving { referralId } } }""",
                 id=str(network.physician))["data"]["physician"]["notImproving"]
    assert rid not in {e["referralId"] for e in listed}
