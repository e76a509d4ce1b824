"""create_app(settings) -> the Starlette application: routes, middleware, lifespan."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from strawberry.subscriptions import (
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    GRAPHQL_WS_PROTOCOL,
    MULTIPART_SUBSCRIPTION_PROTOCOL,
)

from graphql_api.compression import GZip
from graphql_api.graphiql import GraphiQLPage
from graphql_api.health import healthz, readyz
from graphql_api.http import GraphQLApp
from graphql_api.lifespan import lifespan
from graphql_api.observability.metrics import exposition
from graphql_api.observability.requests import RequestMetrics
from graphql_api.observability.tracing import configure_tracing
from graphql_api.responses import ResponseCache
from graphql_api.schema import build_schema
from graphql_api.security.body import BodyLimit
from graphql_api.security.cors import cors
from graphql_api.security.dev_tokens import mint_dev_token
from graphql_api.settings import Settings, get_settings
from graphql_api.shutdown import Drain
from graphql_api.sync import microsoft_webhooks, webhooks


async def metrics(request: Request) -> Response:
    body, media_type = exposition()
    return Response(body, media_type=media_type)


def dev_headers(settings: Settings) -> Callable[[], dict[str, str]]:
    """GraphiQL's header editor, pre-filled in development with a token for `dev-user`."""

    def headers() -> dict[str, str]:
        token = mint_dev_token(settings, "dev-user", email="dev@example.com")
        return {"Authorization": f"Bearer {token}"}

    return headers


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    page = None
    if settings.graphiql_enabled:
        prefill = settings.dev_tokens_accepted and not settings.is_production
        page = GraphiQLPage(settings.graphiql_assets, dev_headers(settings) if prefill else None)
    tracing = None
    if settings.otel_enabled:
        tracing = configure_tracing(settings)
    graphql = GraphQLApp(
        build_schema(settings, *([tracing.extension] if tracing else [])),
        graphql_ide="graphiql" if page else None,
        settings=settings,
        allow_queries_via_get=True,
        # WebSocket's two, and Apollo's multipart protocol over HTTP.
        subscription_protocols=(
            GRAPHQL_TRANSPORT_WS_PROTOCOL,
            GRAPHQL_WS_PROTOCOL,
            MULTIPART_SUBSCRIPTION_PROTOCOL,
        ),
        connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_s),
        max_subscriptions_per_connection=settings.ws_max_subscriptions,
        page=page,
        responses=ResponseCache(settings.cache_ttl_response),
    )
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            Route("/webhooks/google", webhooks.google, methods=["POST"]),
            Route("/webhooks/microsoft", microsoft_webhooks.microsoft, methods=["POST"]),
            *([Route("/graphiql/{path:path}", page.asset)] if page else []),
        ],
        middleware=[
            Middleware(RequestMetrics),  # outermost: times the whole request, compression included
            # Outside everything that answers (413, 429, 401): a browser reads none of them
            # without Access-Control-Allow-Origin.
            *cors(settings),
            Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
            # Seed: level 6 above 1 KB; the middleware only sees HTTP, never WebSockets.
            # Streams are not compressed: a subscription's parts are small, and each
            # open one would hold a compressor's buffers for as long as it lasts.
            Middleware(
                GZip,  # Starlette's, compressing with zlib-ng (graphql_api.compression)
                minimum_size=1024,
                compresslevel=6,
                exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, "multipart/mixed"),
            ),
            *([Middleware(tracing.middleware)] if tracing else []),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.drain = Drain()
    return app
