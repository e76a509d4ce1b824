"""Operations over a WebSocket under the same `PERSISTED_QUERIES` rules as HTTP ones.

graphql-transport-ws (and graphql-ws) send the text, never a hash, and reach the
schema without the HTTP view's `resolve`: without this, `safelist` would hold
only for HTTP, and any text (a query too) would run over a socket.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import DocumentNode, GraphQLError, ValidationRule
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension

from graphql_api.persisted.queries import NOT_IN_MANIFEST


class _NotInManifest(ValidationRule):
    """Added only for a refused text, so the validation cache keeps both verdicts apart."""

    def enter_document(self, node: DocumentNode, *_: Any) -> None:
        self.report_error(
            GraphQLError(NOT_IN_MANIFEST.message, extensions={"code": NOT_IN_MANIFEST.code})
        )


class SocketOperations(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        execution = self.execution_context
        context = execution.context
        # HTTP requests were resolved against the manifest by the view already.
        if (
            isinstance(context.request, WebSocket)
            and execution.query is not None
            and context.state.persisted.checked(execution.query) is not None
        ):
            execution.validation_rules = (*execution.validation_rules, _NotInManifest)
        yield
