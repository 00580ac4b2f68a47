"""Messages on the episode, through the public API and GraphQL on the real PostgreSQL: the
treating therapist asks the referring physician a question; it waits on the physician's
worklist with its age, the urgent first, until the physician replies in its thread; both
read the thread, each read in the access log; an outsider finds no such patient by every
path (GraphQL, a reply, an acknowledgement, the FHIR export); a correction is an
amendment; the FHIR export has a Communication per message and a CommunicationRequest
for the question, completed by its reply."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

import psycopg

from careledger.access.tokens import Role
from careledger.domain.application import CareLedger
from careledger.main import bootstrap
from tests.helpers.api import assert_problem, post, referral_body
from tests.helpers.graphql import ask, sync_views
from tests.helpers.network import Network

OPEN = """query ($id: UUID!) { physician(id: $id) {
  openQuestions { messageId body urgency urgent ageDays askedBy { name role } } } }"""
OPEN_FOR_THERAPIST = """query ($id: UUID!) { therapist(id: $id) {
  openQuestions { messageId body } } }"""
THREAD = """query ($id: UUID!) { patient(id: $id) { messages {
  messageId threadId inReplyTo kind urgency body about answered acknowledgedAt
  sender { name role } recipient { name role } } } }"""
SOAP = {"subjective": "a", "objective": "b", "assessment": "c", "plan": "d"}


def _episode(client: Any, network: Network) -> UUID:
    t = network.therapist_auth
    rid = UUID(post(client, "/referrals", referral_body(network, contraindications=[]),
                    network.physician_auth).json()["id"])
    assert post(client, f"/referrals/{rid}/acceptance", {}, t).status_code == 201
    assert post(client, f"/referrals/{rid}/sessions", {
        "session_id": "s1", "scheduled_for": "2026-03-05T10:00:00+00:00"}, t).status_code == 201
    assert post(client, f"/referrals/{rid}/sessions/s1/completion", {
        "soap": SOAP, "techniques": [{"technique": "swedish_massage", "minutes": 30}],
        "pain_before": 6, "pain_after": 5, "occurred_at": "2026-03-05T10:00:00+00:00"},
        t).status_code == 201
    return rid


def test_a_question_waits_for_its_reply_and_both_read_the_thread(
    client: Any, network: Network, app: CareLedger, db: bootstrap.Database,
) -> None:
    t, p = network.therapist_auth, network.physician_auth
    rid = _episode(client, network)
    base = f"/referrals/{rid}/messages"
    asked = post(client, base, {
        "message_id": "q1", "kind": "question", "urgency": "urgent", "about": ["s1"],
        "body": "Pain rises after deep work: may I add trigger point therapy?",
        "occurred_at": "2026-03-05T12:00:00+00:00"}, t)
    assert asked.status_code == 201, asked.content
    assert post(client, base, {"message_id": "n1", "kind": "note", "body": "FYI: home visits",
                               "occurred_at": "2026-03-05T12:05:00+00:00"}, t).status_code == 201
    # Only records of the episode; never an empty message; no reply to nothing.
    assert_problem(post(client, base, {"kind": "question", "body": "x", "about": ["nope"]}, t),
                   422, "invalid_input")
    assert_problem(post(client, base, {"kind": "question", "body": ""}, t), 422,
                   "invalid_request")
    assert_problem(post(client, f"{base}/zz/replies", {"body": "?"}, p), 409,
                   "invariant_violated")
    # The one asked replies; the asker cannot answer their own question.
    assert_problem(post(client, f"{base}/q1/replies", {"body": "me again"}, t), 409,
                   "invariant_violated")
    sync_views(app, db)

    token = network.token(Role.PHYSICIAN, network.physician)
    (waiting,) = ask(client, token, OPEN, id=str(network.physician))["data"]["physician"][
        "openQuestions"]
    assert (waiting["messageId"], waiting["urgent"], waiting["askedBy"]["role"]) == (
        "q1", True, "therapist")
    assert waiting["ageDays"] >= 0 and "trigger point" in waiting["body"]
    assert waiting["askedBy"]["name"] == "Sam Lee"

    replied = post(client, f"{base}/q1/replies", {
        "message_id": "r1", "body": "Yes, light pressure, 10 minutes at most.",
        "occurred_at": "2026-03-05T15:00:00+00:00"}, p)
    assert replied.status_code == 201, replied.content
    assert post(client, f"{base}/r1/acknowledgement", {}, t).status_code == 201
    assert_problem(post(client, f"{base}/r1/acknowledgement", {}, t), 409, "invariant_violated")
    assert post(client, f"/referrals/{rid}/amendments", {
        "record_id": "r1", "reason": "typo", "changes": {"body": "Yes, light pressure, 10 "
                                                         "minutes at most, then stretch."}},
        p).status_code == 201
    sync_views(app, db)
    assert ask(client, token, OPEN, id=str(network.physician))["data"]["physician"][
        "openQuestions"] == []

    # Both read the thread, the reply as amended.
    for reader in (token, network.token(Role.THERAPIST, network.therapist, [network.clinic])):
        messages = ask(client, reader, THREAD, id=str(network.patient))["data"]["patient"][
            "messages"]
        by_id = {m["messageId"]: m for m in messages}
        assert by_id["q1"]["answered"] and by_id["q1"]["about"] == ["s1"]
        assert (by_id["r1"]["threadId"], by_id["r1"]["inReplyTo"], by_id["r1"]["kind"]) == (
            "q1", "q1", "reply")
        assert by_id["r1"]["body"].endswith("then stretch.")
        assert by_id["r1"]["acknowledgedAt"] is not None
        assert (by_id["r1"]["sender"]["name"], by_id["r1"]["recipient"]["name"]) == (
            "Dr. Ada Reyes", "Sam Lee")
    with psycopg.connect(db.app_url) as conn:
        logged = conn.execute(
            "SELECT principal, role FROM careledger.access_log WHERE patient_id = %s"
            " AND allowed AND fields LIKE %s", (network.patient, "%messages%")).fetchall()
    assert set(logged) >= {(network.physician, "physician"), (network.therapist, "therapist")}

    # The FHIR export: a Communication each, the question's request completed by its reply.
    bundle = client.get(f"/api/v1/patients/{network.patient}/fhir", **p).json()
    resources = [e["resource"] for e in bundle["entry"]]
    talk = [r for r in resources if r["resourceType"] == "Communication"
            and r["topic"]["text"] in ("Question", "Note", "Reply")]
    current = {r["id"]: r for r in talk if r.get("meta", {}).get("versionId", "1") == max(
        t.get("meta", {}).get("versionId", "1") for t in talk if t["id"] == r["id"])}
    assert sorted(r["topic"]["text"] for r in current.values()) == ["Note", "Question", "Reply"]
    (question,) = [r for r in current.values() if r["topic"]["text"] == "Question"]
    assert question["priority"] == "asap"
    (reply,) = [r for r in current.values() if r["topic"]["text"] == "Reply"]
    assert reply["payload"][0]["contentString"].endswith("then stretch.")
    assert len([r for r in talk if r["id"] == reply["id"]]) == 2, "the reply as first sent too"
    assert reply["inResponseTo"] == [{"reference": f"urn:uuid:{question['id']}"}]
    assert "received" in reply
    requests = [r for r in resources if r["resourceType"] == "CommunicationRequest"]
    assert {r["id"] for r in requests} == {requests[0]["id"]}
    assert all(r["status"] == "completed" for r in requests), requests


def test_an_outsider_finds_no_such_patient_by_every_path(
    client: Any, network: Network, app: CareLedger, db: bootstrap.Database,
) -> None:
    rid = _episode(client, network)
    base = f"/referrals/{rid}/messages"
    assert post(client, base, {"message_id": "q1", "kind": "question", "body": "Any imaging?"},
                network.physician_auth).status_code == 201
    sync_views(app, db)
    stranger = uuid.uuid4()
    outsider = {"HTTP_AUTHORIZATION": "Bearer " + network.token(Role.PHYSICIAN, stranger)}
    assert_problem(post(client, base, {"kind": "note", "body": "hello"}, outsider), 404,
                   "not_found")
    assert_problem(post(client, f"{base}/q1/replies", {"body": "hi"}, outsider), 404,
                   "not_found")
    assert_problem(post(client, f"{base}/q1/acknowledgement", {}, outsider), 404, "not_found")
    other = {"HTTP_AUTHORIZATION": "Bearer " + network.token(
        Role.THERAPIST, network.other_therapist, [network.other_clinic])}
    assert_problem(post(client, f"{base}/q1/replies", {"body": "hi"}, other), 404, "not_found")
    denied = ask(client, network.token(Role.PHYSICIAN, stranger), THREAD,
                 id=str(network.patient))
    assert denied["data"] is None and denied["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert client.get(f"/api/v1/patients/{network.patient}/fhir",
                      **outsider).status_code == 404
    # The question is the treating therapist's to answer, and on no one else's lists.
    mine = ask(client, network.token(Role.THERAPIST, network.therapist, [network.clinic]),
               OPEN_FOR_THERAPIST, id=str(network.therapist))["data"]["therapist"]
    assert [q["messageId"] for q in mine["openQuestions"]] == ["q1"]
    theirs = ask(client, network.token(Role.THERAPIST, network.other_therapist,
                                       [network.other_clinic]),
                 OPEN_FOR_THERAPIST, id=str(network.other_therapist))["data"]["therapist"]
    assert theirs["openQuestions"] == []
    with psycopg.connect(db.app_url) as conn:
        denials = conn.execute(
            "SELECT count(*) FROM careledger.access_log WHERE principal = %s AND NOT allowed",
            (stranger,)).fetchone()
    assert denials is not None and denials[0] >= 1


def test_a_clinic_the_patient_withdrew_from_sees_neither_its_questions_nor_the_thread(
    client: Any, network: Network, app: CareLedger, db: bootstrap.Database,
) -> None:
    """The lists obey the consent rule as a read by id does, before the views know."""
    rid = _episode(client, network)
    asked = post(client, f"/referrals/{rid}/messages", {
        "message_id": "q1", "kind": "question", "body": "Is the pain better after s1?",
        "occurred_at": "2026-03-05T12:00:00+00:00"}, network.physician_auth)
    assert asked.status_code == 201, asked.content
    sync_views(app, db)
    therapist = network.token(Role.THERAPIST, network.therapist, [network.clinic])
    waiting = ask(client, therapist, OPEN_FOR_THERAPIST, id=str(network.therapist))
    assert [q["messageId"] for q in waiting["data"]["therapist"]["openQuestions"]] == ["q1"]
    assert ask(client, therapist, THREAD, id=str(network.patient))["data"]["patient"]

    denied = post(client, f"/patients/{network.patient}/consent-decisions", {
        "clinic_id": str(network.clinic), "decision": "deny", "form_reference": "CF-9"},
        network.physician_auth)
    assert denied.status_code == 201, denied.content
    # Nothing has applied the decision to the views: the lists hold it all the same.
    after = ask(client, therapist, OPEN_FOR_THERAPIST, id=str(network.therapist))
    assert after["data"]["therapist"]["openQuestions"] == []
    thread = ask(client, therapist, THREAD, id=str(network.patient))
    assert thread["errors"][0]["extensions"] == {"code": "NOT_FOUND"}
    physician = network.token(Role.PHYSICIAN, network.physician)
    kept = ask(client, physician, THREAD, id=str(network.patient))["data"]["patient"]
    assert [m["messageId"] for m in kept["messages"]] == ["q1"]
