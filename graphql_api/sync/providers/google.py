"""Google Calendar v3: events.list with pages and sync tokens, OAuth refresh, rate limits.

Follows Google's documented semantics: a full listing (no syncToken) ends with
`nextSyncToken`; later listings with that token return only changes, deleted
events as `status: cancelled`; an expired token answers 410 and the calendar
is listed in full again. Recurring series arrive as their master (with its
`recurrence` lines) plus one event per changed instance (`recurringEventId`,
`originalStartTime`). Rate limits (403 rateLimitExceeded, 429) and 5xx are
retried with exponential backoff and jitter, honouring Retry-After.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx

from graphql_api.recurrence import instance_key
from graphql_api.security.secrets import unseal
from graphql_api.settings import Settings
from graphql_api.sync.providers import oauth
from graphql_api.sync.providers.base import (
    CursorExpired,
    Listing,
    Page,
    ProviderError,
    ProviderRefused,
    RemoteEvent,
    Removed,
)
from graphql_api.sync.providers.ical import normalize_recurrence, zone_of
from models import Calendar

log = logging.getLogger(__name__)
RATE_LIMITED = {"rateLimitExceeded", "userRateLimitExceeded"}
MAX_ATTEMPTS = 6
MAX_BACKOFF_S = 32.0


WATCH_ATTEMPTS = 3  # a channel is not worth a long wait: polling covers for it


@dataclass(frozen=True)
class WatchedChannel:
    """What events.watch answered: our channel id, Google's resource id, the expiry."""

    id: str
    resource_id: str
    expiration: datetime


class GoogleCalendar:
    def __init__(
        self,
        settings: Settings,
        http: httpx.AsyncClient,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.http = http
        self.sleep = sleep
        self.requests = 0  # provider requests made, for the benchmark's "one request" figure

    async def listing(self, calendar: Calendar, *, full: bool) -> Listing:
        token = None if full else calendar.cursor.token
        return Listing(full=token is None, pages=self._pages(calendar, token))

    async def _pages(self, calendar: Calendar, sync_token: str | None) -> AsyncIterator[Page]:
        path = f"/calendars/{quote(_calendar_id(calendar), safe='')}/events"
        page_token = None
        while True:
            params = {
                "maxResults": str(self.settings.sync_page_size),
                "singleEvents": "false",
                "showDeleted": "true",
            }
            if sync_token:
                params["syncToken"] = sync_token
            if page_token:
                params["pageToken"] = page_token
            data = await self._get(calendar, path, params)
            yield self._page(calendar, data.get("items", []))
            page_token = data.get("nextPageToken")
            if not page_token:
                calendar.cursor.token = data.get("nextSyncToken")
                return

    def _page(self, calendar: Calendar, items: list[dict[str, Any]]) -> Page:
        page = Page()
        for item in items:
            try:
                self._add(page, calendar, item)
            except (KeyError, ValueError) as e:
                log.warning("calendar %s: skipped a malformed Google event (%s)", calendar.id, e)
        return page

    def _add(self, page: Page, calendar: Calendar, item: dict[str, Any]) -> None:
        master = item.get("recurringEventId")
        original = item.get("originalStartTime")
        cancelled = item.get("status") == "cancelled"
        zone = zone_of((item.get("start") or {}).get("timeZone"), calendar.timezone)
        if master and original:
            instance = instance_key(_moment(original, zone))
            if cancelled:
                # A cancelled instance of a series: the rule is not followed that time.
                when = _moment(original, zone)
                ends = when if isinstance(when, datetime) else when + timedelta(days=1)
                page.upserts.append(
                    RemoteEvent(
                        external_id=str(master),
                        instance=instance,
                        title="(cancelled)",
                        start=when,
                        end=ends,
                        status="CANCELLED",
                        timezone=zone,
                    )
                )
                return
        elif cancelled:  # a deleted event, or a whole series
            page.removed.append(Removed(item["id"]))
            return
        else:
            instance = ""
        rules = [] if master else normalize_recurrence(item.get("recurrence") or [], zone)
        page.upserts.append(
            RemoteEvent(
                external_id=str(master or item["id"]),
                instance=instance,
                title=item.get("summary") or "(no title)",
                description=item.get("description"),
                location=item.get("location"),
                start=_moment(item["start"], zone),
                end=_moment(item["end"], zone),
                status="TENTATIVE" if item.get("status") == "tentative" else "CONFIRMED",
                busy=item.get("transparency") != "transparent",
                timezone=zone,
                recurrence=rules,
                etag=item.get("etag"),
            )
        )

    # --- HTTP -------------------------------------------------------------------

    # --- push channels (events.watch, channels.stop) --------------------------------

    async def watch(
        self, calendar: Calendar, *, channel_id: str, address: str, token: str, ttl_s: int
    ) -> WatchedChannel:
        """A new push channel on the calendar's events: Google POSTs to `address` with
        `token` when they change. A refusal (403 pushNotSupportedForRequestedResource,
        an address Google will not push to) raises ProviderRefused."""
        path = f"/calendars/{quote(_calendar_id(calendar), safe='')}/events/watch"
        body = {
            "id": channel_id,
            "type": "web_hook",
            "address": address,
            "token": token,
            "params": {"ttl": str(ttl_s)},
        }
        response = await self._send(calendar, "POST", path, json=body, attempts=WATCH_ATTEMPTS)
        data = response.json()
        return WatchedChannel(
            id=str(data["id"]),
            resource_id=str(data["resourceId"]),
            expiration=datetime.fromtimestamp(int(data["expiration"]) / 1000, UTC),
        )

    async def stop(self, calendar: Calendar, *, channel_id: str, resource_id: str) -> bool:
        """Stops a push channel; False when Google knows no such channel (404: stopped
        or expired already)."""
        body = {"id": channel_id, "resourceId": resource_id}
        response = await self._send(
            calendar, "POST", "/channels/stop", json=body, attempts=WATCH_ATTEMPTS, accept=(404,)
        )
        return response.status_code != 404

    # --- HTTP -------------------------------------------------------------------

    async def _get(self, calendar: Calendar, path: str, params: dict[str, str]) -> dict[str, Any]:
        data: dict[str, Any] = (await self._send(calendar, "GET", path, params=params)).json()
        return data

    async def _send(
        self,
        calendar: Calendar,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        attempts: int = MAX_ATTEMPTS,
        accept: tuple[int, ...] = (),
    ) -> httpx.Response:
        """A 2xx answer (or one of `accept`), after refreshing the access token once on
        401 and backing off on rate limits and 5xx."""
        refreshed = False
        for attempt in range(attempts):
            token = await self._access_token(calendar)
            self.requests += 1
            try:
                response = await self.http.request(
                    method,
                    f"{self.settings.google_api_url}{path}",
                    params=params,
                    json=json,
                    headers={"Authorization": f"Bearer {token}"},
                )
            except httpx.HTTPError as e:
                await self._back_off(attempt, None, f"network: {type(e).__name__}")
                continue
            if 200 <= response.status_code < 300 or response.status_code in accept:
                return response
            if response.status_code == 410:
                raise CursorExpired
            if response.status_code == 401 and not refreshed:
                await self._refresh(calendar)
                refreshed = True
                continue
            if (
                response.status_code == 429
                or (response.status_code == 403 and _reason(response) in RATE_LIMITED)
                or response.status_code >= 500
            ):
                await self._back_off(attempt, response, f"HTTP {response.status_code}")
                continue
            raise ProviderRefused(
                f"Google answered HTTP {response.status_code}: {_message(response)}"
            )
        raise ProviderError(f"Google still failing after {attempts} attempts")

    async def _back_off(self, attempt: int, response: httpx.Response | None, why: str) -> None:
        delay = min(MAX_BACKOFF_S, 0.5 * 2**attempt) * random.uniform(0.5, 1.0)  # noqa: S311
        retry_after = response.headers.get("Retry-After") if response is not None else None
        if retry_after and retry_after.isdigit():
            delay = max(delay, float(retry_after))
        log.info("Google: %s; retrying in %.2f s", why, delay)
        await self.sleep(delay)

    async def _access_token(self, calendar: Calendar) -> str:
        secret = self._secret(calendar)
        expires = secret.get("expiresAt")
        if expires and datetime.fromisoformat(expires) <= datetime.now(UTC) + timedelta(seconds=60):
            secret = await self._refresh(calendar)
        token = secret.get("accessToken")
        if not token:
            raise ProviderRefused("no Google access token: connect the calendar again")
        return str(token)

    def _secret(self, calendar: Calendar) -> dict[str, Any]:
        return unseal(self.settings, calendar.source.credentials if calendar.source else None)

    async def _refresh(self, calendar: Calendar) -> dict[str, Any]:
        return await oauth.refreshed(
            "Google",
            self.settings,
            self.http,
            calendar,
            self._secret(calendar),
            token_url=self.settings.google_token_url,
            client_id=self.settings.google_client_id,
            client_secret=self.settings.google_client_secret,
        )


def _calendar_id(calendar: Calendar) -> str:
    return (calendar.source and calendar.source.external_id) or "primary"


def _moment(value: dict[str, Any], zone: str) -> datetime | date:
    if "dateTime" in value:
        moment = datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(zone))
        return moment
    return date.fromisoformat(value["date"])


def _reason(response: httpx.Response) -> str | None:
    try:
        errors = response.json()["error"]["errors"]
        return str(errors[0]["reason"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])[:200]
    except (ValueError, KeyError, TypeError):
        return response.text[:200]
