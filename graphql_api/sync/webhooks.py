"""Google push notifications: POST /webhooks/google starts an incremental sync, debounced.

Our channels (graphql_api/sync/channels.py) carry the token
`channel_token(settings, calendar id)`; Google sends it back in
X-Goog-Channel-Token with every notification, which names the calendar and
proves the notification is ours. Only the channel stored on that calendar
(X-Goog-Channel-ID, and X-Goog-Resource-ID) starts a sync: a forged token, a
stopped, replaced or unknown channel is ignored, with 200 so that Google does
not retry, and counted (google_push_notifications{outcome}). A `sync` message,
sent when a channel is made, is acknowledged. Bursts of notifications start one
sync; the periodic sync stays the fallback. Any API process may receive them:
the sync is queued, a worker runs it.
"""

from __future__ import annotations

import math

from bson import ObjectId
from starlette.requests import Request
from starlette.responses import Response

from graphql_api.lifespan import AppState
from graphql_api.redis_clients import FAILURES
from graphql_api.sync.channels import NOTIFICATIONS, calendar_of_token, channel_of
from graphql_api.sync.runs import request_sync
from models import Calendar


async def google(request: Request) -> Response:
    state: AppState = request.app.state.app
    headers = request.headers
    calendar_id = calendar_of_token(state.settings, headers.get("x-goog-channel-token", ""))
    if calendar_id is None:
        return _ignored("forged_token")
    if headers.get("x-goog-resource-state") == "sync":
        # A new channel's first message, possibly before it is stored (a renewal).
        NOTIFICATIONS.labels("handshake").inc()
        return Response(status_code=200)
    calendar = await Calendar.find_one({"_id": ObjectId(calendar_id), "provider": "GOOGLE"})
    channel = channel_of(calendar) if calendar is not None else None
    if (
        calendar is None
        or channel is None
        or headers.get("x-goog-channel-id") != channel.id
        or headers.get("x-goog-resource-id", channel.resource_id) != channel.resource_id
    ):
        return _ignored("unknown_channel")
    window = state.settings.webhook_debounce_s
    key = f"{state.settings.cache_prefix}webhook:{calendar_id}"
    try:
        first = await state.redis.set(key, "1", nx=True, ex=max(1, math.ceil(window)))
    except FAILURES:
        first = True  # no Redis to debounce with: a sync too many is harmless
    if first:
        await request_sync(state, calendar, full=False, delay_s=window)
    NOTIFICATIONS.labels("synced" if first else "debounced").inc()
    return Response(status_code=200)


def _ignored(why: str) -> Response:
    NOTIFICATIONS.labels(why).inc()
    return Response(status_code=200)
