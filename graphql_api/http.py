"""The GraphQL endpoint: Strawberry's ASGI view with our context and JSON errors.

Answers follow the GraphQL over HTTP spec: `application/graphql-response+json`
for clients that ask for it (graphql_api/media.py), 405 for a mutation over GET,
406 for a subscription without a stream to send it in, subscriptions over HTTP
in Apollo's multipart protocol (graphql_api/multipart.py); every answer varies
on `Accept` and `Authorization`, and errors are never stored by caches.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from dataclasses import replace
from typing import Any, NamedTuple, cast
from urllib.parse import parse_qsl

import orjson
import strawberry
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.http.parse_content_type import parse_content_type
from strawberry.http.streaming import HTTPStreamTransport
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult, SubscriptionExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from graphql_api.cache.store import lookups
from graphql_api.context import Context
from graphql_api.errors import Unauthenticated
from graphql_api.graphiql import GraphiQLPage
from graphql_api.guards import admit, idempotent, persisted_query, rate_limit, rate_limited, refusal
from graphql_api.media import GRAPHQL_RESPONSE_JSON, JSON, is_request_error, negotiated
from graphql_api.memo import Memo, kept
from graphql_api.multipart import bounded, is_subscription, is_valid
from graphql_api.observability.metrics import (
    WEBSOCKETS_OPEN,
)
from graphql_api.observability.operations import label_of, operation_duration
from graphql_api.observability.requests import current, request_id_from
from graphql_api.parts import assemble, document_of, parts_of
from graphql_api.responses import Hit, Kept, Piece, ResponseCache, operation_name_of
from graphql_api.security.ratelimit import Verdict
from graphql_api.security.sockets import SocketGuard
from graphql_api.security.tokens import Claims, bearer_token, verify_token
from graphql_api.settings import Settings
from graphql_api.shutdown import Drain
from graphql_api.state import AppState


def request_id_of(request: Request | WebSocket) -> str:
    """The id the access log line carries (one per HTTP request; per connection on a socket)."""
    record = current()
    return record.request_id if record is not None else request_id_from(dict(request.headers))


# Every answer depends on the token, and its shape on the media type asked for; a
# browser's cache must not hand one user's answer (or one media type) to another.
# (GZipMiddleware adds Accept-Encoding to the answers it compresses.)
VARY = "Accept, Authorization"
_VARY = VARY.encode()

SUBSCRIPTION_ACCEPT = 'multipart/mixed;subscriptionSpec="1.0"'


def wrong_operation_type(response: Response, kind: OperationType) -> ExecutionResult:
    """A mutation over GET (405, `Allow: POST`), or a subscription asked for as one
    JSON answer (406: it needs a stream)."""
    if kind is OperationType.MUTATION:
        response.status_code = 405
        response.headers["Allow"] = "POST"
        return refusal(
            response, "METHOD_NOT_ALLOWED", "mutations are sent with POST, never with GET"
        )
    response.status_code = 406
    return refusal(
        response,
        "NOT_ACCEPTABLE",
        "a subscription streams its events: subscribe over WebSocket, or over HTTP "
        f"with `Accept: {SUBSCRIPTION_ACCEPT}`",
    )


# What the `Content-Type` and `Accept` of a request choose (a JSON body; a stream
# transport), by the header's value: Strawberry parses each with `email.message` on every
# request (the Accept once per transport), and clients send the same few values. Kept
# for MEMO_HEADERS values; one more is parsed as Strawberry parses it, and not kept.
MEMO_HEADERS = 64
_JSON_BODY: dict[str, bool] = {}


def _is_json_body(content_type: str) -> bool:
    known = _JSON_BODY.get(content_type)
    if known is None:
        known = "application/json" in parse_content_type(content_type)[0]
        if len(_JSON_BODY) < MEMO_HEADERS:
            _JSON_BODY[content_type] = known
    return known


# A GET's parameters by its query string, as Starlette parses them (`QueryParams`, of
# which Strawberry takes the last value of each name): a persisted query's URL carries
# its variables and extensions percent-encoded, which `parse_qsl` decodes in Python
# (~17 µs for a Dashboard's), and an app sends the same URL again and again (that is
# what makes it cacheable). Kept for URLs of at most MEMO_URL_BYTES.
MEMO_URLS = 256
MEMO_URL_BYTES = 2048
_URL_PARAMS: Memo[bytes, dict[str, str]] = Memo(MEMO_URLS)


def url_params(query_string: bytes) -> dict[str, str]:
    """The parameters of a request's query string (read-only: shared by requests)."""
    known = _URL_PARAMS.get(query_string)
    if known is None:
        known = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
        if len(query_string) <= MEMO_URL_BYTES:
            _URL_PARAMS[kept(query_string)] = known
    return known


def _well_formed(data: object) -> GraphQLRequestData | None:
    """A request's JSON object (its body, or its URL's parameters as parsed), when its
    members are of the types they must have; None for anything Strawberry refuses or
    reads its own way (a batch, a member of the wrong type)."""
    if (
        isinstance(data, dict)
        and isinstance(data.get("query"), str | None)
        and isinstance(data.get("variables"), dict | None)
        and isinstance(data.get("extensions"), dict | None)
    ):
        return GraphQLRequestData(
            query=data.get("query"),
            variables=data.get("variables"),
            operation_name=data.get("operationName"),
            extensions=data.get("extensions"),
            protocol="http",
        )
    return None


def _wants_ide(params: Mapping[str, object], accept: str) -> bool:
    """Strawberry's test for a GET that asks for the IDE (no `query`, and HTML or anything
    accepted), and no persisted query: a GET that carries one wants an answer."""
    return (
        params.get("query") is None
        and "extensions" not in params
        and any(media in accept for media in ("text/html", "*/*"))
    )


class _Call(NamedTuple):
    """What Strawberry hands an operation's execution (execute_single's arguments but the
    request data), carried together through the answer's steps."""

    request: Request
    request_adapter: AsyncHTTPRequestAdapter
    sub_response: Response
    context: Context
    root_value: None


class _Answer(Response):
    """A Response given its body and headers as sent: Starlette's constructor works out
    headers that an answer (or a sub-response, which only collects them) then replaces."""

    def __init__(
        self,
        body: bytes,
        status_code: int | None,
        raw_headers: list[tuple[bytes, bytes]],
        media_type: str | None = None,
    ) -> None:
        # None: no status chosen yet (a sub-response's, as Strawberry's).
        self.status_code = status_code  # type: ignore[assignment]
        self.media_type = media_type
        self.background = None
        self.body = body
        self.raw_headers = raw_headers


class GraphQLApp(GraphQL[Context, None]):
    def __init__(
        self,
        *args: Any,
        settings: Settings,
        page: GraphiQLPage | None = None,
        responses: ResponseCache | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.settings = settings
        self.page = page
        self.responses = responses
        self.running = asyncio.Semaphore(settings.max_concurrent_operations)
        self._transports: dict[str, HTTPStreamTransport | None] = {}  # by Accept

    async def render_graphql_ide(self, request: Request) -> Response:
        if self.page is None:
            return PlainTextResponse("Not Found", status_code=404)
        return HTMLResponse(self.page.html())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            app = scope["app"]
            drain: Drain = app.state.drain
            guard = SocketGuard(receive, send, drain.event, self.settings.ws_init_timeout_s)
            guard.install(scope)
            WEBSOCKETS_OPEN.inc()
            try:
                await super().__call__(scope, guard.receive, guard.send)
            finally:
                guard.cancel_timers()
                WEBSOCKETS_OPEN.dec()
            return
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            if self._plain_post(request):
                response = await self._post(request)
            elif (params := self._plain_get(request)) is not None:
                response = await self._get(request, params)
            else:
                response = await self.run(request)
        except HTTPException as e:
            # Clients parse JSON; Strawberry's default here is text/plain.
            response = JSONResponse(
                {"errors": [{"message": e.reason, "extensions": {"code": "BAD_REQUEST"}}]},
                status_code=e.status_code,
                media_type=negotiated(request.headers.get("accept")),
                headers={
                    "Cache-Control": "no-store",
                    "Vary": VARY,
                    "X-Request-ID": request_id_of(request),
                },
            )
        await response(scope, receive, send)

    def _plain_post(self, request: Request | AsyncHTTPRequestAdapter) -> bool:
        """A JSON body POSTed that asks for no stream: nearly every request."""
        return (
            request.method == "POST"
            and _is_json_body(request.headers.get("content-type") or "")
            and self._get_stream_transport_from_headers(request.headers) is None
        )

    def _plain_get(self, request: Request) -> dict[str, str] | None:
        """The parameters of a GET with its operation in the URL (as Apollo Client sends
        a persisted query, by its hash) that asks for no stream, nor for the IDE; None
        for any other request."""
        if (
            request.method != "GET"
            or self._get_stream_transport_from_headers(request.headers) is not None
        ):
            return None
        params = url_params(request.scope["query_string"])
        return None if _wants_ide(params, request.headers.get("accept", "")) else params

    async def _post(self, request: Request) -> Response:
        """Strawberry's `run` for a `_plain_post`, in its order, less its steps that cannot
        apply to one: a WebSocket's, the IDE's (a GET's), the method's check, and a
        stream's answer. Its answer is an ExecutionResult, which `run` first tries as a
        subscription's stream, a runtime-checkable protocol that costs each answer
        ~20 µs to refuse (`inspect.getattr_static`)."""
        adapter = self.request_adapter_class(request)
        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, response=sub_response)
        try:
            request_data = await self._json_body(adapter)
        except json.JSONDecodeError as e:
            raise HTTPException(400, "Unable to parse request body as JSON") from e
        except KeyError as e:
            raise HTTPException(400, "File(s) missing in form data") from e
        return await self._answered(request, adapter, request_data, context, sub_response)

    async def _get(self, request: Request, params: dict[str, str]) -> Response:
        """Strawberry's `run` for a `_plain_get` (its `params`), as `_post` for a POST:
        its operation read from the URL as Strawberry reads it (`parse_query_params`),
        and anything Strawberry refuses, refused its way (`parse_http_body`)."""
        adapter = self.request_adapter_class(request)
        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, response=sub_response)
        request_data = _well_formed(self.parse_query_params(params))
        if request_data is None:  # refused, Strawberry's way
            return await self._answered(
                request, adapter, await self.parse_http_body(adapter), context, sub_response
            )
        return await self._answered(request, adapter, request_data, context, sub_response)

    async def _answered(
        self,
        request: Request,
        adapter: AsyncHTTPRequestAdapter,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        sub_response: Response,
    ) -> Response:
        """The rest of `run` for a request that asks for no stream: its operation
        executed, and its answer."""
        result = await self.execute_operation(
            request, adapter, request_data, context, None, sub_response
        )
        if not isinstance(result, ExecutionResult):
            # Only a stream transport (which neither asks for) streams, and a batch is
            # refused as it is parsed (the schema allows none).
            raise TypeError(f"a plain {request.method} was answered with {type(result).__name__}")
        answer = await self.process_result(request, result)
        if result.errors:
            self._handle_errors(result.errors, answer)
        return self.create_response(answer, sub_response)

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        """Strawberry's (no status yet, no headers), and the media type the answer will be
        sent in, chosen once from `Accept`."""
        return _Answer(b"", None, [], negotiated(request.headers.get("accept")))

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        """The JSON answer in the negotiated media type. In application/graphql-response+json
        a request error has no `data` and a 4xx status (400 unless the refusal chose one)."""
        media_type = sub_response.media_type or JSON
        status = sub_response.status_code or 200
        errors = isinstance(response_data, list) or bool(response_data.get("errors"))
        body: object = response_data
        if (
            media_type == GRAPHQL_RESPONSE_JSON
            and isinstance(response_data, dict)
            and is_request_error(response_data)
        ):
            body = {k: v for k, v in response_data.items() if k != "data"}
            status = max(status, 400)
        encoded = self._encoded(body)
        given = sub_response.raw_headers
        # Whatever failed (a syntax error included) is never stored by a cache.
        no_store = errors or all(name != b"cache-control" for name, _ in given)
        replaced = {b"vary", b"cache-control"} if no_store else {b"vary"}
        headers = [
            (b"content-length", str(len(encoded)).encode()),
            (b"content-type", media_type.encode("latin-1")),
            *(header for header in given if header[0] not in replaced),
            *([(b"cache-control", b"no-store")] if no_store else []),
            (b"vary", _VARY),
        ]
        response = _Answer(encoded, status, headers, media_type)
        response.background = sub_response.background
        return response

    async def create_streaming_response(
        self,
        request: Request | WebSocket,
        stream: Callable[[], AsyncIterator[str]],
        sub_response: Response,
        headers: Mapping[str, str],
    ) -> Response:
        """A subscription's multipart stream, ended at the token's expiry and at shutdown."""
        claims: Claims = request.state.subscriber
        drain: Drain = request.app.state.drain

        def ended() -> AsyncGenerator[str, None]:
            return bounded(stream(), drain.event, claims.expires_at, self.encode_json_string)

        sub_response.headers["Cache-Control"] = "no-store"
        sub_response.headers["Vary"] = VARY
        return await super().create_streaming_response(request, ended, sub_response, headers)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        state: AppState = request.app.state.app
        ctx = Context(
            request=request,
            response=response,
            state=state,
            request_id=request_id_of(request),
            now=state.clock(),
        )
        try:
            token = bearer_token(request.headers.get("authorization"))
            if token is not None:
                # The user document is read when an operation runs (a whole answer
                # served from the cache needs only the token).
                ctx.authenticate(await verify_token(token, state.settings))
        except Unauthenticated as e:
            ctx.auth_error = e
        if isinstance(response, Response):
            response.headers["X-Request-ID"] = ctx.request_id
        return ctx

    def _get_stream_transport_from_headers(
        self, headers: Mapping[str, str]
    ) -> HTTPStreamTransport | None:
        """Strawberry's, by the value of `Accept` (see MEMO_HEADERS)."""
        accept = headers.get("accept") or ""
        try:
            return self._transports[accept]
        except KeyError:
            transport = super()._get_stream_transport_from_headers(headers)
        if len(self._transports) < MEMO_HEADERS:
            self._transports[accept] = transport
        return transport

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """A JSON object POSTed with its members of the types they must have, read
        without Strawberry's parsing of the headers on every request (see MEMO_HEADERS);
        anything else (a GET, a form, a batch, a member of the wrong type, a stream
        asked for), and every refusal, Strawberry's way."""
        if self._plain_post(request):
            return await self._json_body(request)
        return await super().parse_http_body(request)

    async def _json_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """`parse_http_body` of a `_plain_post`."""
        well_formed = _well_formed(self.parse_json(await request.get_body()))
        if well_formed is not None:
            return well_formed
        return await super().parse_http_body(request)

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        # A GET that carries a persisted query wants an answer, not the IDE.
        return request.method == "GET" and _wants_ide(
            request.query_params, request.headers.get("accept", "")
        )

    async def execute_operation(  # noqa: PLR0917 - Strawberry's signature
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> ExecutionResult | list[ExecutionResult] | SubscriptionExecutionResult:
        """A request that accepts Apollo's multipart stream goes through the same rate
        limit and persisted queries as any other; only a subscription streams."""
        if isinstance(request_data, list) or request_data.protocol == "http":
            return await super().execute_operation(
                request, request_adapter, request_data, context, root_value, sub_response
            )
        admitted = await admit(context, request_data, sub_response)
        if isinstance(admitted, ExecutionResult):
            return admitted
        max_tokens = self.settings.max_tokens
        query = admitted.query or ""
        if not is_subscription(query, admitted.operation_name, max_tokens):
            # A query or mutation: its one answer, as JSON (the Accept offers it too).
            return await self._idempotent(
                request, request_adapter, sub_response, context, root_value, admitted, None
            )
        if context.claims is None or context.auth_error is not None:
            sub_response.status_code = 401
            sub_response.headers["WWW-Authenticate"] = "Bearer"
            error = context.auth_error or Unauthenticated(
                "a bearer token is required: send `Authorization: Bearer <token>`"
            )
            return refusal(sub_response, error.code, error.message)
        if not is_valid(cast("strawberry.Schema", self.schema)._schema, query, max_tokens):
            # Said as one JSON answer, before any stream starts: nothing runs.
            return await self.schema.execute(
                query,
                variable_values=admitted.variables,
                context_value=context,
                operation_name=admitted.operation_name,
                allowed_operation_types=(OperationType.SUBSCRIPTION,),
            )
        request.state.subscriber = context.claims
        record = current()
        if record is not None:  # the access line of a stream the client may end at any time
            record.operation_name = admitted.operation_name
            record.operation_type = "subscription"
            record.user_id = context.claims.sub
        events = await self.schema.stream(
            query,
            variable_values=admitted.variables,
            context_value=context,
            root_value=root_value,
            operation_name=admitted.operation_name,
            operation_extensions=admitted.extensions,
            allowed_operation_types=(OperationType.SUBSCRIPTION,),
        )
        return cast("SubscriptionExecutionResult", events)

    async def execute_single(  # noqa: PLR0917 - Strawberry's signature
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Rate limit, persisted queries (APQ, the manifest, the safelist), then execution
        within EXECUTION_TIMEOUT_S. The rate limit's verdict is awaited only before the
        answer (see `guards.rate_limit`); a refusal of the rate limit comes first."""
        taking = rate_limit(context)
        admitted = await persisted_query(context, request_data, sub_response)
        if isinstance(admitted, ExecutionResult):
            return await rate_limited(taking, sub_response) or admitted
        if admitted.query and is_subscription(
            admitted.query, admitted.operation_name, self.settings.max_tokens
        ):
            # Executed as one answer, a subscription would fail inside (INTERNAL).
            return await rate_limited(taking, sub_response) or wrong_operation_type(
                sub_response, OperationType.SUBSCRIPTION
            )
        return await self._idempotent(
            request, request_adapter, sub_response, context, root_value, admitted, taking
        )

    async def _idempotent(  # noqa: PLR0917 - execute_single's
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
        taking: asyncio.Future[Verdict] | None,
    ) -> ExecutionResult:
        """The answer; with an Idempotency-Key, the first answer of that key and body.
        `taking`: the rate limit's verdict, not yet awaited (a key is claimed only by a
        request the limit lets through)."""
        if taking is not None and "idempotency-key" in request.headers:
            limited = await rate_limited(taking, sub_response)
            if limited is not None:
                return limited
            taking = None
        call = _Call(request, request_adapter, sub_response, context, root_value)
        run = self._answer(call, request_data, taking)
        timeout_s = self.settings.execution_timeout_s
        return await idempotent(
            request, context, request_data, sub_response, run, timeout_s=timeout_s
        )

    async def _answer(
        self,
        call: _Call,
        request_data: GraphQLRequestData,
        taking: asyncio.Future[Verdict] | None,
    ) -> ExecutionResult:
        """From the whole-answer cache, or executed within EXECUTION_TIMEOUT_S; what an
        execution stores in the cache (its fills and its answer) is sent together at its
        end. The rate limit's verdict (`taking`) is awaited once the whole-answer cache
        has been looked at, before anything is answered or executed."""
        context = call.context
        key = None
        if self.responses is not None and request_data.query:
            key = self.responses.key(
                context, request_data.query, request_data.variables, request_data.operation_name
            )
        name = operation_name_of(request_data.query or "", request_data.operation_name)
        record = current()
        if record is not None:  # the access line's from here on, whatever happens next
            record.operation_name = name
        if context.request_cache is not None:  # what it reads is the next run's hint
            context.request_cache.operation = name
        started = time.perf_counter()
        found: Hit | Kept | None = None
        if key is not None and self.responses is not None:
            found = await self.responses.lookup(context, key)
        if limited := await rate_limited(taking, call.sub_response):
            return limited
        if isinstance(found, Hit):
            call.sub_response.headers["Cache-Control"] = found.cache_control
            self._served(context, name, started)
            # JSON already (an orjson.Fragment): encode_json embeds it as it is.
            return ExecutionResult(data=cast("dict[str, Any]", found.data), errors=None)
        kept = found
        parts = None
        if key is not None:
            parts = parts_of(request_data.query or "", request_data.operation_name)
            if parts is not None:
                context.by_parts()
        async with context.state.cache.deferring():
            return await self._executed(call, request_data, (key, parts, kept))

    async def _executed(
        self,
        call: _Call,
        request_data: GraphQLRequestData,
        stored: tuple[str | None, tuple[str, ...] | None, Kept | None],
    ) -> ExecutionResult:
        """Executed within EXECUTION_TIMEOUT_S, and stored when it can be (`stored`: the
        answer's key, its parts, and those of them still current)."""
        key, parts, kept = stored
        sub_response = call.sub_response
        timeout = self.settings.execution_timeout_s
        try:
            async with asyncio.timeout(timeout), self.running:
                result, used = await self._execute(call, request_data, parts, kept)
        except TimeoutError:
            if sub_response.media_type == GRAPHQL_RESPONSE_JSON:
                sub_response.status_code = 504  # no data: the status says what happened
            return refusal(
                sub_response,
                "TIMEOUT",
                f"the operation took longer than {timeout:g} s and was stopped",
                requestId=call.context.request_id,
            )
        except HTTPException as e:
            if isinstance(e.__cause__, InvalidOperationTypeError):  # a mutation over GET
                return wrong_operation_type(sub_response, e.__cause__.operation_type)
            raise
        return await self._stored(call.context, key, parts, used, result, sub_response)

    async def _stored(  # noqa: PLR0917 - the answer and what it is stored with
        self,
        context: Context,
        key: str | None,
        parts: tuple[str, ...] | None,
        kept: Kept | None,
        result: ExecutionResult,
        sub_response: Response,
    ) -> ExecutionResult:
        """The answer, stored whole (or by parts) when it can be; its data then as the
        JSON made for the entry (encode_json embeds an orjson.Fragment as it is)."""
        if key is None or self.responses is None:
            return result
        if parts is not None and (kept is not None or (not result.errors and result.data)):
            answer = await self._by_parts(context, key, parts, kept, result, sub_response)
            if answer is None:
                return result
            data = cast("dict[str, Any]", answer)
            return ExecutionResult(data=data, errors=None, extensions=result.extensions)
        if result.errors or not result.data:
            return result
        cache_control = sub_response.headers.get("Cache-Control", "no-store")
        encoded = await self.responses.store(context, key, result.data, cache_control)
        if encoded is None:
            return result
        data = cast("dict[str, Any]", encoded)  # the JSON just made for the entry
        return ExecutionResult(data=data, errors=None, extensions=result.extensions)

    async def _execute(
        self,
        call: _Call,
        request_data: GraphQLRequestData,
        parts: tuple[str, ...] | None,
        kept: Kept | None,
    ) -> tuple[ExecutionResult, Kept | None]:
        """The query executed, and the stored parts its answer is to be made with: with
        parts still current, only the other root fields are executed (graphql_api.parts);
        should that fail, the whole query is, as always."""
        if parts is not None and kept is not None and kept.pieces:
            stale = tuple(k for k in parts if k not in kept.pieces)
            if not stale:
                return ExecutionResult(data={}, errors=None), kept
            query, names = document_of(request_data.query or "", request_data.operation_name, stale)
            given = request_data.variables or {}
            alone = replace(
                request_data,
                query=query,
                variables={name: given[name] for name in names if name in given},
            )
            result = await super().execute_single(*call, alone)
            if not result.errors and result.data:
                return result, kept
            call.context.by_parts()  # afresh, for the whole query
        whole = await super().execute_single(*call, request_data)
        return whole, None

    async def _by_parts(  # noqa: PLR0917 - the parts of one answer
        self,
        context: Context,
        key: str,
        parts: tuple[str, ...],
        kept: Kept | None,
        result: ExecutionResult,
        sub_response: Response,
    ) -> orjson.Fragment | dict[str, Any] | None:
        """The answer from the parts executed (`result`) and those `kept` as stored, in
        the order of the query's root fields; stored with what each part read, unless a
        part showed what no version covers. None: send `result` as it is (it is the
        whole query's, and not stored)."""
        if self.responses is None:  # only called with a key of the whole-answer cache
            return None
        data = result.data or {}
        base = context.cache
        pieces: list[tuple[str, Piece]] = []
        storable = base.complete
        for name in parts:
            if kept is not None and name in kept.pieces:
                pieces.append((name, kept.pieces[name]))
                continue
            try:
                value = orjson.dumps(data[name])
            except TypeError:  # a string orjson refuses (a lone surrogate): sent, not stored
                if kept is None:
                    return None
                return {
                    n: orjson.loads(kept.pieces[n].value) if n in kept.pieces else data[n]
                    for n in parts
                }
            part = (context.parts or {}).get(name)
            read = {**base.read, **(part.cache.read if part else {})}
            ends = [t for t in (base.until, part.cache.until if part else None) if t is not None]
            storable = storable and (part is None or part.cache.complete) and bool(read)
            until = min(ends).isoformat() if ends else None
            pieces.append((name, Piece(value, read, until)))
        cache_control = (
            kept.cache_control
            if kept is not None
            else sub_response.headers.get("Cache-Control", "no-store")
        )
        sub_response.headers["Cache-Control"] = cache_control
        reused = sum(1 for _, piece in pieces if piece.kept)
        lookups("part", "hit").inc(reused)
        lookups("part", "miss").inc(len(pieces) - reused)
        if not storable:  # `result` is the whole answer, unless parts were kept
            return orjson.Fragment(assemble([(n, p.value) for n, p in pieces])[0]) if kept else None
        return await self.responses.store_parts(context, key, pieces, cache_control)

    @staticmethod
    def _served(context: Context, operation_name: str | None, started: float) -> None:
        # Only queries are cached whole; the schema's extensions never ran for this one.
        elapsed = time.perf_counter() - started
        operation_duration(label_of(operation_name), "query").observe(elapsed)
        record = current()
        if record is not None:
            record.operation_type = "query"
            record.user_id = context.claims.sub if context.claims else None
            record.cached = True

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """graphql-transport-ws: the bearer token comes in connection_init's payload."""
        params = context.connection_params or {}
        raw = params.get("Authorization") or params.get("authorization")
        if raw is None and isinstance(params.get("token"), str):
            raw = f"Bearer {params['token']}"
        try:
            token = bearer_token(raw if isinstance(raw, str) else None)
            if token is None:
                raise Unauthenticated("connection_init must carry Authorization: Bearer <token>")
            context.claims = await verify_token(token, context.state.settings)
        except Unauthenticated as e:
            refused = SocketGuard.of(context.request.scope) if context.request else None
            if refused is not None:
                refused.refuse("Forbidden")
            raise ConnectionRejectionError({"message": e.message}) from None
        guard = SocketGuard.of(context.request.scope) if context.request is not None else None
        if guard is not None:
            guard.expire_at(context.claims.expires_at)
        context.auth_error = None
        context.start_operation()
        await context.load_viewer()
        accepted: UnsetType = UNSET
        return accepted

    def parse_json(self, data: str | bytes) -> Any:
        """A JSON body must be an object (or a list of them, refused later: no batching)."""
        parsed = super().parse_json(data)
        for item in parsed if isinstance(parsed, list) else [parsed]:
            if not isinstance(item, dict):
                raise HTTPException(
                    400, 'the body must be a JSON object: {"query": ..., "variables": {...}}'
                )
            if not isinstance(item.get("operationName"), str | None):
                raise HTTPException(400, "`operationName` must be a string or null")
        return parsed

    def decode_json(self, data: str | bytes) -> object:
        # orjson's error is a json.JSONDecodeError: Strawberry's 400 still applies.
        return orjson.loads(data)

    @staticmethod
    def _encoded(data: object) -> bytes:
        """An HTTP answer's JSON (`encode_json`'s, as bytes, not made text first)."""
        try:
            return orjson.dumps(data)
        except TypeError:  # a string orjson refuses (a lone surrogate): escaped instead
            return json.dumps(data, separators=(",", ":")).encode()

    def encode_json(self, data: object) -> str:
        # Text, not bytes: Strawberry sends bytes over a WebSocket as binary frames,
        # which graphql-ws clients in browsers cannot parse.
        try:
            return orjson.dumps(data).decode()
        except TypeError:  # a string orjson refuses (a lone surrogate): escaped instead
            return json.dumps(data, separators=(",", ":"))
