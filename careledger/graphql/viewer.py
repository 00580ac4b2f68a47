"""Who the token names: a client asks once, and the server goes on deciding everything."""

from __future__ import annotations

from uuid import UUID

import strawberry
from strawberry.types import Info

from careledger.graphql.context import Context, principal_of


@strawberry.type
class Viewer:
    id: UUID
    role: str
    clinic_ids: list[UUID]


@strawberry.type
class ViewerQuery:
    @strawberry.field(  # type: ignore[untyped-decorator]
        description="The principal your token names (no patient data): which worklist "
        "is yours to ask for.")
    def me(self, info: Info[Context, None]) -> Viewer:
        principal = principal_of(info)
        return Viewer(id=principal.subject, role=principal.role.value,
                      clinic_ids=sorted(principal.clinics, key=str))
