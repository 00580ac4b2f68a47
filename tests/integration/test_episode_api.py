"""An episode as a clinic runs it, through the public API on the real PostgreSQL: visits
used up, more authorized in the same episode by the physician and by a payer, refused
past an end date, each authorization's standing on the caseload and in the FHIR export;
amendments held to their record's fields; times that cannot lie ahead or before the
referral; late entries flagged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from careledger.access.tokens import Role
from careledger.domain.application import CareLedger
from careledger.main import bootstrap
from tests.helpers.api import assert_problem, post, referral_body
from tests.helpers.graphql import ask, sync_views
from tests.helpers.network import Network

CASELOAD = """
query ($id: UUID!) { clinic(id: $id) { caseload {
  referralId visitsAuthorized visitsRemaining authorizationRunningOut
  authorizations { source payer number visits startsOn endsOn used booked remaining
                   units { code authorized used } }
} } }
"""


def _episode(client: Any, network: Network, visits: int) -> UUID:
    made = post(client, "/referrals", referral_body(network, authorized_visits=visits),
                network.physician_auth)
    assert made.status_code == 201, made.content
    rid = UUID(made.json()["id"])
    accepted = post(client, f"/referrals/{rid}/acceptance", {}, network.therapist_auth)
    assert accepted.status_code == 201, accepted.content
    return rid


def _schedule(client: Any, network: Network, rid: UUID, session: str, day: str) -> Any:
    return post(client, f"/referrals/{rid}/sessions",
                {"session_id": session, "scheduled_for": f"{day}T10:00:00+00:00",
                 "occurred_at": "2026-03-02T12:00:00+00:00"}, network.therapist_auth)


def _caseload(client: Any, network: Network, rid: UUID) -> dict[str, Any]:
    token = network.token(Role.THERAPIST, network.therapist, [network.clinic])
    body = ask(client, token, CASELOAD, id=str(network.clinic))
    return next(e for e in body["data"]["clinic"]["caseload"] if e["referralId"] == str(rid))


def test_used_visits_are_authorized_again_in_the_same_episode_until_an_end_date(
    client: Any, network: Network, app: CareLedger, db: bootstrap.Database,
) -> None:
    rid = _episode(client, network, visits=2)
    assert _schedule(client, network, rid, "s1", "2026-03-05").status_code == 201
    assert _schedule(client, network, rid, "s2", "2026-03-09").status_code == 201
    refused = assert_problem(_schedule(client, network, rid, "s3", "2026-03-12"), 409,
                             "invariant_violated")
    assert "all 2 authorized visits are used or booked" in refused["detail"]
    assert "record the next authorization" in refused["detail"]

    # The referring physician authorizes two more, until the end of March.
    more = post(client, f"/referrals/{rid}/authorizations",
                {"visits": 2, "starts_on": "2026-03-10", "ends_on": "2026-03-31",
                 "occurred_at": "2026-03-10T08:00:00+00:00"}, network.physician_auth)
    assert more.status_code == 201, more.content
    assert more.json()["id"] == str(rid)  # the same episode, not a new referral
    assert _schedule(client, network, rid, "s3", "2026-03-12").status_code == 201
    late = assert_problem(_schedule(client, network, rid, "s4", "2026-04-02"), 409,
                          "invariant_violated")
    assert ("no authorization with visits left covers 2026-04-02; the last ended on 2026-03-31"
            in late["detail"])

    # The payer's, as the clinic received it: a number, from April, units of 97124 capped.
    payer = post(client, f"/referrals/{rid}/authorizations",
                 {"visits": 4, "starts_on": "2026-04-01", "payer": "Acme Health",
                  "number": "PA-7731", "units": {"97124": 8},
                  "occurred_at": "2026-03-30T08:00:00+00:00"}, network.therapist_auth)
    assert payer.status_code == 201, payer.content
    assert _schedule(client, network, rid, "s4", "2026-04-02").status_code == 201

    sync_views(app, db)
    entry = _caseload(client, network, rid)
    assert entry["visitsAuthorized"] == 8
    standing = {a["source"]: a for a in entry["authorizations"]}
    assert [a["source"] for a in entry["authorizations"]] == ["referral", "physician", "payer"]
    assert (standing["referral"]["booked"], standing["referral"]["remaining"]) == (2, 0)
    assert (standing["physician"]["booked"], standing["physician"]["remaining"]) == (1, 1)
    assert standing["physician"]["endsOn"] == "2026-03-31"
    assert standing["payer"] | {"units": None} == {
        "source": "payer", "payer": "Acme Health", "number": "PA-7731", "visits": 4,
        "startsOn": "2026-04-01", "endsOn": None, "used": 0, "booked": 1, "remaining": 3,
        "units": None}
    assert standing["payer"]["units"] == [{"code": "97124", "authorized": 8, "used": 0}]
    # In force today: the referral's own (none left) and the payer's (3); the physician's
    # ended in March.
    assert entry["visitsRemaining"] == 3 and entry["authorizationRunningOut"] is False
    assert _schedule(client, network, rid, "s5", "2026-04-06").status_code == 201
    sync_views(app, db)
    entry = _caseload(client, network, rid)
    assert entry["visitsRemaining"] == 2 and entry["authorizationRunningOut"] is True
    # The physician's list of patients says the same of the episode.
    mine = ask(client, network.token(Role.PHYSICIAN, network.physician), """
      query ($id: UUID!) { physician(id: $id) { patients { patientId referrals {
        referralId visitsRemaining authorizationRunningOut
        authorizations { source remaining } } } } }""", id=str(network.physician))
    (referral,) = [r for p in mine["data"]["physician"]["patients"] for r in p["referrals"]
                   if r["referralId"] == str(rid)]
    assert (referral["visitsRemaining"], referral["authorizationRunningOut"]) == (2, True)
    assert [a["source"] for a in referral["authorizations"]] == [
        "referral", "physician", "payer"]

    # The FHIR export: the ServiceRequest's quantity is every visit authorized, and the
    # payer's authorization a preauthorization it references.
    bundle = client.get(f"/api/v1/patients/{network.patient}/fhir",
                        **network.physician_auth).json()
    resources = [e["resource"] for e in bundle["entry"]]
    request = next(r for r in resources
                   if r["resourceType"] == "ServiceRequest" and r["id"] == str(rid))
    assert request["quantityQuantity"]["value"] == 8
    claims = [r for r in resources if r["resourceType"] == "ClaimResponse"]
    assert [(c["preAuthRef"], c["use"], c["insurer"]["display"]) for c in claims] == [
        ("PA-7731", "preauthorization", "Acme Health")]
    assert {"reference": f"urn:uuid:{claims[0]['id']}"} in request["supportingInfo"]


def test_an_authorization_is_refused_with_what_to_do(client: Any, network: Network) -> None:
    rid = _episode(client, network, visits=2)
    path = f"/referrals/{rid}/authorizations"
    at = "2026-03-10T08:00:00+00:00"
    no_number = assert_problem(post(client, path, {
        "visits": 4, "starts_on": "2026-03-10", "payer": "Acme Health", "occurred_at": at},
        network.therapist_auth), 422, "invalid_input")
    assert no_number["errors"] == [{"field": "number", "message": no_number["detail"]}]
    physician_payer = assert_problem(post(client, path, {
        "visits": 4, "starts_on": "2026-03-10", "payer": "Acme", "number": "1",
        "occurred_at": at}, network.physician_auth), 422, "invalid_input")
    assert "the clinic records a payer's" in physician_payer["detail"]
    backwards = assert_problem(post(client, path, {
        "visits": 4, "starts_on": "2026-03-10", "ends_on": "2026-03-01", "occurred_at": at},
        network.physician_auth), 422, "invalid_input")
    assert backwards["errors"][0]["field"] == "ends_on"
    before = assert_problem(post(client, path, {
        "visits": 4, "starts_on": "2026-03-01", "occurred_at": at},
        network.physician_auth), 422, "invalid_input")
    assert before["errors"][0]["field"] == "starts_on"
    outsider = post(client, path, {"visits": 4, "starts_on": "2026-03-10", "payer": "Acme",
                                   "number": "1", "occurred_at": at},
                    network.other_therapist_auth)
    assert outsider.status_code == 404  # another clinic's episode is not found


def test_an_amendment_names_a_field_of_its_record_and_not_one_with_its_own_command(
    client: Any, network: Network,
) -> None:
    rid = _episode(client, network, visits=2)
    path = f"/referrals/{rid}/amendments"
    at = "2026-03-03T08:00:00+00:00"
    own = assert_problem(post(client, path, {
        "record_id": str(rid), "reason": "four more visits",
        "changes": {"authorized_visits": 16}, "occurred_at": at}, network.physician_auth),
        422, "invalid_input")
    assert "use authorize_visits" in own["detail"]
    unknown = assert_problem(post(client, path, {
        "record_id": str(rid), "reason": "typo", "changes": {"colour": "blue"},
        "occurred_at": at}, network.physician_auth), 422, "invalid_input")
    assert "a referral has no such field to amend" in unknown["detail"]
    assert "colour" not in unknown["detail"]  # what the client typed is never echoed
    bad = assert_problem(post(client, path, {
        "record_id": str(rid), "reason": "typo", "changes": {"urgency": "whenever"},
        "occurred_at": at}, network.physician_auth), 422, "invalid_input")
    assert "routine" in bad["detail"]
    fixed = post(client, path, {"record_id": str(rid), "reason": "the wrong code",
                                "changes": {"diagnoses": ["M54.16"]}, "occurred_at": at},
                 network.physician_auth)
    assert fixed.status_code == 201, fixed.content


def test_a_note_dated_tomorrow_or_before_its_referral_is_refused(
    client: Any, network: Network,
) -> None:
    rid = _episode(client, network, visits=4)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    ahead = assert_problem(post(client, f"/referrals/{rid}/sessions", {
        "session_id": "s1", "scheduled_for": tomorrow, "occurred_at": tomorrow},
        network.therapist_auth), 422, "invalid_input")
    assert ahead["errors"][0]["field"] == "occurred_at" and "future" in ahead["detail"]
    before = assert_problem(post(client, f"/referrals/{rid}/sessions", {
        "session_id": "s1", "scheduled_for": "2026-03-05T10:00:00+00:00",
        "occurred_at": "2026-03-01T10:00:00+00:00"}, network.therapist_auth), 422,
        "invalid_input")
    assert before["errors"][0]["field"] == "occurred_at"
    assert "before the referral" in before["detail"]


def test_a_note_recorded_a_day_after_the_session_is_a_late_entry(
    client: Any, network: Network, app: CareLedger, db: bootstrap.Database,
) -> None:
    rid = _episode(client, network, visits=4)
    assert _schedule(client, network, rid, "s1", "2026-03-05").status_code == 201
    done = post(client, f"/referrals/{rid}/sessions/s1/completion", {
        "soap": {"subjective": "better", "objective": "less guarding", "assessment": "ok",
                 "plan": "continue"}, "techniques": [{"technique": "myofascial_release",
                                                      "minutes": 30}],
        "pain_before": 6, "pain_after": 4, "occurred_at": "2026-03-05T10:45:00+00:00"},
        network.therapist_auth)
    assert done.status_code == 201, done.content
    sync_views(app, db)
    token = network.token(Role.PHYSICIAN, network.physician)
    body = ask(client, token, """query ($id: UUID!) { patient(id: $id) { timeline(first: 100) {
        events { kind recordId lateEntry } } } }""", id=str(network.patient))
    events = body["data"]["patient"]["timeline"]["events"]
    completed = [e for e in events if e["recordId"] == "s1" and e["kind"].endswith("Completed")]
    assert [e["lateEntry"] for e in completed] == [True]  # dated March, recorded today
    bundle = client.get(f"/api/v1/patients/{network.patient}/fhir",
                        **network.physician_auth).json()
    encounters = [e["resource"] for e in bundle["entry"]
                  if e["resource"]["resourceType"] == "Encounter"]
    assert encounters and all(
        {"system": "https://careledger.dev/fhir/CodeSystem/record-flag", "code": "late-entry",
         "display": "Late entry"} in r["meta"]["tag"] for r in encounters)


def test_a_field_the_command_does_not_take_is_refused_not_dropped(
    client: Any, network: Network,
) -> None:
    rid = _episode(client, network, visits=2)
    refused = assert_problem(post(client, f"/referrals/{rid}/sessions", {
        "session_id": "s1", "scheduled_for": "2026-03-05T10:00:00+00:00",
        "occurred_at": "2026-03-02T12:00:00+00:00", "room": "3"}, network.therapist_auth),
        422, "invalid_request")
    assert [e["field"] for e in refused["errors"]] == ["*"]
    assert "does not take: remove it" in refused["errors"][0]["message"]
