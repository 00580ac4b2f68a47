"""Attaching a document: to the patient (their consent form), to an episode (a referral
letter, an imaging report), or to a message of the episode (documents.py says what a
document is and where its bytes live)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from careledger.domain.clinical import aware
from careledger.domain.commands import Change, Command, Decision, Handler, Reader, new_id
from careledger.domain.documents import Document
from careledger.domain.episode import EpisodeState, Event
from careledger.domain.errors import InvariantViolated, NotFound
from careledger.domain.patient import Patient

if TYPE_CHECKING:
    from careledger.domain.referral import Referral


class DocumentAttached(Event):
    """A document of the episode, or of one of its messages (`message_id`)."""

    TOPIC = "careledger:Referral.DocumentAttached"
    document_id: str
    sha256: str
    sha1: str
    media_type: str
    size: int
    title: str
    category: str
    message_id: str | None

    def apply(self, referral: Referral) -> None:
        referral.documents.append(self.sha256)


@dataclass(frozen=True, kw_only=True)
class AttachDocument(Command):
    """To the patient, or (`referral_id`) to an episode of theirs, or (`message_id` too)
    to a message of it. The bytes are stored first, under `document.sha256`."""

    patient_id: UUID
    document: Document
    referral_id: UUID | None = None
    message_id: str | None = None
    document_id: str | None = None


class Attaching(EpisodeState):
    """Documents of the episode (part of `Referral`)."""

    def attach_document(self, *, document_id: str, document: Document,
                        message_id: str | None, occurred_at: datetime, actor: str) -> None:
        if message_id is not None and message_id not in self.messages:
            raise InvariantViolated("there is no such message on this episode")
        self.trigger_event(DocumentAttached, document_id=document_id, **document.fields(),
                           message_id=message_id, occurred_at=aware(occurred_at), actor=actor)


def attach_document(cmd: AttachDocument, read: Reader[Any]) -> Decision:
    document_id = new_id(cmd.document_id)
    if cmd.referral_id is None:
        if cmd.message_id is not None:
            raise InvariantViolated("a message's document names the message's episode")
        return Change(Patient, cmd.patient_id, lambda p: p.attach_document(
            document_id=document_id, document=cmd.document, occurred_at=aware(cmd.occurred_at),
            actor=cmd.actor))
    from careledger.domain.referral import Referral  # the aggregate the parts make up

    def attach(referral: Referral) -> None:
        if referral.patient_id != cmd.patient_id:
            raise NotFound("no such referral for this patient")
        referral.check_after_referral(cmd.occurred_at)
        referral.attach_document(document_id=document_id, document=cmd.document,
                                 message_id=cmd.message_id, occurred_at=cmd.occurred_at,
                                 actor=cmd.actor)

    return Change(Referral, cmd.referral_id, attach)


#: This stage's commands, and what decides each.
HANDLERS: dict[type[Command], Handler] = {
    AttachDocument: attach_document,
}
