"""A published iCalendar feed (ICS, webcal): conditional GET, the whole feed every time it changed.

The feed has no change log: when it changed, it is listed in full and the
events it no longer holds (by UID and RECURRENCE-ID) are deleted. A feed that
answers 304 to If-None-Match / If-Modified-Since changes nothing; nor does one
that sends no validators (or new ones each time) but the very body last applied:
its digest is kept with the cursor, and a body with the same digest is not parsed
again. A full sync always reads and applies the feed. The feed's REFRESH-INTERVAL
(RFC 7986) or X-PUBLISHED-TTL is kept as how often it wants to be read.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from importlib.metadata import version
from typing import cast
from urllib.parse import urlsplit

import httpx
import icalendar

from graphql_api.security.secrets import unseal
from graphql_api.security.urls import refused_url
from graphql_api.settings import Settings
from graphql_api.sync.providers.base import (
    Listing,
    Page,
    ProviderError,
    ProviderRefused,
    RemoteEvent,
)
from graphql_api.sync.providers.ical import remote_events
from models import Calendar

log = logging.getLogger(__name__)
TIMEOUT_S = 30.0
REFUSED = {401, 403, 404, 410}
ACCEPT = "text/calendar, application/calendar+ics;q=0.9, */*;q=0.5"
MAX_REDIRECTS = 5
FEED_MAX_BYTES = 50 * 2**20  # a feed is read whole: a larger one is refused, not swallowed
# What a feed's body is made into: bump it when that changes here (how events are read
# from a feed), so that every feed is applied again at its next sync, body unchanged.
EVENTS_FROM_FEED = 1


@dataclass
class Fetched:
    status: int
    headers: httpx.Headers
    content: bytes = b""


class IcsFeed:
    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http

    async def listing(self, calendar: Calendar, *, full: bool) -> Listing:
        response = await self._get(calendar, conditional=not full)
        if response.status == 304:
            return Listing(full=False, pages=_nothing())
        digest = content_digest(calendar, response.content)
        if not full and digest == calendar.cursor.content_digest:
            # The body last applied, under validators that did not say so: nothing changed
            # (the validators it came with are kept for the next request).
            _keep_validators(calendar, response)
            return Listing(full=False, pages=_nothing())
        feed = _feed(response.content)
        events = _events(feed, calendar)
        return Listing(full=True, pages=self._pages(calendar, response, feed, events, digest))

    async def _get(self, calendar: Calendar, *, conditional: bool) -> Fetched:
        source = calendar.source
        if source is None or not source.url:
            raise ProviderRefused("the calendar has no feed URL")
        url = source.url
        if url.lower().startswith("webcal://"):
            url = f"https://{url[len('webcal://') :]}"
        headers = {"Accept": ACCEPT}
        if conditional and calendar.cursor.etag:
            headers["If-None-Match"] = calendar.cursor.etag
        if conditional and calendar.cursor.last_modified:
            headers["If-Modified-Since"] = calendar.cursor.last_modified
        fetched = await self._fetch(calendar, url, headers)
        status = fetched.status
        if status in (200, 304):
            return fetched
        if status in REFUSED:
            raise ProviderRefused(f"the feed answered HTTP {status}")
        if status == 429 or status >= 500:
            raise ProviderError(f"the feed answered HTTP {status}")
        raise ProviderRefused(f"the feed answered HTTP {status}, not a calendar")

    async def _fetch(self, calendar: Calendar, url: str, headers: dict[str, str]) -> Fetched:
        """GET, following redirects ourselves: each hop is checked like the URL itself, and
        the feed's password goes only to the origin it was given for."""
        origin = urlsplit(url)[:2]
        for _ in range(MAX_REDIRECTS + 1):
            refused = await refused_url(self.settings, url)
            if refused:
                raise ProviderRefused(f"the feed URL is not reachable from here: {refused}")
            auth = self._auth(calendar) if urlsplit(url)[:2] == origin else None
            try:
                async with self.http.stream(
                    "GET", url, headers=headers, auth=auth, timeout=TIMEOUT_S
                ) as response:
                    location = response.headers.get("Location")
                    if response.is_redirect and location:
                        url = str(response.url.join(location))
                        continue
                    fetched = Fetched(response.status_code, response.headers)
                    if fetched.status == 200:
                        fetched.content = await _body(response)
                    return fetched
            except httpx.HTTPError as e:
                raise ProviderError(f"the feed is unreachable: {type(e).__name__}") from e
        raise ProviderRefused(f"the feed redirects more than {MAX_REDIRECTS} times")

    def _auth(self, calendar: Calendar) -> httpx.BasicAuth | None:
        source = calendar.source
        if source is None or not source.username:
            return None
        try:
            password = unseal(self.settings, source.credentials).get("password")
        except ValueError as e:
            raise ProviderRefused(str(e)) from None
        return httpx.BasicAuth(source.username, str(password)) if password else None

    async def _pages(
        self,
        calendar: Calendar,
        response: Fetched,
        feed: icalendar.Calendar,
        events: list[RemoteEvent],
        digest: str,
    ) -> AsyncIterator[Page]:
        size = max(1, self.settings.sync_page_size)
        for offset in range(0, len(events), size):
            yield Page(upserts=events[offset : offset + size], total=len(events))
        _keep_validators(calendar, response)
        calendar.cursor.content_digest = digest
        calendar.cursor.refresh_interval_s = refresh_interval(feed)


def content_digest(calendar: Calendar, content: bytes) -> str:
    """What the feed's body makes for this calendar: the body, the calendar's zone (its
    all-day events' bounds), this code's and icalendar's way of reading it."""
    made_by = f"{EVENTS_FROM_FEED}\0{_icalendar_version()}\0{calendar.timezone}\0"
    return hashlib.sha256(made_by.encode() + content).hexdigest()


@cache
def _icalendar_version() -> str:
    return version("icalendar")


def _keep_validators(calendar: Calendar, response: Fetched) -> None:
    calendar.cursor.etag = response.headers.get("ETag")
    calendar.cursor.last_modified = response.headers.get("Last-Modified")


async def _body(response: httpx.Response) -> bytes:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > FEED_MAX_BYTES:
            raise ProviderRefused(f"the feed is larger than {FEED_MAX_BYTES:,} bytes")
    return bytes(body)


async def _nothing() -> AsyncIterator[Page]:
    return
    yield  # an async generator that yields no page


def _feed(content: bytes) -> icalendar.Calendar:
    head = content[:512].lstrip(b"\xef\xbb\xbf \t\r\n").upper()
    if not head.startswith(b"BEGIN:VCALENDAR"):
        raise ProviderRefused("the URL does not serve an iCalendar feed (no BEGIN:VCALENDAR)")
    try:
        parsed = icalendar.Calendar.from_ical(content)
    except ValueError as e:
        raise ProviderRefused(f"the feed is not valid iCalendar: {e}"[:300]) from None
    if not isinstance(parsed, icalendar.Calendar):
        raise ProviderRefused("the URL does not serve an iCalendar feed (no VCALENDAR)")
    return parsed


def _events(feed: icalendar.Calendar, calendar: Calendar) -> list[RemoteEvent]:
    """Every event of the feed, one per UID and RECURRENCE-ID (the last one wins)."""
    try:
        found = remote_events(feed, calendar.timezone)
    except ValueError as e:
        raise ProviderRefused(f"the feed is not valid iCalendar: {e}"[:300]) from None
    return list({(e.external_id, e.instance): e for e in found}.values())


def refresh_interval(feed: icalendar.Calendar) -> int | None:
    """REFRESH-INTERVAL (RFC 7986), else X-PUBLISHED-TTL, in seconds."""
    interval = getattr(feed.get("REFRESH-INTERVAL"), "dt", None)
    if not isinstance(interval, timedelta):
        ttl = feed.get("X-PUBLISHED-TTL")
        try:
            interval = _duration(str(ttl)) if ttl is not None else None
        except ValueError:
            log.info("unreadable X-PUBLISHED-TTL %r", ttl)
            interval = None
    if isinstance(interval, timedelta) and interval > timedelta(0):
        return int(interval.total_seconds())
    return None


def _duration(text: str) -> timedelta:
    parse = cast("Callable[[str], object]", icalendar.vDuration.from_ical)
    value = parse(text)
    if not isinstance(value, timedelta):
        raise ValueError(f"not a duration: {text!r}")
    return value
