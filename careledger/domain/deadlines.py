"""What falls due in an episode, decided in one place: the views, GraphQL and the page
ask these functions (or SQL written from the same figures) and never decide it again.
Visits left are the authorizations' (authorization.py).

Dates are the clinician's: the first treatment is the day its note says it happened, in
the clinic's own zone, not that moment's date in UTC.
"""

from __future__ import annotations

from datetime import date, timedelta

#: A certification covers at most 90 days of care, then the plan is recertified.
CERTIFICATION_MAX_DAYS = 90
#: A plan still uncertified 30 days after the first treatment is flagged.
CERTIFICATION_GRACE_DAYS = 30
#: A certification ending within this many days (or already ended) wants recertifying.
RECERTIFY_WITHIN_DAYS = 14
#: The referring physician hears from the therapist at least every 10 visits.
PROGRESS_REPORT_EVERY_VISITS = 10


def certification_overdue(*, certified: bool, certified_until: date | None,
                          first_treatment_on: date | None, today: date) -> bool:
    """Past its certified period, or (never certified) 30 days after the first treatment."""
    if certified:
        return certified_until is not None and certified_until < today
    return first_treatment_on is not None and today > first_treatment_on + timedelta(
        days=CERTIFICATION_GRACE_DAYS)


def recertification_due(certified_until: date | None, today: date) -> bool:
    """The certified period ends within RECERTIFY_WITHIN_DAYS days, or has ended."""
    return certified_until is not None and certified_until < today + timedelta(
        days=RECERTIFY_WITHIN_DAYS)


def progress_report_due(visits_completed: int, visits_at_last_report: int) -> bool:
    return visits_completed - visits_at_last_report >= PROGRESS_REPORT_EVERY_VISITS



#: The outcome measure (the episode's functional instrument) is taken at admission (the
#: assessment), for every progress report and for the discharge; it is flagged this many
#: visits before the report falls due, so the therapist takes it at a visit still to come.
MEASURE_NOTICE_VISITS = 2


def outcome_measure_due(*, visits_completed: int, visits_at_last_report: int,
                        measured_since_report: bool) -> bool:
    """No functional score since the last progress report (or the assessment) and the
    next report falls due within MEASURE_NOTICE_VISITS visits (or is due already)."""
    return not measured_since_report and visits_completed - visits_at_last_report >= (
        PROGRESS_REPORT_EVERY_VISITS - MEASURE_NOTICE_VISITS)
