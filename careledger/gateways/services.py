"""What the HTTP gateways need, given to them by the composition root (`careledger/main`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from careledger.access.tokens import TokenService
from careledger.domain.application import CareLedger
from careledger.gateways.idempotency import IdempotencyStore

if TYPE_CHECKING:  # the gate imports Ninja, which needs Django's settings first
    from careledger.gateways.callers import Gate


@dataclass(frozen=True)
class Services:
    app: CareLedger
    idempotency: IdempotencyStore
    tokens: TokenService
    #: Who each request comes from, and whether it is within its budgets.
    gate: Gate
    #: Which API process group this is, as `/health/ready` names it.
    instance: str = ""
