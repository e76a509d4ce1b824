"""HTTP `Cache-Control` from per-field hints, in the spirit of Apollo's `@cacheControl`.

A query without errors is `private, max-age=<the smallest hint among its
fields>`; root fields without a hint, mutations, introspection and anything
with an error are `no-store`. Nested fields inherit their parent's hint unless
they carry a smaller one (streaks and progress move faster than goal lists).
"""

from __future__ import annotations

from collections.abc import Iterator

import strawberry
from cachetools import LRUCache
from graphql import (
    DocumentNode,
    FieldNode,
    OperationType,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_operation_ast,
    visit,
)
from starlette.responses import Response
from strawberry.extensions import SchemaExtension
from strawberry.schema_directive import Location


@strawberry.schema_directive(locations=[Location.FIELD_DEFINITION], name="cacheControl")
class CacheControl:
    max_age: int


def cache(max_age: int) -> list[object]:
    """`directives=cache(60)` on a field."""
    return [CacheControl(max_age=max_age)]


class _MaxAges(Visitor):
    def __init__(self, type_info: TypeInfo, hints: dict[tuple[str, str], int]) -> None:
        super().__init__()
        self.type_info = type_info
        self.hints = hints
        self.ages: list[int] = []

    def enter_field(self, node: FieldNode, *_: object) -> None:
        parent = self.type_info.get_parent_type()
        name = node.name.value
        if parent is None or name == "__typename":
            return
        hint = self.hints.get((parent.name, name))
        if name.startswith("__") or (hint is None and parent.name == "Query"):
            self.ages.append(0)
        elif hint is not None:
            self.ages.append(hint)


def field_hints(schema: strawberry.Schema) -> dict[tuple[str, str], int]:
    """(type, field) -> max-age, from the `@cacheControl` directives of the schema."""
    hints: dict[tuple[str, str], int] = {}
    for type_name, graphql_type in schema._schema.type_map.items():
        definition = getattr(graphql_type, "extensions", {}).get("strawberry-definition")
        for field in getattr(definition, "fields", []):
            for directive in field.directives:
                if isinstance(directive, CacheControl):
                    hints[type_name, schema.config.name_converter.get_graphql_name(field)] = (
                        directive.max_age
                    )
    return hints


class CacheControlHeader(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        ctx = self.execution_context.context
        response = getattr(ctx, "response", None)
        if not isinstance(response, Response):
            return
        response.headers["Cache-Control"] = self._header()

    def _header(self) -> str:
        ec = self.execution_context
        result = ec.result
        document = ec.graphql_document
        if result is None or result.errors or document is None:
            return "no-store"
        operation = get_operation_ast(document, ec.operation_name)
        if operation is None or operation.operation is not OperationType.QUERY:
            return "no-store"
        # The same document always gets the same age: worked out once per query text.
        key = (id(ec.schema), ec.query or "", ec.operation_name)
        max_age = _AGES.get(key)
        if max_age is None:
            max_age = _AGES[key] = _max_age(ec.schema, document)
        return f"private, max-age={max_age}" if max_age > 0 else "no-store"


def _max_age(schema: strawberry.Schema, document: DocumentNode) -> int:
    type_info = TypeInfo(schema._schema)
    ages = _MaxAges(type_info, _hints(schema))
    # The whole document, so fragments count too (other operations only lower it).
    visit(document, TypeInfoVisitor(type_info, ages))
    return min(ages.ages, default=0)


_AGES: LRUCache[tuple[int, str, str | None], int] = LRUCache(maxsize=1000)


_HINTS: dict[int, dict[tuple[str, str], int]] = {}


def _hints(schema: strawberry.Schema) -> dict[tuple[str, str], int]:
    key = id(schema)
    if key not in _HINTS:
        _HINTS[key] = field_hints(schema)
    return _HINTS[key]
