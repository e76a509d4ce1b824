"""GraphQL execution with a shortcut for plain values.

Most fields of an answer are scalars or enums read from an attribute (the types
build them once from their document: `Goal.of`). graphql-core gives each one the
whole field machinery all the same: a resolve info, the argument values, the
resolver through Strawberry's wrapper, then value completion. Here such a field
is read and serialized directly, at about half the cost; anything else (a field
with a resolver, a null in a non-null field, a value that does not serialize, any
resolve middleware such as tracing) goes the ordinary way, so answers and errors
are exactly what graphql-core makes of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from graphql import GraphQLField, GraphQLNonNull, GraphQLObjectType, is_leaf_type
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import AwaitableOrValue, Path, Undefined, UndefinedType
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField


class Plain(NamedTuple):
    """How to read and serialize a field without a resolver of a scalar or enum type."""

    read: Callable[[Any, str], Any]  # Strawberry's default resolver: getattr
    attribute: str
    serialize: Callable[[Any], Any]
    non_null: bool


# Each field's Plain (or None), by the field's id; the field is kept alive with it, so
# an id is never reused for another (there is one schema per process, a few in tests).
_PLAINS: dict[int, tuple[GraphQLField, Plain | None]] = {}


def _plain(field: GraphQLField) -> Plain | None:
    known = _PLAINS.get(id(field))
    if known is not None and known[0] is field:
        return known[1]
    plan = _plan(field)
    _PLAINS[id(field)] = field, plan
    return plan


def _plan(field: GraphQLField) -> Plain | None:
    definition = field.extensions.get("strawberry-definition")
    if not isinstance(definition, StrawberryField) or not definition.is_basic_field:
        return None
    non_null = isinstance(field.type, GraphQLNonNull)
    named = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    if not is_leaf_type(named):
        return None
    return Plain(
        definition.default_resolver, definition.python_name, named.coerce_output_value, non_null
    )


class Execution(StrawberryGraphQLCoreExecutionContext):
    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> AwaitableOrValue[Any] | UndefinedType:
        field = parent_type.fields.get(field_details_list[0].node.name.value)
        if field is not None and not (
            self.middleware_manager and self.middleware_manager.middlewares
        ):
            plain = _plain(field)
            if plain is not None:
                try:
                    value = plain.read(source, plain.attribute)
                    if value is None:
                        if not plain.non_null:
                            return None
                    else:
                        serialized = plain.serialize(value)
                        if serialized is not None and serialized is not Undefined:
                            return serialized
                except Exception:  # noqa: BLE001, S110 - the ordinary way reports it
                    pass
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )
