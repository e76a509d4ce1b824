"""One record per HTTP request: timed, labelled for Prometheus, logged as one JSON line.

The middleware opens the record; the GraphQL layer fills in what only it knows
(operation name and type, user, error codes) through `current()`.
"""

from __future__ import annotations

import logging
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache

from cachetools import LRUCache
from prometheus_client import Histogram
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graphql_api.observability.metrics import HTTP_REQUEST_DURATION

log = logging.getLogger("graphql_api.access")

_REQUEST_ID_MAX = 128
_CURRENT: ContextVar[RequestRecord | None] = ContextVar("request_record", default=None)


@dataclass
class RequestRecord:
    request_id: str
    method: str
    path: str
    route: str
    status: int = 0
    operation_name: str | None = None
    operation_type: str | None = None
    user_id: str | None = None
    error_codes: list[str] = field(default_factory=list)
    cached: bool = False

    @property
    def outcome(self) -> str:
        if self.status >= 500:
            return "server_error"
        if self.status >= 400:
            return "client_error"
        return "errors" if self.error_codes else "ok"


def current() -> RequestRecord | None:
    """The record of the HTTP request being served, if any (None in background work)."""
    return _CURRENT.get()


def request_id_from(headers: dict[str, str] | None) -> str:
    """The caller's X-Request-ID when it is sane, else a new one."""
    given = (headers or {}).get("x-request-id", "")
    if given and len(given) <= _REQUEST_ID_MAX and given.isprintable():
        return given
    return uuid.uuid4().hex


_ROUTES: LRUCache[tuple[str, str], str] = LRUCache(maxsize=1024)


def _route_of(scope: Scope) -> str:
    """The route's template (`/graphiql/{path:path}`), never the raw path: bounded labels.
    Matching every route costs each request; a path's answer is remembered."""
    key = (scope["method"], scope["path"])
    found = _ROUTES.get(key)
    if found is not None:
        return found
    found = "unmatched"
    router = getattr(scope.get("app"), "router", None)
    for route in getattr(router, "routes", ()):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            found = str(getattr(route, "path", "other"))
            break
    _ROUTES[key] = found
    return found


def _request_id_header(scope: Scope) -> dict[str, str]:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            return {"x-request-id": value.decode("latin-1")}
    return {}


@lru_cache(maxsize=4096)
def _duration(method: str, route: str, status: int) -> Histogram:
    """The labelled child, looked up once per label set rather than per request."""
    return HTTP_REQUEST_DURATION.labels(method, route, str(status))


class RequestMetrics:
    """Pure ASGI middleware (streaming-safe): duration histogram and the access log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        record = RequestRecord(
            request_id=request_id_from(_request_id_header(scope)),
            method=scope["method"],
            path=scope["path"],
            route=_route_of(scope),
        )
        token = _CURRENT.set(record)
        started = time.perf_counter()

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except BaseException:
            record.status = record.status or 500
            raise
        finally:
            _CURRENT.reset(token)
            elapsed = time.perf_counter() - started
            _duration(record.method, record.route, record.status).observe(elapsed)
            if record.route not in {"/healthz", "/readyz", "/metrics"}:
                log.info(
                    "%s %s %d",
                    record.method,
                    record.path,
                    record.status,
                    extra={
                        "request_id": record.request_id,
                        "method": record.method,
                        "path": record.path,
                        "status": record.status,
                        "duration_ms": round(elapsed * 1000, 2),
                        "operation_name": record.operation_name,
                        "operation_type": record.operation_type,
                        "user_id": record.user_id,
                        "outcome": record.outcome,
                        "error_codes": record.error_codes or None,
                        "cached": record.cached or None,
                    },
                )
