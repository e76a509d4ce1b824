"""GraphQL execution with a shortcut for plain values.

Most fields of an answer are scalars, enums or objects read from an attribute (the
types build them once from their document: `Goal.of`). graphql-core gives each one
the whole field machinery all the same: a resolve info, the argument values, the
resolver through Strawberry's wrapper, then value completion. Here such a field is
read and serialized (or its object's fields executed) directly, at about half the
cost; anything else (a field with a resolver, a list, a null in a non-null field, a
value that does not serialize or is not of its type, any resolve middleware such as
tracing) goes the ordinary way, so answers and errors are what graphql-core makes.
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
    """How to read a field without a resolver, of a scalar, enum or object type."""

    read: Callable[[Any, str], Any]  # Strawberry's default resolver: getattr
    attribute: str
    non_null: bool
    serialize: Callable[[Any], Any] | None  # a scalar's or enum's
    object_type: GraphQLObjectType | None  # or the object's, whose fields come next


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
    read, attribute = definition.default_resolver, definition.python_name
    if is_leaf_type(named):
        return Plain(read, attribute, non_null, named.coerce_output_value, None)
    if isinstance(named, GraphQLObjectType):
        return Plain(read, attribute, non_null, None, named)
    return None  # lists, interfaces and unions go the ordinary way


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
                value: Any = Undefined
                try:
                    value = plain.read(source, plain.attribute)
                    if value is None:
                        if not plain.non_null:
                            return None
                    elif plain.serialize is not None:
                        serialized = plain.serialize(value)
                        if serialized is not None and serialized is not Undefined:
                            return serialized
                    elif plain.object_type is not None and not _is_a(plain.object_type, value):
                        value = Undefined
                except Exception:  # noqa: BLE001 - the ordinary way reports it
                    value = Undefined
                if plain.object_type is not None and value is not None and value is not Undefined:
                    return self._complete_object(
                        field, plain.object_type, field_details_list, path, value, position_context
                    )
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def _complete_object(  # noqa: PLR0917 - execute_field's
        self,
        field: GraphQLField,
        object_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        path: Path,
        value: Any,
        position_context: Any,
    ) -> AwaitableOrValue[Any]:
        """The object's fields, with errors handled as graphql-core's execute_field does."""
        try:
            completed = self.collect_and_execute_subfields(
                object_type, field_details_list, path, value, position_context
            )
        except Exception as raw_error:  # noqa: BLE001 - a field error, located
            self.handle_field_error(raw_error, field.type, field_details_list, path)
            return None
        if not self.is_awaitable(completed):
            return completed

        async def await_completed() -> Any:
            try:
                return await completed
            except Exception as raw_error:  # noqa: BLE001 - a field error, located
                self.handle_field_error(raw_error, field.type, field_details_list, path)
                return None

        return await_completed()


def _is_a(object_type: GraphQLObjectType, value: Any) -> bool:
    """The type's own check of a value (Strawberry's reads only the value, not the info)."""
    if object_type.is_type_of is None:
        return True
    return object_type.is_type_of(value, None) is True  # type: ignore[arg-type]
