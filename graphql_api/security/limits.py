"""Limits on what one GraphQL document may ask: depth, aliases, tokens, directives, cost.

Each is checked before anything executes and refused with a clear error:
depth, aliases and directives as validation errors, too many tokens as a parse
error, and a cost above the limit as QUERY_TOO_COMPLEX with the computed cost.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from cachetools import LRUCache
from graphql import (
    ASTValidationRule,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Undefined,
    ValidationContext,
    ValidationRule,
    get_named_type,
    get_nullable_type,
    is_list_type,
    value_from_ast_untyped,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import SchemaExtension
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.types import ExecutionResult

from graphql_api.errors import BadUserInput
from graphql_api.memo import kept
from graphql_api.relay import MAX_PAGE_SIZE
from graphql_api.scalars import parse_date
from graphql_api.settings import Settings


@dataclass(frozen=True)
class ListSize:
    """How many items a list field returns, as the cost counts them: in the spirit of
    the IBM GraphQL cost specification's `@listSize(assumedSize, slicingArguments,
    sizedFields)`.

    The size is the Int argument `slicing` (`first`, `limit`; outside `bounds` it
    is refused with BAD_USER_INPUT before anything runs), else the days from the
    Date argument `days[0]` to `days[1]`, both included, else the length of the list
    argument `per_item_of`; when the argument is not given (nor defaulted in the
    schema), `assumed`. `sized_fields` are the list fields of the returned object
    that hold the items (a connection's `edges`): they take the size, the field
    itself counts once.
    """

    assumed: int
    slicing: str | None = None
    bounds: tuple[int, int] | None = None
    days: tuple[str, str] | None = None
    per_item_of: str | None = None
    sized_fields: tuple[str, ...] = ()


def directive_rule(max_directives: int) -> type[ValidationRule]:
    class MaxDirectives(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.count = 0

        def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
            self.count += 1
            if self.count == max_directives + 1:
                self.report_error(
                    GraphQLError(
                        f"the document uses more than {max_directives} directives",
                        node,
                        extensions={"code": "GRAPHQL_VALIDATION_FAILED"},
                    )
                )

    return MaxDirectives


# A list field without a declared size (a test keeps there being none) counts as the
# largest page.
UNDECLARED = MAX_PAGE_SIZE


class Cost:
    """The cost of one operation: every object counts 1 per item of the lists it is
    in, scalars are free (a scalar comes with the object that holds it)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        sizes: Mapping[str, ListSize],
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.schema, self.sizes, self.fragments = schema, sizes, fragments
        self.variables = variables

    def selections(
        self,
        selection_set: SelectionSetNode,
        parent: GraphQLNamedType,
        sized: Mapping[str, int],
        seen: frozenset[str],
    ) -> int:
        total = 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                total += self.field(node, parent, sized, seen)
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selections(node.selection_set, inner or parent, sized, seen)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in seen:  # cycles are a validation error
                    inner = self.schema.get_type(fragment.type_condition.name.value)
                    total += self.selections(
                        fragment.selection_set, inner or parent, sized, seen | {name}
                    )
        return total

    def field(
        self,
        node: FieldNode,
        parent: GraphQLNamedType,
        sized: Mapping[str, int],
        seen: frozenset[str],
    ) -> int:
        name = node.name.value
        if name.startswith("__") or node.selection_set is None:
            return 0  # introspection is bounded by the schema; scalars are free
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return 0  # a union selects nothing but __typename
        definition = parent.fields.get(name)
        if definition is None:
            return 0  # not in the schema: validation refuses it
        declared = self.sizes.get(f"{parent.name}.{name}")
        size = self.size(declared, node, definition) if declared else 1
        if name in sized:
            count = sized[name]
        elif is_list_type(get_nullable_type(definition.type)):
            count = size if declared else UNDECLARED
        else:
            count = 1
        inner_sized = dict.fromkeys(declared.sized_fields, size) if declared else {}
        named = get_named_type(definition.type)
        return count * (1 + self.selections(node.selection_set, named, inner_sized, seen))

    def size(self, declared: ListSize, node: FieldNode, definition: GraphQLField) -> int:
        if declared.slicing is not None:
            value = self.argument(node, definition, declared.slicing)
            if not isinstance(value, int) or isinstance(value, bool):
                return declared.assumed  # absent, or refused when variables are coerced
            if declared.bounds and not declared.bounds[0] <= value <= declared.bounds[1]:
                low, high = declared.bounds
                raise BadUserInput(
                    f"{declared.slicing} must be between {low} and {high}, got {value}",
                    field=declared.slicing,
                )
            return value
        if declared.days is not None:
            start, end = (self.argument(node, definition, a) for a in declared.days)
            try:
                return max(0, (parse_date(end) - parse_date(start)).days + 1)
            except ValueError:
                return declared.assumed  # refused when the arguments are coerced
        if declared.per_item_of is not None:
            value = self.argument(node, definition, declared.per_item_of)
            return len(value) if isinstance(value, list) else declared.assumed
        return declared.assumed

    def argument(self, node: FieldNode, definition: GraphQLField, name: str) -> Any:
        """The argument's value as the query gives it, else its default in the schema."""
        for argument in node.arguments or ():
            if argument.name.value == name:
                value = value_from_ast_untyped(argument.value, self.variables)
                if value is not Undefined:
                    return value
        schema_argument = definition.args.get(name)
        return None if schema_argument is None else schema_argument.default_value


COST_MEMO_SIZE = 4096
COST_MEMO_BYTES = 1024


def request_limits(settings: Settings, sizes: Mapping[str, ListSize]) -> type[SchemaExtension]:
    """One extension for every limit (each extension costs every request a little):
    tokens at parsing, depth, aliases, directives and introspection as validation
    rules (built once), the cost before execution, with the lists' `sizes` by
    `Type.field`."""
    max_tokens, max_cost = settings.max_tokens, settings.max_query_cost
    rules: tuple[type[ASTValidationRule], ...] = (
        depth_rule(settings.max_query_depth, None, None),
        alias_rule(settings.max_aliases),
        directive_rule(settings.max_directives),
        *(() if settings.introspection_enabled else (NoSchemaIntrospectionCustomRule,)),
    )

    # Each operation's cost by its document (the parser cache hands every request of
    # the same query the same one), operation name and variables: the clients send a
    # few documents with a few variables each, and walking one costs as much as the
    # rest of a small query's checks. Variables of more than COST_MEMO_BYTES are not kept.
    known: LRUCache[tuple[int, str | None, bytes], tuple[DocumentNode, int]] = LRUCache(
        maxsize=COST_MEMO_SIZE
    )

    def cost_of(
        schema: GraphQLSchema,
        document: DocumentNode,
        operation_name: str | None,
        variables: Mapping[str, Any],
    ) -> int:
        try:
            given = orjson.dumps(variables, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # not JSON (never from HTTP): not kept
            given = b""
        key = (id(document), operation_name, given)
        found = known.get(key) if given else None
        if found is not None and found[0] is document:
            return found[1]
        cost = document_cost(schema, sizes, document, operation_name, variables)
        if given and len(given) <= COST_MEMO_BYTES:
            known[id(document), operation_name, kept(given)] = document, cost
        return cost

    class RequestLimits(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            context = self.execution_context
            context.parse_options["max_tokens"] = max_tokens
            context.validation_rules = (*context.validation_rules, *rules)
            yield

        def on_execute(self) -> Iterator[None]:
            context = self.execution_context
            if context.graphql_document is not None and context.result is None:
                try:
                    cost = cost_of(
                        context.schema._schema,
                        context.graphql_document,
                        context.operation_name,
                        context.variables or {},
                    )
                except BadUserInput as refused:
                    error = GraphQLError(refused.message, original_error=refused)
                    context.result = ExecutionResult(data=None, errors=[error])
                else:
                    if cost > max_cost:
                        error = too_costly(cost, max_cost)
                        context.result = ExecutionResult(data=None, errors=[error])
            yield

    return RequestLimits


def operation_cost(
    schema: GraphQLSchema,
    sizes: Mapping[str, ListSize],
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> int:
    """The operation's cost with these variables (its own defaults where not given);
    a slicing argument outside its bounds is BadUserInput."""
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    defaults = {
        d.variable.name.value: value_from_ast_untyped(d.default_value)
        for d in operation.variable_definitions or ()
        if d.default_value is not None
    }
    cost = Cost(schema, sizes, fragments, {**defaults, **variables})
    return cost.selections(operation.selection_set, root, {}, frozenset())


def document_cost(
    schema: GraphQLSchema,
    sizes: Mapping[str, ListSize],
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any],
) -> int:
    """The cost of the operation that runs (the largest, when the name is not given)."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return max(
        (
            operation_cost(schema, sizes, d, fragments, variables)
            for d in document.definitions
            if isinstance(d, OperationDefinitionNode)
            and (operation_name is None or (d.name is not None and d.name.value == operation_name))
        ),
        default=0,
    )


def too_costly(cost: int, max_cost: int) -> GraphQLError:
    return GraphQLError(
        f"the operation's cost is {cost}; at most {max_cost} is allowed "
        "(every object counts 1, and each list counts its size times what it selects: "
        "first or limit, the days of a date range, or its documented size)",
        extensions={"code": "QUERY_TOO_COMPLEX", "cost": cost, "maxCost": max_cost},
    )
