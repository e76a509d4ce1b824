from __future__ import annotations

from datetime import datetime

import strawberry

from graphql_api.calendars.enums import CalendarProvider


@strawberry.input
class OAuthInput:
    access_token: str
    refresh_token: str | None = None
    expires_at: datetime | None = None


@strawberry.input(
    description="`url` is the CalDAV collection or the ICS feed; `externalId` the Google "
    "calendar id (default `primary`) or the Microsoft Graph calendar id (default: the user's "
    "default calendar); LOCAL calendars need none of them."
)
class ConnectCalendarInput:
    provider: CalendarProvider
    name: str | None = None
    timezone: str | None = None
    color: str | None = None
    url: str | None = None
    username: str | None = None
    password: str | None = None
    external_id: str | None = None
    oauth: OAuthInput | None = None
