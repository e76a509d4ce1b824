"""Google push channels: made, renewed and stopped by the worker; polling stays the fallback.

A channel (events.watch) makes Google POST to GOOGLE_WEBHOOK_URL when the
calendar's events change; /webhooks/google then queues an incremental sync.
The channel is stored on the calendar's sync state (its id, Google's resource
id, its expiry); a notification for any other channel id is ignored.

- Made before a sync when the calendar has none (its first sync, right after
  it is connected, and the next sync of a calendar connected before push
  channels were configured), so no change falls between a listing and the
  channel.
- Renewed ahead of its expiry (GOOGLE_CHANNEL_RENEW_MARGIN_S) by a periodic
  job: the new channel is made and stored first, the old one stopped after, so
  one of them is always live.
- Stopped when the calendar is disconnected (a job carries the sealed
  credentials, the calendar being gone) and forgotten when Google refuses our
  credentials (revoked): a stop is tried, and from then on its notifications
  are ignored; Google needs valid credentials to stop a channel, so it may keep
  pushing until it expires.

A channel that cannot be made is logged and counted; the calendar is polled
every SYNC_INTERVAL_S as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from bson import ObjectId
from prometheus_client import Counter

from graphql_api.redis_clients import FAILURES
from graphql_api.settings import Settings
from graphql_api.sync.providers.base import ProviderRefused
from graphql_api.sync.providers.google import GoogleCalendar
from models import Calendar, PushChannel, Source, SyncState
from models.base import apply_change

if TYPE_CHECKING:
    from graphql_api.lifespan import AppState

log = logging.getLogger(__name__)

CHANNEL_CHANGES = Counter(
    "google_push_channels",
    "Google push channels made, renewed, stopped, or forgotten (credentials refused)",
    ["action"],
)
CHANNEL_FAILURES = Counter(
    "google_push_channel_failures",
    "Google push channel requests that failed (polling goes on), by request and kind",
    ["request", "kind"],
)
NOTIFICATIONS = Counter(
    "google_push_notifications",
    "Google push notifications received, by what became of them",
    ["outcome"],
)
STOP_JOB = "stop_google_channel"


def _signature(settings: Settings, calendar_id: str) -> str:
    secret = (settings.google_channel_token or settings.jwt_secret).encode()
    return hmac.new(secret, calendar_id.encode(), hashlib.sha256).hexdigest()[:32]


def channel_token(settings: Settings, calendar_id: str) -> str:
    """The X-Goog-Channel-Token of the calendar's channels: its id, signed with
    GOOGLE_CHANNEL_TOKEN (so a notification names its calendar and proves it is ours)."""
    return f"{calendar_id}.{_signature(settings, calendar_id)}"


def calendar_of_token(settings: Settings, token: str) -> str | None:
    calendar_id, _, signature = token.partition(".")
    expected = _signature(settings, calendar_id)
    if ObjectId.is_valid(calendar_id) and hmac.compare_digest(signature, expected):
        return calendar_id
    return None


def push_enabled(settings: Settings) -> bool:
    return bool(settings.google_webhook_url)


def channel_of(calendar: Calendar) -> PushChannel | None:
    return calendar.sync_state.channel if calendar.sync_state else None


async def _store_channel(calendar: Calendar, channel: PushChannel | None) -> list[PushChannel]:
    """`channel` stored as the calendar's (revision-checked); the one it replaced, if any,
    in a list. Raises CalendarGone when the calendar was removed."""
    replaced: list[PushChannel] = []

    def change(stored: Calendar) -> dict[str, Any]:
        replaced[:] = [c for c in [channel_of(stored)] if c is not None]
        previous = stored.sync_state or SyncState(status="QUEUED")
        return {"sync_state": previous.model_copy(update={"channel": channel})}

    if await apply_change(calendar, {"userId": calendar.user_id}, change) is None:
        raise CalendarGone
    return replaced


class CalendarGone(Exception):
    """The calendar was removed (disconnected) meanwhile."""


def _due(channel: PushChannel | None, settings: Settings) -> bool:
    margin = timedelta(seconds=settings.google_channel_renew_margin_s)
    return channel is None or channel.expiration <= datetime.now(UTC) + margin


async def keep_channel(state: AppState, http: httpx.AsyncClient, calendar: Calendar) -> None:
    """The calendar has a live channel that is not about to expire, if push is configured.

    A channel Google does not make (refused, failing, unreachable) is logged and
    counted, and the calendar is left to polling: nothing of Google's is raised.
    """
    settings = state.settings
    if calendar.provider != "GOOGLE" or not push_enabled(settings):
        return
    old = channel_of(calendar)
    if not _due(old, settings):
        return
    lock = f"{settings.cache_prefix}lock:channel:{calendar.id}"
    try:
        if not await state.redis.set(lock, "1", nx=True, ex=120):
            return  # another worker is on it
    except FAILURES as e:  # no Redis: renew without the lock
        log.info("channel lock unavailable (%s); renewing without it", type(e).__name__)
    try:
        await _replace(state, http, calendar, old)
    finally:
        try:
            await state.redis.delete(lock)
        except FAILURES as e:
            log.info("channel lock not released (%s); it expires", type(e).__name__)


async def _replace(
    state: AppState, http: httpx.AsyncClient, calendar: Calendar, old: PushChannel | None
) -> None:
    settings = state.settings
    google = GoogleCalendar(settings, http)
    try:
        made = await google.watch(
            calendar,
            channel_id=uuid.uuid4().hex,
            address=str(settings.google_webhook_url),
            token=channel_token(settings, str(calendar.id)),
            ttl_s=settings.google_channel_ttl_s,
        )
    except Exception as e:  # noqa: BLE001 - polling covers for a channel that is not made
        kind = "refused" if isinstance(e, ProviderRefused) else "error"
        CHANNEL_FAILURES.labels("watch", kind).inc()
        log.warning("calendar %s: no push channel (%s); polling instead", calendar.id, e)
        if old is not None and old.expiration <= datetime.now(UTC):
            # Expired and not replaced: forgotten, so that the renewal job stops asking
            # and the next sync tries again.
            with contextlib.suppress(CalendarGone):
                await _store_channel(calendar, None)
        return
    channel = PushChannel(id=made.id, resource_id=made.resource_id, expiration=made.expiration)
    try:
        replaced = await _store_channel(calendar, channel)
    except CalendarGone:  # disconnected meanwhile: nothing is to keep this channel
        await _stop(google, calendar, channel)
        return
    CHANNEL_CHANGES.labels("renewed" if old else "created").inc()
    log.info("calendar %s: push channel %s until %s", calendar.id, channel.id, made.expiration)
    # Only now, with the new one stored, does the old one go: no time without a channel.
    for previous in replaced:
        await _stop(google, calendar, previous)


async def _stop(google: GoogleCalendar, calendar: Calendar, channel: PushChannel) -> None:
    try:
        await google.stop(calendar, channel_id=channel.id, resource_id=channel.resource_id)
    except Exception as e:  # noqa: BLE001 - it expires on its own; its messages are ignored
        kind = "refused" if isinstance(e, ProviderRefused) else "error"
        CHANNEL_FAILURES.labels("stop", kind).inc()
        log.warning("calendar %s: push channel %s not stopped (%s)", calendar.id, channel.id, e)
        return
    CHANNEL_CHANGES.labels("stopped").inc()


async def forget_channel(state: AppState, http: httpx.AsyncClient, calendar: Calendar) -> None:
    """Google refused the calendar's credentials for good: its channel is forgotten (its
    notifications are ignored from now on), and a stop is tried."""
    if channel_of(calendar) is None:
        return
    try:
        replaced = await _store_channel(calendar, None)
    except CalendarGone:
        return  # disconnecting it asked for the stop
    for channel in replaced:
        CHANNEL_CHANGES.labels("forgotten").inc()
        await _stop(GoogleCalendar(state.settings, http), calendar, channel)


async def renew_due(state: AppState, http: httpx.AsyncClient) -> int:
    """Channels that expire within the renew margin, replaced; how many were due."""
    if not push_enabled(state.settings):
        return 0
    margin = timedelta(seconds=state.settings.google_channel_renew_margin_s)
    due = await Calendar.find(
        {
            "provider": "GOOGLE",
            "syncState.channel.expiration": {"$lte": datetime.now(UTC) + margin},
        }
    ).to_list()
    for calendar in due:
        await keep_channel(state, http, calendar)
    return len(due)


async def request_stop(state: AppState, calendar: Calendar) -> None:
    """A disconnected calendar's channel, stopped by a worker: the job carries what the
    stop needs (the credentials stay sealed), the calendar being gone."""
    channel = channel_of(calendar)
    if calendar.provider != "GOOGLE" or channel is None or calendar.source is None:
        return
    try:
        await _enqueue_stop(state, calendar, calendar.source, channel)
    except FAILURES as e:  # the calendar is gone all the same: its messages are ignored
        log.warning("push channel %s not stopped (queue: %s); it expires", channel.id, e)


async def _enqueue_stop(
    state: AppState, calendar: Calendar, source: Source, channel: PushChannel
) -> None:
    await state.queue.enqueue(
        STOP_JOB,
        key=f"stop-channel:{channel.id}",
        user_id=calendar.user_id,
        calendar_id=str(calendar.id),
        external_id=source.external_id,
        credentials=source.credentials,
        channel_id=channel.id,
        resource_id=channel.resource_id,
        timeout=120,
        retries=3,
        retry_delay=5.0,
        retry_backoff=60.0,
    )


async def stop_detached(
    state: AppState,
    http: httpx.AsyncClient,
    *,
    user_id: str,
    calendar_id: str,
    external_id: str | None,
    credentials: str | None,
    channel_id: str,
    resource_id: str,
) -> None:
    """The stop `request_stop` asked for, with the removed calendar's credentials."""
    gone = Calendar(
        id=calendar_id,
        user_id=user_id,
        name="(disconnected)",
        provider="GOOGLE",
        timezone="UTC",
        source=Source(external_id=external_id, credentials=credentials),
    )
    channel = PushChannel(id=channel_id, resource_id=resource_id, expiration=datetime.now(UTC))
    await _stop(GoogleCalendar(state.settings, http), gone, channel)
