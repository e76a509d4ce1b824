"""GraphQL execution with a shortcut for plain values.

Most fields of an answer are scalars, enums or objects read from an attribute (the
types build them once from their document: `Goal.of`). graphql-core gives each one
the whole field machinery all the same: a resolve info, the argument values, the
resolver through Strawberry's wrapper, then value completion. Here such a field is
read and serialized (or its object's fields executed) directly, at about half the
cost; anything else (a field with a resolver, a list, a null in a non-null field, a
value that does not serialize or is not of its type, any resolve middleware such as
tracing) goes the ordinary way, so answers and errors are what graphql-core makes.

An object whose selected fields are all plain (an events page: edges, nodes, their
calendars) goes further: its selection is compiled into a plan (once per process for a
document without directives, whose parsed form the parser cache shares; once per
request otherwise, since @skip and @include depend on the variables), and
each object is completed by running the plan, one loop over its fields with no path,
no awaitables and no per-field calls into graphql-core (a plan shared by the process's
requests is written out as a function of its own: `_compiled`). The plan only answers when
every value is what graphql-core would pass through untouched; on anything else (a
null in a non-null field, a value of the wrong type, a failing serializer) the object
is completed again the ordinary way, which makes the same answer and the same errors
(plain fields are attribute reads, so reading twice changes nothing).
"""

from __future__ import annotations

import asyncio
import keyword
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple, TypeAlias

from graphql import (
    FieldNode,
    GraphQLBoolean,
    GraphQLField,
    GraphQLID,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLResolveInfoHelpers,
    GraphQLScalarType,
    GraphQLString,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import AwaitableOrValue, Path, Undefined, UndefinedType, gather_with_cancel
from graphql.pyutils.is_awaitable import is_awaitable as default_is_awaitable
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import CustomGraphQLEnumType
from strawberry.types.cast import TYPE_CAST_ATTRIBUTE
from strawberry.types.field import StrawberryField

from graphql_api.memo import Memo
from graphql_api.readers import reader_of


class Plain(NamedTuple):
    """How to read a field without a resolver, of a scalar, enum or object type (or, in
    a plan, a list of one)."""

    read: Callable[[Any, str], Any]  # Strawberry's default resolver: getattr
    attribute: str
    non_null: bool
    serialize: Callable[[Any], Any] | None  # a scalar's or enum's
    object_type: GraphQLObjectType | None  # or the object's, whose fields come next
    in_list: bool = False  # a list of such values (lists take the shortcut only in plans)
    item_non_null: bool = False
    # A String's or ID's str, a Boolean's bool: values their serializer hands back as
    # they are, which a plan then passes through without calling it; a Strawberry
    # enum's members, which it answers with their names (`names`, by the member's id)
    # where Strawberry's serializer looks for the name among the enum's values.
    exact: type | None = None
    names: dict[int, str] | None = None


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
    if not isinstance(definition, StrawberryField):
        return None
    read, attribute = definition.default_resolver, definition.python_name
    if not definition.is_basic_field:
        reader = _reader(definition)
        if reader is None:
            return None
        read = lambda value, _: reader(value)  # noqa: E731 - Plain's shape of a read
    non_null = isinstance(field.type, GraphQLNonNull)
    named = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    in_list = item_non_null = False
    if isinstance(named, GraphQLList):
        in_list, named = True, named.of_type
        item_non_null = isinstance(named, GraphQLNonNull)
        named = named.of_type if isinstance(named, GraphQLNonNull) else named
    if is_leaf_type(named):
        exact = None if in_list else next((t for g, t in _EXACT if g is named), None)
        names = None
        if isinstance(named, CustomGraphQLEnumType) and not in_list:
            exact, names = named.wrapped_cls, _names(named)
        return Plain(
            read,
            attribute,
            non_null,
            named.coerce_output_value,
            None,
            in_list,
            item_non_null,
            exact,
            names,
        )
    if isinstance(named, GraphQLObjectType):
        return Plain(read, attribute, non_null, None, named, in_list, item_non_null)
    return None  # lists of lists, interfaces and unions go the ordinary way


def _names(enum: CustomGraphQLEnumType) -> dict[int, str]:
    """Each member's name in the schema, as Strawberry's serializer finds it: the first
    of the enum's values with the member's value."""
    names: dict[int, str] = {}
    member: Any
    for member in enum.wrapped_cls:
        for name, value in enum.values.items():
            if member.value == value.value:
                names[id(member)] = name  # members live as long as their enum
                break
    return names


def _reader(definition: StrawberryField) -> Callable[[Any], Any] | None:
    """The resolver's reader (graphql_api.readers), for a field without arguments,
    permissions or field extensions, which the reader would skip."""
    resolver = definition.base_resolver
    if resolver is None or definition.arguments or definition.extensions:
        return None
    return reader_of(resolver.wrapped_func)


# graphql-core's own scalars whose serializer returns a value of this exact type as it
# is (serialize_string, serialize_id, serialize_boolean).
_EXACT: tuple[tuple[GraphQLScalarType, type], ...] = (
    (GraphQLString, str),
    (GraphQLID, str),
    (GraphQLBoolean, bool),
)

# Directives that collecting the fields has already applied.
_APPLIED = frozenset({"skip", "include"})


class _Fallback(Exception):
    """A value the plan does not pass through: the ordinary way completes the object."""


# A compiled selection: the object's type and, for each response key, `None` for
# `__typename` or the field's Plain and, for an object (or list of objects), its plan.
Step: TypeAlias = "tuple[str, Plain | None, Plan | None]"


class Plan:
    """An object type's selection, and how to run it on a value: `_run`, or for a plan
    shared by the requests of a process, a function made for it (`_compiled`)."""

    __slots__ = ("object_type", "run", "steps")

    def __init__(
        self, object_type: GraphQLObjectType, steps: tuple[Step, ...], *, compiled: bool
    ) -> None:
        self.object_type = object_type
        self.steps = steps
        self.run: Callable[[Any], dict[str, Any]] = (
            _compiled(self) if compiled else lambda value: _run(self, value)
        )


def _run(plan: Plan, value: Any) -> dict[str, Any]:
    """The object's answer by the plan, or _Fallback."""
    object_type = plan.object_type
    if not _is_a(object_type, value):
        raise _Fallback
    answer: dict[str, Any] = {}
    for key, plain, sub in plan.steps:
        if plain is None:
            answer[key] = object_type.name
            continue
        answer[key] = _value(plain, sub, plain.read(value, plain.attribute))
    return answer


def _value(plain: Plain, sub: Plan | None, found: Any) -> Any:
    """A field's answer from the value read, or _Fallback."""
    if type(found) is plain.exact:  # as its serializer would hand it back
        if plain.names is None:
            return found
        name = plain.names.get(id(found))
        if name is not None:
            return name
    if found is Undefined:  # a reader that cannot tell: the resolver can
        raise _Fallback
    if found is None:
        if plain.non_null:
            raise _Fallback
        return None
    if plain.in_list:
        if not isinstance(found, list | tuple):
            raise _Fallback
        return [_item(plain, sub, item) for item in found]
    return _item(plain, sub, found)


def _item(plain: Plain, sub: Plan | None, value: Any) -> Any:
    if value is None:
        if plain.in_list and not plain.item_non_null:
            return None
        raise _Fallback
    if sub is not None:
        return sub.run(value)
    if plain.serialize is None:
        raise _Fallback
    serialized = plain.serialize(value)
    if serialized is None or serialized is Undefined:
        raise _Fallback
    return serialized


def _compiled(plan: Plan) -> Callable[[Any], dict[str, Any]]:
    """`_run` for this plan as a function of its own: its steps written out one after
    another, an attribute read as `value.name`, and for the common values (a string, a
    member of an enum, a scalar, an object) the answer made on the spot. Anything else
    a step meets goes through `_value`, as in `_run`, so the answers and the fallbacks
    are the same. Made once per shared plan (a few dozen in a process)."""
    names: dict[str, Any] = {
        "_is_a": _is_a,
        "_Fallback": _Fallback,
        "_value": _value,
        "Undefined": Undefined,
        "T": plan.object_type,
    }
    lines = [
        "def run(value):",
        "    if not _is_a(T, value):",
        "        raise _Fallback",
        "    a = {}",
    ]
    for i, (key, plain, sub) in enumerate(plan.steps):
        k = repr(key)
        if plain is None:
            lines.append(f"    a[{k}] = {plan.object_type.name!r}")
            continue
        names[f"P{i}"], names[f"S{i}"] = plain, sub
        attribute = plain.attribute
        if plain.read is getattr and attribute.isidentifier() and not keyword.iskeyword(attribute):
            lines.append(f"    found = value.{attribute}")
        else:
            names[f"R{i}"] = plain.read
            lines.append(f"    found = R{i}(value, {attribute!r})")
        slow = f"_value(P{i}, S{i}, found)"
        if not plain.non_null:  # a null answers null at once
            slow = f"None if found is None else {slow}"
        if plain.in_list and sub is not None:
            names[f"I{i}"], names[f"U{i}"] = _item, sub.run
            lines += [
                "    if type(found) is list:",
                f"        a[{k}] = [I{i}(P{i}, S{i}, x) if x is None else U{i}(x) for x in found]",
                "    else:",
                f"        a[{k}] = {slow}",
            ]
        elif plain.in_list:
            lines.append(f"    a[{k}] = {slow}")
        elif plain.exact is not None and plain.names is None:
            names[f"E{i}"] = plain.exact
            lines += [f"    a[{k}] = found if type(found) is E{i} else {slow}"]
        elif plain.names is not None:
            names[f"E{i}"], names[f"N{i}"] = plain.exact, plain.names
            lines += [
                f"    name = N{i}.get(id(found)) if type(found) is E{i} else None",
                f"    a[{k}] = {slow} if name is None else name",
            ]
        elif sub is not None:
            names[f"U{i}"] = sub.run
            lines += [
                "    if found is None or found is Undefined:",
                f"        a[{k}] = {slow}",
                "    else:",
                f"        a[{k}] = U{i}(found)",
            ]
        elif plain.serialize is not None:
            names[f"Z{i}"] = plain.serialize
            lines += [
                "    if found is None or found is Undefined:",
                f"        a[{k}] = {slow}",
                "    else:",
                f"        answer = Z{i}(found)",
                "        if answer is None or answer is Undefined:",
                "            raise _Fallback",
                f"        a[{k}] = answer",
            ]
        else:
            lines.append(f"    a[{k}] = {slow}")
    lines.append("    return a")
    exec(compile("\n".join(lines), f"<plan of {plan.object_type.name}>", "exec"), names)  # noqa: S102 - our own plan, written above
    run: Callable[[Any], dict[str, Any]] = names["run"]
    return run


# Plans shared by the requests of a process, by the type and the AST nodes of the
# selection (the parser cache hands every request of a document the same nodes); the
# type and nodes are kept alive with their plan, so their ids are not reused meanwhile.
_SHARED: Memo[tuple[int, ...], tuple[GraphQLObjectType, tuple[FieldNode, ...], Plan | None]] = Memo(
    4096
)
# Whether an operation (by id, kept alive with the answer) has no directive at all.
_UNCONDITIONAL: Memo[int, tuple[Any, bool]] = Memo(1024)


# Background work of executions that have ended (see `_helpers`), kept until it settles.
_ORPHANED: set[asyncio.Future[Any]] = set()


def _gather(values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
    return gather_with_cancel(*values)  # graphql-core's `gather_async_work`, which uses no state


def _helpers(execution: Execution) -> GraphQLResolveInfoHelpers:
    """graphql-core's helpers for the resolvers (`info.async_helpers`), holding the
    execution weakly. graphql-core makes them of the execution's bound methods, which
    the execution holds: a reference cycle, and through the execution's context every
    object a request made (its context, caches, loaders, documents, some 100 containers)
    was garbage only the collector could free: a young collection every ~150 requests
    of the load mix, each freeing ~13,000 objects, 0.14 ms of collector pauses a request
    in all (bench.cpu --counters). Without the cycle a request's objects go when it
    ends (0.03 ms a request left)."""
    ref = weakref.ref(execution)

    def track(values: Sequence[Any]) -> None:
        found = ref()
        if found is not None:
            found.track_async_work(values)
            return
        # The execution has ended (nothing awaits its answer): settled in the
        # background as graphql-core settles them, so that their errors are observed.
        awaitables = [v for v in values if default_is_awaitable(v)]
        if awaitables:
            future = asyncio.gather(*awaitables, return_exceptions=True)
            _ORPHANED.add(future)
            future.add_done_callback(_ORPHANED.discard)

    return GraphQLResolveInfoHelpers(gather=_gather, track=track)


class Execution(StrawberryGraphQLCoreExecutionContext):
    _plans: dict[tuple[int, int], tuple[FieldDetailsList, Plan | None]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.async_helpers = _helpers(self)

    def collect_and_execute_subfields(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        if not (self.middleware_manager and self.middleware_manager.middlewares):
            plan = self._plan_of(return_type, field_details_list)
            if plan is not None:
                try:
                    return plan.run(result)
                except Exception:  # noqa: BLE001, S110 - the ordinary way reports it
                    pass
        return super().collect_and_execute_subfields(
            return_type, field_details_list, path, result, position_context
        )

    def _plan_of(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> Plan | None:
        """The selection's plan, compiled once per request (it depends on the variables
        through @skip and @include); None when a field of it is not plain."""
        try:
            plans = self._plans
        except AttributeError:
            plans = self._plans = {}
        key = (id(object_type), id(field_details_list))
        known = plans.get(key)
        if known is not None:
            return known[1]
        nodes = tuple(d.node for d in field_details_list)
        shared = (id(object_type), *map(id, nodes)) if self._unconditional() else None
        kept = _SHARED.get(shared) if shared is not None else None
        if (
            kept is not None
            and kept[0] is object_type
            and all(a is b for a, b in zip(kept[1], nodes, strict=True))
        ):
            plan = kept[2]
        else:
            plan = self._compile(object_type, field_details_list, compiled=shared is not None)
            if shared is not None:
                _SHARED[shared] = object_type, nodes, plan
        plans[key] = field_details_list, plan  # kept alive: its id is not reused
        return plan

    def _unconditional(self) -> bool:
        """True when the operation's document has no directive (so its plans do not
        depend on the variables): known from its source text, looked at once."""
        operation = self.operation
        known = _UNCONDITIONAL.get(id(operation))
        if known is not None and known[0] is operation:
            return known[1]
        loc = operation.loc
        answer = loc is not None and "@" not in loc.source.body
        _UNCONDITIONAL[id(operation)] = operation, answer
        return answer

    def _compile(
        self,
        object_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        *,
        compiled: bool,
    ) -> Plan | None:
        grouped, new_defer_usages, _ = self.collect_subfields(object_type, field_details_list)
        if new_defer_usages:
            return None
        steps: list[Step] = []
        for key, details in grouped.items():
            if any(
                d.defer_usage is not None
                or any(x.name.value not in _APPLIED for x in d.node.directives or ())
                for d in details
            ):
                return None  # @defer, @stream and anything else a directive may ask
            name = details[0].node.name.value
            if name == "__typename":
                steps.append((key, None, None))
                continue
            field = object_type.fields.get(name)
            plain = _plain(field) if field is not None else None
            if plain is None:
                return None
            sub = None
            if plain.object_type is not None:
                sub = self._plan_of(plain.object_type, details)
                if sub is None:
                    return None
            steps.append((key, plain, sub))
        return Plan(object_type, tuple(steps), compiled=compiled)

    def build_resolve_info(
        self,
        field_def: GraphQLField,
        field_nodes: list[FieldNode],
        parent_type: GraphQLObjectType,
        path: Path,
    ) -> GraphQLResolveInfo[Any]:
        """A query answered by parts (graphql_api.parts): each field is resolved with the
        context of the root field it lies under."""
        info = super().build_resolve_info(field_def, field_nodes, parent_type, path)
        context = self.context_value
        if getattr(context, "parts", None) is None:
            return info
        root = path
        while root.prev is not None:
            root = root.prev
        return info._replace(context=context.part_for(str(root.key)))

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
            if plain is not None and not plain.in_list:
                value: Any = Undefined
                try:
                    value = plain.read(source, plain.attribute)
                    if value is Undefined:  # a reader that cannot tell: the resolver can
                        pass
                    elif value is None:
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


# Whether values of a class are of an object type, by (the type's id, the class): for
# a value that no `strawberry.cast` marked, Strawberry's check (the type has interfaces:
# is the value an instance of it or of one of them) depends on the class alone. The type
# is kept alive with the answer, so its id is not reused meanwhile. A plain dict: its
# keys are the schema's types and the classes of the values they answer, both bounded.
_TYPE_OF: dict[tuple[int, type], tuple[GraphQLObjectType, bool]] = {}


# Strawberry's own check, which a type with interfaces gets (a type's custom
# `is_type_of` may look at more than the class).
_STRAWBERRYS = "GraphQLCoreConverter.from_object.<locals>._get_is_type_of.<locals>.is_type_of"


def _is_a(object_type: GraphQLObjectType, value: Any) -> bool:
    """The type's own check of a value (Strawberry's reads only the value, not the info)."""
    check = object_type.is_type_of
    if check is None:
        return True
    if check.__qualname__ != _STRAWBERRYS or hasattr(value, TYPE_CAST_ATTRIBUTE):
        return check(value, None) is True  # type: ignore[arg-type]
    key = (id(object_type), type(value))
    known = _TYPE_OF.get(key)
    if known is not None and known[0] is object_type:
        return known[1]
    answer = check(value, None) is True  # type: ignore[arg-type]
    _TYPE_OF[key] = object_type, answer
    return answer
