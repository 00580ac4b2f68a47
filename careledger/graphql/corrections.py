"""The original and each correction beside a value a view gives as it now stands: the
worklist's baseline and latest, the chart's points, goal progress (the record's
amendments, `corrections.history`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from careledger.domain.clinical import AmendableRecord
from careledger.domain.corrections import as_amended, history


@strawberry.type
class Correction:
    field: str = strawberry.field(description="The value corrected, as this list names it.")
    original: float | None = strawberry.field(description="Its value before this amendment.")
    current: float | None = strawberry.field(description="Its value after this amendment.")
    reason: str | None
    amended_at: datetime | None = strawberry.field(description="When it was recorded.")


def corrections(kind: str, data: dict[str, Any], amendments: list[dict[str, Any]] | None,
                names: dict[str, str]) -> list[Correction]:
    """Each amendment's change to the fields `names` lists (record field -> the name
    the view gives it), oldest first."""
    return [Correction(field=names[c["field"]], original=c["original"], current=c["current"],
                       reason=c["reason"], amended_at=_moment(c["at"]))
            for c in history(kind, data, amendments or [], names)]


def _moment(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def goal_corrections(row: dict[str, Any]) -> list[Correction]:
    """A goal's latest measurement, corrected: the session it was measured at, amended
    (its `measured_data` and `amendments`, as the goals query reads them)."""
    data, amendments = row.get("measured_data"), row.get("amendments") or []
    if not data or not amendments:
        return []

    def measured(session: dict[str, Any]) -> float | None:
        return next((m.get("value") for m in session.get("goal_measurements") or []
                     if m.get("goal_id") == row["goal_id"]), None)

    out, before = [], dict(data)
    for amendment in amendments:
        after = as_amended(AmendableRecord.SESSION, before, [amendment["changes"]])
        if measured(before) != measured(after):
            out.append(Correction(field="latest", original=measured(before),
                                  current=measured(after), reason=amendment.get("reason"),
                                  amended_at=_moment(amendment.get("at"))))
        before = after
    return out
