"""The one deadline rule written twice (in Python for the domain, in SQL for a worklist)
decides the same on PostgreSQL for every day around the boundary."""

from __future__ import annotations

from datetime import date, timedelta

import psycopg

from careledger.domain.deadlines import RECERTIFY_WITHIN_DAYS, recertification_due
from careledger.graphql.worklists.reading import RECERTIFICATION_DUE_SQL
from careledger.main import bootstrap


def test_the_recertification_list_and_the_domain_agree_on_every_day(
    db: bootstrap.Database,
) -> None:
    today = date(2026, 3, 2)
    days = [today + timedelta(days=n) for n in range(-3, 2 * RECERTIFY_WITHIN_DAYS)]
    with psycopg.connect(db.app_url, autocommit=True) as conn:
        answers = [conn.execute(
            f"SELECT {RECERTIFICATION_DUE_SQL} FROM (VALUES (%s::date)) AS r(certified_until)",
            (today, until)).fetchone()[0] for until in days]  # type: ignore[index]
        undated = conn.execute(
            f"SELECT coalesce({RECERTIFICATION_DUE_SQL}, false)"
            " FROM (VALUES (NULL::date)) AS r(certified_until)", (today,)).fetchone()
    assert answers == [recertification_due(until, today) for until in days]
    assert undated == (recertification_due(None, today),)
    assert True in answers and False in answers  # the boundary lies inside the range
