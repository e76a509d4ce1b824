"""The GraphQL endpoint: Strawberry's ASGI view with our context and JSON errors."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from graphql_api.cache.request import RequestCache
from graphql_api.cache.responses import ResponseCache
from graphql_api.context import Context
from graphql_api.errors import Unauthenticated
from graphql_api.graphiql import GraphiQLPage
from graphql_api.lifespan import AppState
from graphql_api.observability.metrics import GRAPHQL_OPERATION_DURATION, WEBSOCKETS_OPEN
from graphql_api.observability.operations import label_of
from graphql_api.observability.requests import current, request_id_from
from graphql_api.persisted.queries import Refusal
from graphql_api.security.tokens import bearer_token, verify_token
from graphql_api.shutdown import Drain
from loaders import create_loaders


def request_id_of(request: Request | WebSocket) -> str:
    """The id the access log line carries (one per HTTP request; per connection on a socket)."""
    record = current()
    return record.request_id if record is not None else request_id_from(dict(request.headers))


class GraphQLApp(GraphQL[Context, None]):
    def __init__(
        self,
        *args: Any,
        page: GraphiQLPage | None = None,
        responses: ResponseCache | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.page = page
        self.responses = responses

    async def render_graphql_ide(self, request: Request) -> Response:
        if self.page is None:
            return PlainTextResponse("Not Found", status_code=404)
        return HTMLResponse(self.page.html())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            drain: Drain = scope["app"].state.drain
            receive, send = drain.websocket(receive, send)
            WEBSOCKETS_OPEN.inc()
            try:
                await super().__call__(scope, receive, send)
            finally:
                WEBSOCKETS_OPEN.dec()
            return
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self.run(request)
        except HTTPException as e:
            # Clients parse JSON; Strawberry's default here is text/plain.
            response = JSONResponse(
                {"errors": [{"message": e.reason, "extensions": {"code": "BAD_REQUEST"}}]},
                status_code=e.status_code,
            )
        await response(scope, receive, send)

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
                ctx.claims = verify_token(token, state.settings)
                ctx._cache = RequestCache(state.cache, ctx.claims.sub)
                ctx._loaders = create_loaders(ctx.claims.sub)
        except Unauthenticated as e:
            ctx.auth_error = e
        if isinstance(response, Response):
            response.headers["X-Request-ID"] = ctx.request_id
        return ctx

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        # A GET that carries a persisted query wants an answer, not the IDE.
        return "extensions" not in request.query_params and super().should_render_graphql_ide(
            request
        )

    async def execute_single(  # noqa: PLR0917 - Strawberry's signature
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Resolves persisted queries (APQ, the manifest, the safelist) before execution."""
        resolved = await context.state.persisted.resolve(
            request_data.query, request_data.extensions
        )
        if isinstance(resolved, Refusal):
            sub_response.headers["Cache-Control"] = "no-store"
            error = GraphQLError(resolved.message, extensions={"code": resolved.code})
            return ExecutionResult(data=None, errors=[error])
        request_data = replace(request_data, query=resolved or request_data.query)
        key = None
        if self.responses is not None and request_data.query:
            key = self.responses.key(
                context, request_data.query, request_data.variables, request_data.operation_name
            )
        if key is not None and self.responses is not None:
            started = time.perf_counter()
            hit = await self.responses.lookup(context, key)
            if hit is not None:
                data, cache_control = hit
                sub_response.headers["Cache-Control"] = cache_control
                self._served_from_cache(context, request_data.operation_name, started)
                return ExecutionResult(data=data, errors=None)
        result = await super().execute_single(
            request, request_adapter, sub_response, context, root_value, request_data
        )
        if key is not None and self.responses is not None and not result.errors and result.data:
            cache_control = sub_response.headers.get("Cache-Control", "no-store")
            await self.responses.store(context, key, result.data, cache_control)
        return result

    @staticmethod
    def _served_from_cache(context: Context, operation_name: str | None, started: float) -> None:
        # Only queries are cached whole; the schema's extensions never ran for this one.
        elapsed = time.perf_counter() - started
        GRAPHQL_OPERATION_DURATION.labels(label_of(operation_name), "query").observe(elapsed)
        record = current()
        if record is not None:
            record.operation_name = operation_name
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
            context.claims = verify_token(token, context.state.settings)
        except Unauthenticated as e:
            raise ConnectionRejectionError({"message": e.message}) from None
        context.auth_error = None
        context.start_operation()
        await context.load_viewer()
        accepted: UnsetType = UNSET
        return accepted

    def encode_json(self, data: object) -> str:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)
