"""Limits on what one GraphQL document may ask: depth, aliases, tokens, directives, cost.

Each is checked before anything executes and refused with a clear error:
depth, aliases and directives as validation errors, too many tokens as a parse
error, and a cost above the limit as QUERY_TOO_COMPLEX with the computed cost.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    ASTValidationRule,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import SchemaExtension
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.types import ExecutionResult

from graphql_api.settings import Settings

# Arguments whose value says how many items a list field returns.
SIZE_ARGUMENTS = ("first", "limit", "last")


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


def _size(field: FieldNode, variables: Mapping[str, Any], defaults: Mapping[str, Any]) -> int:
    for argument in field.arguments or ():
        if argument.name.value not in SIZE_ARGUMENTS:
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return max(1, int(value.value))
        if isinstance(value, VariableNode):
            given = variables.get(value.name.value, defaults.get(value.name.value))
            if isinstance(given, int) and not isinstance(given, bool):
                return max(1, given)
    return 1


def selection_cost(
    selections: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    defaults: Mapping[str, Any],
    seen: frozenset[str] = frozenset(),
) -> int:
    """Every object or list field costs 1 per item it may return (its `first` or
    `limit`), plus what it selects for each; scalars are free."""
    if selections is None:
        return 0
    total = 0
    for node in selections.selections:
        if isinstance(node, FieldNode):
            if node.name.value.startswith("__"):
                continue  # introspection is bounded by the schema itself
            if node.selection_set is None:
                continue  # a scalar comes with the object that holds it
            inner = selection_cost(node.selection_set, fragments, variables, defaults, seen)
            total += _size(node, variables, defaults) * (1 + inner)
        elif isinstance(node, InlineFragmentNode):
            total += selection_cost(node.selection_set, fragments, variables, defaults, seen)
        elif isinstance(node, FragmentSpreadNode):
            name = node.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in seen:  # cycles are a validation error
                total += selection_cost(
                    fragment.selection_set, fragments, variables, defaults, seen | {name}
                )
    return total


def operation_cost(
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> int:
    defaults: dict[str, Any] = {}
    for definition in operation.variable_definitions or ():
        if isinstance(definition.default_value, IntValueNode):
            defaults[definition.variable.name.value] = int(definition.default_value.value)
    return selection_cost(operation.selection_set, fragments, variables, defaults)


def request_limits(settings: Settings) -> type[SchemaExtension]:
    """One extension for every limit (each extension costs every request a little):
    tokens at parsing, depth, aliases, directives and introspection as validation
    rules (built once), the cost before execution."""
    max_tokens, max_cost = settings.max_tokens, settings.max_query_cost
    rules: tuple[type[ASTValidationRule], ...] = (
        depth_rule(settings.max_query_depth, None, None),
        alias_rule(settings.max_aliases),
        directive_rule(settings.max_directives),
        *(() if settings.introspection_enabled else (NoSchemaIntrospectionCustomRule,)),
    )

    class RequestLimits(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            context = self.execution_context
            context.parse_options["max_tokens"] = max_tokens
            context.validation_rules = (*context.validation_rules, *rules)
            yield

        def on_execute(self) -> Iterator[None]:
            context = self.execution_context
            if context.graphql_document is not None and context.result is None:
                cost = document_cost(
                    context.graphql_document, context.operation_name, context.variables or {}
                )
                if cost > max_cost:
                    context.result = ExecutionResult(data=None, errors=[too_costly(cost, max_cost)])
            yield

    return RequestLimits


def document_cost(
    document: DocumentNode, operation_name: str | None, variables: Mapping[str, Any]
) -> int:
    """The cost of the operation that runs (the largest, when the name is not given)."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operations = [
        d
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
        and (operation_name is None or (d.name is not None and d.name.value == operation_name))
    ]
    return max((operation_cost(op, fragments, variables) for op in operations), default=0)


def too_costly(cost: int, max_cost: int) -> GraphQLError:
    return GraphQLError(
        f"the operation's cost is {cost}; at most {max_cost} is allowed "
        "(every object counts 1, and lists count `first` or `limit` times what they select)",
        extensions={"code": "QUERY_TOO_COMPLEX", "cost": cost, "maxCost": max_cost},
    )
