"""Microsoft Graph change notifications: POST /webhooks/microsoft starts an incremental
sync, debounced.

A Graph subscription to a calendar's events is created with
`notificationUrl` this route and `clientState` `client_state(settings, calendar id)`.
Graph first validates the URL: a POST with `?validationToken=...`, which must be
echoed as text/plain within 10 seconds. Then each notification carries the
clientState back, which is how we know the calendar and that the notification is
ours; one with another clientState is ignored (a POST with none of ours is 403).
Bursts start one sync; the periodic sync stays the fallback.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from typing import Any

from bson import ObjectId
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from graphql_api.redis_clients import FAILURES
from graphql_api.settings import Settings
from graphql_api.state import AppState
from graphql_api.sync.runs import request_sync
from models import Calendar

VALIDATION_TOKEN_MAX = 4096


def _signature(settings: Settings, calendar_id: str) -> str:
    secret = (settings.microsoft_client_state or settings.jwt_secret).encode()
    return hmac.new(secret, b"graph:" + calendar_id.encode(), hashlib.sha256).hexdigest()[:32]


def client_state(settings: Settings, calendar_id: str) -> str:
    """The clientState a calendar's Graph subscription is created with (at most 128 chars)."""
    return f"{calendar_id}.{_signature(settings, calendar_id)}"


def calendar_of_client_state(settings: Settings, value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    calendar_id, _, signature = value.partition(".")
    expected = _signature(settings, calendar_id)
    if ObjectId.is_valid(calendar_id) and hmac.compare_digest(signature, expected):
        return calendar_id
    return None


async def debounced_sync(state: AppState, calendar: Calendar) -> None:
    """One incremental sync for a burst of notifications, WEBHOOK_DEBOUNCE_S after the first."""
    window = state.settings.webhook_debounce_s
    key = f"{state.settings.cache_prefix}webhook:{calendar.id}"
    try:
        first = await state.redis.set(key, "1", nx=True, ex=max(1, math.ceil(window)))
    except FAILURES:
        first = True  # no Redis to debounce with: a sync too many is harmless
    if first:
        await request_sync(state, calendar, full=False, delay_s=window)


async def microsoft(request: Request) -> Response:
    validation = request.query_params.get("validationToken")
    if validation is not None:  # the subscription's handshake
        return PlainTextResponse(validation[:VALIDATION_TOKEN_MAX])
    state: AppState = request.app.state.app
    try:
        notifications = (await request.json())["value"]
    except (ValueError, KeyError, TypeError):
        notifications = None
    if not isinstance(notifications, list):
        return JSONResponse({"error": "not a Graph change notification"}, status_code=400)
    ours = {
        calendar_of_client_state(state.settings, n.get("clientState"))
        for n in notifications
        if isinstance(n, dict)
    } - {None}
    if not ours:
        return JSONResponse({"error": "unknown clientState"}, status_code=403)
    for calendar_id in sorted(c for c in ours if c):
        calendar = await Calendar.find_one({"_id": ObjectId(calendar_id), "provider": "OUTLOOK"})
        if calendar is not None:
            await debounced_sync(state, calendar)
    return Response(status_code=202)
