"""A field's arguments made Python values as Strawberry makes them, worked out once per
field.

Before a resolver runs, Strawberry's `get_arguments` converts the arguments graphql-core
coerced (input objects as dicts, lists, enums, scalars) into the resolver's (input
types' instances), and adds `info`, `root` or `self` as the resolver asks. It works out
the same things on every call: each argument's GraphQL name (camel-casing the Python
one), its type (resolving the annotation), whether that is optional, a list, a leaf,
an enum or an input type, through a dozen `isinstance` checks a value, many against
`typing` protocols. An `events(range: ...)` took ~30 µs, a `checkInHabit` ~13, some 3%
of the load mix's CPU (bench/RESULTS.md, 2026-12-06).

Here the conversion of each field's arguments is compiled once into plain functions: a
leaf (a scalar or an enum) passes as it is, a list is copied (its items converted when
they are not leaves), an input type is built from its fields (each absent nullable
field without a default given None, as Strawberry does). A field with anything else
(`Maybe`, a `GlobalID`, an input type that builds itself with `from_input`, one that
contains itself) keeps Strawberry's own `get_arguments`. tests/test_arguments.py
compares the two on every field of the schema.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING
from typing import Any, NamedTuple

from strawberry.relay.types import GlobalID
from strawberry.schema import schema_converter
from strawberry.schema.config import StrawberryConfig
from strawberry.types.arguments import _is_leaf_type
from strawberry.types.base import (
    StrawberryList,
    StrawberryMaybe,
    StrawberryOptional,
    has_object_definition,
)
from strawberry.types.enum import has_enum_definition
from strawberry.types.field import StrawberryField
from strawberry.types.lazy_type import LazyType
from strawberry.types.unset import UNSET

Convert = Callable[[Any], Any]

_STRAWBERRYS = schema_converter.get_arguments


class _Compiled(NamedTuple):
    arguments: tuple[tuple[str, str, Convert], ...]  # GraphQL name, Python name, conversion
    with_self: bool
    parent: str | None  # the resolver's parameter names for the source and info
    root: str | None
    info: str | None


# Each field's conversion (None: Strawberry's), by the field's id; the field is kept
# alive with it, so an id is never reused for another.
_COMPILED: dict[int, tuple[StrawberryField, _Compiled | None]] = {}


def _same(value: Any) -> Any:
    return value


def _list_of(convert: Convert) -> Convert:
    def converted(value: Any) -> Any:
        if value is None or value is UNSET:
            return value
        return [convert(item) for item in value]

    return converted


def _copied(value: Any) -> Any:
    # graphql-core gives one default list to every request that omits the value:
    # the resolver gets a copy of its own, as Strawberry gives.
    return value if value is None or value is UNSET else list(value)


def _input_of(
    cls: type, defaults: dict[str, None], fields: tuple[tuple[str, str, Convert], ...]
) -> Convert:
    def converted(value: Any) -> Any:
        if value is None or value is UNSET:
            return value
        given = dict(defaults)
        for graphql_name, python_name, convert in fields:
            if graphql_name in value:
                given[python_name] = convert(value[graphql_name])
        return cls(**given)

    return converted


def _conversion(  # noqa: PLR0911 - one return per kind of type
    type_: Any,
    registry: Mapping[object, Any],
    config: StrawberryConfig,
    building: frozenset[type],
) -> Convert | None:
    """What Strawberry's `convert_argument` does with a value of `type_`, or None where
    this leaves it to Strawberry."""
    if isinstance(type_, StrawberryMaybe) or type_ is GlobalID:
        return None
    if isinstance(type_, StrawberryOptional):  # None and UNSET pass, as with any type
        return _conversion(type_.of_type, registry, config, building)
    if isinstance(type_, StrawberryList):
        item = type_.of_type
        if isinstance(item, StrawberryOptional):
            item = item.of_type
        if item is not GlobalID and _is_leaf_type(item, registry):
            return _copied
        convert = _conversion(type_.of_type, registry, config, building)
        return None if convert is None else _list_of(convert)
    if _is_leaf_type(type_, registry):
        return _same
    if isinstance(type_, LazyType):
        return _conversion(type_.resolve_type(), registry, config, building)
    if has_enum_definition(type_):
        return _same  # its definition is a leaf: the member graphql-core gave
    if not has_object_definition(type_) or type_ in building:
        return None
    return _input_conversion(type_, registry, config, building | {type_})


def _input_conversion(
    cls: type, registry: Mapping[object, Any], config: StrawberryConfig, building: frozenset[type]
) -> Convert | None:
    definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    if definition.from_input is not None:
        return None
    fields = []
    for field in definition.fields:
        type_ = field.resolve_type(type_definition=definition)
        convert = _conversion(type_, registry, config, building)
        if convert is None:
            return None
        fields.append((config.name_converter.from_field(field), field.python_name, convert))
    defaults: dict[str, None] = {}
    if definition.is_input:
        defaults = {
            f.python_name: None
            for f in definition.fields
            if f.default_value is MISSING and f.default_factory is MISSING
        }
    return _input_of(cls, defaults, tuple(fields))


def _compiled(
    field: StrawberryField, config: StrawberryConfig, registry: Mapping[object, Any]
) -> _Compiled | None:
    arguments = []
    for argument in field.arguments:
        convert = _conversion(argument.type, registry, config, frozenset())
        if convert is None or not argument.python_name:
            return None
        graphql_name = config.name_converter.from_argument(argument)
        arguments.append((graphql_name, argument.python_name, convert))
    resolver = field.base_resolver
    if resolver is None:
        return _Compiled(tuple(arguments), with_self=False, parent=None, root=None, info=None)
    parent, root, info = resolver.parent_parameter, resolver.root_parameter, resolver.info_parameter
    return _Compiled(
        tuple(arguments),
        with_self=resolver.self_parameter is not None,
        parent=parent.name if parent else None,
        root=root.name if root else None,
        info=info.name if info else None,
    )


def get_arguments(
    *,
    field: StrawberryField,
    source: Any,
    info: Any,
    kwargs: Any,
    config: StrawberryConfig,
    scalar_registry: Mapping[object, Any],
) -> tuple[list[Any], dict[str, Any]]:
    """Strawberry's `get_arguments`, from the field's compiled conversion."""
    known = _COMPILED.get(id(field))
    if known is None or known[0] is not field:
        known = _COMPILED[id(field)] = field, _compiled(field, config, scalar_registry)
    compiled = known[1]
    if compiled is None:
        return _STRAWBERRYS(
            field=field,
            source=source,
            info=info,
            kwargs=kwargs,
            config=config,
            scalar_registry=scalar_registry,
        )
    converted = {
        python_name: convert(kwargs[graphql_name])
        for graphql_name, python_name, convert in compiled.arguments
        if graphql_name in kwargs
    }
    for extension in field.extensions:
        converted = extension.map_arguments(converted)
    args = [source] if compiled.with_self else []
    if compiled.parent is not None:
        converted[compiled.parent] = source
    if compiled.root is not None:
        converted[compiled.root] = source
    if compiled.info is not None:
        converted[compiled.info] = info
    return args, converted


def install() -> None:
    """Strawberry's resolvers convert their arguments here (its schema converter calls
    `get_arguments` by its module's name)."""
    schema_converter.get_arguments = get_arguments
