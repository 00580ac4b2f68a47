"""Corrections, never edits (HIPAA 164.526): an amendment stands beside the record it
corrects, and a patient's request to amend is accepted (the record is amended as asked)
or denied on one of the grounds the rule allows, a denial answerable by the patient's
statement of disagreement. Every step is an event of the episode, kept with the record.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from careledger.domain.clinical import DenialBasis, aware
from careledger.domain.episode import EpisodeState
from careledger.domain.errors import InvalidInput, InvariantViolated
from careledger.domain.referral_events import Event

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
        self.trigger_event(Amended, record_kind=kind, record_id=record_id, reason=reason,
                           changes=changes, occurred_at=aware(occurred_at), actor=author)

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
                           record_id=record_id, changes=changes, reason=reason,
                           occurred_at=aware(occurred_at), actor=actor)

    def accept_amendment(self, *, request_id: str, occurred_at: datetime, actor: str) -> None:
        """The clinic agrees: the request is closed and the record amended as asked."""
        request = self._pending(request_id)
        at = aware(occurred_at)
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

    def _pending(self, request_id: str) -> dict[str, Any]:
        request = self.amendment_requests.get(request_id)
        if request is None:
            raise InvariantViolated("there is no such amendment request in this episode")
        if request["status"] != RequestStatus.PENDING:
            raise InvariantViolated(f"the amendment request was already {request['status']}")
        return request
