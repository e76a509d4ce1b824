from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bson import ObjectId

from graphql_api import validation
from graphql_api.errors import BadUserInput, not_found
from models import Calendar, Event
from models.base import Ref

if TYPE_CHECKING:
    from graphql_api.calendars.inputs import ConnectCalendarInput
    from models import User

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


async def connect_calendar(user: User, data: ConnectCalendarInput) -> Calendar:
    provider = data.provider.value
    if provider != "LOCAL":
        raise BadUserInput(
            f"{provider} calendars cannot be connected yet; only LOCAL calendars are supported",
            field="provider",
        )
    name = validation.text(data.name, "name", validation.NAME_MAX) if data.name else None
    has_primary = await Calendar.find_one({"userId": user.sub, "isPrimary": True}) is not None
    calendar = Calendar(
        user_id=user.sub,
        name=name or DEFAULT_NAMES[provider],
        provider=provider,
        timezone=validation.timezone(data.timezone) if data.timezone else user.timezone,
        color=color(data.color),
        is_primary=not has_primary,
    )
    await calendar.insert()
    return calendar


async def list_calendars(user_id: str) -> list[Calendar]:
    calendars = await Calendar.find({"userId": user_id}).to_list()
    return sorted(calendars, key=lambda c: (not c.is_primary, c.created_at, str(c.id)))


async def disconnect_calendar(user_id: str, calendar_id: Ref) -> None:
    """Removes the calendar and every event on it."""
    result = await Calendar.get_pymongo_collection().delete_one(
        {"_id": ObjectId(calendar_id), "userId": user_id}
    )
    if result.deleted_count == 0:
        raise not_found("Calendar")
    await Event.get_pymongo_collection().delete_many({"calendarId": calendar_id, "userId": user_id})
