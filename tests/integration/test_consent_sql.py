"""The database's form of the consent rule (`careledger.consent_permits`, which access
and every list ask) gives what the domain's rule (`consent.clinic_permitted`) gives: on
every row of the table in tests/unit/test_consent.py and on random histories."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from uuid import uuid4

import psycopg

from careledger.domain.consent import ConsentDecision, Purpose, Reader, clinic_permitted
from careledger.main import bootstrap
from tests.helpers.consent_cases import CASES, DAY

CLINICS = {"clinic-b": uuid4(), "clinic-e": uuid4()}


def _permits(conn: psycopg.Connection, decisions: list[ConsentDecision], clinic: str,
             on: date) -> bool:
    """The SQL rule over these decisions, written as the log would write them, then undone."""
    patient = uuid4()
    with conn.transaction(force_rollback=True):
        for position, d in enumerate(decisions, start=1):
            conn.execute(
                "INSERT INTO careledger.consent_decisions VALUES"
                " (%s, %s, %s, %s, %s, %s, %s, now())",
                (position - 1000, patient,  # in log order; undone, so never a real one
                 CLINICS[d.clinic_id] if d.clinic_id else None, str(d.purpose), d.permit,
                 d.starts_on, d.ends_on))
        row = conn.execute("SELECT careledger.consent_permits(%s, %s, %s, %s)",
                           (patient, CLINICS[clinic], str(Purpose.TREATMENT), on)).fetchone()
    assert row is not None
    return bool(row[0])


def test_each_row_of_the_rule_reads_the_same_in_sql(db: bootstrap.Database) -> None:
    clinic_cases = [c for c in CASES if c[1] is Reader.CLINIC and c[3] and c[2]]
    assert len(clinic_cases) >= 10
    with psycopg.connect(db.admin_url) as conn:
        for why, _, _, _, decisions, clinic, _allowed in clinic_cases:
            assert _permits(conn, decisions, clinic, DAY) is clinic_permitted(
                decisions, clinic, DAY), why


def test_random_histories_read_the_same_in_sql(db: bootstrap.Database) -> None:
    rng = random.Random(18)
    start = date(2026, 3, 1)
    with psycopg.connect(db.admin_url) as conn:
        for _ in range(300):
            decisions = []
            for n in range(rng.randrange(0, 6)):
                starts = start + timedelta(days=rng.randrange(0, 20))
                ends = rng.choice([None, starts + timedelta(days=rng.randrange(0, 10))])
                decisions.append(ConsentDecision(
                    decision_id=str(n), clinic_id=rng.choice([None, "clinic-b", "clinic-e"]),
                    purpose=Purpose.TREATMENT, permit=rng.random() < 0.6, starts_on=starts,
                    ends_on=ends, form_reference=None))
            on = start + timedelta(days=rng.randrange(0, 25))
            clinic = rng.choice(["clinic-b", "clinic-e"])
            assert _permits(conn, decisions, clinic, on) is clinic_permitted(
                decisions, clinic, on), (decisions, clinic, on)


def test_the_application_may_not_write_or_change_consent_rows(db: bootstrap.Database) -> None:
    with psycopg.connect(db.app_url) as conn:
        try:
            conn.execute("INSERT INTO careledger.consent_decisions VALUES"
                         " (-1, %s, NULL, 'treatment', true, current_date, NULL, now())",
                         (uuid4(),))
        except psycopg.errors.InsufficientPrivilege:
            pass
        else:
            raise AssertionError("the application's role wrote a consent row")
    with psycopg.connect(db.admin_url) as conn:
        row = conn.execute("SELECT position FROM careledger.consent_decisions LIMIT 1").fetchone()
        if row is not None:
            try:
                conn.execute("DELETE FROM careledger.consent_decisions WHERE position = %s", row)
            except psycopg.errors.InsufficientPrivilege:
                pass
            else:
                raise AssertionError("a consent row was deleted")





def test_a_revocation_written_in_a_zone_ahead_of_utc_holds_from_its_utc_day(
    db: bootstrap.Database,
) -> None:
    """08:00 on the 5th at +10:00 is 22:00 on the 4th in UTC, the day access decides for:
    the revocation holds from the 4th (from its own zone's day it would wait for the next
    UTC midnight, and reads in between would be served). The domain says the same."""
    from datetime import UTC, datetime, timezone

    from careledger.domain.consent import utc_day
    from careledger.domain.patient import Patient

    written = "2026-12-05T08:00:00+10:00"
    state = json.dumps({"occurred_at": {"_type_": "datetime_iso", "_data_": written},
                        "reason": "withdrawn"}).encode()
    with psycopg.connect(db.admin_url) as conn:
        row = conn.execute(
            "SELECT (careledger.consent_decision_of(1, %s, %s, %s, now())).starts_on",
            (uuid4(), Patient.ConsentRevoked.TOPIC, state)).fetchone()
    assert row == (date(2026, 12, 4),)
    moment = datetime(2026, 12, 5, 8, tzinfo=timezone(timedelta(hours=10)))
    assert utc_day(moment) == date(2026, 12, 4) == moment.astimezone(UTC).date()
