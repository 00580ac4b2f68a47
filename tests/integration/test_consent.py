"""Consent per clinic and purpose, through the public API on the real PostgreSQL: the
patient withdraws from clinic B only; clinic E, the referring physician and the auditor
keep reading, by id, nested, aliased, in lists, in the FHIR export and on the command
line. No test here lets the views catch up between a revocation and the read after it:
access reads the decision from what the command's own transaction wrote."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from typer.testing import CliRunner

from careledger.access.policy import today
from careledger.access.tokens import Role
from careledger.domain.application import CareLedger
from careledger.domain.consent import Purpose, Reader
from careledger.domain.patient import DecideConsent, Patient, RegisterPatient
from careledger.infra.settings import Settings
from careledger.main import bootstrap
from careledger.main.cli import cli
from tests.helpers.api import assert_problem, post, referral_body
from tests.helpers.consent_cases import CASES, DAY
from tests.helpers.graphql import ask, sync_views
from tests.helpers.network import NOW, Network

READ = """query ($id: UUID!) { patient(id: $id) { id timeline(first: 5) { events { kind } } } }"""
ALIASED = """query ($id: UUID!) {
  first: patient(id: $id) { id }
  again: patient(id: $id) { timeline(first: 1) { events { kind } } }
}"""
NESTED = """query ($id: UUID!) { patient(id: $id) { goals { goalId } progress { planId }
  providers { name } } }"""
CASELOAD = """query ($id: UUID!) { clinic(id: $id) { caseload { patientId } } }"""
PHYSICIAN = """query ($id: UUID!) { physician(id: $id) { patients { patientId }
  referrals { entries { patientId } } } }"""


class Care:
    """The patient referred to clinics B and E, with a reader at each."""

    def __init__(self, client: Any, network: Network) -> None:
        self.client, self.network = client, network
        self.b, self.e = network.clinic, network.other_clinic
        for clinic in (self.b, self.e):
            made = post(client, "/referrals", referral_body(network, clinic_id=str(clinic)),
                        network.physician_auth)
            assert made.status_code == 201, made.content
        self.readers = {
            "clinic B": network.token(Role.THERAPIST, network.therapist, [self.b]),
            "clinic E": network.token(Role.CLINIC_ADMIN, uuid4(), [self.e]),
            "physician": network.token(Role.PHYSICIAN, network.physician),
            "auditor": network.token(Role.AUDITOR, uuid4()),
        }
        self.front_desk = {"HTTP_AUTHORIZATION": "Bearer " + self.readers["clinic E"]}

    def decide(self, clinic: UUID | None, decision: str, **extra: Any) -> Any:
        return post(self.client, f"/patients/{self.network.patient}/consent-decisions",
                    {"clinic_id": str(clinic) if clinic else None, "decision": decision,
                     "form_reference": "CF-2026-118", **extra}, self.front_desk)

    def reads(self, query: str = READ) -> dict[str, bool]:
        """Who reads the record now (nothing found looks exactly like no patient)."""
        found = {}
        for who, token in self.readers.items():
            body = ask(self.client, token, query, id=str(self.network.patient))
            if body.get("errors"):
                assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"] * len(
                    body["errors"]), body
                assert body["errors"][0]["message"] == "no patient with that id"
            found[who] = not body.get("errors")
        return found


def _logged(db: bootstrap.Database, patient: UUID, n: int) -> list[tuple[Any, ...]]:
    with psycopg.connect(db.app_url) as conn:
        return conn.execute(
            "SELECT role, allowed, basis, reason FROM careledger.access_log"
            " WHERE patient_id = %s ORDER BY id DESC LIMIT %s", (patient, n)).fetchall()[::-1]


def test_a_patient_withdraws_from_one_clinic_and_the_others_keep_reading(
    client: Any, network: Network, app: CareLedger, db: bootstrap.Database,
) -> None:
    care = Care(client, network)
    sync_views(app, db)  # the referrals are on the care team
    everyone = {"clinic B": True, "clinic E": True, "physician": True, "auditor": True}
    assert care.reads() == everyone

    revoked = care.decide(care.b, "deny")
    assert revoked.status_code == 201, revoked.content
    # The views have not seen the revocation (nothing here applies it): access has.
    without_b = {**everyone, "clinic B": False}
    assert care.reads() == without_b
    assert care.reads(ALIASED) == without_b
    assert care.reads(NESTED) == without_b
    assert _logged(db, network.patient, 4) == [
        ("therapist", False, None, "consent_revoked"), ("clinic_admin", True, "care_team", None),
        ("physician", True, "care_team", None), ("auditor", True, "auditor", None)]

    # Lists obey the same rule: B's caseload drops the patient, E's and the physician's keep.
    b_list = ask(client, care.readers["clinic B"], CASELOAD, id=str(care.b))
    e_list = ask(client, care.readers["clinic E"], CASELOAD, id=str(care.e))
    listed = {who: {r["patientId"] for r in body["data"]["clinic"]["caseload"]}
              for who, body in (("B", b_list), ("E", e_list))}
    assert str(network.patient) not in listed["B"] and str(network.patient) in listed["E"]
    mine = ask(client, care.readers["physician"], PHYSICIAN, id=str(network.physician))
    assert str(network.patient) in {p["patientId"] for p in mine["data"]["physician"]["patients"]}

    # The FHIR export: not found for B, the decision as a Consent for E.
    export = f"/api/v1/patients/{network.patient}/fhir"
    assert client.get(export, HTTP_AUTHORIZATION=f"Bearer {care.readers['clinic B']}"
                      ).status_code == 404
    bundle = client.get(export, HTTP_AUTHORIZATION=f"Bearer {care.readers['clinic E']}").json()
    (deny,) = [e["resource"] for e in bundle["entry"]
               if e["resource"]["resourceType"] == "Consent"
               and e["resource"]["provision"]["type"] == "deny"]
    assert deny["status"] == "active"
    assert deny["provision"]["actor"][0]["reference"]["identifier"]["value"] == str(care.b)
    assert deny["provision"]["purpose"][0]["code"] == "TREAT"
    assert deny["sourceReference"]["identifier"]["value"] == "CF-2026-118"

    # A network revoke closes every clinic, and leaves the referring physician.
    assert post(client, f"/patients/{network.patient}/consent/revocation",
                {"reason": "moving away"}, care.front_desk).status_code == 201
    assert care.reads() == {**everyone, "clinic B": False, "clinic E": False}

    # A network grant again: E reads; B's own revoke still beats it, until B's grant.
    assert care.decide(None, "permit").status_code == 201
    assert care.reads() == without_b
    assert care.decide(care.b, "permit").status_code == 201
    assert care.reads() == everyone

    sync_views(app, db)  # and once the views hold it all, the same
    assert care.reads() == everyone
    timeline = ask(client, care.readers["auditor"], """query ($id: UUID!, $kinds: [String!]) {
      patient(id: $id) { timeline(kinds: $kinds) { events { clinicId data } } } }""",
                   id=str(network.patient), kinds=[Patient.ConsentDecided.KIND])
    decided = timeline["data"]["patient"]["timeline"]["events"]
    assert [(e["clinicId"], e["data"]["permit"]) for e in decided] == [
        (str(care.b), False), (None, True), (str(care.b), True)]


def test_the_auditors_command_line_export_reads_a_revoked_record(
    client: Any, network: Network, app: CareLedger, db: bootstrap.Database,
    settings: Settings,
) -> None:
    care = Care(client, network)
    assert post(client, f"/patients/{network.patient}/consent/revocation",
                {"reason": "no more sharing"}, care.front_desk).status_code == 201
    env = {"CARELEDGER_DATABASE_URL": settings.database_url or "",
           "CARELEDGER_APP_DB_PASSWORD": settings.app_db_password,
           "CARELEDGER_TOKEN_SECRET": settings.token_secret,
           "CARELEDGER_DATA_DIR": str(settings.data_dir)}
    sync_views(app, db)
    done = CliRunner().invoke(cli, ["export", "fhir", "--patient", str(network.patient)],
                              env=env)
    assert done.exit_code == 0, done.output
    consents = [e["resource"] for e in json.loads(done.output)["entry"]
                if e["resource"]["resourceType"] == "Consent"]
    assert [c["status"] for c in consents] == ["inactive"]  # granted, then revoked
    assert _logged(db, network.patient, 1)[0][:3] == ("auditor", True, "auditor")


def test_a_consent_decision_is_checked_before_it_is_recorded(
    client: Any, network: Network, app: CareLedger, db: bootstrap.Database,
) -> None:
    care = Care(client, network)
    backwards = care.decide(care.b, "deny", starts_on="2026-05-01", ends_on="2026-04-01")
    assert assert_problem(backwards, 422, "invalid_input")["detail"].startswith(
        "a consent decision ends on or after")
    unsigned = post(client, f"/patients/{network.patient}/consent-decisions",
                    {"clinic_id": None, "decision": "deny"}, care.front_desk)
    assert unsigned.status_code == 422
    assert care.decide(care.b, "maybe").status_code == 422
    unknown = post(client, f"/patients/{uuid4()}/consent-decisions",
                   {"decision": "deny", "form_reference": "CF-1"}, care.front_desk)
    assert unknown.status_code == 404
    # The referring physician records one; another physician finds no such patient.
    sync_views(app, db)
    by_physician = post(client, f"/patients/{network.patient}/consent-decisions",
                        {"decision": "permit", "form_reference": "CF-2"},
                        network.physician_auth)
    assert by_physician.status_code == 201, by_physician.content
    stranger = {"HTTP_AUTHORIZATION": "Bearer " + network.token(Role.PHYSICIAN, uuid4())}
    assert_problem(post(client, f"/patients/{network.patient}/consent-decisions",
                        {"decision": "deny", "form_reference": "CF-3"}, stranger),
                   404, "not_found")
    therapist = {"HTTP_AUTHORIZATION": "Bearer " + care.readers["clinic B"]}
    assert post(client, f"/patients/{network.patient}/consent-decisions",
                {"decision": "deny", "form_reference": "CF-1"}, therapist).status_code == 403
    # A referral to a clinic the patient withdrew from is refused in words.
    assert care.decide(care.b, "deny").status_code == 201
    refused = post(client, "/referrals", referral_body(
        network, clinic_id=str(care.b), occurred_at=datetime.now(UTC).isoformat()),
        network.physician_auth)
    assert "has not consented to sharing with this clinic" in assert_problem(
        refused, 409, "invariant_violated")["detail"]
    # So is sending a declined referral on to it.
    e_referral = post(client, "/referrals", referral_body(
        network, clinic_id=str(care.e), occurred_at=datetime.now(UTC).isoformat()),
        network.physician_auth)
    assert e_referral.status_code == 201, e_referral.content
    rid = e_referral.json()["id"]
    assert post(client, f"/referrals/{rid}/decline", {"reason": "no room this month"},
                network.other_therapist_auth).status_code == 201
    redirected = post(client, f"/referrals/{rid}/redirect", {"clinic_id": str(care.b)},
                      network.physician_auth)
    assert "has not consented to sharing with this clinic" in assert_problem(
        redirected, 409, "invariant_violated")["detail"]


CLINIC_ROWS = [c for c in CASES if c[1] is Reader.CLINIC and c[2] and c[3]]


@pytest.mark.parametrize("case", CLINIC_ROWS, ids=[c[0] for c in CLINIC_ROWS])
def test_each_row_of_the_rule_through_graphql(
    case: tuple[Any, ...], client: Any, network: Network, app: CareLedger,
    db: bootstrap.Database,
) -> None:
    """The table's rows for a clinic with a current referral, as decisions recorded
    through the API (their days moved so that the table's day is today) and a read."""
    why, _, _, _, decisions, clinic, allowed = case
    clinics = {"clinic-b": network.clinic, "clinic-e": network.other_clinic}
    shift = today() - DAY
    patient = app.handle(RegisterPatient(
        given_name="Rosa", family_name="Vidal", birth_date=date(1969, 7, 1), sex="female",
        address="", latitude=None, longitude=None, occurred_at=NOW, actor="t")).aggregate_id
    # Consent for the referral's day only: over before the table's day, so it counts nowhere.
    app.handle(DecideConsent(patient_id=patient, clinic_id=clinics[clinic],
                             purpose=Purpose.TREATMENT, permit=True, starts_on=NOW.date(),
                             ends_on=NOW.date(), form_reference="CF-0", occurred_at=NOW,
                             actor="t"))
    made = post(client, "/referrals", referral_body(network, patient_id=str(patient),
                                                    clinic_id=str(clinics[clinic])),
                network.physician_auth)
    assert made.status_code == 201, made.content
    sync_views(app, db)
    desk = {"HTTP_AUTHORIZATION": "Bearer "
            + network.token(Role.CLINIC_ADMIN, uuid4(), [network.other_clinic])}
    for d in decisions:
        recorded = post(client, f"/patients/{patient}/consent-decisions", {
            "clinic_id": str(clinics[d.clinic_id]) if d.clinic_id else None,
            "decision": "permit" if d.permit else "deny",
            "starts_on": (d.starts_on + shift).isoformat(),
            "ends_on": (d.ends_on + shift).isoformat() if d.ends_on else None,
            "form_reference": "CF-1"}, desk)
        assert recorded.status_code == 201, recorded.content
    token = network.token(Role.THERAPIST, uuid4(), [clinics[clinic]])
    body = ask(client, token, READ, id=str(patient))
    assert (body["data"] is not None) is allowed, why


def test_a_clinic_whose_referral_was_redirected_away_reads_no_more(
    client: Any, network: Network, app: CareLedger, db: bootstrap.Database,
) -> None:
    """The table's row through the API: B declines, the physician redirects the referral
    to E; B's reads,
    by id and in its caseload, find nothing, logged as care that ended; E reads."""
    made = post(client, "/referrals", referral_body(network), network.physician_auth)
    rid = UUID(made.json()["id"])
    sync_views(app, db)
    b = network.token(Role.THERAPIST, network.therapist, [network.clinic])
    e = network.token(Role.THERAPIST, network.other_therapist, [network.other_clinic])
    assert not ask(client, b, READ, id=str(network.patient)).get("errors")
    assert post(client, f"/referrals/{rid}/decline", {"reason": "no openings"},
                network.therapist_auth).status_code == 201
    assert post(client, f"/referrals/{rid}/redirect", {
        "clinic_id": str(network.other_clinic), "reason": "closer to home"},
        network.physician_auth).status_code == 201
    sync_views(app, db)
    gone = ask(client, b, READ, id=str(network.patient))
    assert gone["errors"][0]["extensions"] == {"code": "NOT_FOUND"}
    caseload = ask(client, b, CASELOAD, id=str(network.clinic))["data"]["clinic"]["caseload"]
    assert str(network.patient) not in {r["patientId"] for r in caseload}
    assert not ask(client, e, READ, id=str(network.patient)).get("errors")
    assert _logged(db, network.patient, 2) == [
        ("therapist", False, None, "care_ended"), ("therapist", True, "care_team", None)]
