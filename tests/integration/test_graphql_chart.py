"""The fields the physician's web page reads: `me`, a physician's patients with the status
of each episode, and a patient's progress per plan and providers.

Like tests/test_graphql.py, the views are filled by replaying the log (no broker).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest

from careledger.access.tokens import Role
from careledger.domain.application import CareLedger
from careledger.graphql.worklists.types import CareStatus, care_status
from careledger.main import bootstrap
from tests.helpers.care import DAY, Care, session, two_clinic_care
from tests.helpers.graphql import ask, sync_views
from tests.helpers.network import Network

PATIENTS = """
query ($id: UUID!) {
  physician(id: $id) {
    patients {
      patientId givenName familyName birthDate status
      referrals { referralId clinicId clinicName discipline status planStatus certifiedUntil }
    }
  }
}
"""
CHART = """
query ($id: UUID!, $asOf: DateTime) {
  patient(id: $id) {
    progress(asOf: $asOf) {
      referralId clinicId planId instrument
      points { occurredAt sessionId painBefore painAfter functionalScore }
      goals { goalId metric baseline target unit }
    }
    providers { id kind name profession }
  }
}
"""


@pytest.fixture()
def care(app: CareLedger, db: bootstrap.Database, network: Network) -> Care:
    treated = two_clinic_care(app, network, datetime.now(UTC) - 20 * DAY)
    sync_views(app, db)
    return treated


def test_me_names_the_tokens_principal_and_nothing_else(client: Any, network: Network) -> None:
    token = network.token(Role.THERAPIST, network.therapist, [network.clinic])
    me = ask(client, token, "{ me { id role clinicIds } }")["data"]["me"]
    assert me == {"id": str(network.therapist), "role": "therapist",
                  "clinicIds": [str(network.clinic)]}
    anonymous = ask(client, None, "{ me { id } }")
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_a_physician_lists_their_patients_with_each_episodes_status(
    db: bootstrap.Database, client: Any, network: Network, care: Care
) -> None:
    token = network.token(Role.PHYSICIAN, network.physician)
    patients = ask(client, token, PATIENTS, id=str(network.physician))["data"]["physician"][
        "patients"]
    assert len(patients) == 1
    [patient] = patients
    assert (patient["patientId"], patient["givenName"], patient["familyName"],
            patient["birthDate"]) == (str(network.patient), "Maria", "Okafor", "1972-05-04")
    # The plan waiting for a signature outranks the episode in treatment.
    assert patient["status"] == "AWAITING_CERTIFICATION"
    assert [(r["referralId"], r["clinicName"], r["status"]) for r in patient["referrals"]] == [
        (str(care.hudson), "Hudson", "AWAITING_CERTIFICATION"),
        (str(care.riverside), "Riverside", "IN_TREATMENT"),
    ]
    with psycopg.connect(db.app_url) as conn:
        logged = conn.execute(
            "SELECT patient_id, allowed, basis FROM careledger.access_log"
            " WHERE principal = %s AND fields = 'physician.patients'",
            (network.physician,)).fetchall()
    assert logged == [(network.patient, True, "care_team")]
    # Another physician's list is "not found"; a physician's own is theirs alone.
    stranger = uuid.uuid4()
    other = ask(client, network.token(Role.PHYSICIAN, stranger), PATIENTS,
                id=str(network.physician))
    assert other["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    own = ask(client, network.token(Role.PHYSICIAN, stranger), PATIENTS, id=str(stranger))
    assert own["data"]["physician"]["patients"] == []


def test_an_uncertified_plan_30_days_after_the_first_treatment_is_overdue(
    app: CareLedger, db: bootstrap.Database, client: Any, network: Network
) -> None:
    long_ago = datetime.now(UTC) - 50 * DAY
    care = two_clinic_care(app, network, long_ago)
    session(app, care.hudson, network.other_therapist, "s01", long_ago + 8 * DAY, pain=5,
            score=28.0)
    sync_views(app, db)
    token = network.token(Role.PHYSICIAN, network.physician)
    [patient] = ask(client, token, PATIENTS, id=str(network.physician))["data"]["physician"][
        "patients"]
    assert patient["status"] == "CERTIFICATION_OVERDUE"
    assert {r["clinicName"]: r["status"] for r in patient["referrals"]} == {
        "Hudson": "CERTIFICATION_OVERDUE", "Riverside": "IN_TREATMENT"}


def test_care_status_follows_the_domains_rule_for_overdue() -> None:
    today = date(2026, 6, 1)
    first = date(2026, 5, 1)  # the first session's day, as its note states it
    assert care_status("pending", None, None, None, today) is CareStatus.REFERRAL_PENDING
    assert care_status("accepted", None, None, None, today) is CareStatus.IN_TREATMENT
    assert care_status("accepted", "awaiting certification", None, first, today) is (
        CareStatus.CERTIFICATION_OVERDUE)  # 31 days after the first treatment
    assert care_status("accepted", "awaiting certification", None, first + DAY, today) is (
        CareStatus.AWAITING_CERTIFICATION)
    assert care_status("accepted", "certified", today - timedelta(days=1), first, today) is (
        CareStatus.CERTIFICATION_OVERDUE)
    assert care_status("accepted", "certified", today, first, today) is CareStatus.IN_TREATMENT
    assert care_status("discharged", "certified", None, first, today) is CareStatus.DISCHARGED


def test_progress_per_plan_against_the_goals_and_as_it_stood(
    app: CareLedger, db: bootstrap.Database, client: Any, network: Network, care: Care
) -> None:
    token = network.token(Role.PHYSICIAN, network.physician)
    before_late_note = ask(client, token, "query ($id: UUID!) { patient(id: $id) { timeline("
                           "first: 100) { events { recordedAt } } } }", id=str(network.patient))
    cut = max(e["recordedAt"] for e in before_late_note["data"]["patient"]["timeline"]["events"])
    session(app, care.riverside, network.therapist, "s03", care.start + 7 * DAY, pain=4,
            score=29.0)  # written up late: valid between s01 and s02
    sync_views(app, db)
    chart = ask(client, token, CHART, id=str(network.patient))["data"]["patient"]
    by_referral = {p["referralId"]: p for p in chart["progress"]}
    riverside = by_referral[str(care.riverside)]
    assert riverside["instrument"] == "ODI" and riverside["clinicId"] == str(network.clinic)
    assert [(p["sessionId"], p["painAfter"], p["functionalScore"])
            for p in riverside["points"]] == [
        (None, 7, 40.0), ("s01", 6, 36.0), ("s03", 4, 29.0), ("s02", 5, 31.0)]
    assert [(g["metric"], g["baseline"], g["target"]) for g in riverside["goals"]] == [
        ("NPRS", 7.0, 3.0), ("ODI", 40.0, 20.0)]
    hudson = by_referral[str(care.hudson)]
    assert hudson["instrument"] == "NDI" and [p["sessionId"] for p in hudson["points"]] == [None]
    then = ask(client, token, CHART, id=str(network.patient), asOf=cut)["data"]["patient"]
    assert [p["sessionId"] for p in then["progress"][0]["points"]] == [None, "s01", "s02"]
    providers = {(p["kind"], p["name"]) for p in chart["providers"]}
    assert {("clinic", "Riverside"), ("clinic", "Hudson"), ("practitioner", "Dr. Ada Reyes"),
            ("practitioner", "Sam Lee")} <= providers
    assert len(chart["providers"]) == 5  # two clinics, the physician, two therapists


def test_a_stranger_reads_no_chart_and_every_read_is_logged(
    db: bootstrap.Database, client: Any, network: Network, care: Care
) -> None:
    stranger = uuid.uuid4()
    denied = ask(client, network.token(Role.PHYSICIAN, stranger), CHART, id=str(network.patient))
    assert denied["data"] is None
    assert denied["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    ask(client, network.token(Role.PHYSICIAN, network.physician), CHART,
        id=str(network.patient))
    with psycopg.connect(db.app_url) as conn:
        rows = conn.execute(
            "SELECT principal, allowed, fields FROM careledger.access_log WHERE patient_id = %s"
            " ORDER BY id", (network.patient,)).fetchall()
    assert rows == [(stranger, False, "patient:progress,providers"),
                    (network.physician, True, "patient:progress,providers")]


def test_a_therapist_sees_the_chart_of_a_patient_their_clinic_treats(
    client: Any, network: Network, care: Care
) -> None:
    token = network.token(Role.THERAPIST, network.other_therapist, [network.other_clinic])
    chart = ask(client, token, CHART, id=str(network.patient))["data"]["patient"]
    assert {p["referralId"] for p in chart["progress"]} == {str(care.riverside),
                                                            str(care.hudson)}
    assert UUID(chart["providers"][0]["id"])
