"""Validation, once per document: Strawberry's ValidationCache, keyed by the document's
identity rather than its hash.

Strawberry's ValidationCache keeps `validate_document` in an LRU keyed by the schema,
the document and the rules. graphql-core 3.3's AST nodes are frozen dataclasses whose
hash is worked out afresh, over every node of the document, each time it is asked
for: some hundred Python calls for an events page, a few hundred for a Dashboard, on
every request, to find a result that is already there. The parser cache hands out one
document object per query text, so its identity is as good a key, and a free one.
"""

from __future__ import annotations

from collections.abc import Iterator

from cachetools import LRUCache
from graphql import DocumentNode, GraphQLError, GraphQLSchema
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

Rules = tuple[type[ASTValidationRule], ...]

# (schema, document, rules) by identity -> the document (kept alive, so its id is not
# reused while the entry lives) and its errors.
_VALIDATED: LRUCache[tuple[int, int, Rules], tuple[DocumentNode, list[GraphQLError]]] = LRUCache(
    maxsize=1000
)


def validated(schema: GraphQLSchema, document: DocumentNode, rules: Rules) -> list[GraphQLError]:
    """`validate_document(schema, document, rules)`, once per document object."""
    key = (id(schema), id(document), rules)
    known = _VALIDATED.get(key)
    if known is not None and known[0] is document:
        return known[1]
    errors = validate_document(schema, document, rules)
    _VALIDATED[key] = document, errors
    return errors


class ValidationCache(SchemaExtension):
    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None:  # else Strawberry validates it itself (and says why not)
            context.pre_execution_errors = validated(
                context.schema._schema, document, context.validation_rules
            )
        yield
