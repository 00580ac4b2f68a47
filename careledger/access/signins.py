"""Who a request comes from: a bearer token (the provider's, or CareLedger's own HS256
for the demo and the tests) turned into a Principal, whose role and clinics come from
the directory, never from the token's claims once a provider is configured.

A resolved identity is kept for `DIRECTORY_TTL_S`, so a request costs no read of the
log; unlinking a sign-in, or a practitioner's affiliation ending, takes effect within it.
"""

from __future__ import annotations

import threading
import time
from uuid import UUID

from careledger.access.oidc import Identity, Provider
from careledger.access.tokens import Principal, Role, TokenService
from careledger.domain.application import CareLedger
from careledger.domain.clinical import Profession
from careledger.domain.errors import NotFound
from careledger.domain.identity import PersonKind, SignIn, StaffMember, sign_in_id
from careledger.domain.network import Practitioner

DIRECTORY_TTL_S = 5.0
#: Identities remembered at most; past it the memory starts again (it is only a cache).
DIRECTORY_CACHE_SIZE = 10_000


class Directory:
    """(issuer, subject) → the person it is linked to, as a Principal, or None."""

    def __init__(self, app: CareLedger) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._known: dict[Identity, tuple[float, Principal | None]] = {}

    def principal(self, identity: Identity) -> Principal | None:
        now = time.monotonic()
        with self._lock:
            cached = self._known.get(identity)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = self._look_up(identity)
        with self._lock:
            if len(self._known) >= DIRECTORY_CACHE_SIZE:
                self._known.clear()
            self._known[identity] = (now + DIRECTORY_TTL_S, found)
        return found

    def _look_up(self, identity: Identity) -> Principal | None:
        try:
            sign_in = self.app.load(SignIn, sign_in_id(identity.issuer, identity.subject))
            if not sign_in.linked:
                return None
            return self._person(sign_in.person_id, PersonKind(sign_in.person_kind))
        except NotFound:
            return None

    def _person(self, person_id: UUID, kind: PersonKind) -> Principal:
        if kind is PersonKind.PRACTITIONER:
            practitioner = self.app.load(Practitioner, person_id)
            role = (Role.PHYSICIAN if practitioner.profession == Profession.PHYSICIAN
                    else Role.THERAPIST)
            return Principal(subject=person_id, role=role,
                             clinics=frozenset(UUID(c) for c in practitioner.clinic_ids))
        member = self.app.load(StaffMember, person_id)
        return Principal(subject=person_id, role=Role(member.role),
                         clinics=frozenset(member.clinic_ids))


class Authenticator:
    """Bearer tokens: the provider's once an issuer is configured (HS256 then refused),
    CareLedger's own HS256 tokens otherwise."""

    def __init__(self, tokens: TokenService, provider: Provider | None = None,
                 directory: Directory | None = None) -> None:
        assert (provider is None) == (directory is None), "a provider needs the directory"
        self.tokens = tokens
        self.provider = provider
        self.directory = directory

    @property
    def local(self) -> bool:
        """No identity provider: the demo's and the tests' own tokens sign in."""
        return self.provider is None

    def bearer(self, token: str) -> Principal | None:
        if self.provider is None or self.directory is None:
            return self.tokens.verify(token)
        identity = self.provider.access_token(token)
        return None if identity is None else self.directory.principal(identity)
