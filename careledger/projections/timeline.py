"""The shared patient timeline: every clinical event across clinics, both times kept.

One row per event, keyed by its log position: a redelivered event finds its row and
changes nothing. Amendments are rows of their own that name the record they amend,
so a timeline shows the original and the amendment side by side.
"""

from __future__ import annotations

from typing import Any

from psycopg import Cursor
from psycopg.types.json import Jsonb

from careledger.projections import VIEWS_SCHEMA, Projection, Writes, handles
from careledger.projections.envelope import Envelope

#: The id a clinical record carries in its events, by field name.
RECORD_FIELDS = ("session_id", "plan_id", "assessment_id", "report_id")
#: Events that stand beside a record they concern: an amendment, and each step of a
#: patient's request to amend (HIPAA 164.526) including a denial and the disagreement.
BESIDE_THE_RECORD = frozenset({
    "Referral.Amended", "Referral.AmendmentRequested", "Referral.AmendmentAccepted",
    "Referral.AmendmentDenied", "Referral.DisagreementFiled",
})


class Timeline(Projection):
    name = "timeline"
    tables = ("timeline",)
    DDL = """
    CREATE TABLE IF NOT EXISTS {v}.timeline (
      position bigint PRIMARY KEY,
      event_id uuid NOT NULL,
      patient_id uuid NOT NULL,
      referral_id uuid,
      aggregate_version bigint NOT NULL,
      kind text NOT NULL,
      occurred_at timestamptz,
      recorded_at timestamptz NOT NULL,
      actor text,
      clinic_id uuid,
      practitioner_id uuid,
      record_id text,
      amends_record_id text,
      data jsonb NOT NULL
    );
    CREATE INDEX IF NOT EXISTS timeline_patient_valid
      ON {v}.timeline (patient_id, occurred_at, position);
    CREATE INDEX IF NOT EXISTS timeline_patient_recorded
      ON {v}.timeline (patient_id, recorded_at, position);
    """

    #: One statement for a whole batch: rows keyed by log position, read by no handler,
    #: so they may wait for the end of the batch and go in as one set.
    INSERT = """
    INSERT INTO {v}.timeline (position, event_id, patient_id, referral_id, aggregate_version,
      kind, occurred_at, recorded_at, actor, clinic_id, practitioner_id, record_id,
      amends_record_id, data)
    SELECT * FROM unnest(%b::bigint[], %b::uuid[], %b::uuid[], %b::uuid[], %b::bigint[],
      %b::text[], %b::timestamptz[], %b::timestamptz[], %b::text[], %b::uuid[], %b::uuid[],
      %b::text[], %b::text[], %b::jsonb[])
    ON CONFLICT (position) DO NOTHING
    """

    def __init__(self, schema: str = VIEWS_SCHEMA) -> None:
        super().__init__(schema)
        self._rows: list[tuple[Any, ...]] = []

    @handles(
        "Patient.Registered", "Patient.ConsentGranted", "Patient.ConsentRevoked",
        "Referral.Made", "Referral.Accepted", "Referral.Declined", "Referral.Redirected",
        "Referral.Cancelled", "Referral.AssessmentRecorded", "Referral.PlanDrafted",
        "Referral.PlanRevised", "Referral.PlanCertified", "Referral.PlanRecertified",
        "Referral.SessionScheduled", "Referral.SessionCompleted", "Referral.SessionCancelled",
        "Referral.PatientDidNotAttend", "Referral.ProgressReported", "Referral.Discharged",
        *sorted(BESIDE_THE_RECORD),
    )
    def record(self, e: Envelope, out: Writes) -> None:
        if e.patient_id is None:
            return
        data = e.data
        amended = e.kind in BESIDE_THE_RECORD
        record_id = next((str(data[f]) for f in RECORD_FIELDS if data.get(f)), None)
        if e.kind == "Referral.Made":
            record_id = str(e.aggregate_id)  # the referral itself, as an amendment names it
        elif e.kind == "Referral.Discharged":
            record_id = "discharge"
        practitioner = data.get("practitioner_id") or data.get("physician_id")
        self._rows.append((
            e.position, e.event_id, e.patient_id,
            e.aggregate_id if e.kind.startswith("Referral.") else None,
            e.aggregate_version, e.kind, e.occurred_at, e.recorded_at, e.actor,
            e.clinic_ids[-1] if e.clinic_ids else None,
            practitioner or None,
            None if amended else record_id,
            str(data["record_id"]) if amended else None,
            Jsonb(data),
        ))

    def discard(self) -> None:
        super().discard()
        self._rows = []

    def flush(self, cur: Cursor[Any]) -> None:
        rows, self._rows = self._rows, []
        if rows:
            cur.execute(self.sql(self.INSERT),
                        [list(column) for column in zip(*rows, strict=True)])
        super().flush(cur)
