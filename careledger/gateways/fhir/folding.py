"""What the mappings share while one patient's events are folded into FHIR resources.

Each stage of an episode (mapping/) turns one event into a `Change`: the resources it
created or changed, written into the `Folding` that holds the record so far. The record
(record.py) then writes the event's Provenance from the Change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from careledger.domain.clinical import TECHNIQUE_CPT, Technique
from careledger.gateways.fhir.vocabulary import CPT, JSON, coding, ref
from careledger.projections.envelope import Envelope

CREATE, UPDATE = "CREATE", "UPDATE"
#: Added to the record without changing it: a request to amend, its denial, a
#: statement of disagreement (v3 DataOperation).
APPEND = "APPEND"


@dataclass
class Episode:
    """What later events of a referral need from the earlier ones."""

    referral: str
    conditions: list[str]
    clinic_id: str
    contraindications: set[str]
    instrument: str | None = None
    #: The practitioner who accepted the episode: a revised plan is theirs.
    practitioner: str | None = None
    plan: str | None = None
    goals: dict[str, str] = field(default_factory=dict)  # goal id -> Goal resource id
    encounters: dict[str, str] = field(default_factory=dict)  # session id -> Encounter id
    procedures: dict[str, list[str]] = field(default_factory=dict)  # session -> Procedures


@dataclass
class Change:
    """What one event did to the record: the resources it created or changed."""

    activity: str
    targets: list[str]
    reason: str | None = None
    agent_type: str = "author"
    #: The record (referral, assessment, plan, session, report, discharge) it wrote.
    record: str | None = None
    extensions: list[JSON] = field(default_factory=list)
    entities: list[JSON] = field(default_factory=list)


class Folding:
    """The patient's resources so far, and what each episode's later events refer to."""

    def __init__(self, patient_id: str) -> None:
        self.patient_id = patient_id
        self.patient_ref = ref(patient_id)
        self.resources: dict[str, JSON] = {}  # id -> resource, in order of creation
        self.episodes: dict[str, Episode] = {}
        #: (referral, record id) -> the record's resources and the Provenance that wrote it
        self.records: dict[tuple[str, str], tuple[list[str], str]] = {}
        #: (referral, record id) -> how many amendments it has had so far
        self.amended: dict[tuple[str, str], int] = {}
        self.consent: str | None = None
        #: "<clinic or network>:<purpose>" -> the Consent of its latest decision
        self.consents: dict[str, str] = {}
        #: A document's SHA-256 -> its DocumentReference
        self.documents: dict[str, str] = {}

    def put(self, resource: JSON) -> str:
        self.resources[resource["id"]] = resource
        return str(resource["id"])

    def get(self, rid: str) -> JSON:
        return self.resources[rid]

    def episode(self, envelope: Envelope) -> Episode:
        return self.episodes[str(envelope.aggregate_id)]

    def based_on(self, episode: Episode) -> list[JSON]:
        return [ref(episode.referral)]


#: One event's mapping: it changes the record and says what it changed.
Mapping = Callable[[Folding, Envelope], Change]


def when(e: Envelope) -> datetime:
    assert e.occurred_at is not None, "events without a time are skipped before mapping"
    return e.occurred_at


def cpt(technique: str) -> list[JSON]:
    """The CPT code a technique is billed under, if it has one."""
    try:
        return [coding(CPT, TECHNIQUE_CPT[Technique(technique)])]
    except ValueError:
        return []
