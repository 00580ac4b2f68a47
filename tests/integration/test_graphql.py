"""GraphQL over the views: who may read a patient, and a log of every read.

The views are filled by replaying the log into the live generation (what the consumers
would have applied), so these tests need no broker.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
import pytest

from careledger.access.tokens import Role
from careledger.audit.access_chain import verify_access_log
from careledger.domain.amendments import Amend
from careledger.domain.application import CareLedger
from careledger.domain.intake import CancelReferral
from careledger.domain.patient import Patient, RevokeConsent
from careledger.domain.referral import Referral
from careledger.domain.treatment import ScheduleSession
from careledger.graphql.context import GENERATIONS
from careledger.main import bootstrap
from careledger.projections import live_generation
from tests.helpers.graphql import TIMELINE, ask, kinds, sync_views
from tests.helpers.network import NOW, Network, open_episode, referral_to_a_new_patient


@pytest.fixture()
def episode(app: CareLedger, db: bootstrap.Database, network: Network) -> UUID:
    rid = open_episode(app, network, accept=True)
    sync_views(app, db)
    return rid


def test_the_referring_physician_reads_the_shared_timeline(
    client: Any, network: Network, episode: UUID
) -> None:
    body = ask(client, network.token(Role.PHYSICIAN, network.physician), TIMELINE,
               id=str(network.patient))
    assert "errors" not in body
    assert kinds(body) == [Patient.Registered.KIND, Patient.ConsentGranted.KIND, Referral.Made.KIND,
                           Referral.Accepted.KIND]


def test_a_denied_read_looks_exactly_like_a_patient_that_does_not_exist(
    client: Any, network: Network, episode: UUID
) -> None:
    stranger = network.token(Role.PHYSICIAN, uuid.uuid4())
    denied = ask(client, stranger, TIMELINE, id=str(network.patient))
    missing = ask(client, stranger, TIMELINE, id=str(uuid.uuid4()))
    assert denied == missing
    assert denied["data"] is None
    assert denied["errors"][0]["extensions"] == {"code": "NOT_FOUND"}
    assert denied["errors"][0]["message"] == "no patient with that id"


def test_clinics_see_their_referrals_patients_and_no_one_else(
    client: Any, network: Network, episode: UUID
) -> None:
    own = ask(client, network.token(Role.THERAPIST, network.therapist, [network.clinic]),
              TIMELINE, id=str(network.patient))
    assert Referral.Made.KIND in kinds(own)
    admin = ask(client, network.token(Role.CLINIC_ADMIN, uuid.uuid4(), [network.clinic]),
                TIMELINE, id=str(network.patient))
    assert Referral.Made.KIND in kinds(admin)
    other = ask(client, network.token(Role.THERAPIST, network.other_therapist,
                                      [network.other_clinic]), TIMELINE, id=str(network.patient))
    assert other["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_revoked_consent_closes_the_clinics_not_the_referring_physician_nor_the_auditor(
    app: CareLedger, db: bootstrap.Database, client: Any, network: Network, episode: UUID
) -> None:
    app.handle(RevokeConsent(patient_id=network.patient, reason="moving away", occurred_at=NOW,
                             actor="patient"))
    clinic = ask(client, network.token(Role.THERAPIST, network.therapist, [network.clinic]),
                 TIMELINE, id=str(network.patient))
    assert clinic["errors"][0]["extensions"]["code"] == "NOT_FOUND"  # at once, views or not
    sync_views(app, db)
    physician = ask(client, network.token(Role.PHYSICIAN, network.physician), TIMELINE,
                    id=str(network.patient))
    assert kinds(physician)[-1] == Patient.ConsentRevoked.KIND
    auditor = ask(client, network.token(Role.AUDITOR, uuid.uuid4()), TIMELINE,
                  id=str(network.patient))
    assert kinds(auditor)[-1] == Patient.ConsentRevoked.KIND


def test_every_read_allowed_or_denied_is_logged_in_a_chain_the_app_cannot_change(
    db: bootstrap.Database, client: Any, network: Network, episode: UUID
) -> None:
    stranger = uuid.uuid4()
    ask(client, network.token(Role.PHYSICIAN, network.physician), TIMELINE,
        id=str(network.patient))
    ask(client, network.token(Role.PHYSICIAN, stranger), TIMELINE, id=str(network.patient))
    with psycopg.connect(db.app_url) as conn:
        rows = conn.execute(
            "SELECT principal, allowed, basis, fields FROM careledger.access_log"
            " WHERE patient_id = %s ORDER BY id", (network.patient,)).fetchall()
        assert rows == [(network.physician, True, "care_team", "patient:id,timeline"),
                        (stranger, False, None, "patient:id,timeline")]
        chain = conn.execute(
            "SELECT at, principal, role, patient_id, fields, allowed, basis, reason,"
            " previous_hash, hash FROM careledger.access_log ORDER BY id").fetchall()
        for statement in ("UPDATE careledger.access_log SET allowed = true",
                          "DELETE FROM careledger.access_log",
                          "INSERT INTO careledger.access_log (at, principal, role, fields,"
                          " allowed, previous_hash, hash) VALUES (now(), gen_random_uuid(),"
                          " 'x', 'x', true, '', '')"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
            conn.rollback()
    assert len(chain) >= 2
    with psycopg.connect(db.app_url, autocommit=True) as conn:
        assert verify_access_log(conn).findings == []  # what `audit verify` checks


def test_as_of_shows_the_record_as_it_stood_and_pages_are_bounded(
    client: Any, network: Network, episode: UUID
) -> None:
    token = network.token(Role.PHYSICIAN, network.physician)
    full = ask(client, token, TIMELINE, id=str(network.patient))["data"]["patient"]["timeline"]
    made = next(e for e in full["events"] if e["kind"] == Referral.Made.KIND)
    then = ask(client, token, TIMELINE, id=str(network.patient), asOf=made["recordedAt"])
    assert kinds(then)[-1] == Referral.Made.KIND  # the acceptance was recorded after
    first = ask(client, token, TIMELINE, id=str(network.patient), first=2)
    page = first["data"]["patient"]["timeline"]
    assert len(page["events"]) == 2 and page["hasNextPage"]
    rest = ask(client, token, TIMELINE, id=str(network.patient), after=page["endCursor"])
    assert kinds(first) + kinds(rest) == kinds(
        ask(client, token, TIMELINE, id=str(network.patient)))
    too_many = ask(client, token, TIMELINE, id=str(network.patient), first=1000)
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_INPUT"


def test_timeline_pages_walk_past_events_with_no_valid_time(
    db: bootstrap.Database, client: Any, network: Network, episode: UUID
) -> None:
    """Undated rows sort last; a cursor on one still leads to the next (none repeated)."""
    with psycopg.connect(db.admin_url, autocommit=True) as admin:
        schema, _ = live_generation(admin)
        for offset in (1, 2):
            admin.execute(
                f"INSERT INTO {schema}.timeline (position, event_id, patient_id,"
                " aggregate_version, kind, occurred_at, recorded_at, data) VALUES"
                " ((SELECT max(notification_id) FROM careledger.careledger_events) + 10000000 + %s,"
                " gen_random_uuid(), %s, 1, 'undated row', NULL, now(), '{}')",
                (offset, network.patient))
    token = network.token(Role.PHYSICIAN, network.physician)
    whole = ask(client, token, TIMELINE, id=str(network.patient))["data"]["patient"]["timeline"]
    assert [e["kind"] for e in whole["events"][-2:]] == ['undated row'] * 2
    walked: list[int] = []
    after = None
    for _ in whole["events"]:  # as many pages as events, never more
        page = ask(client, token, TIMELINE, id=str(network.patient), first=1,
                   after=after)["data"]["patient"]["timeline"]
        walked += [e["position"] for e in page["events"]]
        if not page["hasNextPage"]:
            break
        after = page["endCursor"]
    assert walked == [e["position"] for e in whole["events"]]


def test_no_token_no_data(client: Any, network: Network, episode: UUID) -> None:
    body = ask(client, None, TIMELINE, id=str(network.patient))
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


AUDIT = """
query ($id: UUID!) {
  auditTrail(aggregateId: $id) {
    position version type occurredAt recordedAt actor hash previousHash
  }
}
"""
REPORT = """
query ($id: UUID!) { accessReport(patientId: $id) { principal role fields allowed basis } }
"""


def test_auditors_replay_a_records_raw_events_with_their_hash_chain(
    client: Any, network: Network, episode: UUID
) -> None:
    body = ask(client, network.token(Role.AUDITOR, uuid.uuid4()), AUDIT, id=str(episode))
    trail = body["data"]["auditTrail"]
    assert [e["type"] for e in trail] == [Referral.Made.TOPIC,
                                          Referral.Accepted.TOPIC]
    assert trail[0]["previousHash"] == "00" * 32
    assert trail[1]["previousHash"] == trail[0]["hash"]
    assert trail[0]["occurredAt"].startswith(NOW.date().isoformat())
    assert trail[0]["actor"] == "physician:t"
    physician = ask(client, network.token(Role.PHYSICIAN, network.physician), AUDIT,
                    id=str(episode))
    assert physician["data"] is None
    assert physician["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_an_auditor_accounts_for_every_disclosure_of_a_patient(
    client: Any, network: Network, episode: UUID
) -> None:
    stranger = uuid.uuid4()
    ask(client, network.token(Role.PHYSICIAN, network.physician), TIMELINE,
        id=str(network.patient))
    ask(client, network.token(Role.PHYSICIAN, stranger), TIMELINE, id=str(network.patient))
    auditor = network.token(Role.AUDITOR, uuid.uuid4())
    report = ask(client, auditor, REPORT, id=str(network.patient))["data"]["accessReport"]
    assert [(r["principal"], r["allowed"], r["basis"]) for r in report][:2] == [
        (str(network.physician), True, "care_team"), (str(stranger), False, None)]
    assert report[2]["fields"] == "accessReport" and len(report) == 3  # itself, last
    again = ask(client, auditor, REPORT, id=str(network.patient))["data"]["accessReport"]
    assert again[-1]["fields"] == "accessReport" and again[-1]["role"] == "auditor"


WORKLIST = """
query ($id: UUID!) {
  physician(id: $id) {
    referrals { entries { referralId patientId status planStatus } hasNextPage }
    awaitingCertification { referralId planStatus }
    certificationsDue { referralId certifiedUntil }
    notImproving { referralId }
    progressReports { entries { referralId visitsToDate } hasNextPage }
  }
}
"""
CASELOAD = """
query ($id: UUID!) { clinic(id: $id) { caseload { referralId clinicId status nextSession } } }
"""
DAY = """
query ($id: UUID!) {
  therapist(id: $id) {
    caseload { referralId practitionerId }
    schedule { sessionId scheduledFor status }
    notesPending { sessionId scheduledFor status }
  }
}
"""


@pytest.fixture(scope="module")
def demo(app: CareLedger, db: bootstrap.Database) -> Any:
    from careledger.main.seed import seed_network

    network = seed_network(app, patients=10, seed=11)
    sync_views(app, db)
    return network


def test_a_physicians_worklist_lists_their_referrals_and_what_awaits_them(
    app: CareLedger, db: bootstrap.Database, client: Any, network: Network, demo: Any
) -> None:
    physician = UUID(demo.demo_physician)
    token = network.token(Role.PHYSICIAN, physician)
    worklist = ask(client, token, WORKLIST, id=str(physician))["data"]["physician"]
    assert not worklist["referrals"]["hasNextPage"]  # all on the first page
    referrals = worklist["referrals"]["entries"]
    made = {r["referralId"] for r in referrals}
    assert made and made <= set(demo.referral_ids)
    with psycopg.connect(db.app_url) as conn:
        schema, _ = live_generation(conn)
        expected = {str(r[0]) for r in conn.execute(
            f"SELECT referral_id FROM {schema}.referrals WHERE physician_id = %s",
            (physician,)).fetchall()}
        logged = {r[0] for r in conn.execute(
            "SELECT patient_id FROM careledger.access_log WHERE principal = %s AND fields ="
            " 'physician.referrals'", (physician,)).fetchall()}
    assert made == expected
    assert logged == {UUID(r["patientId"]) for r in referrals}
    assert all(r["planStatus"] == "awaiting certification"
               for r in worklist["awaitingCertification"])
    # Someone else's worklist is "not found", for a physician; an auditor may read it.
    other = ask(client, network.token(Role.PHYSICIAN, network.physician), WORKLIST,
                id=str(physician))
    assert other["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    audited = ask(client, network.token(Role.AUDITOR, uuid.uuid4()), WORKLIST, id=str(physician))
    assert {r["referralId"] for r in
            audited["data"]["physician"]["referrals"]["entries"]} == made
    # A patient who revokes consent stays on the referring physician's lists: the
    # episodes they ordered stay theirs (clinics' lists: tests/integration/test_consent.py).
    leaving = next(r for r in referrals if UUID(r["patientId"]) != UUID(demo.demo_patient))
    app.handle(RevokeConsent(patient_id=UUID(leaving["patientId"]), reason="moved",
                             occurred_at=NOW, actor="patient"))
    sync_views(app, db)
    after = ask(client, token, WORKLIST,
                id=str(physician))["data"]["physician"]["referrals"]["entries"]
    assert leaving["referralId"] in {r["referralId"] for r in after}


REFERRAL_PAGE = """
query ($id: UUID!, $first: Int, $after: String) {
  physician(id: $id) {
    referrals(first: $first, after: $after) { entries { referralId patientId }
                                             endCursor hasNextPage }
  }
}
"""


def test_a_physicians_referrals_come_a_page_at_a_time_and_each_page_logs_only_its_own(
    app: CareLedger, db: bootstrap.Database, client: Any, network: Network
) -> None:
    from datetime import timedelta

    # Seven referrals, two made at the same moment (the cursor breaks the tie by id).
    made_at = [NOW - timedelta(days=d) for d in (6, 5, 4, 3, 3, 2, 1)]
    referrals = [referral_to_a_new_patient(app, network, made=at) for at in made_at]
    sync_views(app, db)
    newest_first = [str(r) for _, r in sorted(zip(made_at, referrals, strict=True),
                                              key=lambda p: (p[0], p[1]), reverse=True)]
    token = network.token(Role.PHYSICIAN, network.physician)
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        with psycopg.connect(db.app_url) as conn:
            logged_before = conn.execute("SELECT max(id) FROM careledger.access_log"
                                         ).fetchone()[0]
        page = ask(client, token, REFERRAL_PAGE, id=str(network.physician), first=3,
                   after=after)["data"]["physician"]["referrals"]
        pages += 1
        with psycopg.connect(db.app_url) as conn:
            logged = {r[0] for r in conn.execute(
                "SELECT patient_id FROM careledger.access_log WHERE id > %s",
                (logged_before,)).fetchall()}
        # The page's patients are logged, and not the one read to tell whether more follow.
        assert logged == {UUID(e["patientId"]) for e in page["entries"]}
        seen += [e["referralId"] for e in page["entries"]]
        if not page["hasNextPage"]:
            break
        after = page["endCursor"]
    assert pages == 3
    assert seen == newest_first  # each once, newest first, none skipped


@pytest.mark.parametrize(("first", "after"), [(0, None), (201, None), (1, "not-a-cursor"),
                                              (1, "MjAyNnw=")])  # "2026|": a bad time
def test_a_list_page_out_of_bounds_is_refused_before_anything_is_read(
    db: bootstrap.Database, client: Any, network: Network, first: int, after: str | None
) -> None:
    token = network.token(Role.PHYSICIAN, network.physician)
    with psycopg.connect(db.app_url) as conn:
        before = conn.execute("SELECT count(*) FROM careledger.access_log").fetchone()[0]
    for query in (REFERRAL_PAGE, REFERRAL_PAGE.replace("referrals(", "progressReports(")):
        body = ask(client, token, query, id=str(network.physician), first=first, after=after)
        assert body["errors"][0]["extensions"]["code"] == "BAD_INPUT"
    with psycopg.connect(db.app_url) as conn:
        assert conn.execute("SELECT count(*) FROM careledger.access_log").fetchone()[0] \
            == before


def test_an_empty_list_logs_nothing_and_a_full_one_logs_each_patient_once(
    app: CareLedger, db: bootstrap.Database, client: Any, network: Network
) -> None:
    token = network.token(Role.PHYSICIAN, network.physician)
    empty = ask(client, token, REFERRAL_PAGE, id=str(network.physician))
    assert empty["data"]["physician"]["referrals"] == {
        "entries": [], "endCursor": None, "hasNextPage": False}
    for _ in range(3):  # three referrals of one patient: one disclosure of that patient
        open_episode(app, network)
    sync_views(app, db)
    full = ask(client, token, REFERRAL_PAGE, id=str(network.physician))
    assert len(full["data"]["physician"]["referrals"]["entries"]) == 3
    with psycopg.connect(db.app_url) as conn:
        logged = conn.execute(
            "SELECT patient_id FROM careledger.access_log WHERE principal = %s",
            (network.physician,)).fetchall()
    assert logged == [(network.patient,)]


def test_progress_reports_page_like_referrals(
    db: bootstrap.Database, client: Any, network: Network, demo: Any
) -> None:
    physician = UUID(demo.demo_physician)
    with psycopg.connect(db.app_url) as conn:
        schema, _ = live_generation(conn)
        # Every report sent them: the referring physician's, whatever the consent.
        expected = [(str(r[0]), r[1], r[2]) for r in conn.execute(
            f"SELECT p.referral_id, p.report_id, n.name FROM {schema}.progress_reports p"
            f" JOIN {schema}.practitioners n USING (practitioner_id) WHERE p.physician_id = %s"
            " ORDER BY p.sent_at DESC, p.position DESC", (physician,)).fetchall()]
    assert len(expected) >= 2, "the demo network should hold reports to page through"
    query = """query ($id: UUID!, $after: String) { physician(id: $id) {
      progressReports(first: 1, after: $after) {
        entries { referralId reportId by { name role } } endCursor hasNextPage } } }"""
    token = network.token(Role.PHYSICIAN, physician)
    seen: list[tuple[str, str, str]] = []
    after = None
    while True:
        page = ask(client, token, query, id=str(physician),
                   after=after)["data"]["physician"]["progressReports"]
        assert all(e["by"]["role"] == "therapist" for e in page["entries"])
        seen += [(e["referralId"], e["reportId"], e["by"]["name"]) for e in page["entries"]]
        if not page["hasNextPage"]:
            break
        after = page["endCursor"]
    assert seen == expected


def test_a_clinic_sees_its_open_caseload_and_a_therapist_their_day(
    client: Any, network: Network, demo: Any
) -> None:
    clinic, therapist = UUID(demo.demo_therapist_clinic), UUID(demo.demo_therapist)
    token = network.token(Role.THERAPIST, therapist, [clinic])
    caseload = ask(client, token, CASELOAD, id=str(clinic))["data"]["clinic"]["caseload"]
    assert caseload and {c["clinicId"] for c in caseload} == {str(clinic)}
    assert {c["status"] for c in caseload} <= {"pending", "accepted"}
    elsewhere = ask(client, token, CASELOAD, id=str(network.clinic))
    assert elsewhere["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    day = ask(client, token, DAY, id=str(therapist))["data"]["therapist"]
    assert {c["practitionerId"] for c in day["caseload"]} <= {str(therapist)}
    now = datetime.now(NOW.tzinfo)
    assert all(datetime.fromisoformat(s["scheduledFor"]) >= now for s in day["schedule"])
    assert all(datetime.fromisoformat(s["scheduledFor"]) < now for s in day["notesPending"])
    not_them = ask(client, token, DAY, id=str(uuid.uuid4()))
    assert not_them["errors"][0]["extensions"]["code"] == "NOT_FOUND"


EMERGENCY = """
query ($id: UUID!, $why: String) {
  patient(id: $id, emergencyReason: $why) { timeline { events { kind } } }
}
"""


def test_breaking_the_glass_needs_a_reason_lasts_hours_and_is_flagged(
    db: bootstrap.Database, client: Any, network: Network, episode: UUID
) -> None:
    stranger = uuid.uuid4()
    token = network.token(Role.PHYSICIAN, stranger)
    assert ask(client, token, EMERGENCY, id=str(network.patient))["errors"][0][
        "extensions"]["code"] == "NOT_FOUND"
    short = ask(client, token, EMERGENCY, id=str(network.patient), why="urgent")
    assert short["errors"][0]["extensions"]["code"] == "BAD_INPUT"
    why = "unconscious in the emergency department, allergy history needed"
    granted = ask(client, token, EMERGENCY, id=str(network.patient), why=why)
    assert Referral.Made.KIND in kinds(granted)
    later = ask(client, token, EMERGENCY, id=str(network.patient))  # within the window
    assert Referral.Made.KIND in kinds(later)
    # A clinic administrator cannot break the glass, and a missing patient stays missing.
    admin = network.token(Role.CLINIC_ADMIN, uuid.uuid4(), [network.other_clinic])
    assert ask(client, admin, EMERGENCY, id=str(network.patient), why=why)["errors"][0][
        "extensions"]["code"] == "NOT_FOUND"
    assert ask(client, token, EMERGENCY, id=str(uuid.uuid4()), why=why)["errors"][0][
        "extensions"]["code"] == "NOT_FOUND"
    review = ask(client, network.token(Role.AUDITOR, uuid.uuid4()),
                 "{ emergencyAccesses { principal patientId reason } }")
    flagged = [r for r in review["data"]["emergencyAccesses"] if r["principal"] == str(stranger)]
    assert flagged == [{"principal": str(stranger), "patientId": str(network.patient),
                        "reason": why}] * 2
    with psycopg.connect(db.app_url) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE careledger.emergency_grants SET expires_at = now() + '1 year'")
        conn.rollback()
        # The window is the database's (four hours at most), not the caller's.
        capped = conn.execute("SELECT careledger.grant_emergency(%s, %s, %s, 1000)"
                              " - clock_timestamp()", (stranger, network.patient, why)
                              ).fetchone()[0]
        assert capped.total_seconds() <= 4 * 3600
        expired = uuid.uuid4()
        conn.execute("SELECT careledger.grant_emergency(%s, %s, %s, 0)",
                     (expired, network.patient, why))
        conn.commit()
    after_expiry = ask(client, network.token(Role.PHYSICIAN, expired), EMERGENCY,
                       id=str(network.patient))
    assert after_expiry["errors"][0]["extensions"]["code"] == "NOT_FOUND"


AMENDED = """
query ($id: UUID!, $asOf: DateTime, $clinic: UUID, $kinds: [String!]) {
  patient(id: $id) {
    timeline(asOf: $asOf, clinicId: $clinic, kinds: $kinds) {
      events { kind recordId clinicId recordedAt amendments { kind recordedAt data } }
    }
  }
}
"""


def test_an_amendment_shows_beside_the_original_which_stays_as_recorded(
    app: CareLedger, db: bootstrap.Database, client: Any, network: Network, demo: Any
) -> None:
    patient, physician = demo.demo_patient, UUID(demo.demo_physician)
    token = network.token(Role.PHYSICIAN, physician)
    # The demo patient's episode at the first clinic (they are treated at a second, too).
    first_clinic = demo.demo_therapist_clinic
    before = ask(client, token, AMENDED, id=patient, kinds=[Referral.AssessmentRecorded.KIND],
                 clinic=first_clinic)
    (assessment,) = before["data"]["patient"]["timeline"]["events"]
    referral = UUID(demo.referral_ids[0])
    app.handle(Amend(referral_id=referral, record_id=assessment["recordId"],
                     reason="pain score mistyped",
                     changes={"pain_nprs": 6}, occurred_at=datetime.now(UTC),
                     actor=f"therapist:{demo.demo_therapist}"))
    sync_views(app, db)
    after = ask(client, token, AMENDED, id=patient, kinds=[Referral.AssessmentRecorded.KIND],
                clinic=first_clinic)
    (original,) = after["data"]["patient"]["timeline"]["events"]
    assert original["recordedAt"] == assessment["recordedAt"]
    assert [a["data"]["changes"] for a in original["amendments"]] == [{"pain_nprs": 6}]
    then = ask(client, token, AMENDED, id=patient, kinds=[Referral.AssessmentRecorded.KIND],
               clinic=first_clinic, asOf=assessment["recordedAt"])
    assert then["data"]["patient"]["timeline"]["events"][0]["amendments"] == []
    clinic = original["clinicId"]
    only = ask(client, token, AMENDED, id=patient, clinic=clinic)
    assert {e["clinicId"] for e in only["data"]["patient"]["timeline"]["events"]} == {clinic}


def test_aliases_and_nesting_cannot_reach_a_denied_patient_or_flood_the_api(
    client: Any, network: Network, episode: UUID
) -> None:
    stranger = network.token(Role.PHYSICIAN, uuid.uuid4())
    aliased = ask(client, stranger, f"""{{
      a: patient(id: "{network.patient}") {{ id }}
      b: patient(id: "{network.patient}") {{ timeline {{ events {{ kind data }} }} }}
    }}""")
    assert aliased["data"] is None
    assert {e["extensions"]["code"] for e in aliased["errors"]} == {"NOT_FOUND"}
    assert all("Maria" not in json.dumps(e) for e in aliased["errors"])
    flood = " ".join(f'p{i}: patient(id: "{uuid.uuid4()}") {{ id }}' for i in range(40))
    too_many = ask(client, stranger, "{ " + flood + " }")
    assert too_many["data"] is None
    assert "aliases" in too_many["errors"][0]["message"].lower()


MATCH = """
query ($condition: String!, $discipline: String!, $home: Boolean!) {
  matchPractitioners(condition: $condition, discipline: $discipline, homeVisit: $home,
                     near: {latitude: 42.65, longitude: -73.75, withinKm: 80}) {
    practitionerId profession distanceKm homeVisitRadiusKm
  }
}
"""


def test_matching_finds_licensed_experienced_practitioners_nearest_first(
    client: Any, network: Network, demo: Any
) -> None:
    token = network.token(Role.PHYSICIAN, UUID(demo.demo_physician))
    found = ask(client, token, MATCH, condition="M54", discipline="medical_massage",
                home=False)["data"]["matchPractitioners"]
    assert found and {m["profession"] for m in found} == {"medical_massage_therapist"}
    distances = [m["distanceKm"] for m in found]
    assert distances == sorted(distances) and distances[-1] <= 80
    home = ask(client, token, MATCH, condition="M54", discipline="medical_massage",
               home=True)["data"]["matchPractitioners"]
    assert all(m["homeVisitRadiusKm"] >= m["distanceKm"] for m in home)
    assert {m["practitionerId"] for m in home} <= {m["practitionerId"] for m in found}
    nobody = ask(client, token, MATCH, condition="Z99.89", discipline="medical_massage",
                 home=False)
    assert nobody["data"]["matchPractitioners"] == []
    no_such = ask(client, token, MATCH, condition="Z99.9", discipline="medical_massage",
                  home=False)  # not an ICD-10-CM code, nor the words of one
    assert no_such["errors"][0]["extensions"]["code"] == "BAD_INPUT"
    wrong = ask(client, token, MATCH, condition="M54", discipline="surgery", home=False)
    assert wrong["errors"][0]["extensions"]["code"] == "BAD_INPUT"


def test_a_patients_goals_show_progress_and_outcomes(
    client: Any, network: Network, demo: Any
) -> None:
    token = network.token(Role.AUDITOR, uuid.uuid4())
    outcomes = []
    for patient in demo.patient_ids:
        body = ask(client, token, "query ($id: UUID!) { patient(id: $id) { goals {"
                   " goalId baseline target latest percentOfWay outcome } } }", id=patient)
        outcomes += body["data"]["patient"]["goals"]
    assert outcomes
    assert {g["outcome"] for g in outcomes} >= {"met", None}
    for goal in outcomes:
        if goal["latest"] is not None and goal["percentOfWay"] is not None:
            expected = (goal["latest"] - goal["baseline"]) / (goal["target"] - goal["baseline"])
            assert abs(goal["percentOfWay"] - round(expected * 100, 1)) < 0.051


def test_min_position_reads_your_own_writes_or_says_it_is_not_there_yet(
    app: CareLedger, db: bootstrap.Database, client: Any, network: Network, episode: UUID,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    from careledger.graphql import context

    token = network.token(Role.PHYSICIAN, network.physician)
    written = app.handle(CancelReferral(referral_id=episode, reason="patient moved",
                                        occurred_at=NOW, actor="t"))
    query = """query ($id: UUID!, $at: Int) {
      patient(id: $id, minPosition: $at) { timeline { events { kind } } } }"""
    monkeypatch.setattr(context, "CATCH_UP_TIMEOUT_S", 0.3)
    early = ask(client, token, query, id=str(network.patient), at=written.position)
    assert early["errors"][0]["extensions"]["code"] == "NOT_CAUGHT_UP"
    monkeypatch.setattr(context, "CATCH_UP_TIMEOUT_S", 10.0)
    threading.Timer(0.3, sync_views, args=(app, db)).start()  # the consumer, a bit later
    response = client.post(
        "/graphql", content_type="application/json",
        data=json.dumps({"query": query, "variables": {"id": str(network.patient)}}),
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_CARELEDGER_MIN_POSITION=str(written.position),
    )
    assert Referral.Cancelled.KIND in kinds(response.json())


def test_access_matrix_every_principal_every_patient_every_path(
    app: CareLedger, db: bootstrap.Database, client: Any, network: Network, demo: Any
) -> None:
    """Allowed exactly where the rule says, judged from the domain's own records."""
    from careledger.access.policy import today
    from careledger.domain.consent import Reader, may_read
    from careledger.domain.patient import Patient
    from careledger.domain.referral import Referral

    referrals = [app.load(Referral, UUID(r)) for r in demo.referral_ids]
    patients = {UUID(p): app.load(Patient, UUID(p)) for p in demo.patient_ids}
    consent = {p: record.decisions for p, record in patients.items()}
    principals: list[tuple[Role, UUID, list[UUID]]] = [(Role.AUDITOR, uuid.uuid4(), []),
                                                       (Role.NETWORK_ADMIN, uuid.uuid4(), [])]
    principals += [(Role.PHYSICIAN, UUID(p), []) for p in demo.physician_ids]
    for clinic, therapists in demo.therapist_ids.items():
        principals += [(Role.THERAPIST, UUID(t.split(":")[0]), [UUID(clinic)])
                       for t in therapists]
        principals.append((Role.CLINIC_ADMIN, uuid.uuid4(), [UUID(clinic)]))

    def rule(role: Role, subject: UUID, clinics: list[UUID], patient: UUID) -> bool:
        if role is Role.AUDITOR:
            return True
        if role is Role.PHYSICIAN:
            ordered = any(r.patient_id == patient and r.physician_id == subject
                          for r in referrals)
            return may_read(Reader.REFERRING_PHYSICIAN if ordered else Reader.OTHER,
                            exists=True, current_referral=False, decisions=consent[patient],
                            clinic_id=None, on=today())
        if role not in (Role.THERAPIST, Role.CLINIC_ADMIN):
            return False
        return any(may_read(Reader.CLINIC, exists=True, current_referral=any(
            r.patient_id == patient and r.clinic_id == clinic for r in referrals),
            decisions=consent[patient], clinic_id=str(clinic), on=today())
            for clinic in clinics)

    paths = {
        "direct": "query ($id: UUID!) { patient(id: $id) { id } }",
        "nested": "query ($id: UUID!) { patient(id: $id) { timeline(first: 1) { events {"
                  " kind } } goals { goalId } } }",
        "aliased": "query ($id: UUID!) { x: patient(id: $id) { y: id } }",
    }
    with psycopg.connect(db.app_url) as conn:
        start = conn.execute("SELECT coalesce(max(id), 0) FROM careledger.access_log"
                             ).fetchone()[0]  # type: ignore[index]
    attempts = []
    for role, subject, clinics in principals:
        token = network.token(role, subject, clinics)
        for patient in consent:
            expected = rule(role, subject, clinics, patient)
            for name, query in paths.items():
                body = ask(client, token, query, id=str(patient))
                allowed = body["data"] is not None
                assert allowed == expected, (role, name, patient)
                if not allowed:
                    assert body["errors"][0]["extensions"] == {"code": "NOT_FOUND"}
                attempts.append((subject, patient, expected))
    assert sum(1 for *_, ok in attempts if ok) > len(paths) * len(consent)  # not all auditor
    with psycopg.connect(db.app_url) as conn:
        logged = conn.execute("SELECT principal, patient_id, allowed FROM careledger.access_log"
                              " WHERE id > %s ORDER BY id", (start,)).fetchall()
    assert sorted(logged) == sorted(attempts)


def _log_count(db: bootstrap.Database) -> int:
    with psycopg.connect(db.app_url) as conn:
        return int(conn.execute("SELECT count(*) FROM careledger.access_log").fetchone()[0])  # type: ignore[index]


def test_each_limit_refuses_one_over_before_any_resolver_runs(
    db: bootstrap.Database, client: Any, network: Network, episode: UUID
) -> None:
    from careledger.graphql.schema import MAX_ALIASES, MAX_TOKENS

    token = network.token(Role.PHYSICIAN, network.physician)
    patient = f'patient(id: "{network.patient}")'

    def nested(depth: int) -> str:  # patient, timeline, events, then amendments all the way
        inner = "kind"
        for _ in range(depth - 3):
            inner = f"amendments {{ {inner} }}"
        return f"{{ {patient} {{ timeline {{ events {{ {inner} }} }} }} }}"

    before = _log_count(db)
    assert "errors" not in ask(client, token, nested(8))
    assert _log_count(db) == before + 1
    deep = ask(client, token, nested(9))
    assert deep["data"] is None and "depth" in deep["errors"][0]["message"]
    aliases = " ".join(f"a{i}: {patient} {{ id }}" for i in range(MAX_ALIASES + 1))
    assert "aliases" in ask(client, token, "{ " + aliases + " }")["errors"][0]["message"].lower()
    padding = " ".join("id" for _ in range(MAX_TOKENS))
    tokens = ask(client, token, f"{{ {patient} {{ {padding} }} }}")
    assert "token" in tokens["errors"][0]["message"].lower()
    assert _log_count(db) == before + 1  # none of the refused queries reached a resolver


def test_an_unexpected_failure_is_masked_and_names_nothing(
    client: Any, network: Network, episode: UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    from careledger.graphql.patient import queries as graphql_schema

    def broken(_conn: Any) -> str:
        raise RuntimeError("patient Maria Okafor, 9 Elm St: disk on fire")

    monkeypatch.setattr(graphql_schema, "live_views", broken)
    body = ask(client, network.token(Role.PHYSICIAN, network.physician), TIMELINE,
               id=str(network.patient))
    assert body["data"] is None
    assert body["errors"][0]["message"] == "Unexpected error."
    assert "Maria" not in json.dumps(body) and "Elm" not in json.dumps(body)


def test_valid_time_and_transaction_time_answer_different_questions(
    app: CareLedger, db: bootstrap.Database, client: Any, network: Network, episode: UUID
) -> None:
    """A visit entered late: it happened before t (validAt), but was not known at t (asOf)."""
    from datetime import timedelta

    from careledger.domain.clinical import SessionLocation

    token = network.token(Role.PHYSICIAN, network.physician)
    query = """query ($id: UUID!, $asOf: DateTime, $validAt: DateTime) {
      patient(id: $id) { timeline(asOf: $asOf, validAt: $validAt) { events {
        kind occurredAt recordedAt } } } }"""
    known_before = datetime.now(NOW.tzinfo)
    app.handle(ScheduleSession(referral_id=episode, practitioner_id=network.therapist,
                               scheduled_for=NOW,
                               location=SessionLocation.CLINIC,
                               occurred_at=NOW + timedelta(hours=1), actor="therapist:late"))
    sync_views(app, db)
    t = (NOW + timedelta(hours=2)).isoformat()
    valid = ask(client, token, query, id=str(network.patient), validAt=t)
    assert Referral.SessionScheduled.KIND in kinds(valid)  # it had happened by t
    asof = ask(client, token, query, id=str(network.patient), asOf=known_before.isoformat())
    assert Referral.SessionScheduled.KIND not in kinds(asof)  # but nobody knew it then
    late = next(e for e in valid["data"]["patient"]["timeline"]["events"]
                if e["kind"] == Referral.SessionScheduled.KIND)
    assert late["recordedAt"] > late["occurredAt"]


#: A text field of each kind of record, for an amendment that corrects it.
TEXT_FIELD = {"referral": "reason", "assessment": "findings", "plan": "override_reason",
              "session": "soap.plan", "progress_report": "summary", "discharge": "summary"}

PAGE = """
query ($id: UUID!, $first: Int!) {
  patient(id: $id) {
    timeline(first: $first) {
      events { position kind recordId referralId amendments { kind data } }
    }
    goals { goalId latest }
  }
}
"""


def test_a_timeline_page_costs_the_same_statements_whatever_its_size(
    app: CareLedger, db: bootstrap.Database, client: Any, network: Network,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from careledger.main.seed import seed_network

    seeded = seed_network(app, patients=4, seed=97)
    sync_views(app, db)
    auditor = network.token(Role.AUDITOR, uuid.uuid4())
    pages = {p: ask(client, auditor, PAGE, id=p, first=100)["data"]["patient"]["timeline"][
        "events"] for p in seeded.patient_ids}
    patient, events = max(pages.items(), key=lambda page: len(page[1]))
    records = {(e["referralId"], e["recordId"]) for e in events if e["recordId"]}
    assert len(events) > 10 and len(records) >= 3
    for referral, record in records:  # every record on the page gets an amendment
        kind = app.load(Referral, UUID(referral)).records[record]
        app.handle(Amend(referral_id=UUID(referral), record_id=record, reason="typing error",
                         changes={TEXT_FIELD[kind]: "corrected"}, occurred_at=datetime.now(UTC),
                         actor="therapist:t"))
    sync_views(app, db)

    statements: list[str] = []
    execute = psycopg.Cursor.execute

    def counted(self: psycopg.Cursor[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
        statements.append(str(query)[:40])
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", counted)
    GENERATIONS.forget()  # each page looks the generation up (or both would not)
    large = ask(client, auditor, PAGE, id=patient, first=100)
    large_count, statements[:] = len(statements), []
    large_events = large["data"]["patient"]["timeline"]["events"]
    assert len(large_events) == len(events) + len(records)
    assert sum(len(e["amendments"]) for e in large_events) == len(records)
    # The smallest page that holds an amended record.
    first = 1 + next(i for i, e in enumerate(large_events) if e["amendments"])
    GENERATIONS.forget()
    small = ask(client, auditor, PAGE, id=patient, first=first)["data"]["patient"]["timeline"]
    assert len(small["events"]) == first < len(large_events)
    assert small["events"][-1]["amendments"]
    # Statements per page: the views' generation, the access check and its log entry,
    # the page, its amendments (one query for all), the goals. Not one per event.
    assert len(statements) == large_count <= 7, statements


BESIDE = """
query ($id: UUID!) {
  patient(id: $id) {
    timeline(kinds: ["KIND"]) {
      events { kind recordId amendments { kind actor data } }
    }
  }
}
""".replace("KIND", Referral.Made.KIND)


def test_a_denied_request_to_amend_and_the_disagreement_stand_beside_the_record(
    app: CareLedger, db: bootstrap.Database, client: Any, network: Network
) -> None:
    referral = open_episode(app, network, accept=True)
    therapist = {"HTTP_AUTHORIZATION": "Bearer " + network.token(
        Role.THERAPIST, network.therapist, [network.clinic])}
    admin = {"HTTP_AUTHORIZATION": "Bearer " + network.token(
        Role.CLINIC_ADMIN, uuid.uuid4(), [network.clinic])}

    def command(path: str, body: dict[str, Any], auth: dict[str, str]) -> Any:
        return client.post(f"/api/v1/referrals/{referral}/{path}", data=json.dumps(body),
                           content_type="application/json", **auth)

    asked = command("amendment-requests", {"request_id": "r1", "record_id": str(referral),
                                           "changes": {"reason": "wrong knee"},
                                           "reason": "it was the left knee"}, admin)
    assert asked.status_code == 201, asked.content
    bad = command("amendment-requests/r1/denial", {"basis": "we_prefer_not",
                                                   "explanation": "x"}, therapist)
    assert bad.status_code == 422
    assert command("amendment-requests/r1/denial", {"basis": "accurate_and_complete",
                   "explanation": "the referral names the right knee"}, admin
                   ).status_code == 403  # an administrator records, a clinician decides
    denied = command("amendment-requests/r1/denial", {"basis": "accurate_and_complete",
                     "explanation": "the referral names the right knee"}, therapist)
    assert denied.status_code == 201, denied.content
    again = command("amendment-requests/r1/acceptance", {}, therapist)
    assert again.status_code == 409
    assert again.json()["detail"] == "the amendment request was already denied"
    disagreed = command("amendment-requests/r1/disagreement",
                        {"statement": "my left knee was treated"}, admin)
    assert disagreed.status_code == 201, disagreed.content
    stranger = {"HTTP_AUTHORIZATION": "Bearer " + network.token(
        Role.THERAPIST, network.other_therapist, [network.other_clinic])}
    assert command("amendment-requests/r1/disagreement", {"statement": "s"},
                   stranger).status_code == 404

    sync_views(app, db)
    events = ask(client, network.token(Role.PHYSICIAN, network.physician), BESIDE,
                 id=str(network.patient))["data"]["patient"]["timeline"]["events"]
    (made,) = [e for e in events if e["recordId"] == str(referral)]
    assert [(a["kind"], a["data"].get("basis")) for a in made["amendments"]] == [
        (Referral.AmendmentRequested.KIND, None),
        (Referral.AmendmentDenied.KIND, "accurate_and_complete"),
        (Referral.DisagreementFiled.KIND, None)]
    assert made["amendments"][2]["data"]["statement"] == "my left knee was treated"
