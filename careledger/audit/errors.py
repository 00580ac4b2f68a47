"""The one error the audit commands raise: what cannot be done, and what to do next."""

from __future__ import annotations


class AuditError(Exception):
    """An audit step cannot run; the message ends with the next step to take."""
