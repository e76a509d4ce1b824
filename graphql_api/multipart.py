"""Subscriptions over HTTP: Apollo's multipart protocol, with a WebSocket's bounds.

Strawberry's `MultipartSubscriptionTransport` writes the stream: each event a
`{"payload": {...}}` part, a `{}` heartbeat every 5 s, the closing boundary when
the subscription ends. Like a WebSocket (graphql_api/security/sockets.py), the
server also ends the stream itself

- when the token it was opened with expires (`UNAUTHENTICATED`),
- when the server shuts down (`SERVICE_UNAVAILABLE`: subscribe again),

with a last part that is a transport error (`{"payload": null, "errors": [...]}`,
which Apollo Client reports as protocol errors) and the closing boundary. When
the client goes away, Starlette cancels the response; the subscription, its Redis
subscription and the heartbeat task are closed with it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from datetime import datetime
from functools import lru_cache

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationType,
    get_operation_ast,
    parse,
    validate,
)
from strawberry.http.streaming import MultipartSubscriptionTransport

_TRANSPORT = MultipartSubscriptionTransport()

EXPIRED = ("UNAUTHENTICATED", "the token expired: subscribe again with a fresh one")
SHUTTING_DOWN = ("SERVICE_UNAVAILABLE", "the server is shutting down: subscribe again")


_CACHED_LENGTH = 20_000  # longer texts are parsed each time rather than kept


def _document(query: str, max_tokens: int) -> DocumentNode | None:
    try:
        return parse(query, max_tokens=max_tokens)
    except GraphQLError:  # the JSON answer says why
        return None


def is_subscription(query: str, operation_name: str | None, max_tokens: int) -> bool:
    """Whether the request is a subscription, i.e. streams (read within the token limit)."""
    if "subscription" not in query:  # the keyword is spelt out: most requests stop here
        return False
    if len(query) > _CACHED_LENGTH:
        return _subscribes(query, operation_name, max_tokens)
    return _subscribes_cached(query, operation_name, max_tokens)


def _subscribes(query: str, operation_name: str | None, max_tokens: int) -> bool:
    document = _document(query, max_tokens)
    operation = get_operation_ast(document, operation_name) if document else None
    return operation is not None and operation.operation is OperationType.SUBSCRIPTION


_subscribes_cached = lru_cache(maxsize=256)(_subscribes)


def is_valid(schema: GraphQLSchema, query: str, max_tokens: int) -> bool:
    """Whether a subscription's document validates (if not, executing it says why, as
    JSON, before any stream starts)."""
    document = _document(query, max_tokens)
    return document is not None and not validate(schema, document)


def _closing(reason: tuple[str, str], encode_json: Callable[[object], str]) -> str:
    code, message = reason
    error = {"message": message, "extensions": {"code": code}}
    last = _TRANSPORT.encode_multipart_data({"payload": None, "errors": [error]}, encode_json)
    return last + _TRANSPORT.encode_complete()


async def _next(chunks: AsyncIterator[str]) -> str:
    return await anext(chunks)


async def bounded(
    chunks: AsyncIterator[str],
    stopping: asyncio.Event,
    expires_at: datetime,
    encode_json: Callable[[object], str],
) -> AsyncGenerator[str, None]:
    """The stream's text, ended by the server at `expires_at` or once `stopping` is set."""
    stop = asyncio.ensure_future(stopping.wait())
    step: asyncio.Task[str] | None = None
    try:
        while True:
            step = asyncio.create_task(_next(chunks))
            left = (expires_at - datetime.now(expires_at.tzinfo)).total_seconds()
            await asyncio.wait(
                {step, stop}, timeout=max(0.0, left), return_when=asyncio.FIRST_COMPLETED
            )
            if not step.done():
                yield _closing(SHUTTING_DOWN if stop.done() else EXPIRED, encode_json)
                return
            try:
                chunk = step.result()
            except StopAsyncIteration:
                return
            yield chunk
    finally:
        stop.cancel()
        if step is not None and not step.done():
            step.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await step
        if isinstance(chunks, AsyncGenerator):
            await chunks.aclose()
