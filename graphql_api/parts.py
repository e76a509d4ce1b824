"""A query's root fields as the parts of its whole answer, each made again on its own.

A Dashboard shows the user's profile, goals and week of events. A check-in changes
the goals and nothing else, yet it retired the whole stored answer, and the next
Dashboard was worked out again from the top: the week of events too. So each root
field of a query of several reads through a context of its own (`Context.part_for`,
chosen per field by `graphql_api.execution`), and what each read (the versions of
its scopes) is known part by part; the whole answer is stored with that and with
where each part's JSON lies in it. When a stored answer is found stale, only the
parts whose scopes changed are executed again, as a document of those root fields
alone (`document_of`); the others are sent as stored.

A root field's answer depends on its arguments and selection alone, so a part made
by the document of some root fields is the part the whole document makes. Only
documents whose root selection is plain fields qualify (no fragment or directive at
the root, no two fields under one response key, no introspection, no @defer or
@stream); anything else is answered whole, as before. Executing some root fields
alone happens only after the whole document was answered without errors with the
same variables (the stale answer says so): it passed validation and the limits
(its cost above all, which a subset of its fields would pass more easily).
"""

from __future__ import annotations

from functools import lru_cache

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    Node,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_operation_ast,
    parse,
    print_ast,
    visit,
)
from graphql.language import Visitor

# The most root fields a query is split into; beyond it, answered whole.
MAX_PARTS = 8


class _Used(Visitor):
    """The variables and fragment spreads under a node."""

    def __init__(self) -> None:
        super().__init__()
        self.variables: set[str] = set()
        self.spreads: set[str] = set()

    def enter_variable(self, node: VariableNode, *_: object) -> None:
        self.variables.add(node.name.value)

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: object) -> None:
        self.spreads.add(node.name.value)


def _used(
    nodes: list[Node], fragments: dict[str, FragmentDefinitionNode]
) -> tuple[set[str], list[str]]:
    """The variables some nodes use, through the fragments they spread too, and those
    fragments in the document's order."""
    variables: set[str] = set()
    seen: set[str] = set()
    todo = list(nodes)
    while todo:
        used = _Used()
        visit(todo.pop(), used)
        variables |= used.variables
        for name in used.spreads - seen:
            seen.add(name)
            if name in fragments:
                todo.append(fragments[name])
    return variables, [name for name in fragments if name in seen]


def _parsed(
    query: str, operation_name: str | None
) -> tuple[DocumentNode, OperationDefinitionNode] | None:
    try:
        document = parse(query)
    except GraphQLError:
        return None
    operation = get_operation_ast(document, operation_name)
    return None if operation is None else (document, operation)


@lru_cache(maxsize=1000)
def parts_of(query: str, operation_name: str | None) -> tuple[str, ...] | None:
    """The keys of the query's parts (its root fields' response keys, in order), or
    None when it is answered whole."""
    if "@defer" in query or "@stream" in query:
        return None
    parsed = _parsed(query, operation_name)
    if parsed is None:
        return None
    operation = parsed[1]
    fields = operation.selection_set.selections
    if (
        operation.operation is not OperationType.QUERY
        or operation.directives
        or not 2 <= len(fields) <= MAX_PARTS
    ):
        return None
    roots = [f for f in fields if isinstance(f, FieldNode) and _plain(f)]
    keys = tuple(_key(f) for f in roots)
    if len(roots) != len(fields) or len(set(keys)) != len(keys):
        return None
    return keys


def _plain(field: FieldNode) -> bool:
    """A root field that may be a part: no directive (@skip, @include), no introspection."""
    return not field.directives and not field.name.value.startswith("__")


def _key(field: FieldNode) -> str:
    return field.alias.value if field.alias else field.name.value


@lru_cache(maxsize=1000)
def document_of(
    query: str, operation_name: str | None, keys: tuple[str, ...]
) -> tuple[str, tuple[str, ...]]:
    """Some root fields of a query that has parts (`parts_of`), as a document of their
    own: the same operation with those fields, the variables and fragments they use;
    and the names of those variables."""
    parsed = _parsed(query, operation_name)
    if parsed is None:  # parts_of said it parses
        raise ValueError("not a query with parts")
    document, operation = parsed
    fields = [
        f
        for f in operation.selection_set.selections
        if isinstance(f, FieldNode) and _key(f) in keys
    ]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    variables, spread = _used(list(fields), fragments)
    alone = OperationDefinitionNode(
        operation=operation.operation,
        name=operation.name,
        variable_definitions=tuple(
            d for d in operation.variable_definitions or () if d.variable.name.value in variables
        ),
        directives=(),
        selection_set=SelectionSetNode(selections=tuple(fields)),
    )
    alone_document = DocumentNode(definitions=(alone, *(fragments[name] for name in spread)))
    return print_ast(alone_document), tuple(sorted(variables))


def assemble(pieces: list[tuple[str, bytes]]) -> tuple[bytes, list[tuple[int, int]]]:
    """The answer's `data` as JSON from each part's (key, value as JSON), in order, and
    where each value lies in it."""
    out = bytearray(b"{")
    spans: list[tuple[int, int]] = []
    for i, (key, value) in enumerate(pieces):
        if i:
            out += b","
        out += orjson.dumps(key) + b":"
        spans.append((len(out), len(out) + len(value)))
        out += value
    out += b"}"
    return bytes(out), spans
