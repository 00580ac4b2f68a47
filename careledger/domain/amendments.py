"""Corrections, never edits (HIPAA 164.526): an amendment stands beside the record it
corrects (naming only fields it has, checked as when it was made: corrections.py), and a
patient's request to amend is accepted (the record is amended as asked) or denied on one
of the grounds the rule allows, a denial answerable by the patient's statement of
disagreement. Every step is an event of the episode, kept with the record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from careledger.domain.authorization import Visit
from careledger.domain.clinical import AmendableRecord, DenialBasis, aware
from careledger.domain.commands import Command, Decision, Handler, Reader, new_id
from careledger.domain.corrections import checked, session_units, valid_changes
from careledger.domain.episode import EpisodeState, Event, OnReferral, on_referral
from careledger.domain.errors import InvalidInput, InvariantViolated

if TYPE_CHECKING:
    from careledger.domain.referral import Referral


class RequestStatus(StrEnum):
    """Where a patient's request to amend a record stands."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    DENIED = "denied"
    DISPUTED = "disputed"  # denied, and the patient filed a statement of disagreement


class Amended(Event):
    """A correction beside the record it names; `actor` is its author."""

    TOPIC = "careledger:Referral.Amended"
    record_kind: str
    record_id: str
    reason: str
    changes: dict[str, Any]

    def apply(self, referral: Referral) -> None:
        """A session's corrected minutes bill other units: the visit holds those now."""
        visit = referral.session_visits.get(self.record_id)
        if self.record_kind != AmendableRecord.SESSION or visit is None:
            return
        techniques = valid_changes(self.record_kind, self.changes, {"techniques"})
        if "techniques" in techniques:
            visit["units"] = session_units(techniques["techniques"],
                                           visit.get("services", ()))


class AmendmentRequested(Event):
    TOPIC = "careledger:Referral.AmendmentRequested"
    request_id: str
    record_kind: str
    record_id: str
    changes: dict[str, Any]
    reason: str

    def apply(self, referral: Referral) -> None:
        referral.amendment_requests[self.request_id] = {
            "record_kind": self.record_kind, "record_id": self.record_id,
            "changes": self.changes, "status": RequestStatus.PENDING,
        }


class AmendmentAccepted(Event):
    TOPIC = "careledger:Referral.AmendmentAccepted"
    request_id: str
    record_id: str

    def apply(self, referral: Referral) -> None:
        referral.amendment_requests[self.request_id]["status"] = RequestStatus.ACCEPTED


class AmendmentDenied(Event):
    TOPIC = "careledger:Referral.AmendmentDenied"
    request_id: str
    record_id: str
    basis: str
    explanation: str

    def apply(self, referral: Referral) -> None:
        referral.amendment_requests[self.request_id]["status"] = RequestStatus.DENIED


class DisagreementFiled(Event):
    TOPIC = "careledger:Referral.DisagreementFiled"
    request_id: str
    record_id: str
    statement: str

    def apply(self, referral: Referral) -> None:
        referral.amendment_requests[self.request_id]["status"] = RequestStatus.DISPUTED


@dataclass(frozen=True, kw_only=True)
class Amend(OnReferral):
    record_id: str
    reason: str
    changes: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class RequestAmendment(OnReferral):
    """A patient's request to correct a record, made to the clinic in writing."""

    record_id: str
    changes: Mapping[str, Any]
    reason: str
    request_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class AcceptAmendment(OnReferral):
    request_id: str


@dataclass(frozen=True, kw_only=True)
class DenyAmendment(OnReferral):
    request_id: str
    basis: DenialBasis
    explanation: str


@dataclass(frozen=True, kw_only=True)
class FileDisagreement(OnReferral):
    request_id: str
    statement: str


class AmendmentWorkflow(EpisodeState):
    """The episode's corrections and the patient's requests (part of `Referral`)."""

    def amend(self, *, record_id: str, reason: str, changes: dict[str, Any], author: str,
              occurred_at: datetime) -> None:
        """A correction appended beside the original, never over it."""
        kind = self.records.get(record_id)
        if kind is None:
            raise InvariantViolated("there is no such record in this episode to amend")
        if not reason.strip():
            raise InvalidInput("an amendment states its reason", field="reason")
        if not changes:
            raise InvalidInput("an amendment states what it changes", field="changes")
        corrected = checked(kind, changes)
        self._check_units(kind, record_id, corrected)
        self.trigger_event(Amended, record_kind=kind, record_id=record_id, reason=reason,
                           changes=corrected, occurred_at=aware(occurred_at), actor=author)

    def request_amendment(self, *, request_id: str, record_id: str, changes: dict[str, Any],
                          reason: str, occurred_at: datetime, actor: str) -> None:
        """The patient's request, recorded on their behalf by the care team."""
        kind = self.records.get(record_id)
        if kind is None:
            raise InvariantViolated("there is no such record in this episode to amend")
        if request_id in self.amendment_requests:
            raise InvariantViolated("an amendment request with this id was already made")
        if not reason.strip():
            raise InvalidInput("a request to amend states why", field="reason")
        if not changes:
            raise InvalidInput("a request to amend states what should change", field="changes")
        self.trigger_event(AmendmentRequested, request_id=request_id, record_kind=kind,
                           record_id=record_id, changes=checked(kind, changes), reason=reason,
                           occurred_at=aware(occurred_at), actor=actor)

    def accept_amendment(self, *, request_id: str, occurred_at: datetime, actor: str) -> None:
        """The clinic agrees: the request is closed and the record amended as asked."""
        request = self._pending(request_id)
        at = aware(occurred_at)
        self._check_units(request["record_kind"], request["record_id"], request["changes"])
        self.trigger_event(AmendmentAccepted, request_id=request_id,
                           record_id=request["record_id"], occurred_at=at, actor=actor)
        self.trigger_event(Amended, record_kind=request["record_kind"],
                           record_id=request["record_id"],
                           reason=f"the patient's request {request_id}, accepted",
                           changes=request["changes"], occurred_at=at, actor=actor)

    def deny_amendment(self, *, request_id: str, basis: DenialBasis, explanation: str,
                       occurred_at: datetime, actor: str) -> None:
        request = self._pending(request_id)
        if not explanation.strip():
            raise InvalidInput("a denial explains itself to the patient", field="explanation")
        self.trigger_event(AmendmentDenied, request_id=request_id,
                           record_id=request["record_id"], basis=str(DenialBasis(basis)),
                           explanation=explanation, occurred_at=aware(occurred_at), actor=actor)

    def file_disagreement(self, *, request_id: str, statement: str, occurred_at: datetime,
                          actor: str) -> None:
        """The patient's statement of disagreement with a denial, kept with the record."""
        request = self.amendment_requests.get(request_id)
        if request is None:
            raise InvariantViolated("there is no such amendment request in this episode")
        if request["status"] != RequestStatus.DENIED:
            raise InvariantViolated("a statement of disagreement answers a denied request")
        if not statement.strip():
            raise InvalidInput("the statement of disagreement is empty", field="statement")
        self.trigger_event(DisagreementFiled, request_id=request_id,
                           record_id=request["record_id"], statement=statement,
                           occurred_at=aware(occurred_at), actor=actor)

    def _check_units(self, kind: str, record_id: str, corrected: dict[str, Any]) -> None:
        """Corrected minutes may bill more units than an authorization allows a code."""
        visit = self.session_visits.get(record_id)
        if kind != AmendableRecord.SESSION or "techniques" not in corrected or visit is None:
            return
        self.check_authorized(Visit(session_id=record_id, on=visit["on"], completed=True,
                                    units=session_units(corrected["techniques"],
                                                        visit.get("services", ()))))

    def _pending(self, request_id: str) -> dict[str, Any]:
        request = self.amendment_requests.get(request_id)
        if request is None:
            raise InvariantViolated("there is no such amendment request in this episode")
        if request["status"] != RequestStatus.PENDING:
            raise InvariantViolated(f"the amendment request was already {request['status']}")
        return request


# ------------------------------------------------------------------ deciding


def amend(cmd: Amend, read: Reader[Any]) -> Decision:
    return on_referral(cmd, lambda r: r.amend(
        record_id=cmd.record_id, reason=cmd.reason, changes=dict(cmd.changes),
        author=cmd.actor, occurred_at=cmd.occurred_at))


def request_amendment(cmd: RequestAmendment, read: Reader[Any]) -> Decision:
    request_id = new_id(cmd.request_id)
    return on_referral(cmd, lambda r: r.request_amendment(
        request_id=request_id, record_id=cmd.record_id, changes=dict(cmd.changes),
        reason=cmd.reason, occurred_at=cmd.occurred_at, actor=cmd.actor))


def accept_amendment(cmd: AcceptAmendment, read: Reader[Any]) -> Decision:
    return on_referral(cmd, lambda r: r.accept_amendment(
        request_id=cmd.request_id, occurred_at=cmd.occurred_at, actor=cmd.actor))


def deny_amendment(cmd: DenyAmendment, read: Reader[Any]) -> Decision:
    return on_referral(cmd, lambda r: r.deny_amendment(
        request_id=cmd.request_id, basis=cmd.basis, explanation=cmd.explanation,
        occurred_at=cmd.occurred_at, actor=cmd.actor))


def file_disagreement(cmd: FileDisagreement, read: Reader[Any]) -> Decision:
    return on_referral(cmd, lambda r: r.file_disagreement(
        request_id=cmd.request_id, statement=cmd.statement, occurred_at=cmd.occurred_at,
        actor=cmd.actor))


#: This stage's commands, and what decides each.
HANDLERS: dict[type[Command], Handler] = {
    Amend: amend,
    RequestAmendment: request_amendment,
    AcceptAmendment: accept_amendment,
    DenyAmendment: deny_amendment,
    FileDisagreement: file_disagreement,
}
