"""A shallow hierarchy of the refusals the domain can give, each mapping to one HTTP status."""

from __future__ import annotations


class DomainError(Exception):
    """A command the clinic's rules refuse; the message is safe to show (no PHI)."""

    code = "domain_error"


class InvalidInput(DomainError):
    """The command is malformed in a way only the domain can tell (an unknown ICD-10 code)."""

    code = "invalid_input"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvariantViolated(DomainError):
    """The command is well formed but breaks a rule of care (a session after discharge)."""

    code = "invariant_violated"


class VersionConflict(DomainError):
    """The command was decided on a version of the record that is no longer current."""

    code = "version_conflict"


class NotFound(DomainError):
    """No such record, or none the caller may see: both look the same from outside."""

    code = "not_found"


class DuplicateRequest(DomainError):
    """An Idempotency-Key was already used: the first answer stands, nothing new is stored."""

    code = "duplicate_request"


class StaleRead(Exception):
    """A record a decision relied on changed before the decision was stored.

    Not a refusal: the application reloads what it read and decides again, so this
    never reaches a caller unless the record keeps changing faster than it can retry.
    """
