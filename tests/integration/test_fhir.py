"""FHIR R4 export: a patient's record from the log, as a Bundle every resource of which
fhir.resources validates, read only by whom GraphQL lets read it, and logged."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from typer.testing import CliRunner

from careledger.access.tokens import Role
from careledger.consumers.envelopes import Streams, envelope_of
from careledger.domain.amendments import Amend, DenyAmendment, FileDisagreement, RequestAmendment
from careledger.domain.application import CareLedger
from careledger.domain.catalogue import kinds
from careledger.domain.clinical import DenialBasis
from careledger.domain.referral import Referral
from careledger.gateways.fhir.vocabulary import resource_id
from careledger.infra.eventstore import read_patient_log
from careledger.infra.settings import Settings
from careledger.main import bootstrap
from careledger.projections.envelope import event_id
from tests.helpers.fhir_check import node_errors
from tests.helpers.graphql import sync_views
from tests.helpers.network import Network, open_episode, referral_to_a_new_patient

LOINC_NPRS = ("http://loinc.org", "72514-3")
REQUIRED = {"Patient", "ServiceRequest", "Condition", "Observation", "CarePlan", "Goal",
            "Encounter", "Procedure", "Provenance"}


@pytest.fixture(scope="module")
def discharged(app: CareLedger, db: bootstrap.Database) -> tuple[UUID, UUID]:
    """A seeded patient whose episode went from referral to discharge: (patient, referral)."""
    from careledger.main.seed import seed_network

    demo = seed_network(app, patients=8, seed=23)
    sync_views(app, db)
    with psycopg.connect(db.app_url) as conn:
        for patient, referral in zip(demo.patient_ids, demo.referral_ids, strict=True):
            if patient == demo.demo_patient:
                continue  # treated at a second clinic too: one episode is what is checked
            row = conn.execute("SELECT 1 FROM careledger.careledger_events WHERE originator_id"
                               " = %s AND topic = %s",
                               (referral, Referral.Discharged.TOPIC)).fetchone()
            if row is not None:
                return UUID(patient), UUID(referral)
    raise AssertionError("seed 23 made no discharged episode")


def export(client: Any, token: str, patient: UUID) -> Any:
    return client.get(f"/api/v1/patients/{patient}/fhir", HTTP_AUTHORIZATION=f"Bearer {token}")


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def auditor(network: Network) -> str:
    return network.token(Role.AUDITOR, uuid.uuid4())


def test_a_discharged_episode_exports_every_resource_valid_with_the_values_recorded(
    app: CareLedger, db: bootstrap.Database, client: Any, network: Network,
    discharged: tuple[UUID, UUID],
) -> None:
    patient, referral = discharged
    response = export(client, auditor(network), patient)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    bundle = response.json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    for entry in bundle["entry"]:
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        assert entry["fullUrl"] == f"urn:uuid:{resource['id']}"
    # And by an independent validator, against FHIR R4's own definitions.
    assert node_errors([e["resource"] for e in bundle["entry"]]) == []
    assert {e["resource"]["resourceType"] for e in bundle["entry"]} >= REQUIRED

    events = list(app.events.get(patient)) + list(app.events.get(referral))
    by_kind: dict[str, list[Any]] = {}
    for event in events:
        by_kind.setdefault(type(event).__name__, []).append(event)
    # Pain: the assessment's and each session's before and after, LOINC 72514-3.
    recorded_pain = Counter([e.pain_nprs for e in by_kind["AssessmentRecorded"]]
                            + [p for e in by_kind["SessionCompleted"]
                               for p in (e.pain_before, e.pain_after)])
    nprs = [o for o in resources(bundle, "Observation")
            if any((c["system"], c["code"]) == LOINC_NPRS for c in o["code"]["coding"])]
    assert Counter(o["valueInteger"] for o in nprs) == recorded_pain
    # The functional score (ODI or NDI) at assessment and at every session that took it.
    functional = [o for o in resources(bundle, "Observation") if "valueQuantity" in o]
    expected = [e.functional_score for e in by_kind["AssessmentRecorded"]] + [
        e.functional_score for e in by_kind["SessionCompleted"]
        if e.functional_score is not None]
    assert sorted(o["valueQuantity"]["value"] for o in functional) == sorted(expected)
    assert {o["valueQuantity"]["code"] for o in functional} == {"%"}
    # The referral, its diagnoses, the plan, sessions, procedures and billing.
    made = by_kind["Made"][0]
    (request,) = resources(bundle, "ServiceRequest")
    assert request["status"] == "completed" and request["id"] == str(referral)
    assert request["requester"]["identifier"]["value"] == str(made.physician_id)
    assert request["quantityQuantity"]["value"] == made.authorized_visits
    assert {(c["code"]["coding"][0]["system"], c["code"]["coding"][0]["code"])
            for c in resources(bundle, "Condition")} == {
        ("http://hl7.org/fhir/sid/icd-10-cm", d["code"]) for d in made.diagnoses}
    (plan,) = resources(bundle, "CarePlan")
    assert plan["status"] == "completed"
    goals = resources(bundle, "Goal")
    outcomes = {o["goal_id"]: o["outcome"] for o in by_kind["Discharged"][0].outcomes}
    assert len(goals) == len(outcomes) == len(plan["goal"])
    assert {g["achievementStatus"]["text"] for g in goals} == {
        o.replace("_", " ") for o in outcomes.values()}
    assert all(g["lifecycleStatus"] == "completed" and g["target"][0]["dueDate"] for g in goals)
    finished = [e for e in resources(bundle, "Encounter") if e["status"] == "finished"]
    assert len(finished) == len(by_kind["SessionCompleted"])
    assert all("Subjective" in e["text"]["div"] for e in finished)
    procedures = resources(bundle, "Procedure")
    assert len(procedures) == sum(len(e.techniques) for e in by_kind["SessionCompleted"])
    assert {c["code"] for p in procedures for c in p["code"]["coding"]
            if c["system"] == "http://www.ama-assn.org/go/cpt"} <= {"97124", "97140", "97110"}
    units = sum(e.total_units for e in by_kind["SessionCompleted"])
    assert sum(c["quantity"]["value"] for c in resources(bundle, "ChargeItem")) == units

    # A Provenance per event, in log order, with the log's own recorded time.
    with psycopg.connect(db.app_url) as conn:
        log = conn.execute(
            "SELECT originator_id, originator_version, recorded_at FROM"
            " careledger.careledger_events WHERE originator_id = ANY(%s)"
            " ORDER BY notification_id", ([patient, referral],)).fetchall()
    provenances = resources(bundle, "Provenance")
    assert [p["id"] for p in provenances] == [str(event_id(o, v)) for o, v, _ in log]
    occurred = {str(event_id(e.originator_id, e.originator_version)): e.occurred_at
                for e in events}
    for provenance, (_, _, recorded_at) in zip(provenances, log, strict=True):
        assert datetime.fromisoformat(provenance["recorded"]) == recorded_at
        assert datetime.fromisoformat(provenance["occurredDateTime"]) == occurred[
            provenance["id"]]
        assert provenance["target"] and provenance["agent"][0]["who"]["identifier"]["value"]
    ids = {e["resource"]["id"] for e in bundle["entry"]}
    assert all(t["reference"].removeprefix("urn:uuid:") in ids
               for p in provenances for t in p["target"])


def test_the_bundle_round_trips_through_fhir_resources(
    client: Any, network: Network, discharged: tuple[UUID, UUID]
) -> None:
    body = export(client, auditor(network), discharged[0]).content.decode()
    again = Bundle.model_validate_json(body).model_dump_json()
    assert json.loads(again) == json.loads(body)
    assert again == body


def test_an_amended_record_shows_its_current_values_with_each_earlier_version(
    app: CareLedger, db: bootstrap.Database, client: Any, network: Network,
    discharged: tuple[UUID, UUID],
) -> None:
    patient, referral = discharged
    token = auditor(network)
    before = export(client, token, patient).json()
    encounter = next(e for e in resources(before, "Encounter") if e["status"] == "finished")
    session = encounter["identifier"][0]["value"].split("/")[-1]
    pain_after = resource_id("Observation", referral, session, "pain-after")
    (recorded,) = [e["resource"] for e in before["entry"] if e["resource"]["id"] == pain_after]
    for reason, pain in (("pain after treatment was 3, not 2", 3), ("it was 4", 4)):
        app.handle(Amend(referral_id=referral, record_id=session, reason=reason,
                         changes={"pain_after": pain}, occurred_at=datetime.now(UTC),
                         actor="therapist:t"))
    sync_views(app, db)
    after = export(client, token, patient).json()
    # The record as it stands, each earlier version beside it (one fullUrl, its versions).
    versions = [e for e in after["entry"] if e["resource"]["id"] == pain_after]
    assert {e["fullUrl"] for e in versions} == {f"urn:uuid:{pain_after}"}
    assert [(v["resource"]["meta"]["versionId"], v["resource"]["valueInteger"])
            for v in versions] == [("1", recorded["valueInteger"]), ("2", 3), ("3", 4)]
    assert ({k: v for k, v in versions[0]["resource"].items() if k != "meta"}
            == {k: v for k, v in recorded.items() if k != "meta"})
    stamps = [v["resource"]["meta"]["lastUpdated"] for v in versions]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3
    # What the amendments did not touch is exactly as it was, unversioned.
    untouched = {e["resource"]["id"]: e for e in before["entry"]
                 if e["resource"]["resourceType"] != "Provenance"}
    amended = {e["resource"]["id"] for e in after["entry"]
               if "versionId" in e["resource"].get("meta", {})}
    assert amended and pain_after in amended
    assert [e for e in after["entry"] if e["resource"]["id"] in untouched.keys() - amended
            ] == [e for i, e in untouched.items() if i not in amended]
    first, second = resources(after, "Provenance")[-2:]
    assert [p["activity"]["coding"][0]["code"] for p in (first, second)] == ["UPDATE"] * 2
    assert first["activity"]["text"] == Referral.Amended.KIND
    assert first["reason"][0]["text"] == "pain after treatment was 3, not 2"
    assert {"reference": f"urn:uuid:{encounter['id']}"} in first["target"]
    (extension,) = [x for x in first["extension"] if x["url"].endswith("/amendment")]
    fields = {x["url"]: x for x in extension["extension"]}
    assert fields["record"]["valueIdentifier"]["value"] == f"{referral}/{session}"
    assert json.loads(fields["changes"]["valueString"]) == {"pain_after": 3}
    assert fields["version"]["valueString"] == "2"  # the version this amendment made
    # The revision points at the Provenance of the session as first recorded.
    original = first["entity"][1]["what"]["reference"].removeprefix("urn:uuid:")
    written = next(p for p in resources(after, "Provenance") if p["id"] == original)
    assert written["activity"]["text"] == Referral.SessionCompleted.KIND


def test_a_technique_an_amendment_takes_away_is_entered_in_error(
    app: CareLedger, db: bootstrap.Database, client: Any, network: Network,
    discharged: tuple[UUID, UUID],
) -> None:
    patient, referral = discharged
    token = auditor(network)
    streams = Streams(app)
    with psycopg.connect(db.app_url) as conn:
        log = [envelope_of(app, streams, e) for e in read_patient_log(conn, patient)]
    note = next(e for e in log if e.type == Referral.SessionCompleted.TOPIC
                and e.aggregate_id == referral)
    session, given = str(note.data["session_id"]), list(note.data["techniques"])
    two = [given[0], {"technique": "stretching" if given[0]["technique"] != "stretching"
                      else "therapeutic_exercise", "minutes": 10}]
    for reason, techniques in (("two were given", two), ("only the first", two[:1])):
        app.handle(Amend(referral_id=referral, record_id=session, reason=reason,
                         changes={"techniques": techniques}, occurred_at=datetime.now(UTC),
                         actor="therapist:t"))
    sync_views(app, db)
    after = export(client, token, patient).json()
    encounter = resource_id("Encounter", referral, session)
    of_session = [p for p in resources(after, "Procedure")
                  if p["encounter"]["reference"] == f"urn:uuid:{encounter}"]
    current = {p["id"]: p for p in of_session}  # each id's last version is its current one
    assert sorted(p["status"] for p in current.values()) == ["completed", "entered-in-error"]
    (taken,) = [p["id"] for p in current.values() if p["status"] == "entered-in-error"]
    # Given as the first amendment said, taken by the second: its last two versions (the
    # session may have had amendments before these).
    versions = [(int(p["meta"]["versionId"]), p["status"]) for p in of_session
                if p["id"] == taken]
    (made, given_then), (last, status) = versions[-2:]
    assert (given_then, status, last) == ("completed", "entered-in-error", made + 1)


def test_a_denied_request_to_amend_and_the_disagreement_are_in_the_export(
    app: CareLedger, db: bootstrap.Database, client: Any, network: Network,
    discharged: tuple[UUID, UUID],
) -> None:
    patient, referral = discharged
    token = auditor(network)
    request = f"r-{uuid.uuid4().hex[:8]}"
    app.handle(RequestAmendment(referral_id=referral, request_id=request, record_id=str(referral),
                                changes={"reason": "left knee"}, reason="the wrong knee",
                                occurred_at=datetime.now(UTC), actor="clinic-admin:a"))
    app.handle(DenyAmendment(referral_id=referral, request_id=request,
                             basis=DenialBasis.ACCURATE_AND_COMPLETE,
                             explanation="the referral names the right knee",
                             occurred_at=datetime.now(UTC), actor="therapist:t"))
    app.handle(FileDisagreement(referral_id=referral, request_id=request,
                                statement="it was my left knee",
                                occurred_at=datetime.now(UTC), actor="clinic-admin:a"))
    sync_views(app, db)
    bundle = export(client, token, patient).json()
    Bundle.model_validate(bundle)
    steps = [p for p in resources(bundle, "Provenance") if any(
        x["url"].endswith("/amendment-request") for x in p.get("extension", []))]
    assert [p["activity"]["text"] for p in steps][-3:] == kinds(
        Referral.AmendmentRequested, Referral.AmendmentDenied, Referral.DisagreementFiled)
    assert all(p["activity"]["coding"][0]["code"] == "APPEND" for p in steps)
    assert {"reference": f"urn:uuid:{referral}"} in steps[-1]["target"]
    denial = {x["url"]: x.get("valueString") for x in next(
        x for x in steps[-2]["extension"] if x["url"].endswith("/amendment-request")
    )["extension"]}
    assert denial["basis"] == "accurate_and_complete" and denial["request"] == request
    assert steps[-1]["reason"][0]["text"] == "it was my left knee"


def test_the_care_team_reads_it_and_anyone_else_gets_the_404_of_no_patient_at_all(
    app: CareLedger, db: bootstrap.Database, client: Any, network: Network,
    discharged: tuple[UUID, UUID],
) -> None:
    patient, referral = discharged
    made = next(iter(app.events.get(referral)))
    physician = network.token(Role.PHYSICIAN, made.physician_id)
    allowed = export(client, physician, patient)
    assert allowed.status_code == 200
    assert allowed["Content-Type"] == "application/fhir+json"
    assert allowed["Cache-Control"] == "no-store"
    stranger = uuid.uuid4()
    outsider = network.token(Role.PHYSICIAN, stranger)
    denied, missing = export(client, outsider, patient), export(client, outsider, uuid.uuid4())
    for response in (denied, missing):
        assert response.status_code == 404
        assert response["Content-Type"] == "application/problem+json"
    assert denied.json() == missing.json() == {
        "type": "https://careledger.dev/problems/not_found", "title": "Not found",
        "status": 404, "detail": "no patient with that id", "code": "not_found"}
    registered = next(iter(app.events.get(patient)))
    for phi in (registered.family_name, registered.given_name, str(registered.birth_date),
                str(patient)):
        assert phi not in denied.content.decode()
    with psycopg.connect(db.app_url) as conn:
        rows = conn.execute(
            "SELECT principal, role, allowed, basis, fields FROM careledger.access_log"
            " WHERE patient_id = %s AND fields = 'fhir:export' AND principal = ANY(%s)"
            " ORDER BY id", (patient, [made.physician_id, stranger])).fetchall()
    assert rows == [(made.physician_id, "physician", True, "care_team", "fhir:export"),
                    (stranger, "physician", False, None, "fhir:export")]
    assert export(client, "not-a-token", patient).status_code == 401


def test_outside_the_care_team_a_stated_emergency_opens_it_flagged_as_graphql_does(
    db: bootstrap.Database, client: Any, network: Network, discharged: tuple[UUID, UUID]
) -> None:
    stranger = uuid.uuid4()
    token = network.token(Role.THERAPIST, stranger, [network.other_clinic])
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    url = f"/api/v1/patients/{discharged[0]}/fhir"
    short = client.get(url, HTTP_CARELEDGER_EMERGENCY_REASON="urgent", **headers)
    assert short.status_code == 422
    reason = "collapsed at the clinic, history needed"
    opened = client.get(url, HTTP_CARELEDGER_EMERGENCY_REASON=reason, **headers)
    assert opened.status_code == 200
    assert client.get(url, **headers).status_code == 200  # for the grant's four hours
    with psycopg.connect(db.app_url) as conn:
        rows = conn.execute("SELECT allowed, basis, reason FROM careledger.access_log"
                            " WHERE principal = %s ORDER BY id", (stranger,)).fetchall()
    assert rows == [(True, "emergency", reason)] * 2


def test_a_patient_with_two_referrals_exports_both_and_no_one_elses(
    app: CareLedger, db: bootstrap.Database, client: Any, network: Network
) -> None:
    first = open_episode(app, network, accept=True)
    second = open_episode(app, network)
    other = referral_to_a_new_patient(app, network)  # the same physician, another patient
    sync_views(app, db)
    bundle = export(client, network.token(Role.PHYSICIAN, network.physician),
                    network.patient).json()
    requests = {r["id"]: r for r in resources(bundle, "ServiceRequest")}
    assert set(requests) == {str(first), str(second)}
    assert str(other) not in requests
    assert requests[str(first)]["performer"][1]["identifier"]["value"] == str(network.therapist)
    assert {r["subject"]["reference"] for r in requests.values()} == {
        f"urn:uuid:{network.patient}"}
    (consent,) = resources(bundle, "Consent")
    assert consent["status"] == "active"


def test_the_cli_exports_as_a_named_auditor_into_the_access_log(
    db: bootstrap.Database, settings: Settings, discharged: tuple[UUID, UUID], tmp_path: Path
) -> None:
    from careledger.main.cli import cli

    env = {"CARELEDGER_DATABASE_URL": settings.database_url or "",
           "CARELEDGER_APP_DB_PASSWORD": settings.app_db_password,
           "CARELEDGER_DATA_DIR": str(settings.data_dir),
           "CARELEDGER_TOKEN_SECRET": settings.token_secret}
    operator, out = uuid.uuid4(), tmp_path / "bundle.json"
    runner = CliRunner()
    result = runner.invoke(cli, ["export", "fhir", "--patient", str(discharged[0]),
                                 "--as", str(operator), "--output", str(out)], env=env)
    assert result.exit_code == 0, result.output
    bundle = Bundle.model_validate_json(out.read_text())
    assert bundle.entry and oct(out.stat().st_mode & 0o777) == "0o600"
    nobody = uuid.uuid4()
    failed = runner.invoke(cli, ["export", "fhir", "--patient", str(nobody),
                                 "--as", str(operator)], env=env)
    assert failed.exit_code == 1 and "error:" in failed.output
    with psycopg.connect(db.app_url) as conn:
        rows = conn.execute(
            "SELECT patient_id, role, allowed, basis, fields FROM careledger.access_log"
            " WHERE principal = %s ORDER BY id", (operator,)).fetchall()
    assert rows == [(discharged[0], "auditor", True, "auditor", "cli:fhir:export"),
                    (nobody, "auditor", False, None, "cli:fhir:export")]
