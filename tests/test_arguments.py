"""Every field's arguments are converted as Strawberry converts them
(graphql_api.arguments), for any values graphql-core could hand over."""

from __future__ import annotations

import enum
from typing import Any, cast

import pytest
import strawberry
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
)
from graphql.pyutils import Undefined
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strawberry.relay.types import GlobalID
from strawberry.types.field import StrawberryField

from graphql_api.arguments import _STRAWBERRYS, _compiled, get_arguments
from graphql_api.schema import schema

CONFIG = schema.config
REGISTRY = schema.schema_converter.scalar_registry
SCALARS = st.one_of(st.text(max_size=4), st.integers(), st.booleans())  # passed as they are


def _non_null(type_: GraphQLInputType) -> st.SearchStrategy[Any]:
    if isinstance(type_, GraphQLList):
        return st.lists(_value(type_.of_type), max_size=2)
    if isinstance(type_, GraphQLInputObjectType):
        fields = type_.fields
        required = {
            name: _value(f.type)
            for name, f in fields.items()
            if isinstance(f.type, GraphQLNonNull) and f.default_value is Undefined
        }
        optional = {name: _value(f.type) for name, f in fields.items() if name not in required}
        return st.fixed_dictionaries(required, optional=optional)
    if isinstance(type_, GraphQLEnumType):
        return st.sampled_from([v.value for v in type_.values.values()])
    return SCALARS


def _value(type_: GraphQLInputType) -> st.SearchStrategy[Any]:
    """A value as graphql-core hands it to a resolver (coerced)."""
    if isinstance(type_, GraphQLNonNull):
        return st.deferred(lambda: _non_null(type_.of_type))
    return st.one_of(st.none(), st.deferred(lambda: _non_null(type_)))


def _fields(of: strawberry.Schema = schema) -> list[tuple[str, GraphQLField, StrawberryField]]:
    found = []
    for type_ in of._schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for name, field in type_.fields.items():
            definition = field.extensions.get("strawberry-definition")
            if isinstance(definition, StrawberryField) and (
                field.args or definition.base_resolver is not None
            ):
                found.append((f"{type_.name}.{name}", field, definition))
    return found


@strawberry.enum
class Shade(enum.Enum):
    DARK = "DARK"
    LIGHT = "LIGHT"


@strawberry.input
class Note:
    text: str
    shade: Shade
    # nullable without a default: Strawberry gives it None when it is not sent
    remark: str | None
    tags: list[str] | None = None


@strawberry.type
class Notes:
    @strawberry.field
    def count(self, notes: list[Note], first: Note | None = None, labels: list[str] = ["a"]) -> int:  # noqa: B006 - a default list, shared by graphql-core
        return len(notes)


FIELDS = _fields() + [(f"test.{n}", f, d) for n, f, d in _fields(strawberry.Schema(Notes))]


def test_every_field_of_the_schema_is_compiled() -> None:
    # a field left to Strawberry would convert as before, only slower: none is
    assert len(FIELDS) > 40
    assert "test.Notes.count" in [name for name, _, _ in FIELDS]
    assert [name for name, _, d in FIELDS if _compiled(d, CONFIG, REGISTRY) is None] == []


@pytest.mark.parametrize(("name", "field", "definition"), FIELDS, ids=[n for n, _, _ in FIELDS])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_arguments_are_converted_as_strawberry_converts_them(
    name: str, field: GraphQLField, definition: StrawberryField, data: st.DataObject
) -> None:
    # given: the arguments graphql-core could coerce for the field (required ones
    # always, the others given or not)
    required = {
        n: _value(a.type)
        for n, a in field.args.items()
        if isinstance(a.type, GraphQLNonNull) and a.default_value is Undefined
    }
    optional = {n: _value(a.type) for n, a in field.args.items() if n not in required}
    kwargs = data.draw(st.fixed_dictionaries(required, optional=optional), label=name)
    source, info = object(), cast("Any", object())  # passed through as they are
    # when
    call = {"field": definition, "source": source, "info": info, "config": CONFIG}
    ours = get_arguments(**call, kwargs=dict(kwargs), scalar_registry=REGISTRY)
    theirs = _STRAWBERRYS(**call, kwargs=dict(kwargs), scalar_registry=REGISTRY)
    # then: the same values (input types' instances compare field by field), and no
    # list is the one graphql-core gave (it may be the default every request shares)
    assert ours == theirs
    for key, value in kwargs.items():
        if isinstance(value, list):
            python_name = next(
                a.python_name
                for a in definition.arguments
                if CONFIG.name_converter.from_argument(a) == key
            )
            assert ours[1][python_name] is not value


@strawberry.input
class Box:
    label: str
    inside: Box | None = None


@strawberry.type
class Odd:
    @strawberry.field
    def nested(self, box: Box) -> str:
        return box.label

    @strawberry.field
    def by_global_id(self, ids: list[GlobalID]) -> int:
        return len(ids)


def test_what_it_does_not_compile_is_left_to_strawberry() -> None:
    # given: an input type that contains itself, and global ids (which Strawberry decodes)
    odd = strawberry.Schema(Odd)
    odd_type = odd._schema.type_map["Odd"]
    assert isinstance(odd_type, GraphQLObjectType)
    fields = odd_type.fields
    registry = odd.schema_converter.scalar_registry
    for name in ("nested", "byGlobalId"):
        definition = fields[name].extensions["strawberry-definition"]
        # then: Strawberry's own conversion, with the same answers
        assert _compiled(definition, odd.config, registry) is None
    answer = odd.execute_sync(
        '{ nested(box: {label: "a", inside: {label: "b"}}) byGlobalId(ids: ["T2RkOjE="]) }'
    )
    assert answer.errors is None
    assert answer.data == {"nested": "a", "byGlobalId": 1}
