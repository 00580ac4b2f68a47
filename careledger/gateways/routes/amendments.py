"""Corrections: amendments, and the patient's requests to amend (accepted, denied, disputed)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Field, Router, Status

from careledger.domain.amendments import (
    AcceptAmendment,
    Amend,
    DenyAmendment,
    FileDisagreement,
    RequestAmendment,
)
from careledger.domain.clinical import DenialBasis
from careledger.gateways.commanding import Commands, occurred
from careledger.gateways.links import ANSWERED_ID, link, then
from careledger.gateways.routes.episode import (
    CARE_TEAM,
    CLINICIANS,
    NOTHING_FOLLOWS,
    post,
)
from careledger.gateways.schemas import (
    OccurredIn,
    Reason,
    RecordedOut,
    RecordId,
)

#: A request to amend just made, by the id the request chose.
AMENDMENT_REQUEST = link("accept_amendment", "deny_amendment", referral_id=ANSWERED_ID,
                         request_id="$request.body#/request_id")


# ------------------------------------------------------------------ bodies


class AmendIn(OccurredIn):
    record_id: RecordId
    reason: Reason
    changes: dict[Annotated[str, Field(max_length=64)], Any] = Field(..., max_length=40)


class AmendmentRequestIn(OccurredIn):
    """A patient's written request to correct a record, recorded on their behalf."""

    request_id: RecordId | None = Field(None, description="Yours to choose; else assigned.")
    record_id: RecordId
    reason: Reason
    changes: dict[Annotated[str, Field(max_length=64)], Any] = Field(..., max_length=40)


class DenyAmendmentIn(OccurredIn):
    basis: DenialBasis = Field(..., description="One of the grounds 45 CFR 164.526(a)(2) "
                               "allows.")
    explanation: Reason


class DisagreementIn(OccurredIn):
    statement: Reason = Field(..., description="The patient's statement of disagreement.")


def amendment_routes(commands: Commands) -> Router:
    router = Router()
    scoped, run = commands.scoped, commands.run

    @post(router, "/referrals/{referral_id}/amendments", "amend",
          NOTHING_FOLLOWS)
    def amend(request: HttpRequest, referral_id: UUID, body: AmendIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, CLINICIANS)
        return run(request, body, Amend(
            referral_id=referral_id, record_id=body.record_id, reason=body.reason,
            changes=body.changes, occurred_at=occurred(body), actor=who.actor))

    @post(router, "/referrals/{referral_id}/amendment-requests", "request_amendment",
          then(AMENDMENT_REQUEST))
    def request_amendment(request: HttpRequest, referral_id: UUID,
                          body: AmendmentRequestIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, CARE_TEAM)
        return run(request, body, RequestAmendment(
            referral_id=referral_id, request_id=body.request_id, record_id=body.record_id,
            changes=body.changes, reason=body.reason, occurred_at=occurred(body),
            actor=who.actor))

    @post(router, "/referrals/{referral_id}/amendment-requests/{request_id}/acceptance",
          "accept_amendment",
          NOTHING_FOLLOWS)
    def accept_amendment(request: HttpRequest, referral_id: UUID, request_id: str,
                         body: OccurredIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, CLINICIANS)
        return run(request, body, AcceptAmendment(
            referral_id=referral_id, request_id=request_id, occurred_at=occurred(body),
            actor=who.actor))

    @post(router, "/referrals/{referral_id}/amendment-requests/{request_id}/denial",
          "deny_amendment",
          then(link("file_disagreement", referral_id=ANSWERED_ID,
                    request_id="$request.path.request_id")))
    def deny_amendment(request: HttpRequest, referral_id: UUID, request_id: str,
                       body: DenyAmendmentIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, CLINICIANS)
        return run(request, body, DenyAmendment(
            referral_id=referral_id, request_id=request_id, basis=body.basis,
            explanation=body.explanation, occurred_at=occurred(body), actor=who.actor))

    @post(router, "/referrals/{referral_id}/amendment-requests/{request_id}/disagreement",
          "file_disagreement",
          NOTHING_FOLLOWS)
    def file_disagreement(request: HttpRequest, referral_id: UUID, request_id: str,
                          body: DisagreementIn) -> Status[RecordedOut]:
        who = scoped(request, referral_id, CARE_TEAM)
        return run(request, body, FileDisagreement(
            referral_id=referral_id, request_id=request_id, statement=body.statement,
            occurred_at=occurred(body), actor=who.actor))

    return router
