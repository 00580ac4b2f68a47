"""What the demo network keeps on file: to bill, each clinic's billing provider and fee
schedules (Medicare by the 8-minute rule; a commercial plan by each code's own minutes,
which does not cover 97124), an NPI for every therapist, a coverage for every patient;
and the therapists' continuing education.

Recorded after the episodes (a coverage's period, not the day it was recorded, decides
what it covers), so the demo's biller has a claims export with both kinds of payer, and
sessions left off with their reasons.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from careledger.domain.application import CareLedger
from careledger.domain.clinic_billing import RecordBillingProvider, SetFeeSchedule
from careledger.domain.clinical import CredentialKind, Profession
from careledger.domain.coverage import Coverage, Relation
from careledger.domain.education import Category, RecordContinuingEducation
from careledger.domain.fees import DistinctModifier, FeeSchedule, UnitRule
from careledger.domain.network import AddCredential, valid_npi
from careledger.domain.patient import RecordCoverage

SEEDER = "network_admin:seed"
#: Cents per unit, by code: what the demo clinics charge each payer.
MEDICARE_FEES = {"97124": 2900, "97140": 3300, "97110": 3100, "97112": 3400, "97530": 3600,
                 "97161": 10500, "97162": 10500, "97163": 10500, "97164": 7200,
                 "98940": 3000, "98941": 4200, "98942": 5300}
COMMERCIAL = "Empire Plan"
COMMERCIAL_FEES = {code: cents + cents // 5 for code, cents in MEDICARE_FEES.items()}


def record_billing(app: CareLedger, *, clinic_ids: list[str], therapist_ids: list[str],
                   patient_ids: list[str], since: date, at: datetime,
                   run: Callable[[Any], Any]) -> None:
    """Billing provider and fee schedules per clinic, NPIs, a coverage per patient."""
    for n, clinic in enumerate(clinic_ids):
        run(app.handle(RecordBillingProvider(clinic_id=UUID(clinic), npi=npi(3000000 + n),
                                             tax_id=f"14-{5550000 + n}", occurred_at=at,
                                             actor=SEEDER)))
        for schedule in (
            FeeSchedule(  # Medicare enrols no massage therapists
                payer="Medicare", unit_rule=UnitRule.CMS_8_MINUTE, fees=MEDICARE_FEES,
                effective_from=since, distinct_modifier=DistinctModifier.XS,
                professions=frozenset({Profession.PHYSICAL_THERAPIST,
                                       Profession.CHIROPRACTOR})),
            FeeSchedule(
                payer=COMMERCIAL, unit_rule=UnitRule.SUBSTANTIAL_PORTION,
                fees=COMMERCIAL_FEES, effective_from=since,
                not_covered={"97124": "massage is not a covered benefit; bill manual "
                                      "therapy (97140) when that is what was given"})):
            run(app.handle(SetFeeSchedule(clinic_id=UUID(clinic), schedule=schedule,
                                          occurred_at=at, actor=SEEDER)))
    for n, therapist in enumerate(therapist_ids):
        run(app.handle(AddCredential(practitioner_id=UUID(therapist), kind=CredentialKind.NPI,
                                     number=npi(4000000 + n), issuer="CMS NPPES",
                                     expires_on=None, occurred_at=at, actor=SEEDER)))
    for n, patient in enumerate(patient_ids):
        medicare = n % 3 == 0
        run(app.handle(RecordCoverage(patient_id=UUID(patient), coverage=Coverage(
            coverage_id="primary", payer="Medicare" if medicare else COMMERCIAL,
            member_id=f"{'1EG4' if medicare else 'EMP'}-{70000 + n}",
            plan=None if medicare else "PPO", group=None if medicare else f"G-{100 + n % 7}",
            subscriber=None, relation=Relation.SELF, starts_on=since, ends_on=None, order=1),
            occurred_at=at, actor=SEEDER)))


#: Courses the demo's therapists completed: most are current, some short of hours.
COURSES = (("Medical massage for low back pain", "AMTA", 16.0, Category.CLINICAL),
           ("Ethics and boundaries in practice", "NCBTMB", 4.0, Category.ETHICS),
           ("Myofascial release, advanced", "AMTA", 12.0, Category.CLINICAL),
           ("New York laws and rules", "NYSED", 4.0, Category.LAWS_AND_RULES))


def record_education(app: CareLedger, *, therapist_ids: list[str], on: date,
                     run: Callable[[Any], Any]) -> None:
    """Continuing education: every other therapist has done all four courses, the
    others the first two (hours short of the board's rule)."""
    for n, therapist in enumerate(therapist_ids):
        for title, provider, hours, category in COURSES[:4 if n % 2 else 2]:
            run(app.handle(RecordContinuingEducation(
                practitioner_id=UUID(therapist), title=title, provider=provider,
                hours=hours, category=category, completed_on=on,
                occurred_at=datetime.combine(on, datetime.min.time(), UTC), actor=SEEDER)))


def npi(base: int) -> str:
    """A 10-digit NPI whose check digit the domain accepts."""
    body = f"{base:09d}"
    return next(body + str(d) for d in range(10) if valid_npi(body + str(d)))
