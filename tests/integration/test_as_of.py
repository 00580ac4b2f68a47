"""The record as it stood at a moment: replayed views and a patient's diff between moments."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from uuid import UUID

import psycopg
import pytest
from typer.testing import CliRunner, Result

from careledger.audit.as_of import AsOfError, diff_patient, replay_as_of
from careledger.consumers.replay import checksums, replay
from careledger.domain.application import CareLedger
from careledger.domain.clinical import SessionLocation
from careledger.domain.intake import CancelReferral
from careledger.domain.patient import Patient, RegisterPatient, RevokeConsent
from careledger.domain.referral import Referral
from careledger.domain.treatment import ScheduleSession
from careledger.infra.schema import create_views
from careledger.infra.settings import APP_ROLE, Settings
from careledger.main import bootstrap
from careledger.main.cli import cli
from tests.helpers.network import NOW, Network, open_episode


def recorded_at(db: bootstrap.Database, position: int) -> datetime:
    with psycopg.connect(db.admin_url) as conn:
        row = conn.execute("SELECT recorded_at FROM careledger.careledger_events"
                           " WHERE notification_id = %s", (position,)).fetchone()
    assert row is not None
    moment: datetime = row[0]
    return moment


def rows(db: bootstrap.Database, query: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(db.admin_url) as conn:
        return conn.execute(query, params).fetchall()


def test_the_views_as_of_now_equal_a_replay_and_as_of_earlier_what_was_then(
    app: CareLedger, db: bootstrap.Database, network: Network
) -> None:
    referral = open_episode(app, network, accept=True)
    accepted = app.recorder.horizon()  # type: ignore[attr-defined]
    then = recorded_at(db, accepted)
    app.handle(ScheduleSession(referral_id=referral, practitioner_id=network.therapist,
                               scheduled_for=NOW,
                               location=SessionLocation.CLINIC, occurred_at=NOW, actor="t"))
    app.handle(CancelReferral(referral_id=referral, reason="patient moved", occurred_at=NOW,
                              actor="physician:t"))

    now = replay_as_of(app, db, datetime.now(UTC) + timedelta(seconds=1), schema="asof_now")
    with psycopg.connect(db.admin_url, autocommit=True) as admin:
        create_views(admin, app_role=APP_ROLE, schema="asof_expected")
    replay(app, db.app_url, "asof_expected")
    assert checksums(db.app_url, now.schema) == checksums(
        db.app_url, "asof_expected")

    earlier = replay_as_of(app, db, then, schema="asof_then")
    assert earlier.position == accepted
    assert rows(db, "SELECT status, visits_used FROM asof_then.referrals"
                    " WHERE referral_id = %s", referral) == [("accepted", 0)]
    assert rows(db, "SELECT count(*) FROM asof_then.sessions WHERE referral_id = %s",
                referral) == [(0,)]
    assert [k for (k,) in rows(db, "SELECT kind FROM asof_then.timeline WHERE referral_id = %s"
                                   " ORDER BY position", referral)] == [
        Referral.Made.KIND, Referral.Accepted.KIND]
    assert rows(db, "SELECT status FROM asof_now.referrals WHERE referral_id = %s",
                referral) == [("cancelled",)]
    # The live views were not touched, and a second replay does not overwrite the first.
    with pytest.raises(AsOfError, match="--replace"):
        replay_as_of(app, db, then, schema="asof_then")
    with pytest.raises(AsOfError, match="CareLedger owns"):
        replay_as_of(app, db, then, schema="careledger_views")


def test_a_diff_names_what_changed_between_two_moments_and_who_changed_it(
    app: CareLedger, db: bootstrap.Database, network: Network
) -> None:
    referral = open_episode(app, network, accept=True)
    since = recorded_at(db, app.recorder.horizon())  # type: ignore[attr-defined]
    app.handle(ScheduleSession(referral_id=referral, practitioner_id=network.therapist,
                               scheduled_for=NOW,
                               location=SessionLocation.HOME, occurred_at=NOW, actor="therapist:t"))
    app.handle(CancelReferral(referral_id=referral, reason="patient moved", occurred_at=NOW,
                              actor="physician:p"))
    until = recorded_at(db, app.recorder.horizon())  # type: ignore[attr-defined]
    app.handle(RevokeConsent(patient_id=network.patient, reason="later", occurred_at=NOW,
                             actor="patient"))

    diff = diff_patient(app, db, network.patient, since, until)
    assert [(e.kind, e.actor) for e in diff.events] == [
        (Referral.SessionScheduled.KIND, "therapist:t"), (Referral.Cancelled.KIND, "physician:p")]
    changed = {(c.table, c.change) for c in diff.rows}
    assert ("sessions", "added") in changed and ("referrals", "changed") in changed
    status = next(c for c in diff.rows if c.table == "referrals")
    assert status.before is not None and status.after is not None
    assert (status.before["status"], status.after["status"]) == ("accepted", "cancelled")
    assert ("consent", "changed") not in changed  # revoked after the second moment
    assert diff.rows and all(c.table != "timeline" or c.change == "added" for c in diff.rows)
    with psycopg.connect(db.admin_url) as conn:  # the scratch schemas are gone
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE"
                            " 'careledger_diff_%'").fetchone() == (0,)
    with pytest.raises(AsOfError, match="swap"):
        diff_patient(app, db, network.patient, until, since)
    assert isinstance(diff.patient_id, UUID)


def test_the_audit_commands_replay_diff_and_account_for_disclosures(
    app: CareLedger, db: bootstrap.Database, network: Network, settings: Settings
) -> None:
    env = {"CARELEDGER_DATABASE_URL": settings.database_url or "",
           "CARELEDGER_APP_DB_PASSWORD": settings.app_db_password,
           "CARELEDGER_TOKEN_SECRET": settings.token_secret,
           "CARELEDGER_DATA_DIR": str(settings.data_dir)}

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, ["audit", *args], env=env)

    referral = open_episode(app, network, accept=True)
    since = recorded_at(db, app.recorder.horizon())  # type: ignore[attr-defined]
    app.handle(CancelReferral(referral_id=referral, reason="patient moved", occurred_at=NOW,
                              actor="physician:p"))
    until = recorded_at(db, app.recorder.horizon())  # type: ignore[attr-defined]

    replayed = run("replay", "--as-of", since.isoformat(), "--schema", "asof_cli")
    assert replayed.exit_code == 0, replayed.output
    assert "asof_cli" in replayed.output
    assert rows(db, "SELECT status FROM asof_cli.referrals WHERE referral_id = %s",
                referral) == [("accepted",)]
    again = run("replay", "--as-of", since.isoformat(), "--schema", "asof_cli")
    assert again.exit_code == 1 and "--replace" in again.output
    assert run("replay", "--as-of", "2026-03-02T09:00:00").exit_code == 1  # no zone

    diff = run("diff", "--patient", str(network.patient), "--from", since.isoformat(),
               "--to", until.isoformat(), "--format", "json")
    assert diff.exit_code == 0, diff.output
    body = json.loads(diff.output)
    assert [(e["kind"], e["actor"]) for e in body["events"]] == [
        (Referral.Cancelled.KIND, "physician:p")]
    text = run("diff", "--patient", str(network.patient), "--from", since.isoformat(),
               "--to", until.isoformat())
    assert Referral.Cancelled.KIND in text.output and "referrals" in text.output
    assert "status" in text.output
    assert "Maria" not in text.output  # names and notes never: kinds, actors, columns

    with psycopg.connect(db.app_url, autocommit=True) as conn:
        conn.execute("SELECT careledger.log_access(%s, 'physician', %s, 'patient:timeline',"
                     " false, NULL, NULL)", (network.physician, network.patient))
    first = run("disclosures", "--patient", str(network.patient), "--format", "csv")
    assert first.exit_code == 0, first.output
    lines = list(csv.DictReader(io.StringIO(first.output)))
    assert [(r["fields"], r["allowed"]) for r in lines][-3:] == [
        ("cli:audit:diff", "True"), ("patient:timeline", "False"),
        ("cli:audit:disclosures", "True")]
    second = json.loads(run("disclosures", "--patient", str(network.patient), "--format",
                            "json").output)
    assert len(second) == len(lines) + 1  # producing the report is itself an access
    assert second[-1]["fields"] == "cli:audit:disclosures" and second[-1]["role"] == "auditor"
    late = run("disclosures", "--patient", str(network.patient), "--since",
               datetime.now(UTC).isoformat())
    assert list(csv.DictReader(io.StringIO(late.output)))[-1]["fields"] == "cli:audit:disclosures"
    assert run("disclosures", "--patient", "nope").exit_code == 1
    assert run("disclosures", "--patient", str(network.patient), "--format", "xml"
               ).exit_code == 1


def test_a_replay_leaves_out_an_event_the_views_cannot_hold_and_goes_on(
    app: CareLedger, db: bootstrap.Database, network: Network
) -> None:
    """An event with U+0000 in its text (stored before the store refused such text): no
    jsonb can hold it. The consumers dead-letter it; a replay leaves it out the same way."""
    from datetime import date

    from careledger.domain.errors import InvalidInput

    with pytest.raises(InvalidInput, match="U\\+0000"):  # refused today, at the store
        app.handle(RegisterPatient(given_name="A\x00B", family_name="Nul", birth_date=date(1990, 1,
                                                                                           1),
                                   sex="female", address="x", latitude=None, longitude=None,
                                   occurred_at=NOW, actor="t"))
    with psycopg.connect(db.app_url, autocommit=True) as conn:
        ((state,),) = conn.execute(
            "SELECT state FROM careledger.careledger_events WHERE originator_id = %s"
            " AND originator_version = 1", (network.patient,)).fetchall()
        ((positions,),) = conn.execute(
            "SELECT careledger.append_events(%s::uuid[], %s::bigint[], %s::text[], %s::bytea[],"
            " NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
            ([uuid.uuid4()], [1], [Patient.Registered.TOPIC],
             [bytes(state).replace(b"Maria", b"Ma\\u0000ria")])).fetchall()
    later = open_episode(app, network, accept=True)
    replayed = replay_as_of(app, db, datetime.now(UTC) + timedelta(seconds=1), schema="asof_nul")
    assert replayed.position >= positions[0]
    assert rows(db, "SELECT count(*) FROM asof_nul.timeline WHERE position = %s",
                positions[0]) == [(0,)]
    assert rows(db, "SELECT status FROM asof_nul.referrals WHERE referral_id = %s",
                later) == [("accepted",)]


def test_a_backslash_and_u0000_typed_as_text_is_not_a_nul(app: CareLedger) -> None:
    from datetime import date

    recorded = app.handle(RegisterPatient(given_name="A\\u0000B", family_name="Slash",
                                          birth_date=date(1990, 1, 1), sex="female", address="x",
                                          latitude=None, longitude=None, occurred_at=NOW,
                                          actor="t"))
    assert recorded.version == 1
