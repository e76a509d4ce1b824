"""Google push notifications: POST /webhooks/google starts an incremental sync, debounced.

A watch channel is created with the token `channel_token(settings, calendar id)`;
Google sends it back in X-Goog-Channel-Token with every notification, which is
how we know the calendar and that the notification is ours. Bursts of
notifications start one sync; the periodic sync stays the fallback.
"""

from __future__ import annotations

import hashlib
import hmac
import math

from bson import ObjectId
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from graphql_api.redis_clients import FAILURES
from graphql_api.settings import Settings
from graphql_api.state import AppState
from graphql_api.sync.runs import request_sync
from models import Calendar


def _signature(settings: Settings, calendar_id: str) -> str:
    secret = (settings.google_channel_token or settings.jwt_secret).encode()
    return hmac.new(secret, calendar_id.encode(), hashlib.sha256).hexdigest()[:32]


def channel_token(settings: Settings, calendar_id: str) -> str:
    return f"{calendar_id}.{_signature(settings, calendar_id)}"


def calendar_of_token(settings: Settings, token: str) -> str | None:
    calendar_id, _, signature = token.partition(".")
    expected = _signature(settings, calendar_id)
    if ObjectId.is_valid(calendar_id) and hmac.compare_digest(signature, expected):
        return calendar_id
    return None


async def google(request: Request) -> Response:
    state: AppState = request.app.state.app
    calendar_id = calendar_of_token(state.settings, request.headers.get("x-goog-channel-token", ""))
    if calendar_id is None:
        return JSONResponse({"error": "unknown channel token"}, status_code=403)
    if request.headers.get("x-goog-resource-state") == "sync":
        return Response(status_code=200)  # the channel's handshake
    calendar = await Calendar.find_one({"_id": ObjectId(calendar_id), "provider": "GOOGLE"})
    if calendar is None:
        return Response(status_code=404)  # Google stops a channel that answers 404
    window = state.settings.webhook_debounce_s
    key = f"{state.settings.cache_prefix}webhook:{calendar_id}"
    try:
        first = await state.redis.set(key, "1", nx=True, ex=max(1, math.ceil(window)))
    except FAILURES:
        first = True  # no Redis to debounce with: a sync too many is harmless
    if first:
        await request_sync(state, calendar, full=False, delay_s=window)
    return Response(status_code=200)
