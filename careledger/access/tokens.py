"""Signed bearer tokens: the only place a caller's identity and scope come from.

A token names its principal (a practitioner, a clinic administrator, a network
administrator or an auditor), its role and its clinics, and expires. Nothing in
a request body or header can widen that scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from uuid import UUID

import jwt

ISSUER = "careledger"
ALGORITHM = "HS256"


class Role(StrEnum):
    PHYSICIAN = "physician"
    THERAPIST = "therapist"
    CLINIC_ADMIN = "clinic_admin"
    NETWORK_ADMIN = "network_admin"
    AUDITOR = "auditor"
    #: Bills a clinic's sessions: reads its claims (coverage, authorizations, codes,
    #: units, dates), never a patient's record (minimum necessary).
    BILLER = "biller"


@dataclass(frozen=True)
class Principal:
    subject: UUID
    role: Role
    clinics: frozenset[UUID]

    @property
    def actor(self) -> str:
        """How events name who did it: a role and an id, never a name."""
        return f"{self.role.value}:{self.subject}"


class TokenService:
    def __init__(self, secret: str) -> None:
        if len(secret) < 16:
            raise ValueError("the token secret must be at least 16 characters")
        self._secret = secret

    def issue(
        self,
        *,
        subject: UUID,
        role: Role,
        clinics: list[UUID] | None = None,
        ttl: timedelta = timedelta(hours=12),
    ) -> str:
        now = datetime.now(UTC)
        claims = {
            "iss": ISSUER,
            "sub": str(subject),
            "role": role.value,
            "clinics": [str(c) for c in clinics or []],
            "iat": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()),
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Principal | None:
        try:
            claims = jwt.decode(
                token, self._secret, algorithms=[ALGORITHM], issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
            return Principal(
                subject=UUID(claims["sub"]),
                role=Role(claims["role"]),
                clinics=frozenset(UUID(c) for c in claims.get("clinics", [])),
            )
        except (jwt.PyJWTError, ValueError, KeyError, TypeError):
            return None

