"""People by name, as they were, through the public API on the real PostgreSQL: the
timeline, the accounting of disclosures (GraphQL and the command line) and the FHIR
export name a practitioner as they were when the event was recorded or the read made,
through a rename and a change of clinic; a denied read says why it was denied."""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from uuid import UUID, uuid4

from typer.testing import CliRunner

from careledger.access.tokens import Role
from careledger.domain.application import CareLedger
from careledger.domain.patient import Patient
from careledger.domain.referral import Referral
from careledger.infra.settings import Settings
from careledger.main import bootstrap
from careledger.main.cli import cli
from tests.helpers.api import assert_problem, make_referral, post
from tests.helpers.graphql import ask, sync_views
from tests.helpers.network import Network

TIMELINE = """
query ($id: UUID!) { patient(id: $id) { timeline { events {
  kind actor by { role name profession clinics label }
  amendments { kind by { name } }
} } } }
"""
REPORT = """
query ($id: UUID!) { accessReport(patientId: $id) {
  principal role fields allowed basis reason deniedBecause
  by { role name clinics label }
} }
"""


def _by_kind(client: Any, token: str, patient: UUID) -> dict[str, dict[str, Any]]:
    body = ask(client, token, TIMELINE, id=str(patient))
    assert "errors" not in body, body
    return {e["kind"]: e["by"] for e in body["data"]["patient"]["timeline"]["events"]}


def test_people_are_named_as_they_were_when_they_acted_or_read(
    client: Any, network: Network, app: CareLedger, db: bootstrap.Database,
    settings: Settings,
) -> None:
    admin = {"HTTP_AUTHORIZATION": "Bearer " + network.token(Role.NETWORK_ADMIN, uuid4())}
    physician = network.token(Role.PHYSICIAN, network.physician)
    rid = make_referral(client, network)
    accepted = post(client, f"/referrals/{rid}/acceptance", {}, network.therapist_auth)
    assert accepted.status_code == 201, accepted.content
    sync_views(app, db)

    before = _by_kind(client, physician, network.patient)
    assert before[Referral.Made.KIND] == {
        "role": "physician", "name": "Dr. Ada Reyes", "profession": "physician",
        "clinics": [], "label": "Dr. Ada Reyes (Physician)"}
    assert before[Referral.Accepted.KIND]["label"] == "Sam Lee (Therapist, Riverside)"
    # Someone the directory does not list is shown by role, never by an id.
    assert before[Patient.Registered.KIND] == {
        "role": "network_admin", "name": None, "profession": None, "clinics": [],
        "label": "Network administrator"}

    # The physician takes another name; the therapist moves from Riverside to Hudson.
    renamed = post(client, f"/practitioners/{network.physician}/name",
                   {"name": "Dr. Ada Reyes-Ortiz"}, admin)
    assert renamed.status_code == 201, renamed.content
    moved = post(client, f"/practitioners/{network.therapist}/affiliations",
                 {"clinic_id": str(network.other_clinic)}, admin)
    assert moved.status_code == 201, moved.content
    ended = post(client, f"/practitioners/{network.therapist}/affiliations/"
                 f"{network.clinic}/end", {}, admin)
    assert ended.status_code == 201, ended.content
    more = post(client, f"/referrals/{rid}/authorizations",
                {"visits": 2, "starts_on": "2026-03-10"}, network.physician_auth)
    assert more.status_code == 201, more.content
    sync_views(app, db)

    after = _by_kind(client, physician, network.patient)
    assert after[Referral.Made.KIND]["label"] == "Dr. Ada Reyes (Physician)"
    assert after[Referral.Accepted.KIND]["clinics"] == ["Riverside"]
    assert after[Referral.VisitsAuthorized.KIND]["label"] == "Dr. Ada Reyes-Ortiz (Physician)"

    # A read by someone outside the care team is denied, and the report says why.
    outsider = network.token(Role.THERAPIST, network.other_therapist, [network.other_clinic])
    denied = ask(client, outsider, TIMELINE, id=str(network.patient))
    assert denied.get("errors"), denied
    assert denied["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    auditor = network.token(Role.AUDITOR, uuid4())
    report = ask(client, auditor, REPORT, id=str(network.patient))["data"]["accessReport"]
    reads = [r for r in report if r["fields"].startswith("patient:")]
    first, later, refused = reads[0], reads[-2], reads[-1]
    assert (first["by"]["name"], first["allowed"]) == ("Dr. Ada Reyes", True)
    assert later["by"]["name"] == "Dr. Ada Reyes-Ortiz"
    assert refused["allowed"] is False and refused["reason"] == "not_on_care_team"
    assert refused["deniedBecause"] == "not on the patient's care team"
    assert refused["by"]["label"] == "Sam Lee (Therapist, Hudson)"
    assert first["deniedBecause"] is None

    # The command line's accounting names them the same way.
    env = {"CARELEDGER_DATABASE_URL": settings.database_url or "",
           "CARELEDGER_APP_DB_PASSWORD": settings.app_db_password,
           "CARELEDGER_TOKEN_SECRET": settings.token_secret,
           "CARELEDGER_DATA_DIR": str(settings.data_dir)}
    printed = CliRunner().invoke(cli, ["audit", "disclosures", "--patient",
                                       str(network.patient)], env=env)
    assert printed.exit_code == 0, printed.output
    rows = [r for r in csv.DictReader(io.StringIO(printed.output))
            if r["fields"].startswith("patient:")]
    assert rows[0]["by"] == "Dr. Ada Reyes (Physician)"
    assert (rows[-1]["by"], rows[-1]["denied_because"]) == (
        "Sam Lee (Therapist, Hudson)", "not on the patient's care team")

    # The FHIR export's Provenance names each agent as they were.
    exported = client.get(f"/api/v1/patients/{network.patient}/fhir", **network.physician_auth)
    assert exported.status_code == 200, exported.content
    agents = {r["activity"]["text"]: r["agent"][0]["who"]["display"]
              for r in (e["resource"] for e in json.loads(exported.content)["entry"])
              if r["resourceType"] == "Provenance"}
    assert agents[Referral.Made.KIND] == "Dr. Ada Reyes (Physician)"
    assert agents[Referral.VisitsAuthorized.KIND] == "Dr. Ada Reyes-Ortiz (Physician)"
    assert agents[Referral.Accepted.KIND] == "Sam Lee (Therapist, Riverside)"


def test_a_rename_or_an_affiliations_end_is_refused_when_it_changes_nothing(
    client: Any, network: Network,
) -> None:
    admin = {"HTTP_AUTHORIZATION": "Bearer " + network.token(Role.NETWORK_ADMIN, uuid4())}
    same = post(client, f"/practitioners/{network.physician}/name", {"name": "Dr. Ada Reyes"},
                admin)
    assert "already goes by this name" in assert_problem(same, 409,
                                                         "invariant_violated")["detail"]
    blank = assert_problem(post(client, f"/practitioners/{network.physician}/name",
                                {"name": "  "}, admin), 422, "invalid_input")
    assert "name" in json.dumps(blank)
    nowhere = post(client, f"/practitioners/{network.therapist}/affiliations/"
                   f"{network.other_clinic}/end", {}, admin)
    assert "not affiliated" in assert_problem(nowhere, 409, "invariant_violated")["detail"]
    unknown = post(client, f"/practitioners/{uuid4()}/name", {"name": "Someone"}, admin)
    assert unknown.status_code == 404, unknown.content
    # Only the network's administrator renames: a physician may not rename themself.
    assert post(client, f"/practitioners/{network.physician}/name", {"name": "Dr. A"},
                network.physician_auth).status_code == 403
