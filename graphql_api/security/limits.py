"""Limits on what one GraphQL document may ask: depth, aliases, tokens, directives, cost.

Each is checked before anything executes and refused with a clear error:
depth, aliases and directives as validation errors, too many tokens as a parse
error, and a cost above the limit as QUERY_TOO_COMPLEX with the computed cost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from graphql import (
    ASTValidationRule,
    DirectiveNode,
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
from strawberry.extensions import AddValidationRules, SchemaExtension
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.types import ExecutionResult

# Arguments whose value says how many items a list field returns.
SIZE_ARGUMENTS = ("first", "limit", "last")


def validation_limits(
    max_depth: int, max_aliases: int, max_directives: int
) -> Callable[[], AddValidationRules]:
    """One extension for depth, aliases and directives; its rules are built once."""
    rules: list[type[ASTValidationRule]] = [
        depth_rule(max_depth, None, None),
        alias_rule(max_aliases),
        directive_rule(max_directives),
    ]
    return lambda: AddValidationRules(rules)


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


def cost_limit(max_cost: int) -> type[SchemaExtension]:
    class QueryCost(SchemaExtension):
        """Refuses, before execution, an operation that could touch more than `max_cost` items."""

        def on_execute(self) -> Iterator[None]:
            context = self.execution_context
            document = context.graphql_document
            if document is not None and context.result is None:
                fragments = {
                    d.name.value: d
                    for d in document.definitions
                    if isinstance(d, FragmentDefinitionNode)
                }
                operations = [
                    d
                    for d in document.definitions
                    if isinstance(d, OperationDefinitionNode)
                    and (
                        context.operation_name is None
                        or (d.name and d.name.value == context.operation_name)
                    )
                ]
                cost = max(
                    (operation_cost(op, fragments, context.variables or {}) for op in operations),
                    default=0,
                )
                if cost > max_cost:
                    context.result = ExecutionResult(
                        data=None,
                        errors=[
                            GraphQLError(
                                f"the operation's cost is {cost}; at most {max_cost} is allowed "
                                "(every object counts 1, and lists count `first` or `limit` "
                                "times what they select)",
                                extensions={
                                    "code": "QUERY_TOO_COMPLEX",
                                    "cost": cost,
                                    "maxCost": max_cost,
                                },
                            )
                        ],
                    )
            yield

    return QueryCost
