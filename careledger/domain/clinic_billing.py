"""What a clinic needs on file to bill: its billing provider (the clinic's own NPI and tax
id, box 33 and 25 of a CMS-1500), and a fee schedule per payer (fees.py says what one
is). Part of `Clinic`; recorded by the clinic's administrator."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from careledger.domain.clinical import Profession, aware
from careledger.domain.commands import Change, Command, Decision, Handler, Reader
from careledger.domain.errors import InvalidInput
from careledger.domain.events import CareEvent
from careledger.domain.fees import DistinctModifier, FeeSchedule, UnitRule

if TYPE_CHECKING:
    from careledger.domain.network import Clinic

_TAX_ID = re.compile(r"^[0-9]{2}-?[0-9]{7}$")


class Event(CareEvent):
    """An event of a clinic's record (`Clinic.Event`: declared here so that the events of
    this module are the clinic's own, not copies the aggregate's class would make)."""

    TOPIC = "careledger:Clinic.Event"


class BillingProviderRecorded(Event):
    """The clinic as the billing provider of its claims."""

    TOPIC = "careledger:Clinic.BillingProviderRecorded"
    npi: str
    tax_id: str

    def apply(self, clinic: Clinic) -> None:
        clinic.billing = {"npi": self.npi, "tax_id": self.tax_id}


class FeeScheduleSet(Event):
    """A payer's fees and unit rule at the clinic, from a day on (an earlier one of the
    same payer stays in effect for the days before it)."""

    TOPIC = "careledger:Clinic.FeeScheduleSet"
    payer: str
    unit_rule: str
    distinct_modifier: str
    fees: dict[str, int]
    effective_from: date
    not_covered: dict[str, str]
    #: The professions whose services the payer pays for (none: every one).
    professions: list[str]

    def apply(self, clinic: Clinic) -> None:
        clinic.fee_schedules = [
            s for s in clinic.fee_schedules
            if (s["payer"], s["effective_from"]) != (self.payer, self.effective_from.isoformat())
        ] + [FeeSchedule(payer=self.payer, unit_rule=UnitRule(self.unit_rule),
                         distinct_modifier=DistinctModifier(self.distinct_modifier),
                         fees=dict(self.fees), effective_from=self.effective_from,
                         not_covered=dict(self.not_covered),
                         professions=frozenset(Profession(p) for p in self.professions)
                         ).as_state()]


@dataclass(frozen=True, kw_only=True)
class RecordBillingProvider(Command):
    clinic_id: UUID
    npi: str
    tax_id: str


@dataclass(frozen=True, kw_only=True)
class SetFeeSchedule(Command):
    clinic_id: UUID
    #: Checked as it is made (fees.py): a schedule that cannot be is never a command.
    schedule: FeeSchedule


class ClinicBilling:
    """The clinic's billing on file (part of `Clinic`)."""

    billing: dict[str, str] | None
    fee_schedules: list[dict[str, Any]]

    def record_billing_provider(self, *, npi: str, tax_id: str, occurred_at: datetime,
                                actor: str) -> None:
        from careledger.domain.network import valid_npi

        if not valid_npi(npi.strip()):
            raise InvalidInput("an NPI is 10 digits with a valid check digit", field="npi")
        if not _TAX_ID.match(tax_id.strip()):
            raise InvalidInput("a tax id (EIN) is 9 digits, as 12-3456789", field="tax_id")
        digits = tax_id.strip().replace("-", "")
        self.trigger_event(BillingProviderRecorded, npi=npi.strip(),  # type: ignore[attr-defined]
                           tax_id=f"{digits[:2]}-{digits[2:]}",
                           occurred_at=aware(occurred_at), actor=actor)

    def set_fee_schedule(self, *, schedule: FeeSchedule, occurred_at: datetime,
                         actor: str) -> None:
        self.trigger_event(  # type: ignore[attr-defined]
            FeeScheduleSet, payer=schedule.payer.strip(), unit_rule=str(schedule.unit_rule),
            distinct_modifier=str(schedule.distinct_modifier), fees=dict(schedule.fees),
            effective_from=schedule.effective_from,
            not_covered={k: v.strip() for k, v in schedule.not_covered.items()},
            professions=sorted(str(p) for p in schedule.professions),
            occurred_at=aware(occurred_at), actor=actor)

    def schedules(self) -> list[FeeSchedule]:
        return [FeeSchedule.of(s) for s in self.fee_schedules]


def record_billing_provider(cmd: RecordBillingProvider, read: Reader[Any]) -> Decision:
    from careledger.domain.network import Clinic

    return Change(Clinic, cmd.clinic_id, lambda c: c.record_billing_provider(
        npi=cmd.npi, tax_id=cmd.tax_id, occurred_at=cmd.occurred_at, actor=cmd.actor))


def set_fee_schedule(cmd: SetFeeSchedule, read: Reader[Any]) -> Decision:
    from careledger.domain.network import Clinic

    return Change(Clinic, cmd.clinic_id, lambda c: c.set_fee_schedule(
        schedule=cmd.schedule, occurred_at=cmd.occurred_at, actor=cmd.actor))


HANDLERS: dict[type[Command], Handler] = {
    RecordBillingProvider: record_billing_provider,
    SetFeeSchedule: set_fee_schedule,
}
