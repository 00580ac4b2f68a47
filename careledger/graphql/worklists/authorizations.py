"""Where an episode's authorizations stand, on the caseload and the physician's lists.

The views keep each authorization and each visit's day and units; which visit uses which
authorization, and whether the clinic should ask for the next one, is decided here by
the domain's own rules (authorization.py), never again in SQL.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry

from careledger.domain.authorization import (
    Allocation,
    Authorization,
    Visit,
    allocate,
    running_out,
    visits_remaining,
)
from careledger.domain.episode import ReferralStatus

#: Beside a referral row `r`: its authorizations, and the sessions that hold a visit,
#: each as JSON (one statement for the whole list).
AUTHORIZATION_COLUMNS = (
    "(SELECT json_agg(a ORDER BY a.position) FROM {v}.authorizations a"
    " WHERE a.referral_id = r.referral_id) AS authorizations,"
    " (SELECT json_agg(json_build_object('session_id', s.session_id, 'status', s.status,"
    " 'visit_on', s.visit_on, 'billed', s.billed)) FROM {v}.sessions s"
    " WHERE s.referral_id = r.referral_id AND s.status IN ('scheduled', 'completed'))"
    " AS visits"
)


@strawberry.type(description="Units one authorization allows under a CPT code.")
class AuthorizedUnits:
    code: str
    authorized: int
    used: int


@strawberry.type(description="One authorization of an episode's visits, and what is left.")
class AuthorizationStanding:
    source: str = strawberry.field(description="referral, physician or payer.")
    payer: str | None
    number: str | None = strawberry.field(description="The payer's authorization number.")
    visits: int
    starts_on: date
    ends_on: date | None
    used: int = strawberry.field(description="Visits done under it.")
    booked: int = strawberry.field(description="Visits on the schedule under it.")
    remaining: int
    units: list[AuthorizedUnits]


def allocation_of(row: dict[str, Any]) -> Allocation:
    """The domain's placement of the row's visits under its authorizations."""
    authorizations = [Authorization.of(a) for a in row.get("authorizations") or ()]
    visits = [Visit(session_id=v["session_id"], on=date.fromisoformat(v["visit_on"]),
                    completed=v["status"] == "completed", units=v.get("billed") or {})
              for v in row.get("visits") or () if v.get("visit_on")]
    return allocate(authorizations, visits)


def standings(allocation: Allocation) -> list[AuthorizationStanding]:
    return [AuthorizationStanding(
        source=str(s.authorization.source), payer=s.authorization.payer,
        number=s.authorization.number, visits=s.authorization.visits,
        starts_on=s.authorization.starts_on, ends_on=s.authorization.ends_on,
        used=s.used, booked=s.booked, remaining=s.remaining,
        units=[AuthorizedUnits(code=code, authorized=n, used=s.units_used.get(code, 0))
               for code, n in sorted(s.authorization.units.items())])
        for s in allocation.standings]


#: Only an open episode asks for more visits.
OPEN = frozenset({ReferralStatus.PENDING, ReferralStatus.ACCEPTED})


def authorization_fields(row: dict[str, Any], today: date) -> dict[str, Any]:
    """The entry's authorization fields, from the row's JSON columns (taken out of it)."""
    allocation = allocation_of(row)
    row.pop("authorizations", None)
    row.pop("visits", None)
    return {"authorizations": standings(allocation),
            "visits_remaining": visits_remaining(allocation, today),
            "authorization_running_out": row["status"] in OPEN
            and running_out(allocation, today)}
