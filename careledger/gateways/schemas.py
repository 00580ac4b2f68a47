"""What every body of the command API is made of (pydantic, via Ninja schemas): the
field types, the rules every request object keeps, and the answer every command gives.

Each route module (routes/) declares its own bodies, beside the routes that take them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from ninja import Field, Schema
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    Strict,
    model_validator,
)

from careledger.domain.body import BodyRegion, Side, Site
from careledger.domain.clinical import (
    MAX_OFFSET,
)
from careledger.domain.errors import InvalidInput


def _iso_text(value: Any) -> Any:
    """A date or time comes as ISO 8601 text, as the schema says; pydantic alone would read
    a number as seconds since 1970 and record a clinical time nobody stated."""
    if not isinstance(value, str | date):
        raise ValueError("a date or time is ISO 8601 text, e.g. 2026-03-02T09:00:00+00:00")
    return value


def _real_zone(value: datetime) -> datetime:
    """Python takes offsets up to 24 hours; one past PostgreSQL's range was stored in the
    log, and then no view could apply the event (found by fuzzing)."""
    offset = value.utcoffset()
    if offset is not None and abs(offset) > MAX_OFFSET:
        raise ValueError("a zone offset is between -14:00 and +14:00")
    return value


#: An instant with its zone, as ISO 8601 text.
Moment = Annotated[AwareDatetime, BeforeValidator(_iso_text), AfterValidator(_real_zone)]
#: A calendar day, as ISO 8601 text.
Day = Annotated[date, BeforeValidator(_iso_text)]
Text = Annotated[str, Field(max_length=4000)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
Reason = Annotated[str, Field(min_length=1, max_length=2000)]
RecordId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
#: A number as JSON writes one: `true` and `false` are not 1 and 0 (pydantic's lax mode
#: would take them, and store a coordinate or a score the client never meant). Counts
#: and scores in bodies are `Annotated[int, Strict(), ...]` for the same reason.
Number = Annotated[float, Strict()]
Latitude = Annotated[float, Strict(), Field(ge=-90, le=90)]
Longitude = Annotated[float, Strict(), Field(ge=-180, le=180)]
Pain = Annotated[int, Strict(), Field(ge=0, le=10)]
Percent = Annotated[float, Strict(), Field(ge=0, le=100)]


class In(Schema):
    """A request body, or an object in one: a JSON object and nothing else.

    Ninja's schemas read attributes of whatever they are given, so without this a body
    of `true` or `[]` passed for a command whose fields are all optional. NaN and
    Infinity (which Python's JSON parser reads) have no place in jsonb either. A field
    the body does not declare is refused (422, naming it), never accepted and dropped.
    """

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _an_object(cls, value: Any) -> Any:
        raw = getattr(value, "_obj", value)
        if not isinstance(raw, dict):
            raise ValueError("the body is a JSON object")
        if _holds_nul(raw):
            raise ValueError("text may not contain U+0000")
        return value


def _holds_nul(value: Any) -> bool:
    """PostgreSQL text and jsonb cannot hold U+0000: the event would be stored, and then
    no view could apply it (found by fuzzing)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


#: Fields whose keys the client chooses (goal ids, changed fields, CPT codes, techniques):
#: data, not schema.
FREE_KEYS = frozenset({"outcomes", "changes", "sites", "units", "fees", "not_covered"})


class RecordedOut(Schema):
    """What every command answers: the record, its new version, its log position."""

    id: UUID
    version: int
    position: int | None


class OccurredIn(In):
    occurred_at: Moment | None = Field(
        None, description="When it happened, as the clinician states it; defaults to now."
    )


class CancelIn(OccurredIn):
    reason: Reason


def as_schema_error(check: Callable[[], object]) -> None:
    """A domain rule a body must meet, refused as the schema refuses (a 422 naming the
    field), so nothing reaches a command that the domain would refuse on its face."""
    try:
        check()
    except InvalidInput as refused:
        raise ValueError(str(refused)) from None


class SiteIn(In):
    """Where on the body: a region, and left or right for a limb's."""

    region: BodyRegion
    side: Side | None = None

    @model_validator(mode="after")
    def _sided(self) -> SiteIn:
        as_schema_error(self.site)
        return self

    def site(self) -> Site:
        return Site.of(self.region, self.side)


Sites = Annotated[list[SiteIn], Field(max_length=16)]
