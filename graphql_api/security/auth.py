"""Who is asking: the bearer token checked once per request, and enforced before execution."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    SelectionSetNode,
    get_operation_ast,
)
from pymongo.errors import DuplicateKeyError
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from graphql_api.errors import Unauthenticated
from graphql_api.security.tokens import Claims
from loaders.base import find_rows, naive_times
from loaders.reads import Reads
from models import User
from models.base import built, matching


async def ensure_user(claims: Claims, reads: Reads | None = None) -> User:
    """The user of these claims, created on first sight; read with the request's other
    reads of the moment (`reads`: its lists, started along, see `Context.load_viewer`)."""
    user = await _user_of(claims.sub, reads)
    if user is not None:
        return user
    user = User(sub=claims.sub, email=claims.email, display_name=claims.name)
    try:
        await user.insert()
    except DuplicateKeyError:  # two first requests raced; the other one won
        found = await _user_of(claims.sub)
        if found is None:
            raise
        return found
    return user


async def _user_of(sub: str, reads: Reads | None = None) -> User | None:
    """The user with this `sub`, read whole (Beanie's find_one asks for every field by
    name, a projection the embedded Mongo-wire server pays for: 0.7 against 0.5 ms), as
    the lists are read (`loaders.base.find_all`: times without zones, made UTC as the
    document is built), so that it can go in one command with them. `sub` is unique."""
    collection = naive_times(User.get_pymongo_collection())
    rows = await find_rows(collection, matching({"sub": sub}), reads)
    return built(User, rows[0]) if rows else None


def _root_fields(selection_set: SelectionSetNode, document: DocumentNode) -> Iterator[str]:
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection.name.value
        elif isinstance(selection, InlineFragmentNode):
            yield from _root_fields(selection.selection_set, document)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                yield from _root_fields(fragment.selection_set, document)


def is_introspection_only(document: DocumentNode | None, operation_name: str | None) -> bool:
    if document is None:
        return False
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return False
    return all(name.startswith("__") for name in _root_fields(operation.selection_set, document))


class RequireAuthentication(SchemaExtension):
    """Refuses to execute without a valid token (HTTP 401), except pure introspection."""

    async def on_execute(self) -> AsyncIterator[None]:
        ctx = self.execution_context.context
        if isinstance(ctx.request, WebSocket):
            ctx.start_operation()
        # Queries may read goals and habits from secondaries; mutations read their writes.
        ctx.read_only = self.execution_context.operation_type is OperationType.QUERY
        error: Unauthenticated | None = ctx.auth_error
        if self.execution_context.result is not None:
            pass  # refused already (a limit): nothing is read, not even the user
        elif error is None and ctx.claims is not None:
            await ctx.load_viewer()
        elif error is None and not is_introspection_only(
            self.execution_context.graphql_document, self.execution_context.operation_name
        ):
            error = Unauthenticated(
                "a bearer token is required: send `Authorization: Bearer <token>`"
            )
        if error is not None:
            if isinstance(ctx.response, Response):
                ctx.response.status_code = 401
                ctx.response.headers["WWW-Authenticate"] = "Bearer"
            self.execution_context.result = ExecutionResult(
                data=None, errors=[GraphQLError(error.message, extensions=error.extensions)]
            )
        yield
