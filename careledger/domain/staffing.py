"""Who a practitioner is and where they work, after registration: a new name, an
affiliation that ends.

Neither rewrites what was recorded before it: an event names its actor by role and id,
never by name, and the directory keeps each practitioner's name and clinics with the
time they took effect, so a timeline, a progress report or the accounting of
disclosures shows the practitioner as they were when the event happened or the read
was made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from careledger.domain.commands import Change, Command, Decision, Handler, Reader
from careledger.domain.network import Practitioner


@dataclass(frozen=True, kw_only=True)
class RenamePractitioner(Command):
    practitioner_id: UUID
    name: str


@dataclass(frozen=True, kw_only=True)
class EndAffiliation(Command):
    practitioner_id: UUID
    clinic_id: UUID


def rename_practitioner(cmd: RenamePractitioner, read: Reader[Any]) -> Decision:
    return Change(Practitioner, cmd.practitioner_id, lambda p: p.rename(
        name=cmd.name, occurred_at=cmd.occurred_at, actor=cmd.actor))


def end_affiliation(cmd: EndAffiliation, read: Reader[Any]) -> Decision:
    return Change(Practitioner, cmd.practitioner_id, lambda p: p.end_affiliation(
        clinic_id=cmd.clinic_id, occurred_at=cmd.occurred_at, actor=cmd.actor))


#: This stage's commands, and what decides each.
HANDLERS: dict[type[Command], Handler] = {
    RenamePractitioner: rename_practitioner,
    EndAffiliation: end_affiliation,
}
