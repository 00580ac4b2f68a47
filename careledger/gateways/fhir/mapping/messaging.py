"""Messages on the episode: a Communication each; an open question also a
CommunicationRequest, completed by its reply."""

from __future__ import annotations

from careledger.domain.events import CareEvent
from careledger.domain.messaging import MessageKind
from careledger.domain.referral import Referral
from careledger.gateways.fhir.folding import CREATE, UPDATE, Change, Episode, Folding, Mapping
from careledger.gateways.fhir.vocabulary import (
    JSON,
    SID_RECORD,
    concept,
    practitioner,
    ref,
    resource_id,
)
from careledger.projections.envelope import Envelope

#: The clinic's urgency as FHIR's request priority.
PRIORITY = {"routine": "routine", "soon": "urgent", "urgent": "asap"}
_KINDS = ("Encounter", "ClinicalImpression", "CarePlan", "Communication")


def _record(r: Folding, episode: Episode, record: str) -> str | None:
    """The resource a record of the episode became (a session its Encounter, an
    assessment its ClinicalImpression, the plan its CarePlan, a report its Communication)."""
    if record == episode.referral:
        return episode.referral
    if record in episode.encounters:
        return episode.encounters[record]
    return next((rid for kind in _KINDS
                 if (rid := resource_id(kind, episode.referral, record)) in r.resources), None)


def sent(r: Folding, e: Envelope) -> Change:
    d, episode = e.data, r.episode(e)
    message = str(d["message_id"])
    about = [ref(rid) for record in d.get("about", [])
             if (rid := _record(r, episode, str(record))) is not None]
    communication: JSON = {
        "resourceType": "Communication",
        "id": resource_id("Communication", episode.referral, message),
        "identifier": [{"system": SID_RECORD, "value": f"{episode.referral}/{message}"}],
        "basedOn": r.based_on(episode),
        "status": "completed",
        "priority": PRIORITY.get(str(d["urgency"]), "routine"),
        "subject": r.patient_ref,
        "topic": concept(text=str(d["kind"]).capitalize()),
        "about": [ref(episode.referral), *about],
        "sent": e.occurred_at,
        "recipient": [practitioner(d["recipient_id"])],
        "sender": practitioner(d["sender_id"]),
        "payload": [{"contentString": d["body"]}],
    }
    made = [communication["id"]]
    if d.get("in_reply_to"):
        earlier = resource_id("Communication", episode.referral, d["in_reply_to"])
        if earlier in r.resources:
            communication["inResponseTo"] = [ref(earlier)]
        request = resource_id("CommunicationRequest", episode.referral, d["in_reply_to"])
        if request in r.resources:  # the question this answers
            r.get(request)["status"] = "completed"
            communication["basedOn"] = [*communication["basedOn"], ref(request)]
            made.append(request)
    if d["kind"] == MessageKind.QUESTION:
        request_id = resource_id("CommunicationRequest", episode.referral, message)
        r.put({
            "resourceType": "CommunicationRequest",
            "id": request_id,
            "identifier": [{"system": SID_RECORD, "value": f"{episode.referral}/{message}"}],
            "basedOn": r.based_on(episode),
            "status": "active",
            "priority": communication["priority"],
            "subject": r.patient_ref,
            "about": communication["about"],
            "authoredOn": e.occurred_at,
            "requester": practitioner(d["sender_id"]),
            "recipient": [practitioner(d["recipient_id"])],
            "sender": practitioner(d["recipient_id"]),  # the answer is theirs to send
            "payload": [{"contentString": d["body"]}],
        })
        made.append(request_id)
    r.put(communication)
    return Change(CREATE, made, record=message)


def acknowledged(r: Folding, e: Envelope) -> Change:
    """Read and understood: the Communication's `received`."""
    episode = r.episode(e)
    rid = resource_id("Communication", episode.referral, e.data["message_id"])
    if rid not in r.resources:
        return Change(UPDATE, [])
    r.get(rid)["received"] = e.occurred_at
    return Change(UPDATE, [rid], agent_type="verifier")


#: What each event of this stage does to the record.
MAPPINGS: dict[type[CareEvent], Mapping] = {
    Referral.MessageSent: sent,
    Referral.MessageAcknowledged: acknowledged,
}
