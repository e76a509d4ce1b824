from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from bson import ObjectId

from graphql_api import validation
from graphql_api.changes import calendars_changed
from graphql_api.errors import BadUserInput, not_found
from graphql_api.reads import calendar_of, user_calendars
from graphql_api.replans import request_replan
from graphql_api.security.secrets import seal
from graphql_api.security.urls import refused_url
from graphql_api.sync import channels
from graphql_api.sync.runs import request_sync
from models import Calendar, Event, Source, SyncRun
from models.base import Ref, ref, save_changes

if TYPE_CHECKING:
    from graphql_api.calendars.inputs import ConnectCalendarInput
    from graphql_api.context import Context

_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
DEFAULT_NAMES = {
    "LOCAL": "My calendar",
    "GOOGLE": "Google Calendar",
    "OUTLOOK": "Outlook Calendar",
    "CALDAV": "CalDAV",
    "ICS": "ICS feed",
}


def color(value: str | None) -> str | None:
    if value is not None and not _COLOR.fullmatch(value):
        raise BadUserInput(f"color must look like #1a73e8, got {value!r}", field="color")
    return value


URL_MAX = 2048
SECRET_MAX = 4096


def _url(value: str | None, field: str = "url") -> str:
    if not value:
        raise BadUserInput(f"{field} is required for this provider", field=field)
    if value.startswith("webcal://"):
        value = "https://" + value.removeprefix("webcal://")
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or len(value) > URL_MAX:
        raise BadUserInput(f"{field} must be an http(s) URL, got {value!r}", field=field)
    return value


def _secret(value: str | None, field: str, *, required: bool = True) -> str | None:
    if not value:
        if required:
            raise BadUserInput(f"{field} is required for this provider", field=field)
        return None
    return validation.optional_text(value, field, SECRET_MAX)


def _source(ctx: Context, data: ConnectCalendarInput) -> Source | None:
    """Where the calendar syncs from, its credentials sealed (they are never read back out)."""
    provider = data.provider.value
    settings = ctx.settings
    if provider in ("GOOGLE", "OUTLOOK"):
        if data.oauth is None:
            raise BadUserInput(f"oauth {{ accessToken }} is required for {provider}", field="oauth")
        grant = {
            "accessToken": _secret(data.oauth.access_token, "oauth.accessToken"),
            "refreshToken": _secret(data.oauth.refresh_token, "oauth.refreshToken", required=False),
            "expiresAt": data.oauth.expires_at.isoformat() if data.oauth.expires_at else None,
        }
        calendar_id = validation.optional_text(data.external_id, "externalId", 1024)
        if provider == "OUTLOOK":  # no id: the user's default calendar
            return Source(external_id=calendar_id, credentials=seal(settings, grant))
        return Source(external_id=calendar_id or "primary", credentials=seal(settings, grant))
    if provider == "CALDAV":
        username = validation.text(data.username or "", "username", validation.NAME_MAX)
        password = _secret(data.password, "password")
        return Source(
            url=_url(data.url),
            username=username,
            credentials=seal(settings, {"password": password}),
        )
    if provider == "ICS":
        feed_user = validation.optional_text(data.username, "username", validation.NAME_MAX)
        password = _secret(data.password, "password", required=False)
        return Source(
            url=_url(data.url),
            username=feed_user,
            credentials=seal(settings, {"password": password}) if password else None,
        )
    return None


async def connect_calendar(ctx: Context, data: ConnectCalendarInput) -> Calendar:
    provider = data.provider.value
    name = validation.text(data.name, "name", validation.NAME_MAX) if data.name else None
    has_primary = any(c.is_primary for c in await user_calendars(ctx))
    calendar = Calendar(
        user_id=ctx.user_id,
        name=name or DEFAULT_NAMES[provider],
        provider=provider,
        timezone=validation.timezone(data.timezone) if data.timezone else ctx.viewer.timezone,
        color=color(data.color),
        # The primary calendar is where habits are booked: one of our own.
        is_primary=provider == "LOCAL" and not has_primary,
        source=_source(ctx, data),
    )
    if calendar.source is not None and calendar.source.url:
        refused = await refused_url(ctx.settings, calendar.source.url)
        if refused:
            raise BadUserInput(f"url is not reachable from this server: {refused}", field="url")
    await calendar.insert()
    if provider != "LOCAL":
        await request_sync(ctx.state, calendar, full=True)
    await calendars_changed(ctx, ref(calendar), listed=True)
    return calendar


async def sync_calendar(ctx: Context, calendar_id: Ref, *, full: bool) -> SyncRun:
    calendar = await calendar_of(ctx, calendar_id)
    if calendar is None:
        raise not_found("Calendar")
    if calendar.provider == "LOCAL":
        raise BadUserInput("LOCAL calendars have nothing to sync", field="calendarId")
    run = await request_sync(ctx.state, calendar, full=full)
    ctx.forget("documents")
    return run


async def disconnect_calendar(ctx: Context, calendar_id: Ref) -> None:
    """Removes the calendar and every event on it; the oldest other one becomes primary."""
    calendar = await calendar_of(ctx, calendar_id)
    owner = {"userId": ctx.user_id}
    deleted = await Calendar.get_pymongo_collection().find_one_and_delete(
        {"_id": ObjectId(calendar_id), **owner}
    )
    if calendar is None or deleted is None:
        raise not_found("Calendar")
    await Event.get_pymongo_collection().delete_many({"calendarId": calendar_id, **owner})
    # Its push channel as stored (a renewal may postdate the cached list): a worker stops it.
    await channels.request_stop(ctx.state, Calendar.model_validate(deleted))
    await calendars_changed(ctx, calendar_id, listed=True)
    await request_replan(ctx.state, ctx.user_id, "CALENDAR_CHANGED")
    rest = [c for c in await user_calendars(ctx) if ref(c) != calendar_id]
    if calendar.is_primary and rest:
        oldest = min(rest, key=lambda c: (c.created_at, str(c.id)))
        await save_changes(oldest, owner, is_primary=True)
        await calendars_changed(ctx, listed=True)
