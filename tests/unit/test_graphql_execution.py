"""The shorter path for plain leaves answers exactly what graphql-core would.

Each query runs twice, through Strawberry's own executor and through PlainLeafExecutor,
and the two answers (data, errors, their messages, paths and locations) must be equal;
then the shortcut must actually have been taken, or a new Strawberry could turn it off
unnoticed. Pure GraphQL execution: no database is involved.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.scalars import JSON

from careledger.graphql import execution
from careledger.graphql.execution import PlainLeafExecutor
from careledger.graphql.patient.types import TimelineEvent
from careledger.graphql.schema import schema as careledger_schema


@strawberry.enum
class Status(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


@strawberry.type
class Row:
    id: UUID
    count: int
    label: str | None
    at: datetime
    status: Status
    data: JSON
    must: str  # non-null: a None here is an error graphql-core must report

    @strawberry.field
    def shout(self, suffix: str = "!") -> str:
        return self.must.upper() + suffix


def _rows() -> list[Row]:
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    return [Row(id=UUID(int=i), count=i, label=None if i % 2 else f"r{i}", at=at,
                status=Status.OPEN if i % 3 else Status.CLOSED,
                data={"i": i, "nested": [1, None]}, must=f"m{i}") for i in range(5)]


BROKEN: dict[str, Any] = {}
#: A value for BROKEN that removes the attribute instead.
MISSING = object()


def _served_rows() -> list[Row]:
    rows = _rows()
    for attribute, value in BROKEN.items():
        if attribute == "row":
            rows[2] = value  # the whole row
        elif value is MISSING:
            delattr(rows[2], attribute)
        else:
            setattr(rows[2], attribute, value)
    return rows


@strawberry.type
class Query:
    @strawberry.field
    def rows(self) -> list[Row]:
        return _served_rows()

    @strawberry.field
    def row(self) -> Row | None:
        return _served_rows()[2]

    @strawberry.field
    def sparse(self) -> list[Row | None]:
        rows: list[Row | None] = list(_served_rows())
        rows[1] = None
        return rows


QUERIES = [
    "{ rows { id count label at status data must } }",
    "{ rows { __typename id a: count b: count label } }",
    "{ rows { ...F } } fragment F on Row { id status data }",
    "{ rows { id shout s2: shout(suffix: \"?\") } }",
    "{ rows { id ... on Row { label must } } row { count must } }",
    "{ row { id count label at status data must } }",
    "{ sparse { id count label } rows { id } }",
]


def _both(query: str) -> tuple[Any, Any]:
    default = strawberry.Schema(query=Query)
    shortcut = strawberry.Schema(query=Query, execution_context_class=PlainLeafExecutor)
    return default.execute_sync(query), shortcut.execute_sync(query)


def _answer(result: Any) -> tuple[Any, list[dict[str, Any]]]:
    return result.data, [error.formatted for error in result.errors or []]


@pytest.fixture()
def shortcuts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many fields the shortcut answered."""
    taken = [0]
    plain_value = execution._plain_value

    def counted(*args: Any) -> Any:
        value = plain_value(*args)
        if value is not execution.ASK_GRAPHQL:
            taken[0] += 1
        return value

    monkeypatch.setattr(execution, "_plain_value", counted)
    yield taken
    BROKEN.clear()


@pytest.mark.parametrize("query", QUERIES)
def test_plain_leaves_answer_what_graphql_core_answers(query: str, shortcuts: list[int]
                                                        ) -> None:
    default, shortcut = _both(query)
    assert default.errors is None
    assert _answer(shortcut) == _answer(default)
    assert shortcuts[0] > 0


@pytest.mark.parametrize(("attribute", "value"), [
    ("must", None),            # null in a non-null field: an error, and the row is nulled
    ("count", "not a number"),  # a value the scalar cannot serialize
    ("count", 2**40),          # an Int out of range
    ("status", "ajar"),        # not a member of the enum
    ("at", "yesterday"),       # not a datetime
    ("count", ValueError("the resolver's error")),  # an error returned as the value
    ("label", MISSING),        # a row without the attribute at all
    ("row", None),             # a null where the list's items may not be null
    ("row", "not a row"),      # something else than a row in the list
])
def test_bad_values_fail_exactly_as_in_graphql_core(attribute: str, value: Any,
                                                    shortcuts: list[int]) -> None:
    BROKEN[attribute] = value
    for query in QUERIES:
        default, shortcut = _both(query)
        assert _answer(shortcut) == _answer(default), query
    default, _ = _both(f"{{ rows {{ {'id' if attribute == 'row' else attribute} }} }}")
    assert default.errors, "the broken value must be an error, or this test tests nothing"


class Audited(SchemaExtension):
    """A field middleware: it must see every field, so no shortcut may be taken."""

    seen: list[str] = []

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        Audited.seen.append(info.field_name)
        return _next(root, info, *args, **kwargs)


def test_a_field_middleware_sees_every_field(shortcuts: list[int]) -> None:
    schema = strawberry.Schema(query=Query, extensions=[Audited],
                               execution_context_class=PlainLeafExecutor)
    Audited.seen.clear()
    result = schema.execute_sync("{ rows { id count } }")
    assert result.errors is None
    assert Audited.seen.count("count") == 5
    assert shortcuts[0] == 0


def test_careledger_schema_reads_timeline_events_by_the_shortcut(shortcuts: list[int]
                                                                  ) -> None:
    """The real schema is built with the executor, and its timeline events qualify."""
    assert careledger_schema.execution_context_class is PlainLeafExecutor
    graphql_type = careledger_schema._schema.type_map["TimelineEvent"]
    plain = {name for name, field in graphql_type.fields.items()
             if execution._plain_leaf(field, []) is not None}
    assert plain == {name for name in graphql_type.fields if name not in ("amendments", "by")}
    assert TimelineEvent.__name__ == graphql_type.name


def test_a_list_of_plain_rows_is_built_in_one_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[int] = []
    plain_rows = PlainLeafExecutor._plain_rows

    def counted(self: PlainLeafExecutor, *args: Any) -> Any:
        rows = plain_rows(self, *args)
        if rows is not None:
            built.append(len(rows))
        return rows

    monkeypatch.setattr(PlainLeafExecutor, "_plain_rows", counted)
    default, shortcut = _both("{ rows { id count label } sparse { id } }")
    assert _answer(shortcut) == _answer(default)
    assert built == [5, 5]
