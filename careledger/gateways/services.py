"""What the HTTP gateways need, given to them by the composition root (`careledger/main`)."""

from __future__ import annotations

from dataclasses import dataclass

from careledger.access.tokens import TokenService
from careledger.domain.application import CareLedger
from careledger.gateways.idempotency import IdempotencyStore


@dataclass(frozen=True)
class Services:
    app: CareLedger
    idempotency: IdempotencyStore
    tokens: TokenService
    #: Which API process group this is, as `/health/ready` names it.
    instance: str = ""
