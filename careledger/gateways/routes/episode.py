"""What the episode's routes share: who may send each command, and how one is posted.

Each route is one command: its path, its operation id, and what may follow it (OpenAPI
links, `links.py`: the usual next steps with the ids they take, for clients and for the
stateful fuzzer).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ninja import Router, Status

from careledger.access.tokens import Role
from careledger.gateways.links import ANSWERED_ID, Links, link
from careledger.gateways.problems import COMMAND_ERRORS
from careledger.gateways.schemas import RecordedOut

RESPONSES = {201: RecordedOut, **COMMAND_ERRORS}
PHYSICIAN = {Role.PHYSICIAN}
THERAPIST = {Role.THERAPIST}
CLINIC = {Role.THERAPIST, Role.CLINIC_ADMIN}
CLINICIANS = {Role.PHYSICIAN, Role.THERAPIST}
#: Whoever the patient hands a written request or statement to.
CARE_TEAM = {Role.PHYSICIAN, Role.THERAPIST, Role.CLINIC_ADMIN}

#: For a command after which no usual next step is offered (a cancellation, an amendment).
NOTHING_FOLLOWS: dict[str, Any] = {}

Route = TypeVar("Route", bound=Callable[..., Status[RecordedOut]])


def next_steps(*operations: str) -> Links:
    """Commands on the same referral (every answer's id is the referral's)."""
    return link(*operations, referral_id=ANSWERED_ID)


def post(router: Router, path: str, operation: str,
         follows: dict[str, Any]) -> Callable[[Route], Route]:
    """One command's route: its path, its operation id, what may follow it (`then(...)`)."""
    register: Callable[[Route], Route] = router.post(
        path, response=RESPONSES, operation_id=operation, openapi_extra=follows)
    return register
