"""The shared patient timeline: every clinical event across clinics, both times kept.

One row per event, keyed by its log position: a redelivered event finds its row and
changes nothing. Amendments are rows of their own that name the record they amend,
so a timeline shows the original and the amendment side by side.
"""

from __future__ import annotations

from careledger.domain.catalogue import aggregate_of, by_topic
from careledger.domain.referral import Referral
from careledger.projections.envelope import Envelope
from careledger.projections.model import Change, Column, Insert, Projection, Table
from careledger.projections.placement import CARE_EVENTS, NETWORK_EVENTS

#: The id a clinical record carries in its events, by field name.
RECORD_FIELDS = ("session_id", "plan_id", "assessment_id", "report_id", "message_id")
#: Events that stand beside a record they concern: an amendment, and each step of a
#: patient's request to amend (HIPAA 164.526) including a denial and the disagreement.
BESIDE_THE_RECORD = frozenset({
    Referral.Amended, Referral.AmendmentRequested, Referral.AmendmentAccepted,
    Referral.AmendmentDenied, Referral.DisagreementFiled,
})
_BESIDE = frozenset(e.TOPIC for e in BESIDE_THE_RECORD)

TIMELINE = Table("timeline", (
    Column("position", "bigint", "NOT NULL"),
    Column("event_id", "uuid", "NOT NULL"),
    Column("patient_id", "uuid", "NOT NULL"),
    Column("referral_id", "uuid"),
    Column("aggregate_version", "bigint", "NOT NULL"),
    Column("kind", "text", "NOT NULL"),
    Column("occurred_at", "timestamptz"),
    Column("recorded_at", "timestamptz", "NOT NULL"),
    Column("actor", "text"),
    Column("clinic_id", "uuid"),
    Column("practitioner_id", "uuid"),
    Column("record_id", "text"),
    Column("amends_record_id", "text"),
    Column("data", "jsonb", "NOT NULL"),
), key=("position",), indexes=(
    "CREATE INDEX IF NOT EXISTS timeline_patient_valid"
    " ON {v}.timeline (patient_id, occurred_at, position)",
    "CREATE INDEX IF NOT EXISTS timeline_patient_recorded"
    " ON {v}.timeline (patient_id, recorded_at, position)",
))

timeline = Projection("timeline", [TIMELINE], ignores=NETWORK_EVENTS)


def record_id_of(e: Envelope) -> str | None:
    """The id of the record an event writes or concerns, as an amendment names it."""
    if e.type == Referral.Made.TOPIC:
        return str(e.aggregate_id)  # the referral itself
    if e.type == Referral.Discharged.TOPIC:
        return "discharge"
    return next((str(e.data[f]) for f in RECORD_FIELDS if e.data.get(f)), None)


def amends(e: Envelope) -> bool:
    """Whether the event stands beside a record (an amendment, a step of a request)."""
    return e.type in _BESIDE


@timeline.handles(*CARE_EVENTS)  # every event of a patient's care, new ones too
def record(e: Envelope) -> list[Change]:
    if e.patient_id is None:
        return []
    data = e.data
    beside = amends(e)
    record_id = record_id_of(e)
    event = by_topic(e.type)
    practitioner = data.get("practitioner_id") or data.get("physician_id")
    return [Insert(TIMELINE, {
        "position": e.position, "event_id": e.event_id, "patient_id": e.patient_id,
        "referral_id": e.aggregate_id if event and aggregate_of(event) is Referral else None,
        "aggregate_version": e.aggregate_version, "kind": e.kind,
        "occurred_at": e.occurred_at, "recorded_at": e.recorded_at, "actor": e.actor,
        "clinic_id": e.clinic_ids[-1] if e.clinic_ids else None,
        "practitioner_id": practitioner or None,
        "record_id": None if beside else record_id,
        "amends_record_id": str(data["record_id"]) if beside else None,
        "data": data,
    })]
