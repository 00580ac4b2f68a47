"""Opaque page cursors: where the last row of a page stood in the list's order.

A cursor is the last row's time and its tie-breaking key, so the next page starts right
after it (keyset pagination) however many rows were added meanwhile. Clients must not
read anything into it; one that was not ours is refused as bad input.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from careledger.graphql.context import PublicError

K = TypeVar("K")


def encode_cursor(at: datetime | None, key: object) -> str:
    raw = f"{at.isoformat() if at else ''}|{key}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str | None, key: Callable[[str], K]
                  ) -> tuple[datetime | None, K] | None:
    """The (time, key) a cursor holds; None for the first page."""
    if cursor is None:
        return None
    try:
        at, raw_key = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return (datetime.fromisoformat(at) if at else None), key(raw_key)
    except ValueError:  # bad base64, bytes or text, a missing part, a bad time or key
        raise PublicError("after is not a cursor this API returned", "BAD_INPUT") from None


def check_first(first: int, most: int) -> None:
    """A page asks for between 1 and `most` rows: refused before anything is read."""
    if not 1 <= first <= most:
        raise PublicError(f"first must be between 1 and {most}", "BAD_INPUT")
