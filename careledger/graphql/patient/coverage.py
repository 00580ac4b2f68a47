"""The patient's insurance coverages, from the timeline, in order (primary first).

A field of `Patient`: read only after `patient(id)` authorized the caller and logged it.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

import strawberry

from careledger.domain.patient import Patient
from careledger.graphql.context import Info, read_views


@strawberry.type
class InsuranceCoverage:
    coverage_id: str
    payer: str
    member_id: str
    plan: str | None
    group: str | None
    relation: str = strawberry.field(description="The patient's relation to the "
                                     "subscriber: self, spouse, child or other")
    subscriber: str | None
    starts_on: date
    ends_on: date | None
    order: int = strawberry.field(description="1 primary, 2 secondary...")


@strawberry.type
class PatientCoverage:
    id: UUID

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="The patient's insurance coverages, by order, then first day.")
    def coverage(self, info: Info) -> list[InsuranceCoverage]:
        rows = read_views(info, "SELECT data FROM {v}.timeline WHERE patient_id = %s"
                          " AND kind = %s", (self.id, Patient.CoverageRecorded.KIND))
        found = [InsuranceCoverage(
            coverage_id=d["coverage_id"], payer=d["payer"], member_id=d["member_id"],
            plan=d.get("plan"), group=d.get("group"), relation=d["relation"],
            subscriber=d.get("subscriber"), starts_on=date.fromisoformat(d["starts_on"]),
            ends_on=date.fromisoformat(d["ends_on"]) if d.get("ends_on") else None,
            order=d["order"]) for d in (row["data"] for row in rows)]
        return sorted(found, key=lambda c: (c.order, c.starts_on))
