"""Messages on the episode: the referring physician and the treating practitioner ask,
note, reply and acknowledge; each message a record of the episode (messaging.py)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from django.http import HttpRequest
from ninja import Field, Router, Status

from careledger.access.tokens import Principal, Role
from careledger.domain.messaging import (
    MAX_BODY,
    AcknowledgeMessage,
    MessageKind,
    MessageUrgency,
    Party,
    ReplyToMessage,
    SendMessage,
)
from careledger.gateways.commanding import Commands, occurred
from careledger.gateways.links import ANSWERED_ID, link, then
from careledger.gateways.routes.episode import CLINICIANS, NOTHING_FOLLOWS, post
from careledger.gateways.schemas import OccurredIn, RecordedOut, RecordId

#: A message just sent, by the id the request chose: its reply and acknowledgement.
MESSAGE = link("reply_to_message", "acknowledge_message", referral_id=ANSWERED_ID,
               message_id="$request.body#/message_id")

Body = Annotated[str, Field(min_length=1, max_length=MAX_BODY)]
About = Annotated[list[RecordId], Field(
    default_factory=list, max_length=10,
    description="Records of the episode it points at: a session's, the plan's, an "
    "assessment's or a report's id")]


class SendMessageIn(OccurredIn):
    message_id: RecordId | None = None
    kind: Annotated[MessageKind, Field(description="question (open until its reply) or note")]
    urgency: MessageUrgency = MessageUrgency.ROUTINE
    body: Body
    about: About


class ReplyIn(OccurredIn):
    message_id: RecordId | None = None
    urgency: MessageUrgency = MessageUrgency.ROUTINE
    body: Body
    about: About


def _party(who: Principal) -> Party:
    return Party.PHYSICIAN if who.role == Role.PHYSICIAN else Party.THERAPIST


def message_routes(commands: Commands) -> Router:
    router = Router()
    scoped, run = commands.scoped, commands.run

    @post(router, "/referrals/{referral_id}/messages", "send_message", then(MESSAGE))
    def send_message(request: HttpRequest, referral_id: UUID,
                     body: SendMessageIn) -> Status[RecordedOut]:
        """To the other party of the episode: the treating practitioner writes to the
        referring physician, the physician to the practitioner."""
        who = scoped(request, referral_id, CLINICIANS)
        return run(request, body, SendMessage(
            referral_id=referral_id, sender=_party(who), sender_id=who.subject,
            kind=body.kind, urgency=body.urgency, body=body.body, about=body.about,
            message_id=body.message_id, occurred_at=occurred(body), actor=who.actor))

    @post(router, "/referrals/{referral_id}/messages/{message_id}/replies", "reply_to_message",
          then(MESSAGE))
    def reply_to_message(request: HttpRequest, referral_id: UUID, message_id: str,
                         body: ReplyIn) -> Status[RecordedOut]:
        """By the one the message was sent to; a reply answers a question."""
        who = scoped(request, referral_id, CLINICIANS)
        return run(request, body, ReplyToMessage(
            referral_id=referral_id, in_reply_to=message_id, sender=_party(who),
            sender_id=who.subject, body=body.body, urgency=body.urgency, about=body.about,
            message_id=body.message_id, occurred_at=occurred(body), actor=who.actor))

    @post(router, "/referrals/{referral_id}/messages/{message_id}/acknowledgement",
          "acknowledge_message", NOTHING_FOLLOWS)
    def acknowledge_message(request: HttpRequest, referral_id: UUID, message_id: str,
                            body: OccurredIn) -> Status[RecordedOut]:
        """Read and understood, by the one it was sent to."""
        who = scoped(request, referral_id, CLINICIANS)
        return run(request, body, AcknowledgeMessage(
            referral_id=referral_id, message_id=message_id, by=_party(who), by_id=who.subject,
            occurred_at=occurred(body), actor=who.actor))

    return router
