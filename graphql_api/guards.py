"""The guards an operation passes over HTTP before it executes, each on its own: the
user's rate limit, persisted queries (APQ, the manifest, the safelist), and the
Idempotency-Key of a retried mutation. Each answers with a refusal (a GraphQL error
with its code, counted and logged like any answer) or lets the operation through."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any

from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult

from graphql_api.context import Context
from graphql_api.observability.metrics import GRAPHQL_ERRORS
from graphql_api.observability.requests import current
from graphql_api.persisted.queries import Refusal
from graphql_api.security.idempotency import Conflict, Replay, digest
from graphql_api.security.ratelimit import Verdict


def refusal(response: Response, code: str, message: str, **extensions: Any) -> ExecutionResult:
    """An answer refused before (or instead of) execution: counted and logged like others."""
    response.headers["Cache-Control"] = "no-store"
    GRAPHQL_ERRORS.labels(code).inc()
    record = current()
    if record is not None:
        record.error_codes.append(code)
    error = GraphQLError(message, extensions={"code": code, **extensions})
    return ExecutionResult(data=None, errors=[error])


def rate_limit(context: Context) -> asyncio.Future[Verdict] | None:
    """The user's take of their rate limit, started now (None: no limit applies). Its
    verdict is awaited (`rate_limited`) before anything is answered or written; until
    then the request may read what answers nothing by itself (its persisted query, the
    versions the whole-answer cache looks up), so the limiter's round trip to Redis runs
    alongside those reads rather than before them."""
    limiter = context.state.limiter
    if limiter is None or context.claims is None:
        return None
    return asyncio.ensure_future(limiter.take(context.claims.sub))


async def rate_limited(
    taking: asyncio.Future[Verdict] | None, sub_response: Response
) -> ExecutionResult | None:
    """RATE_LIMITED (HTTP 429 with Retry-After) when the user's bucket was empty (the
    verdict of `rate_limit`'s take), else None."""
    if taking is None:
        return None
    verdict = await taking
    if verdict.allowed:
        return None
    sub_response.status_code = 429
    sub_response.headers["Retry-After"] = str(verdict.retry_after_s)
    return refusal(
        sub_response,
        "RATE_LIMITED",
        f"too many requests; try again in {verdict.retry_after_s} s",
        retryAfter=verdict.retry_after_s,
    )


async def persisted_query(
    context: Context, request_data: GraphQLRequestData, sub_response: Response
) -> GraphQLRequestData | ExecutionResult:
    """The request with its persisted query's text, or why it is refused."""
    resolved = await context.state.persisted.resolve(request_data.query, request_data.extensions)
    if isinstance(resolved, Refusal):
        return refusal(sub_response, resolved.code, resolved.message)
    if not resolved or resolved is request_data.query:  # the text it came with
        return request_data
    return replace(request_data, query=resolved)


async def admit(
    context: Context, request_data: GraphQLRequestData, sub_response: Response
) -> GraphQLRequestData | ExecutionResult:
    """The rate limit, then persisted queries: the request to run, or why it is refused."""
    limited = await rate_limited(rate_limit(context), sub_response)
    if limited is not None:
        return limited
    return await persisted_query(context, request_data, sub_response)


async def idempotent(
    request: Request,
    context: Context,
    request_data: GraphQLRequestData,
    sub_response: Response,
    run: Coroutine[Any, Any, ExecutionResult],
    *,
    timeout_s: float,
) -> ExecutionResult:
    """`run`'s answer; with an Idempotency-Key, the first answer of that key and body
    (a key is held for `timeout_s`, the longest the first answer may take)."""
    given_key = request.headers.get("idempotency-key")
    if given_key is None or context.claims is None or context.state.idempotency is None:
        return await run
    idempotency = context.state.idempotency
    body = digest(request_data.query, request_data.variables, request_data.operation_name)
    claim = await idempotency.claim(context.claims.sub, given_key, body, timeout_s)
    if isinstance(claim, Conflict):
        run.close()
        sub_response.status_code = claim.status
        return refusal(sub_response, claim.code, claim.message)
    if isinstance(claim, Replay):
        run.close()
        sub_response.headers["Idempotent-Replayed"] = "true"
        sub_response.headers["Cache-Control"] = "no-store"
        return ExecutionResult(data=claim.data, errors=None)
    try:
        result = await run
    except BaseException:
        if claim is not None:
            await idempotency.abandon(claim)
        raise
    if claim is not None:
        if result.errors or result.data is None:
            await idempotency.abandon(claim)  # nothing written; a retry runs again
        else:
            await idempotency.finish(claim, body, result.data)
    return result
