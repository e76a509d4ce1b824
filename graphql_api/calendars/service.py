from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bson import ObjectId

from graphql_api import validation
from graphql_api.errors import BadUserInput, not_found
from models import Calendar, Event
from models.base import Ref, ref, save_changes

if TYPE_CHECKING:
    from graphql_api.calendars.inputs import ConnectCalendarInput
    from graphql_api.context import Context

_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
DEFAULT_NAMES = {
    "LOCAL": "My calendar",
    "GOOGLE": "Google Calendar",
    "CALDAV": "CalDAV",
    "ICS": "ICS feed",
}


def color(value: str | None) -> str | None:
    if value is not None and not _COLOR.fullmatch(value):
        raise BadUserInput(f"color must look like #1a73e8, got {value!r}", field="color")
    return value


async def user_calendars(ctx: Context) -> list[Calendar]:
    """The user's calendars, the primary one first, from the request's (cached) list."""
    calendars = await ctx.documents(Calendar, "calendars", ctx.settings.cache_ttl_user_calendars)
    return sorted(calendars, key=lambda c: (not c.is_primary, c.created_at, str(c.id)))


async def calendar_of(ctx: Context, calendar_id: Ref) -> Calendar | None:
    return next((c for c in await user_calendars(ctx) if ref(c) == calendar_id), None)


async def calendars_changed(ctx: Context, *calendar_ids: Ref, listed: bool = False) -> None:
    """Retires the cached events of these calendars (and the calendar list when `listed`)."""
    await ctx.cache.bump(*(f"cal:{c}" for c in calendar_ids), "calendars" if listed else None)
    ctx.forget("documents")


async def connect_calendar(ctx: Context, data: ConnectCalendarInput) -> Calendar:
    provider = data.provider.value
    if provider != "LOCAL":
        raise BadUserInput(
            f"{provider} calendars cannot be connected yet; only LOCAL calendars are supported",
            field="provider",
        )
    name = validation.text(data.name, "name", validation.NAME_MAX) if data.name else None
    calendar = Calendar(
        user_id=ctx.user_id,
        name=name or DEFAULT_NAMES[provider],
        provider=provider,
        timezone=validation.timezone(data.timezone) if data.timezone else ctx.viewer.timezone,
        color=color(data.color),
        is_primary=not any(c.is_primary for c in await user_calendars(ctx)),
    )
    await calendar.insert()
    await calendars_changed(ctx, ref(calendar), listed=True)
    return calendar


async def disconnect_calendar(ctx: Context, calendar_id: Ref) -> None:
    """Removes the calendar and every event on it; the oldest other one becomes primary."""
    calendar = await calendar_of(ctx, calendar_id)
    owner = {"userId": ctx.user_id}
    result = await Calendar.get_pymongo_collection().delete_one(
        {"_id": ObjectId(calendar_id), **owner}
    )
    if calendar is None or result.deleted_count == 0:
        raise not_found("Calendar")
    await Event.get_pymongo_collection().delete_many({"calendarId": calendar_id, **owner})
    await calendars_changed(ctx, calendar_id, listed=True)
    rest = [c for c in await user_calendars(ctx) if ref(c) != calendar_id]
    if calendar.is_primary and rest:
        oldest = min(rest, key=lambda c: (c.created_at, str(c.id)))
        await save_changes(oldest, owner, is_primary=True)
        await calendars_changed(ctx, listed=True)
