"""Who may read a patient's record: the one rule, and the patient's consent decisions.

A patient decides, per clinic or for the whole network, and per purpose, to permit or
deny sharing, for a period, on a signed form. The network-wide grant and revocation the
record always had (`ConsentGranted`, `ConsentRevoked`) are decisions of the network's
scope for treatment, from the day they happened, with no end.

The rule, for a read of the record for treatment on a day:

| reader | on the record | consent decisions in force that day | may read |
|---|---|---|---|
| auditor | any patient that exists | any | yes, read-only |
| referring physician | ordered an episode for the patient | any (a network revoke too) | yes |
| clinic | a current referral | latest of the clinic's scope deny | no |
| clinic | a current referral | latest of the network's scope deny | no |
| clinic | a current referral | neither scope's latest denies, one permits | yes |
| clinic | a current referral | none in force | no |
| clinic | referral redirected away | any | no |
| anyone else | none | any | no (a practitioner may break the glass) |

Per scope, the decision recorded last wins (a later decision beats an earlier one of the
same scope); across scopes a deny wins (a clinic's revoke beats a network grant, and a
network revoke closes every clinic). A decision is in force from its first day through
its last. `tests/unit/test_consent.py` walks the table case by case;
`tests/integration/test_consent_sql.py` holds the database's form of the rule
(`careledger.consent_permits`, which access and every list ask) equal to this one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from careledger.domain.errors import InvalidInput


class Purpose(StrEnum):
    """Why the record is shared (HL7 v3 PurposeOfUse); more may follow."""

    TREATMENT = "treatment"


class Reader(StrEnum):
    AUDITOR = "auditor"
    REFERRING_PHYSICIAN = "referring_physician"
    CLINIC = "clinic"
    OTHER = "other"


@dataclass(frozen=True)
class ConsentDecision:
    """One decision of the patient's, as the record holds it (`as_state`)."""

    decision_id: str
    clinic_id: str | None  # None: the whole network
    purpose: Purpose
    permit: bool
    starts_on: date
    ends_on: date | None
    form_reference: str | None

    def in_force(self, on: date) -> bool:
        return self.starts_on <= on and (self.ends_on is None or on <= self.ends_on)

    def as_state(self) -> dict[str, Any]:
        return {"decision_id": self.decision_id, "clinic_id": self.clinic_id,
                "purpose": str(self.purpose), "permit": self.permit,
                "starts_on": self.starts_on, "ends_on": self.ends_on,
                "form_reference": self.form_reference}

    @classmethod
    def of_state(cls, state: dict[str, Any]) -> ConsentDecision:
        return cls(decision_id=state["decision_id"], clinic_id=state["clinic_id"],
                   purpose=Purpose(state["purpose"]), permit=bool(state["permit"]),
                   starts_on=state["starts_on"], ends_on=state["ends_on"],
                   form_reference=state["form_reference"])


def utc_day(moment: datetime) -> date:
    """The day a decision that names none is in force from: the network keeps UTC days
    (access asks for today's), whatever zone the moment was written in, so a revocation
    sent at 08:00 +10:00 holds at once rather than from the next UTC midnight."""
    return moment.astimezone(UTC).date()


def check_period(starts_on: date, ends_on: date | None) -> None:
    if ends_on is not None and ends_on < starts_on:
        raise InvalidInput("a consent decision ends on or after the day it starts",
                           field="ends_on")


def clinic_permitted(decisions: Iterable[ConsentDecision], clinic_id: str, on: date,
                     purpose: Purpose = Purpose.TREATMENT) -> bool:
    """Whether the patient's decisions (oldest first) let this clinic read on that day."""
    latest: dict[str | None, bool] = {}
    for d in decisions:
        if d.purpose == purpose and d.clinic_id in (None, clinic_id) and d.in_force(on):
            latest[d.clinic_id] = d.permit
    return bool(latest) and all(latest.values())


def may_read(reader: Reader, *, exists: bool, current_referral: bool,
             decisions: Iterable[ConsentDecision], clinic_id: str | None, on: date) -> bool:
    """The rule's table, as one function (the database asks its SQL form)."""
    if not exists:
        return False
    if reader in (Reader.AUDITOR, Reader.REFERRING_PHYSICIAN):
        return True
    if reader is Reader.CLINIC and current_referral and clinic_id is not None:
        return clinic_permitted(decisions, clinic_id, on)
    return False
