"""The provider for a calendar."""

from __future__ import annotations

import httpx

from graphql_api.settings import Settings
from graphql_api.sync.providers.base import Provider, ProviderRefused
from graphql_api.sync.providers.google import GoogleCalendar
from graphql_api.sync.providers.ics import IcsFeed
from graphql_api.sync.providers.outlook import OutlookCalendar
from models import Calendar


def provider_for(calendar: Calendar, settings: Settings, http: httpx.AsyncClient) -> Provider:
    if calendar.provider == "GOOGLE":
        provider: Provider = GoogleCalendar(settings, http)
        return provider
    if calendar.provider == "OUTLOOK":
        return OutlookCalendar(settings, http)
    if calendar.provider == "CALDAV":
        # Here, not at the top: the caldav library and its HTTP client (niquests) are
        # ~25 MB, which the API processes (they queue syncs, never run one) do not need.
        from graphql_api.sync.providers.caldav import CalDav  # noqa: PLC0415 - see above

        return CalDav(settings)
    if calendar.provider == "ICS":
        return IcsFeed(settings, http)
    raise ProviderRefused(f"{calendar.provider} calendars do not sync")
