"""A month of a clinic's sessions exported as claims by its biller, through the public API
on the real PostgreSQL: units under the payer's unit rule (the 8-minute rule for MVP,
as Medicare counts; the substantial-portion rule for Blue Cross), GP on therapy-plan
services, an
untimed evaluation billed once, each Claim valid by fhir.resources and by an independent
validator (node's `fhir` package), each session left off explained; the biller never
reads a SOAP note, and the export is in the access log, listing the patients it names."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import psycopg
from fhir.resources.R4B.claim import Claim

from careledger.access.tokens import Role
from careledger.domain.application import CareLedger
from careledger.domain.clinical import CredentialKind, Discipline, Profession
from careledger.domain.intake import AcceptReferral
from careledger.domain.network import AddCredential, Affiliate, RegisterPractitioner
from careledger.domain.referral import Referral
from careledger.main import bootstrap
from tests.helpers.api import assert_problem, post, referral_body
from tests.helpers.fhir_check import node_errors
from tests.helpers.graphql import ask, sync_views
from tests.helpers.network import NOW, Network, referral_to_a_new_patient

SOAP = {"subjective": "sore low back", "objective": "b", "assessment": "c", "plan": "d"}
#: NPIs with valid check digits (the Luhn rule over 80840 and the first nine digits).
CLINIC_NPI, HUDSON_NPI, SAM_NPI, KIM_NPI, JO_NPI = (
    "1245319599", "1679576722", "1003000126", "1497758544", "1942788898")
MVP = {"payer": "MVP Health Care", "unit_rule": "cms_8_minute", "effective_from": "2026-01-01",
            "fees": {"97124": 3000, "97140": 3500, "97110": 3200, "97161": 9500}}
BLUE_CROSS = {"payer": "Blue Cross NY", "unit_rule": "substantial_portion",
              "distinct_modifier": "XS", "effective_from": "2026-01-01",
              "fees": {"97124": 3100, "97140": 3600, "97110": 3300},
              "not_covered": {"97124": "massage is not a covered benefit of this plan"}}
#: Maria's sessions: (id, day of March, techniques and minutes, what happens).
MARIA = [
    ("m7", 5, [("swedish_massage", 7)], "completed"),
    ("m8", 6, [("swedish_massage", 8)], "completed"),
    ("m22", 9, [("swedish_massage", 22)], "completed"),
    ("m23", 10, [("swedish_massage", 23)], "completed"),
    ("m37", 11, [("swedish_massage", 37)], "completed"),
    ("m38", 12, [("swedish_massage", 38)], "completed"),
    ("two", 13, [("swedish_massage", 10), ("myofascial_release", 10)], "completed"),
    ("c1", 16, [], "cancelled"),
    ("n1", 17, [], "no-show"),
    ("p1", 18, [], "scheduled"),
    ("o1", 27, [("swedish_massage", 23)], "completed"),  # after the certified period
]
#: The other patient's, under Blue Cross and its authorization BC-77.
OTHER = [
    ("b1", 5, [("stretching", 10), ("myofascial_release", 10)]),
    ("b2", 6, [("stretching", 10), ("myofascial_release", 10)]),
    ("b3", 9, [("swedish_massage", 20)]),
    ("b4", 10, [("stretching", 23)]),
]


def _auth(network: Network, role: Role, clinics: list[UUID], subject: UUID | None = None
          ) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Bearer " + network.token(role, subject or uuid4(), clinics)}


def _ok(response: Any) -> None:
    assert response.status_code == 201, response.content


def _episode(client: Any, rid: UUID, network: Network, therapist: dict[str, str],
             techniques: list[str], since: str, until: str) -> None:
    _ok(post(client, f"/referrals/{rid}/assessments", {
        "history": "6 weeks", "pain_nprs": 7, "functional_instrument": "ODI",
        "functional_score": 44, "occurred_at": "2026-03-03T08:30:00+00:00"}, therapist))
    _ok(post(client, f"/referrals/{rid}/plan", {
        "goals": [{"goal_id": "pain", "description": "less pain", "metric": "NPRS",
                   "baseline": 7, "target": 3, "unit": "points", "due": "2026-05-01"}],
        "techniques": techniques, "frequency_per_week": 2, "duration_weeks": 6,
        "occurred_at": "2026-03-03T09:00:00+00:00"}, therapist))
    _ok(post(client, f"/referrals/{rid}/plan/certification", {
        "certified_from": since, "certified_until": until,
        "occurred_at": "2026-03-03T12:00:00+00:00"}, network.physician_auth))


def _session(client: Any, rid: UUID, sid: str, day: int, techniques: list[tuple[str, int]],
             auth: dict[str, str], then: str = "completed", **extra: Any) -> Any:
    at = f"2026-03-{day:02d}T10:00:00+00:00"
    _ok(post(client, f"/referrals/{rid}/sessions", {
        "session_id": sid, "scheduled_for": at, "occurred_at": "2026-03-03T13:00:00+00:00"},
        auth))
    if then == "cancelled":
        return post(client, f"/referrals/{rid}/sessions/{sid}/cancellation",
                    {"reason": "patient unwell", "occurred_at": at}, auth)
    if then == "no-show":
        return post(client, f"/referrals/{rid}/sessions/{sid}/no-show", {"occurred_at": at},
                    auth)
    if then == "scheduled":
        return None
    return post(client, f"/referrals/{rid}/sessions/{sid}/completion", {
        "soap": SOAP, "techniques": [{"technique": t, "minutes": m} for t, m in techniques],
        "pain_before": 6, "pain_after": 4, "occurred_at": at, **extra}, auth)


def _practitioner(app: CareLedger, name: str, profession: Profession, clinic: UUID,
                  licence: str, npi: str) -> UUID:
    pid = app.handle(RegisterPractitioner(name=name, profession=profession, occurred_at=NOW,
                                          actor="network_admin:t")).aggregate_id
    for kind, number, expires in ((CredentialKind.STATE_LICENSE, licence, date(2030, 1, 1)),
                                  (CredentialKind.NPI, npi, None)):
        app.handle(AddCredential(practitioner_id=pid, kind=kind, number=number, issuer="NY",
                                 expires_on=expires, occurred_at=NOW, actor="network_admin:t"))
    app.handle(Affiliate(practitioner_id=pid, clinic_id=clinic, occurred_at=NOW,
                         actor="network_admin:t"))
    return pid


def test_a_month_of_a_clinics_sessions_exported_as_claims_by_its_biller(
    client: Any, network: Network, app: CareLedger, db: bootstrap.Database,
) -> None:
    clinic, hudson = network.clinic, network.other_clinic
    admin = _auth(network, Role.CLINIC_ADMIN, [clinic])
    sam = network.therapist_auth
    app.handle(AddCredential(practitioner_id=network.therapist, kind=CredentialKind.NPI,
                             number=SAM_NPI, issuer="CMS", expires_on=None, occurred_at=NOW,
                             actor="network_admin:t"))
    kim = _practitioner(app, "Kim Park", Profession.MEDICAL_MASSAGE_THERAPIST, clinic,
                        "LMT-KP", KIM_NPI)
    jo = _practitioner(app, "Jo Park", Profession.PHYSICAL_THERAPIST, hudson, "PT-JP", JO_NPI)

    # What the clinic keeps on file to bill, checked as it is recorded.
    _ok(post(client, f"/clinics/{clinic}/billing-provider",
             {"npi": CLINIC_NPI, "tax_id": "141234567"}, admin))
    assert_problem(post(client, f"/clinics/{clinic}/billing-provider",
                        {"npi": "1245319598", "tax_id": "14-1234567"}, admin), 422,
                   "invalid_input")
    assert_problem(post(client, f"/clinics/{hudson}/billing-provider",
                        {"npi": CLINIC_NPI, "tax_id": "14-1234567"}, admin), 404, "not_found")
    for schedule in (MVP, BLUE_CROSS):
        _ok(post(client, f"/clinics/{clinic}/fee-schedules", schedule, admin))
    assert_problem(post(client, f"/clinics/{clinic}/fee-schedules",
                        {**MVP, "fees": {"99213": 100}}, admin), 422, "invalid_input")

    # Maria: MVP, by the 8-minute rule as Medicare counts; certified from the 3rd to the 25th.
    _ok(post(client, f"/patients/{network.patient}/coverage", {
        "coverage_id": "mvp", "payer": "MVP Health Care", "member_id": "MVP-72-4410",
        "starts_on": "2026-01-01", "order": 1}, admin))
    made = post(client, "/referrals", referral_body(network, contraindications=[]),
                network.physician_auth)
    maria = UUID(made.json()["id"])
    _ok(post(client, f"/referrals/{maria}/acceptance",
             {"occurred_at": "2026-03-03T08:00:00+00:00"}, sam))
    _episode(client, maria, network, sam, ["swedish_massage", "myofascial_release"],
             "2026-03-03", "2026-03-25")
    for sid, day, techniques, then in MARIA:
        done = _session(client, maria, sid, day, techniques, sam, then)
        assert done is None or done.status_code == 201, (sid, done.content)
    # An evaluation is a physical therapist's to bill, never a massage therapist's.
    refused = assert_problem(_session(client, maria, "ev", 14, [("swedish_massage", 10)], sam,
                                      services=["97161"]), 422, "invalid_input")
    assert refused["errors"][0]["field"] == "services"
    # Kim's session on the 19th; her licence on file is then corrected to have ended on
    # the 15th (the board's record): that session is not claimable.
    kim_auth = _auth(network, Role.THERAPIST, [clinic], kim)
    _ok(_session(client, maria, "k1", 19, [("swedish_massage", 30)], kim_auth))
    app.handle(AddCredential(practitioner_id=kim, kind=CredentialKind.STATE_LICENSE,
                             number="LMT-KP", issuer="NY", expires_on=date(2026, 3, 15),
                             occurred_at=NOW, actor="network_admin:t"))

    # The other patient: Blue Cross, each code's own minutes, 97124 not covered; its
    # authorization BC-77 allows 3 visits in March and one unit of 97140.
    other = referral_to_a_new_patient(app, network)
    other_patient = app.load(Referral, other).patient_id
    _ok(post(client, f"/patients/{other_patient}/coverage", {
        "coverage_id": "bc", "payer": "Blue Cross NY", "member_id": "XJH-1", "group": "G-7",
        "starts_on": "2026-01-01", "order": 1}, admin))
    app.handle(AcceptReferral(referral_id=other, practitioner_id=network.therapist,
                              occurred_at=NOW, actor="t"))
    _ok(post(client, f"/referrals/{other}/authorizations", {
        "visits": 3, "starts_on": "2026-03-02", "ends_on": "2026-03-31", "number": "BC-77",
        "coverage_id": "bc", "units": {"97140": 1}}, admin))
    _episode(client, other, network, sam,
             ["stretching", "myofascial_release", "swedish_massage"], "2026-03-03", "2026-04-30")
    for sid, day, techniques in OTHER:
        _ok(_session(client, other, sid, day, techniques, sam))

    # Hudson: a physical therapist's evaluation, billed once beside exercise.
    hudson_admin = _auth(network, Role.CLINIC_ADMIN, [hudson])
    _ok(post(client, f"/clinics/{hudson}/billing-provider",
             {"npi": HUDSON_NPI, "tax_id": "14-7654321"}, hudson_admin))
    _ok(post(client, f"/clinics/{hudson}/fee-schedules", MVP, hudson_admin))
    pt = post(client, "/referrals", referral_body(
        network, clinic_id=str(hudson), discipline=Discipline.PHYSICAL_THERAPY,
        contraindications=[]), network.physician_auth)
    pt_episode = UUID(pt.json()["id"])
    jo_auth = _auth(network, Role.THERAPIST, [hudson], jo)
    _ok(post(client, f"/referrals/{pt_episode}/acceptance",
             {"occurred_at": "2026-03-03T08:00:00+00:00"}, jo_auth))
    _episode(client, pt_episode, network, jo_auth, ["therapeutic_exercise"], "2026-03-03",
             "2026-04-30")
    _ok(_session(client, pt_episode, "e1", 5, [("therapeutic_exercise", 23)], jo_auth,
                 services=["97161"]))
    sync_views(app, db)

    biller = _auth(network, Role.BILLER, [clinic])
    month = f"/api/v1/clinics/{clinic}/claims?from=2026-03-01&to=2026-03-31"
    response = client.get(month, **biller)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/fhir+json"
    bundle = response.json()
    resources = [e["resource"] for e in bundle["entry"]]
    by_id = {r["id"]: r for r in resources}
    assert len({e["fullUrl"] for e in bundle["entry"]}) == len(bundle["entry"])
    claims = [r for r in resources if r["resourceType"] == "Claim"]

    # Every Claim is valid by fhir.resources and by node's validator, with the elements
    # a Claim must have; the Coverage and billing provider it names are in the Bundle.
    for claim in claims:
        Claim.model_validate(claim)
        assert {"insurance", "provider", "priority", "patient", "created", "type",
                "use"} <= set(claim)
        assert claim["use"] == "claim" and claim["type"]["coding"][0]["code"] == "professional"
        coverage = by_id[claim["insurance"][0]["coverage"]["reference"].removeprefix(
            "urn:uuid:")]
        assert coverage["resourceType"] == "Coverage"
        provider = by_id[claim["provider"]["reference"].removeprefix("urn:uuid:")]
        assert {i["value"] for i in provider["identifier"]} == {CLINIC_NPI, "14-1234567"}
        assert by_id[claim["patient"]["reference"].removeprefix("urn:uuid:")][
            "resourceType"] == "Patient"

    def lines(claim: dict[str, Any]) -> list[tuple[str, int, list[str], float]]:
        return [(i["productOrService"]["coding"][0]["code"], i["quantity"]["value"],
                 [m["coding"][0]["code"] for m in i.get("modifier", [])], i["net"]["value"])
                for i in claim["item"]]

    served = {c["item"][0]["servicedDate"]: c for c in claims}
    # Maria's, by the 8-minute rule: 8, 22, 23, 37, 38 minutes; 10 + 10 is one unit.
    assert {day: lines(served[f"2026-03-{day:02d}"]) for day in (6, 9, 10, 11, 12, 13)} == {
        6: [("97124", 1, ["GP"], 30)], 9: [("97124", 1, ["GP"], 30)],
        10: [("97124", 2, ["GP"], 60)], 11: [("97124", 2, ["GP"], 60)],
        12: [("97124", 3, ["GP"], 90)], 13: [("97124", 1, ["GP"], 30)]}
    maria_claim = served["2026-03-10"]
    assert maria_claim["diagnosis"][0]["diagnosisCodeableConcept"]["coding"][0] == {
        "system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "M54.50"}
    assert maria_claim["item"][0]["diagnosisSequence"] == [1]
    assert maria_claim["item"][0]["locationCodeableConcept"]["coding"][0]["code"] == "11"
    assert [(t["provider"]["identifier"]["value"], t["role"]["coding"][0]["code"])
            for t in maria_claim["careTeam"]] == [(SAM_NPI, "rendering"),
                                                  ("1234567893", "referring")]
    assert "preAuthRef" not in maria_claim["insurance"][0]  # MVP asked for none here
    # The other patient's first visit, each code's own minutes: a unit each, under BC-77.
    bc = served["2026-03-05"]
    assert lines(bc) == [("97110", 1, ["GP"], 33), ("97140", 1, ["GP"], 36)]
    assert bc["insurance"][0]["preAuthRef"] == ["BC-77"] and bc["total"]["value"] == 69
    assert len(claims) == 7

    # Each session left off, with why.
    (outcome,) = [r for r in resources if r["resourceType"] == "OperationOutcome"]
    why: dict[str, list[str]] = {}
    for issue in outcome["issue"]:
        on = issue["diagnostics"].split(" on ")[1][:10]
        why.setdefault(on, []).append(issue["details"]["coding"][0]["code"])
    assert why == {
        "2026-03-05": ["nothing-billable"],  # m7: seven minutes bill no unit
        "2026-03-16": ["not-completed"], "2026-03-17": ["not-completed"],
        "2026-03-18": ["not-completed"],
        "2026-03-14": ["not-completed"],  # the evaluation refused stays scheduled
        "2026-03-27": ["outside-certified-plan"],
        "2026-03-19": ["licence-not-valid"],
        "2026-03-06": ["beyond-authorization"],  # b2: a second unit of 97140
        "2026-03-09": ["nothing-billable"],  # b3: 97124, not covered by Blue Cross
        "2026-03-10": ["beyond-authorization"],  # b4: a fourth visit, BC-77 allows three
    }
    texts = " ".join(i["details"]["text"] for i in outcome["issue"])
    assert "not covered by Blue Cross NY: massage is not a covered benefit" in texts
    assert "expired on 2026-03-15" in texts and "ask Blue Cross NY for the next" in texts
    assert SOAP["subjective"] not in response.content.decode()

    # The same as CSV: a row per line, a row per session left off.
    rows = list(csv.DictReader(io.StringIO(client.get(month + "&format=csv",
                                                      **biller).content.decode())))
    assert sum(r["claimable"] == "yes" for r in rows) == 8
    assert sum(r["claimable"] == "no" for r in rows) == 10
    (two,) = [r for r in rows if r["service_date"] == "2026-03-13"]
    assert (two["cpt"], two["units"], two["modifiers"], two["charge"]) == (
        "97124", "1", "GP", "30.00")
    assert "97140 left off: 10 minutes bill no unit under the 8-minute rule" in two["reason"]

    # One session's claim, as the month's export has it; a session without one says why.
    one = client.get(f"/api/v1/referrals/{other}/sessions/b1/claim", **biller).json()
    (alone,) = [e["resource"] for e in one["entry"] if e["resource"]["resourceType"] == "Claim"]
    assert lines(alone) == lines(bc) and alone["id"] == bc["id"]
    refused = client.get(f"/api/v1/referrals/{other}/sessions/b2/claim", **biller).json()
    assert [e["resource"]["resourceType"] for e in refused["entry"]] == [
        "Organization", "Patient", "OperationOutcome"]
    assert refused["entry"][-1]["resource"]["issue"][0]["details"]["coding"][0]["code"] == \
        "beyond-authorization"
    for path in (f"/referrals/{other}/sessions/nope/claim",
                 f"/referrals/{uuid4()}/sessions/b1/claim"):
        assert_problem(client.get(f"/api/v1{path}", **biller), 404, "not_found")
    assert_problem(client.get(f"/api/v1/referrals/{other}/sessions/b1/claim",
                              **_auth(network, Role.BILLER, [hudson])), 404, "not_found")

    # Hudson's biller: the evaluation once, and exercise by its minutes.
    hudson_claims = client.get(f"/api/v1/clinics/{hudson}/claims?from=2026-03-01&to="
                               "2026-03-31", **_auth(network, Role.BILLER, [hudson])).json()
    (evaluation,) = [e["resource"] for e in hudson_claims["entry"]
                     if e["resource"]["resourceType"] == "Claim"]
    assert lines(evaluation) == [("97110", 2, ["GP"], 64), ("97161", 1, ["GP"], 95)]

    # The biller reads claims and nothing of the record: a SOAP note is not found.
    biller_token = biller["HTTP_AUTHORIZATION"].removeprefix("Bearer ")
    soap = ask(client, biller_token, """query ($id: UUID!) { patient(id: $id) {
        timeline(first: 5) { events { kind data } } } }""", id=str(network.patient))
    assert not (soap.get("data") or {}).get("patient")
    assert soap["errors"][0]["extensions"] == {"code": "NOT_FOUND"}
    assert client.get(f"/api/v1/patients/{network.patient}/fhir", **biller).status_code == 404
    # The clinic's billing totals, which name no patient, it reads; its caseload it does not.
    totals = ask(client, biller_token, """query ($id: UUID!) { clinic(id: $id) {
        billing(since: "2026-03-01", until: "2026-03-31") { sessions units } } }""",
                 id=str(clinic))["data"]["clinic"]["billing"]
    assert totals["sessions"] == 13  # every completed session, claimable or not
    caseload = ask(client, biller_token, """query ($id: UUID!) { clinic(id: $id) {
        caseload { patientId } } }""", id=str(clinic))
    assert caseload["errors"][0]["extensions"] == {"code": "NOT_FOUND"}
    # Another clinic's claims, or a period too long: not found, and a clear 422.
    assert_problem(client.get(f"/api/v1/clinics/{hudson}/claims?from=2026-03-01&to="
                              "2026-03-31", **biller), 404, "not_found")
    assert_problem(client.get(f"/api/v1/clinics/{clinic}/claims?from=2026-01-01&to="
                              "2026-06-30", **biller), 422, "invalid_request")
    # At most 93 days, the first and the last counted.
    assert client.get(f"/api/v1/clinics/{clinic}/claims?from=2026-03-01&to=2026-06-01",
                      **biller).status_code == 200
    assert_problem(client.get(f"/api/v1/clinics/{clinic}/claims?from=2026-03-01&to="
                              "2026-06-02", **biller), 422, "invalid_request")
    assert client.get(f"/api/v1/clinics/{clinic}/claims?from=2026-03-01&to=2026-03-31",
                      **network.therapist_auth).status_code == 404

    # Every export is in the access log, a read of each patient it names.
    with psycopg.connect(db.app_url) as conn:
        fields = conn.execute(
            "SELECT patient_id, role, allowed, basis, reason, fields FROM careledger.access_log"
            " WHERE fields LIKE 'claims:export%%' ORDER BY id").fetchall()
    logged = [row[:5] for row in fields]
    exported = [(p, basis) for p, _, allowed, basis, _ in logged if allowed]
    assert exported.count((network.patient, "billing")) == 4  # FHIR, CSV, 93 days, Hudson's
    assert exported.count((other_patient, "billing")) == 5  # and the two sessions' own
    denied = [(p, role, reason) for p, role, allowed, _, reason in logged if not allowed]
    assert denied == [(None, "biller", "not_this_clinic"), (None, "biller", "not_this_clinic"),
                      (None, "therapist", "role_bills_nothing")]
    assert {f for *_, f in fields} == {
        f"claims:export {clinic} 2026-03-01..2026-03-31",
        f"claims:export {clinic} 2026-03-01..2026-06-01",
        f"claims:export {hudson} 2026-03-01..2026-03-31",
        f"claims:export {clinic} session b1", f"claims:export {clinic} session b2"}

    # Last (it skips where node is missing): the independent validator finds nothing.
    assert node_errors(resources) == []
