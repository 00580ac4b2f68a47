"""Messages on the episode: the referring physician and the treating practitioner write to
each other, a question, a note, a reply in its thread, an acknowledgement.

A message is part of the record: an event on the episode, read under the rules of the
rest of it, never edited or deleted (a correction is an amendment of its `body`). A
question is open until the one it was put to replies to it; an open question waits on
their worklist (physician) or caseload (therapist), an urgent one flagged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from careledger.domain.clinical import AmendableRecord, aware
from careledger.domain.commands import Command, Decision, Handler, Reader, new_id
from careledger.domain.episode import EpisodeState, Event, OnReferral, on_referral
from careledger.domain.errors import InvalidInput, InvariantViolated

if TYPE_CHECKING:
    from careledger.domain.referral import Referral

#: The longest message: a page of text (the API holds it to this as well).
MAX_BODY = 4000


class MessageKind(StrEnum):
    QUESTION = "question"
    NOTE = "note"
    REPLY = "reply"


class MessageUrgency(StrEnum):
    ROUTINE = "routine"
    SOON = "soon"
    URGENT = "urgent"


class Party(StrEnum):
    """Who writes on an episode: its referring physician or its treating practitioner."""

    PHYSICIAN = "physician"
    THERAPIST = "therapist"


class MessageSent(Event):
    TOPIC = "careledger:Referral.MessageSent"
    message_id: str
    #: The first message's id: every reply in a thread names it.
    thread_id: str
    in_reply_to: str | None
    kind: str
    urgency: str
    sender_role: str
    sender_id: str
    recipient_role: str
    recipient_id: str
    body: str
    #: Records of the episode it points at (a session, the plan, an assessment...).
    about: list[str]

    def apply(self, referral: Referral) -> None:
        referral.messages[self.message_id] = {
            "thread": self.thread_id, "kind": self.kind, "sender": self.sender_role,
            "sender_id": self.sender_id, "recipient": self.recipient_role,
            "recipient_id": self.recipient_id, "answered": False, "acknowledged": False}
        if self.in_reply_to in referral.messages:
            referral.messages[self.in_reply_to]["answered"] = True
        referral.records[self.message_id] = AmendableRecord.MESSAGE.value


class MessageAcknowledged(Event):
    TOPIC = "careledger:Referral.MessageAcknowledged"
    message_id: str
    by_role: str
    by_id: str

    def apply(self, referral: Referral) -> None:
        referral.messages[self.message_id]["acknowledged"] = True


@dataclass(frozen=True, kw_only=True)
class SendMessage(OnReferral):
    """A new thread: a question or a note, to the other party of the episode."""

    sender: Party
    sender_id: UUID
    kind: MessageKind
    urgency: MessageUrgency
    body: str
    about: Sequence[str] = ()
    message_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class ReplyToMessage(OnReferral):
    in_reply_to: str
    sender: Party
    sender_id: UUID
    body: str
    urgency: MessageUrgency = MessageUrgency.ROUTINE
    about: Sequence[str] = ()
    message_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class AcknowledgeMessage(OnReferral):
    message_id: str
    by: Party
    by_id: UUID


class Messaging(EpisodeState):
    """Who writes to whom on the episode, and what a reply answers (part of `Referral`)."""

    def send_message(self, *, message_id: str, sender: Party, sender_id: UUID,
                     kind: MessageKind, urgency: MessageUrgency, body: str,
                     about: Sequence[str], in_reply_to: str | None, occurred_at: datetime,
                     actor: str) -> None:
        self.check_open()
        self._check_party(sender, sender_id)
        if message_id in self.messages or message_id in self.records:
            raise InvariantViolated("a message with this id is already on the episode")
        text = body.strip()
        if not text:
            raise InvalidInput("a message says something", field="body")
        if len(text) > MAX_BODY:
            raise InvalidInput(f"a message holds at most {MAX_BODY} characters", field="body")
        unknown = [r for r in about if r not in self.records or r in self.messages]
        if unknown:
            raise InvalidInput("a message points at records of this episode (a session, "
                               "the plan, an assessment, a report)", field="about")
        thread, recipient = message_id, self._other(sender)
        if in_reply_to is not None:
            earlier = self.messages.get(in_reply_to)
            if earlier is None:
                raise InvariantViolated("there is no such message on this episode to reply to")
            if (earlier["recipient"], earlier["recipient_id"]) != (sender, str(sender_id)):
                raise InvariantViolated("a reply comes from the one the message was sent to")
            thread = earlier["thread"]
        self.trigger_event(
            MessageSent, message_id=message_id, thread_id=thread, in_reply_to=in_reply_to,
            kind=str(kind), urgency=str(urgency), sender_role=str(sender),
            sender_id=str(sender_id), recipient_role=str(recipient[0]),
            recipient_id=recipient[1], body=text, about=list(dict.fromkeys(about)),
            occurred_at=aware(occurred_at), actor=actor)

    def acknowledge_message(self, *, message_id: str, by: Party, by_id: UUID,
                            occurred_at: datetime, actor: str) -> None:
        self.check_open()
        message = self.messages.get(message_id)
        if message is None:
            raise InvariantViolated("there is no such message on this episode")
        if (message["recipient"], message["recipient_id"]) != (by, str(by_id)):
            raise InvariantViolated("a message is acknowledged by the one it was sent to")
        if message["acknowledged"]:
            raise InvariantViolated("this message is already acknowledged")
        self.trigger_event(MessageAcknowledged, message_id=message_id, by_role=str(by),
                           by_id=str(by_id), occurred_at=aware(occurred_at), actor=actor)

    def _check_party(self, party: Party, party_id: UUID) -> None:
        if party == Party.PHYSICIAN and party_id != self.physician_id:
            raise InvariantViolated("the referring physician writes on the episode, "
                                    "not another physician")
        if party == Party.THERAPIST and str(party_id) != self.practitioner_id:
            raise InvariantViolated("the treating practitioner writes on the episode")

    def _other(self, sender: Party) -> tuple[Party, str]:
        if sender == Party.THERAPIST:
            return Party.PHYSICIAN, str(self.physician_id)
        if self.practitioner_id is None:
            raise InvariantViolated("no practitioner treats this episode yet: write once "
                                    "the clinic has accepted the referral")
        return Party.THERAPIST, self.practitioner_id


# ------------------------------------------------------------------ deciding


def send_message(cmd: SendMessage, read: Reader[Any]) -> Decision:
    if cmd.kind == MessageKind.REPLY:
        raise InvalidInput("a reply names the message it answers", field="kind")
    record_id = new_id(cmd.message_id)
    return on_referral(cmd, lambda r: r.send_message(
        message_id=record_id, sender=cmd.sender, sender_id=cmd.sender_id, kind=cmd.kind,
        urgency=cmd.urgency, body=cmd.body, about=list(cmd.about), in_reply_to=None,
        occurred_at=cmd.occurred_at, actor=cmd.actor))


def reply_to_message(cmd: ReplyToMessage, read: Reader[Any]) -> Decision:
    record_id = new_id(cmd.message_id)
    return on_referral(cmd, lambda r: r.send_message(
        message_id=record_id, sender=cmd.sender, sender_id=cmd.sender_id,
        kind=MessageKind.REPLY, urgency=cmd.urgency, body=cmd.body, about=list(cmd.about),
        in_reply_to=cmd.in_reply_to, occurred_at=cmd.occurred_at, actor=cmd.actor))


def acknowledge_message(cmd: AcknowledgeMessage, read: Reader[Any]) -> Decision:
    return on_referral(cmd, lambda r: r.acknowledge_message(
        message_id=cmd.message_id, by=cmd.by, by_id=cmd.by_id, occurred_at=cmd.occurred_at,
        actor=cmd.actor))


#: This stage's commands, and what decides each.
HANDLERS: dict[type[Command], Handler] = {
    SendMessage: send_message,
    ReplyToMessage: reply_to_message,
    AcknowledgeMessage: acknowledge_message,
}
