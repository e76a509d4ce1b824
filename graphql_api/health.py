"""/healthz: the process is up. /readyz: Mongo and Redis both answer within a second."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from starlette.requests import Request
from starlette.responses import JSONResponse

from graphql_api import redis_clients
from graphql_api.state import AppState


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def _check(probe: Awaitable[object], limit_s: float) -> str:
    try:
        await asyncio.wait_for(probe, limit_s)
    except TimeoutError:
        return f"no answer within {limit_s:g} s"
    except Exception as e:  # noqa: BLE001 - any failure means "not ready", with its reason
        return f"{type(e).__name__}: {e}"[:200]
    return "ok"


async def readyz(request: Request) -> JSONResponse:
    state: AppState = request.app.state.app
    if request.app.state.drain.draining:
        return JSONResponse({"status": "draining"}, status_code=503)
    timeout = state.settings.readiness_timeout_s
    mongo, redis = await asyncio.gather(
        _check(state.mongo.admin.command("ping"), timeout),
        _check(redis_clients.ping(state.redis), timeout),
    )
    ready = mongo == "ok" and redis == "ok"
    return JSONResponse(
        {"status": "ready" if ready else "unready", "mongo": mongo, "redis": redis},
        status_code=200 if ready else 503,
    )
