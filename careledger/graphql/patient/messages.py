"""The messages on a patient's episodes, in threads: what the timeline holds of them, as
each stands now (an amendment of a message corrects its body), with who wrote to whom.

A field of `Patient`: read only after `patient(id)` authorized the caller and logged the
read, like the rest of the record. One statement over the timeline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import strawberry

from careledger.access.people import person, person_sql
from careledger.domain.catalogue import kinds
from careledger.domain.clinical import AmendableRecord
from careledger.domain.corrections import as_amended
from careledger.domain.referral import Referral
from careledger.graphql.context import Info, read_views
from careledger.graphql.people import Person

SENDER = person_sql("(t.data ->> 'sender_id')::uuid", "t.recorded_at")
RECIPIENT = person_sql("(t.data ->> 'recipient_id')::uuid", "t.recorded_at")
MESSAGES = kinds(Referral.MessageSent, Referral.MessageAcknowledged)


@strawberry.type
class Message:
    referral_id: UUID
    message_id: str
    thread_id: str = strawberry.field(description="The first message's id, for each reply.")
    in_reply_to: str | None
    kind: str = strawberry.field(description="question, note or reply")
    urgency: str
    body: str = strawberry.field(description="As it now stands (after amendments).")
    about: list[str] = strawberry.field(description="The records of the episode it names.")
    sent_at: datetime | None
    sender: Person
    recipient: Person
    answered: bool = strawberry.field(description="A reply to it was sent.")
    acknowledged_at: datetime | None


@strawberry.type
class PatientMessages:
    id: UUID

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Messages between the referring physician and the treating "
        "practitioner on the patient's episodes (`referralId`: one episode's), oldest first.")
    def messages(self, info: Info, referral_id: UUID | None = None) -> list[Message]:
        rows = read_views(
            info, f"SELECT t.referral_id, t.kind, t.occurred_at, t.data, {SENDER} AS sender,"
            f" {RECIPIENT} AS recipient,"
            " (SELECT json_agg(a.data -> 'changes' ORDER BY a.position) FROM {v}.timeline a"
            " WHERE a.patient_id = t.patient_id AND a.referral_id = t.referral_id"
            " AND a.amends_record_id = t.record_id AND a.kind = %s) AS corrections"
            " FROM {v}.timeline t WHERE t.patient_id = %s AND t.kind = ANY(%s)"
            " AND (%s::uuid IS NULL OR t.referral_id = %s) ORDER BY t.occurred_at, t.position",
            (Referral.Amended.KIND, self.id, MESSAGES, referral_id, referral_id))
        return _threads(rows)


def _threads(rows: list[dict[str, Any]]) -> list[Message]:
    messages: dict[tuple[UUID, str], Message] = {}
    for row in rows:
        d = row["data"]
        key = (row["referral_id"], str(d["message_id"]))
        if row["kind"] == Referral.MessageAcknowledged.KIND:
            if key in messages:
                messages[key].acknowledged_at = row["occurred_at"]
            continue
        now = as_amended(AmendableRecord.MESSAGE, d, row["corrections"] or [])
        messages[key] = Message(
            referral_id=row["referral_id"], message_id=key[1], thread_id=d["thread_id"],
            in_reply_to=d.get("in_reply_to"), kind=d["kind"], urgency=d["urgency"],
            body=now["body"], about=list(d.get("about") or []), sent_at=row["occurred_at"],
            sender=Person.of(person(d["sender_role"], row["sender"])),
            recipient=Person.of(person(d["recipient_role"], row["recipient"])),
            answered=False, acknowledged_at=None)
        earlier = messages.get((row["referral_id"], str(d.get("in_reply_to"))))
        if earlier is not None:
            earlier.answered = True
    return list(messages.values())
