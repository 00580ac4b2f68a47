"""A shorter path through graphql-core for the plain values of a page of rows.

A timeline page is 50 events of 11 scalars: 550 fields whose value is an attribute
of a row. graphql-core gives each the full treatment (a path, resolve info, arguments,
awaitable checks, completion), which made up most of a page's cost. A field that is a
scalar or an enum, takes no arguments and is read by Strawberry's default resolver, while
no field middleware is installed, needs only its attribute and its scalar's `serialize`,
so that is all it gets here: a list of objects made only of such fields is built in
one loop, so is such an object on its own, and such a field of any other object skips
the rest of the machinery. Anything unusual (a null, an error, an awaitable) goes back
to graphql-core, which answers exactly as it would have: same value, same error, same
path. The fields read here are attributes, so reading one twice changes nothing.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, NamedTuple

from graphql import (
    GraphQLField,
    GraphQLList,
    GraphQLObjectType,
    Undefined,
    get_nullable_type,
    is_leaf_type,
    is_non_null_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter


class PlainLeaf(NamedTuple):
    read: Callable[[Any], Any]
    serialize: Callable[[Any], Any]
    nullable: bool


#: What `_plain_value` answers when graphql-core should give the field its value.
ASK_GRAPHQL = object()


#: An object whose every field is a plain leaf: (response name, leaf) in query order.
Plan = tuple[tuple[str, PlainLeaf], ...]


class PlainLeafExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, with the plain leaves of an object read directly."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        # A field middleware (an extension's `resolve`) must see every field.
        self._shortcut = manager is None or not manager.middlewares
        # Keyed by the identity of a field group or a grouped field set: graphql-core
        # memoizes them for the items of a list, so the 50 rows of a page share one. Each
        # is kept alive beside its answer, so that its id is not reused during the run.
        self._leaves: dict[int, tuple[FieldDetailsList, PlainLeaf | None]] = {}
        self._plans: dict[int, tuple[GroupedFieldSet, Plan | None]] = {}

    def execute_fields(self, parent_type: GraphQLObjectType, source_value: Any,
                       path: Path | None, grouped_field_set: GroupedFieldSet,
                       position_context: Any) -> Any:
        plan = self._plan(parent_type, grouped_field_set)
        if plan is not None:
            results: dict[str, Any] = {}
            for name, leaf in plan:
                value = _plain_value(leaf, source_value, self.is_awaitable)
                if value is ASK_GRAPHQL:
                    break  # graphql-core does the whole object, and reports what is wrong
                results[name] = value
            else:
                return results
        return super().execute_fields(parent_type, source_value, path, grouped_field_set,
                                      position_context)

    def complete_list_value(self, return_type: GraphQLList[Any],
                            field_details_list: FieldDetailsList, info: Any, path: Path,
                            result: Any, position_context: Any) -> Any:
        rows = self._plain_rows(return_type, field_details_list, path, result)
        if rows is not None:
            return rows
        return super().complete_list_value(return_type, field_details_list, info, path,
                                           result, position_context)

    def _plain_rows(self, return_type: GraphQLList[Any], field_details_list: FieldDetailsList,
                    path: Path, result: Any) -> list[dict[str, Any]] | None:
        """A list of objects made only of plain leaves, built in one loop; None when
        graphql-core should complete it (a null item, an odd value, a stream)."""
        item_type = return_type.of_type
        non_null = is_non_null_type(item_type)
        object_type = get_nullable_type(item_type)
        if not (self._shortcut and isinstance(result, list)
                and isinstance(object_type, GraphQLObjectType)
                and object_type.is_type_of is None
                and self.get_stream_usage(field_details_list, path) is None):
            return None
        grouped_field_set, defer_usages, *_ = self.collect_subfields(object_type,
                                                                     field_details_list)
        plan = None if defer_usages else self._plan(object_type, grouped_field_set)
        if plan is None:
            return None
        is_awaitable = self.is_awaitable
        rows: list[dict[str, Any]] = []
        for item in result:
            if item is None:
                if non_null:
                    return None  # graphql-core reports the null, located
                rows.append(None)  # type: ignore[arg-type]
                continue
            row: dict[str, Any] = {}
            for name, leaf in plan:
                value = _plain_value(leaf, item, is_awaitable)
                if value is ASK_GRAPHQL:
                    return None
                row[name] = value
            rows.append(row)
        return rows

    def execute_field(self, parent_type: GraphQLObjectType, source: Any,
                      field_details_list: FieldDetailsList, path: Path,
                      position_context: Any) -> Any:
        leaf = self._plain_leaf(parent_type, field_details_list)
        if leaf is not None:
            value = _plain_value(leaf, source, self.is_awaitable)
            if value is not ASK_GRAPHQL:
                return value
        return super().execute_field(parent_type, source, field_details_list, path,
                                     position_context)

    def _plan(self, parent_type: GraphQLObjectType,
              grouped_field_set: GroupedFieldSet) -> Plan | None:
        if not self._shortcut:
            return None
        known = self._plans.get(id(grouped_field_set))
        if known is not None:
            return known[1]
        leaves = [(name, self._plain_leaf(parent_type, group))
                  for name, group in grouped_field_set.items()]
        plan = (tuple((name, leaf) for name, leaf in leaves if leaf is not None)
                if all(leaf is not None for _, leaf in leaves) else None)
        self._plans[id(grouped_field_set)] = (grouped_field_set, plan)
        return plan

    def _plain_leaf(self, parent_type: GraphQLObjectType,
                    field_details_list: FieldDetailsList) -> PlainLeaf | None:
        if not self._shortcut:
            return None
        known = self._leaves.get(id(field_details_list))
        if known is not None:
            return known[1]
        field = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
        leaf = _plain_leaf(field, field_details_list)
        self._leaves[id(field_details_list)] = (field_details_list, leaf)
        return leaf


def _plain_value(leaf: PlainLeaf, source: Any, is_awaitable: Callable[[Any], bool]) -> Any:
    """The field's answer, or ASK_GRAPHQL: a null where none may be, an error, or odd."""
    try:
        value = leaf.read(source)
        if value is None:
            return None if leaf.nullable else ASK_GRAPHQL
        if isinstance(value, Exception) or is_awaitable(value):
            return ASK_GRAPHQL
        serialized = leaf.serialize(value)
    except Exception:  # a missing attribute, a value the scalar refuses: graphql-core
        return ASK_GRAPHQL  # reports it, located
    return ASK_GRAPHQL if serialized is None or serialized is Undefined else serialized


def _plain_leaf(field: GraphQLField | None,
                field_details_list: FieldDetailsList) -> PlainLeaf | None:
    """How to read and serialize the field, when it is a plain leaf; None otherwise."""
    if field is None or field.args or any(d.node.arguments for d in field_details_list):
        return None
    # Strawberry marks the resolver of a field that only reads an attribute.
    resolve = field.resolve
    if resolve is None or not getattr(resolve, "_is_default", False):
        return None
    leaf_type = get_nullable_type(field.type)
    if not is_leaf_type(leaf_type):
        return None
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    python_name = getattr(definition, "python_name", None)
    if python_name and getattr(definition, "default_resolver", None) is getattr:
        read: Callable[[Any], Any] = operator.attrgetter(python_name)
    else:
        def read(source: Any) -> Any:
            return resolve(source, None)
    return PlainLeaf(read=read, serialize=leaf_type.serialize,
                     nullable=not is_non_null_type(field.type))
