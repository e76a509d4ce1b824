"""Microsoft 365 / Outlook through Microsoft Graph: calendarView delta, OAuth refresh, throttling.

A full sync asks `calendarView/delta` for a window of the calendar, from 90 days
before today to 365 days after (`WINDOW_PAST`, `WINDOW_FUTURE`), and follows
`@odata.nextLink` page by page (`Prefer: odata.maxpagesize`); the last page's
`@odata.deltaLink` is the cursor, kept only once every page is applied. Later
syncs follow the delta link: changed instances, and `@removed` ones. The window
is fixed when the delta link is made, so after `WINDOW_ROLL` a sync is full
again with a window from the new today. 410 Gone (`SyncStateNotFound`,
`resyncRequired`) is an expired cursor: the calendar is listed in full again.

Graph's calendar view holds instances, not series: single events, and each
occurrence or exception of a series (`seriesMasterId`, `originalStart`). Series
are stored as the other providers store them: the master once (read with
`/me/events/{id}` the first time a run meets it, the masters a page needs 20 to a
JSON batch request, `POST /$batch`; its `recurrence` pattern as an RRULE) and each
instance as an override keyed by its original start, remembering its Graph id
(`href`) so that a later `@removed` of that id cancels that instance, or removes the
whole series once its master is gone. `isCancelled` instances are cancelled,
`showAs: free` is not busy, all-day events are dates. A run remembers what it met in
a few bytes a series and an instance (digests, see `_Run`): its memory does not grow
with whole events. When a series met whole lacks an instance its rule makes in the
window, the series are read back from our copy at the end, a batch at a time, to
cancel it.

Times are read in the zone Graph names (`start.timeZone`: UTC unless asked
otherwise, an IANA name or a Windows one such as "Pacific Standard Time", mapped
with CLDR's windowsZones table as the icalendar package ships it); an event's
own zone is its `originalStartTimeZone`. 429 and 5xx are retried with
exponential backoff and jitter, honouring Retry-After (also each request of a batch
by itself: only those that failed are asked again); a 401 refreshes the access
token once with the refresh token (Microsoft rotates it: the new one is kept,
sealed), then fails the run with Graph's reason.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sys
from array import array
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from dateutil.rrule import rrulestr
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

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
    key_digest,
)
from models import Calendar, Event
from models.base import ref

log = logging.getLogger(__name__)
WINDOW_PAST = timedelta(days=90)
WINDOW_FUTURE = timedelta(days=365)
WINDOW_ROLL = timedelta(days=7)  # a delta link this much older than today's window: full sync
MAX_ATTEMPTS = 6
BATCH_MAX = 20  # requests in one JSON batch, Graph's limit
SERIES_BATCH = 500  # series read back from our copy at a time, to find unlisted instances
MISSING_CHUNK = 2_000  # instances expected, looked up at a time among those listed
MAX_BACKOFF_S = 32.0
SCOPE = "offline_access https://graph.microsoft.com/Calendars.Read"
DAYS = {
    "sunday": "SU",
    "monday": "MO",
    "tuesday": "TU",
    "wednesday": "WE",
    "thursday": "TH",
    "friday": "FR",
    "saturday": "SA",
}
INDEX = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}


def iana_zone(name: str | None, fallback: str) -> str:
    """A zone as Graph names it (IANA or Windows) as an IANA name; `fallback` if unknown."""
    if not name:
        return fallback
    name = WINDOWS_TO_OLSON.get(name, name)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.info("unknown time zone %r; using %s", name, fallback)
        return fallback
    return name


def window(today: date) -> tuple[datetime, datetime]:
    start = datetime.combine(today - WINDOW_PAST, time(), UTC)
    return start, datetime.combine(today + WINDOW_FUTURE, time(), UTC)


def recurrence_rule(recurrence: dict[str, Any], first: datetime | date, zone: str) -> list[str]:
    """Graph's patternedRecurrence as RRULE lines (UNTIL in UTC, or a date for all-day)."""
    pattern, span = recurrence.get("pattern") or {}, recurrence.get("range") or {}
    parts = _frequency(pattern)
    interval = int(pattern.get("interval") or 1)
    if interval > 1:
        parts.append(f"INTERVAL={interval}")
    ends = span.get("type")
    if ends == "numbered":
        parts.append(f"COUNT={int(span['numberOfOccurrences'])}")
    elif ends == "endDate":
        last = date.fromisoformat(span["endDate"])
        if isinstance(first, datetime):  # through the end of that day, where the rule is kept
            zone_name = iana_zone(span.get("recurrenceTimeZone"), zone)
            until = datetime.combine(last, time(23, 59, 59), ZoneInfo(zone_name))
            parts.append(f"UNTIL={until.astimezone(UTC):%Y%m%dT%H%M%SZ}")
        else:
            parts.append(f"UNTIL={last:%Y%m%d}")
    return [f"RRULE:{';'.join(parts)}"]


def _frequency(pattern: dict[str, Any]) -> list[str]:
    """A recurrencePattern's FREQ and BY* parts."""
    kind = pattern.get("type")
    parts = []
    days = [DAYS[d.lower()] for d in pattern.get("daysOfWeek") or []]
    index = INDEX.get(str(pattern.get("index", "first")).lower(), 1)
    if kind == "daily":
        parts.append("FREQ=DAILY")
    elif kind == "weekly":
        parts += ["FREQ=WEEKLY", f"BYDAY={','.join(days)}"] if days else ["FREQ=WEEKLY"]
        first_day = pattern.get("firstDayOfWeek")
        if first_day and first_day.lower() in DAYS and DAYS[first_day.lower()] != "MO":
            parts.append(f"WKST={DAYS[first_day.lower()]}")
    elif kind == "absoluteMonthly":
        parts += ["FREQ=MONTHLY", f"BYMONTHDAY={int(pattern['dayOfMonth'])}"]
    elif kind == "relativeMonthly":
        parts += ["FREQ=MONTHLY", *_relative(days, index)]
    elif kind == "absoluteYearly":
        parts += [
            "FREQ=YEARLY",
            f"BYMONTH={int(pattern['month'])}",
            f"BYMONTHDAY={int(pattern['dayOfMonth'])}",
        ]
    elif kind == "relativeYearly":
        parts += ["FREQ=YEARLY", f"BYMONTH={int(pattern['month'])}", *_relative(days, index)]
    else:
        raise ValueError(f"unknown recurrence pattern {kind!r}")
    return parts


def _relative(days: list[str], index: int) -> list[str]:
    if not days:
        raise ValueError("a relative recurrence without daysOfWeek")
    if len(days) == 1:
        return [f"BYDAY={index}{days[0]}"]
    return [f"BYDAY={','.join(days)}", f"BYSETPOS={index}"]


def _moment(value: dict[str, Any], fallback: str, *, all_day: bool) -> datetime | date:
    """Graph's dateTimeTimeZone: a local time in the named zone; a date for all-day events."""
    local = datetime.fromisoformat(value["dateTime"][:26].rstrip("Z"))
    if all_day:
        return local.date()
    return local.replace(tzinfo=ZoneInfo(iana_zone(value.get("timeZone"), fallback)))


def _original(item: dict[str, Any], *, all_day: bool) -> datetime | date:
    """An instance's original start (a DateTimeOffset): which instance of its series it is."""
    text = item.get("originalStart")
    if not text:
        raise ValueError("an occurrence without originalStart")
    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.date() if all_day else moment


def _as_utc(value: Any) -> datetime:
    """A stored instant (a BSON date, or the text some Mongo-wire servers keep) in UTC."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _instant(key: str) -> datetime | date:
    """The inverse of instance_key."""
    if "T" in key:
        return datetime.strptime(key, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return datetime.strptime(key, "%Y%m%d").date()


class OutlookCalendar:
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
        self.requests = 0
        base = urlsplit(settings.microsoft_graph_url)
        self._origin = f"{base.scheme}://{base.netloc}/"

    async def listing(self, calendar: Calendar, *, full: bool) -> Listing:
        link = None if full else calendar.cursor.token
        started = calendar.cursor.window_start
        today = datetime.now(UTC).date()
        if link and (
            not started or date.fromisoformat(started) + WINDOW_PAST + WINDOW_ROLL < today
        ):
            link = None  # the delta link's window has fallen behind: a new one
        return Listing(full=link is None, pages=self._pages(calendar, link))

    def _calendar_path(self, calendar: Calendar) -> str:
        external = calendar.source.external_id if calendar.source else None
        if external:
            return f"/me/calendars/{quote(external, safe='')}"
        return "/me"

    async def _pages(self, calendar: Calendar, link: str | None) -> AsyncIterator[Page]:
        full = link is None
        params: dict[str, str] | None = None
        if link is None:
            start, end = window(datetime.now(UTC).date())
            link = f"{self.settings.microsoft_graph_url}{self._calendar_path(calendar)}"
            link += "/calendarView/delta"
            params = {
                "startDateTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "endDateTime": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            calendar.cursor.window_start = start.date().isoformat()
        else:
            start = datetime.combine(
                date.fromisoformat(calendar.cursor.window_start or ""), time(), UTC
            )
            end = start + WINDOW_PAST + WINDOW_FUTURE
        run = _Run(full=full, window=(start, end))
        while True:
            data = await self._call(calendar, link, params=params)
            yield await self._page(calendar, data.get("value") or [], run)
            params = None
            if data.get("@odata.nextLink"):
                link = self._followed(str(data["@odata.nextLink"]))
                continue
            delta = data.get("@odata.deltaLink")
            calendar.cursor.token = self._followed(str(delta)) if delta else None
            break
        missing = _missing(run)
        if missing:
            async for page in self._unlisted(calendar, run, missing):
                yield page

    def _followed(self, link: str) -> str:
        """A link Graph gave us, which our access token may be sent to: Graph's own only."""
        if not link.startswith(self._origin):
            raise ProviderRefused("Microsoft Graph answered a link to another host")
        return link

    # --- items into a page -----------------------------------------------------------

    async def _page(self, calendar: Calendar, items: list[dict[str, Any]], run: _Run) -> Page:
        page = Page()
        upserts: dict[tuple[str, str], RemoteEvent] = {}
        gone = [str(i["id"]) for i in items if "@removed" in i and "id" in i]
        known = await self._instances(calendar, gone)
        wanted = {master_id for master_id, _ in known.values()} | {
            str(i["seriesMasterId"])
            for i in items
            if "@removed" not in i
            and i.get("type") in ("occurrence", "exception")
            and i.get("seriesMasterId")
        }
        zones = await self._series(page, upserts, calendar, wanted, run)
        for item in items:
            try:
                if "@removed" in item:
                    self._remove(page, upserts, str(item["id"]), known, zones)
                else:
                    self._add(page, upserts, calendar, item, run=run, zones=zones)
            except (KeyError, ValueError, TypeError) as e:
                log.warning("calendar %s: skipped a malformed Graph event (%s)", calendar.id, e)
        page.upserts += upserts.values()
        return page

    async def _instances(self, calendar: Calendar, ids: list[str]) -> dict[str, tuple[str, str]]:
        """Which series instance each of these Graph ids is, for those we hold."""
        if not ids:
            return {}
        rows = Event.get_pymongo_collection().find(
            {
                "userId": calendar.user_id,
                "calendarId": ref(calendar),
                "href": {"$in": ids},
                "instance": {"$ne": ""},
            },
            {"externalId": 1, "instance": 1, "href": 1},
        )
        return {row["href"]: (row["externalId"], row["instance"]) async for row in rows}

    async def _series(
        self,
        page: Page,
        upserts: dict[tuple[str, str], RemoteEvent],
        calendar: Calendar,
        wanted: set[str],
        run: _Run,
    ) -> dict[str, str | None]:
        """The zone of each series the page needs (None: it is gone): known from earlier
        in the run, or read now (in JSON batches) and then stored with the page."""
        zones: dict[str, str | None] = {}
        unread = []
        for master_id in sorted(wanted):
            digest = key_digest(master_id, "")
            if digest in run.zones:
                zones[master_id] = run.zones[digest]
            else:
                unread.append(master_id)
        if not unread:
            return zones
        items = await self._read(calendar, unread)
        held = set() if run.full else await self._held(calendar, unread)
        for master_id in unread:
            digest = key_digest(master_id, "")
            item = items.get(master_id)
            if item is None or item.get("isCancelled"):
                run.zones[digest] = zones[master_id] = None
                page.removed.append(Removed(master_id))
                continue
            try:
                master = self._event(calendar, item, master_id, "")
            except (KeyError, ValueError, TypeError) as e:
                log.warning("calendar %s: skipped a malformed series (%s)", calendar.id, e)
                continue
            zone = sys.intern(master.timezone or calendar.timezone)
            run.zones[digest] = zones[master_id] = zone
            upserts[master_id, ""] = master
            if master_id in held:
                continue
            # Every instance it has in the window will be listed: those it makes that are
            # not were deleted before we met the series.
            try:
                made = _made(master.recurrence, master.start, _length(master), run.window)
            except (ValueError, TypeError) as e:
                log.warning("calendar %s: unreadable series %s (%s)", calendar.id, master_id, e)
                continue
            run.whole.append(digest)
            run.expected.extend(key_digest(master_id, key) for key in made)
        return zones

    def _remove(
        self,
        page: Page,
        upserts: dict[tuple[str, str], RemoteEvent],
        graph_id: str,
        known: dict[str, tuple[str, str]],
        zones: dict[str, str | None],
    ) -> None:
        if graph_id not in known:
            page.removed.append(Removed(graph_id))  # a single event (or a series master)
            return
        master_id, instance = known[graph_id]
        if master_id not in zones:
            raise ValueError(f"the series {master_id} could not be read")
        zone = zones[master_id]
        if zone is None or (master_id, instance) in upserts:
            return  # the whole series is gone; or the instance lives on under a new id
        upserts[master_id, instance] = _cancelled(master_id, zone, instance, graph_id)

    def _add(
        self,
        page: Page,
        upserts: dict[tuple[str, str], RemoteEvent],
        calendar: Calendar,
        item: dict[str, Any],
        *,
        run: _Run,
        zones: dict[str, str | None],
    ) -> None:
        kind = item.get("type") or "singleInstance"
        if kind == "seriesMaster":
            master = self._event(calendar, item, str(item["id"]), "")
            digest = key_digest(master.external_id, "")
            run.zones.setdefault(digest, sys.intern(master.timezone or calendar.timezone))
            upserts[master.external_id, ""] = master
            return
        if kind not in ("occurrence", "exception"):
            if item.get("isCancelled"):
                page.removed.append(Removed(str(item["id"])))
            else:
                upserts[str(item["id"]), ""] = self._event(calendar, item, str(item["id"]), "")
            return
        master_id = str(item["seriesMasterId"])
        if master_id not in zones:
            raise ValueError(f"the series {master_id} could not be read")
        zone = zones[master_id]
        if zone is None:
            return  # the series is gone
        instance = instance_key(_original(item, all_day=bool(item.get("isAllDay"))))
        run.listed.append(key_digest(master_id, instance))
        if item.get("isCancelled"):
            upserts[master_id, instance] = _cancelled(master_id, zone, instance, str(item["id"]))
            return
        event = self._event(calendar, item, master_id, instance)
        upserts[master_id, instance] = replace(event, recurrence=[], href=str(item["id"]))

    async def _held(self, calendar: Calendar, master_ids: list[str]) -> set[str]:
        """Which of these series we already hold."""
        rows = Event.get_pymongo_collection().find(
            {
                "userId": calendar.user_id,
                "calendarId": ref(calendar),
                "externalId": {"$in": master_ids},
                "instance": "",
            },
            {"externalId": 1},
        )
        return {row["externalId"] async for row in rows}

    async def _unlisted(
        self, calendar: Calendar, run: _Run, missing: set[int]
    ) -> AsyncIterator[Page]:
        """The instances (`missing`) the series met whole make in the window that Graph did
        not list: deleted before we met the series, so not held. The series are read back
        from our copy (their pages are applied), SERIES_BATCH at a time."""
        rows = (
            Event.get_pymongo_collection()
            .find(
                {
                    "userId": calendar.user_id,
                    "calendarId": ref(calendar),
                    "instance": "",
                    "recurrence": {"$ne": []},
                },
                {
                    "externalId": 1,
                    "recurrence": 1,
                    "startTime": 1,
                    "durationS": 1,
                    "timezone": 1,
                    "allDay": 1,
                    "startDate": 1,
                },
            )
            .batch_size(SERIES_BATCH)
        )
        batch: dict[int, dict[str, Any]] = {}
        async for row in rows:
            if row.get("recurrence"):
                batch[key_digest(str(row.get("externalId")), "")] = row
            if len(batch) >= SERIES_BATCH:
                page = _unlisted_in(batch, run, missing)
                batch = {}
                if page.upserts:
                    yield page
        page = _unlisted_in(batch, run, missing)
        if page.upserts:
            yield page

    def _event(
        self, calendar: Calendar, item: dict[str, Any], external_id: str, instance: str
    ) -> RemoteEvent:
        all_day = bool(item.get("isAllDay"))
        start = item["start"]
        zone = iana_zone(
            item.get("originalStartTimeZone") or start.get("timeZone"), calendar.timezone
        )
        if zone == "UTC" and start.get("timeZone") not in (None, "UTC"):
            zone = iana_zone(start.get("timeZone"), calendar.timezone)
        begins = _moment(start, zone, all_day=all_day)
        ends = _moment(item["end"], zone, all_day=all_day)
        recurrence = item.get("recurrence")
        if recurrence and not instance:
            range_zone = (recurrence.get("range") or {}).get("recurrenceTimeZone")
            zone = iana_zone(range_zone, zone) if range_zone else zone
            if isinstance(begins, datetime):  # the rule's days are the local ones
                begins = begins.astimezone(ZoneInfo(zone))
                ends = ends.astimezone(ZoneInfo(zone)) if isinstance(ends, datetime) else ends
        body = item.get("body") or {}
        text = body.get("content") if body.get("contentType") == "text" else None
        show_as = str(item.get("showAs") or "busy")
        return RemoteEvent(
            external_id=external_id,
            instance=instance,
            title=item.get("subject") or "(no title)",
            description=text or item.get("bodyPreview") or None,
            location=(item.get("location") or {}).get("displayName") or None,
            start=begins,
            end=ends,
            status="TENTATIVE" if show_as == "tentative" else "CONFIRMED",
            busy=show_as != "free",
            timezone=zone,
            recurrence=recurrence_rule(recurrence, begins, zone) if recurrence else [],
            etag=item.get("@odata.etag") or item.get("changeKey"),
        )

    # --- HTTP -------------------------------------------------------------------------

    async def _read(
        self, calendar: Calendar, event_ids: list[str]
    ) -> dict[str, dict[str, Any] | None]:
        """Events by id (None for those Graph no longer has), BATCH_MAX to a JSON batch.

        One batch at a time: Outlook serves a mailbox at most four requests at once,
        and runs a batch's own requests among them. Each request of a batch has its own
        status: those throttled (429, with their own Retry-After) or failing (5xx) are
        asked again, alone, once the longest wait asked for has passed.
        """
        found: dict[str, dict[str, Any] | None] = {}
        url = f"{self.settings.microsoft_graph_url}/$batch"
        for first in range(0, len(event_ids), BATCH_MAX):
            pending = {str(n): e for n, e in enumerate(event_ids[first : first + BATCH_MAX])}
            for attempt in range(MAX_ATTEMPTS):
                requests = [
                    {"id": n, "method": "GET", "url": f"/me/events/{quote(e, safe='')}"}
                    for n, e in pending.items()
                ]
                data = await self._call(calendar, url, batch={"requests": requests})
                waits: list[str | None] = []
                for answer in data.get("responses") or []:
                    event_id = pending.get(str(answer.get("id")))
                    if event_id is None:
                        continue
                    status = int(answer.get("status") or 0)
                    if status in (200, 404):
                        found[event_id] = (answer.get("body") or {}) if status == 200 else None
                        del pending[str(answer["id"])]
                    elif status == 429 or status >= 500:
                        waits.append(_header(answer, "Retry-After"))
                    else:
                        raise ProviderRefused(
                            f"Microsoft Graph answered HTTP {status} for event {event_id}: "
                            f"{_error_of(answer.get('body'))}"
                        )
                if not pending:
                    break
                wait = max((w for w in waits if w and w.isdigit()), key=int, default=None)
                await self._back_off(attempt, wait, f"{len(pending)} of a batch unanswered")
            else:
                raise ProviderError(f"Microsoft Graph still failing after {MAX_ATTEMPTS} attempts")
        return found

    async def _call(
        self,
        calendar: Calendar,
        url: str,
        *,
        params: dict[str, str] | None = None,
        batch: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """GET `url`, or POST `batch` to it: the answer, after retries and a token refresh."""
        refreshed = False
        headers = {"Prefer": f"odata.maxpagesize={self.settings.sync_page_size}"}
        for attempt in range(MAX_ATTEMPTS):
            token = await self._access_token(calendar)
            self.requests += 1
            auth = {"Authorization": f"Bearer {token}"}
            try:
                if batch is None:
                    response, data = await self._send(
                        "GET", url, params=params, headers={**headers, **auth}
                    )
                else:
                    response, data = await self._send("POST", url, json=batch, headers=auth)
            except httpx.HTTPError as e:
                await self._back_off(attempt, None, f"network: {type(e).__name__}")
                continue
            if data is not None:
                return data
            if response.status_code == 410:
                raise CursorExpired(_message(response))
            if response.status_code == 401 and not refreshed:
                await self._refresh(calendar)
                refreshed = True
                continue
            if response.status_code == 429 or response.status_code >= 500:
                retry_after = response.headers.get("Retry-After")
                await self._back_off(attempt, retry_after, f"HTTP {response.status_code}")
                continue
            raise ProviderRefused(
                f"Microsoft Graph answered HTTP {response.status_code}: {_message(response)}"
            )
        raise ProviderError(f"Microsoft Graph still failing after {MAX_ATTEMPTS} attempts")

    async def _send(
        self, method: str, url: str, **request: Any
    ) -> tuple[httpx.Response, dict[str, Any] | None]:
        """One request: its response, and the JSON body of a 200.

        The body is read as a stream into bytes of our own. httpx keeps a response and
        its stream in a reference cycle, so a body read into the response lives on
        until the cyclic collector's next full pass, which a large process makes
        rarely: over a long sync, a page a request would pile up.
        """
        asked = self.http.build_request(method, url, **request)
        response = await self.http.send(asked, stream=True)
        try:
            if response.status_code == 200:
                body = b"".join([part async for part in response.aiter_bytes()])
                data: dict[str, Any] = json.loads(body)
                return response, data
            await response.aread()  # an error's few bytes, for its message
            return response, None
        finally:
            await response.aclose()

    async def _back_off(self, attempt: int, retry_after: str | None, why: str) -> None:
        delay = min(MAX_BACKOFF_S, 0.5 * 2**attempt) * random.uniform(0.5, 1.0)  # noqa: S311
        if retry_after and retry_after.isdigit():
            delay = max(delay, float(retry_after))
        log.info("Microsoft Graph: %s; retrying in %.2f s", why, delay)
        await self.sleep(delay)

    def _secret(self, calendar: Calendar) -> dict[str, Any]:
        return unseal(self.settings, calendar.source.credentials if calendar.source else None)

    async def _access_token(self, calendar: Calendar) -> str:
        secret = self._secret(calendar)
        expires = secret.get("expiresAt")
        if expires and datetime.fromisoformat(expires) <= datetime.now(UTC) + timedelta(seconds=60):
            secret = await self._refresh(calendar)
        token = secret.get("accessToken")
        if not token:
            raise ProviderRefused("no Microsoft access token: connect the calendar again")
        return str(token)

    async def _refresh(self, calendar: Calendar) -> dict[str, Any]:
        return await oauth.refreshed(
            "Microsoft",
            self.settings,
            self.http,
            calendar,
            self._secret(calendar),
            token_url=self.settings.microsoft_token_url,
            client_id=self.settings.microsoft_client_id,
            client_secret=self.settings.microsoft_client_secret,
            scope=SCOPE,
            reason=_oauth_error,
        )


@dataclass
class _Run:
    """What one sync has met so far, in a few bytes each: series and instances by the
    digests of their keys (see key_digest), a series' zone by a shared string."""

    full: bool
    window: tuple[datetime, datetime]
    zones: dict[int, str | None] = field(default_factory=dict)  # series -> its zone; None: gone
    whole: array[int] = field(default_factory=lambda: array("Q"))  # all their instances listed
    expected: array[int] = field(default_factory=lambda: array("Q"))  # what `whole` make
    listed: array[int] = field(default_factory=lambda: array("Q"))  # instances listed


def _missing(run: _Run) -> set[int]:
    """The instances series met whole make in the window that were not listed (a chunk
    of them at a time against what was listed: nothing the size of the calendar is built)."""
    missing: set[int] = set()
    for first in range(0, len(run.expected), MISSING_CHUNK):
        missing |= set(run.expected[first : first + MISSING_CHUNK]).difference(run.listed)
    return missing


def _unlisted_in(series: dict[int, dict[str, Any]], run: _Run, missing: set[int]) -> Page:
    """Of these stored series (by digest), those met whole: their missing instances, as
    cancelled overrides."""
    page = Page()
    for digest in series.keys() & run.whole:
        row = series[digest]
        master_id, zone = str(row["externalId"]), row.get("timezone") or "UTC"
        if row.get("allDay"):
            start: datetime | date = date.fromisoformat(str(row["startDate"]))
        else:
            start = _as_utc(row["startTime"]).astimezone(ZoneInfo(zone))
        length = timedelta(seconds=int(row.get("durationS") or 0))
        for key in _made(row["recurrence"], start, length, run.window):
            if key_digest(master_id, key) in missing:
                page.upserts.append(_cancelled(master_id, zone, key, None))
    return page


def _made(
    recurrence: list[str],
    first: datetime | date,
    length: timedelta,
    window: tuple[datetime, datetime],
) -> list[str]:
    """The instance keys a series' rule makes in the window."""
    start, end = window
    rules = "\n".join(recurrence)
    if not isinstance(first, datetime):
        begins = datetime.combine(first, time())
        rule = rrulestr(rules, dtstart=begins, forceset=True, ignoretz=True)
        naive = (start - timedelta(days=1)).replace(tzinfo=None), end.replace(tzinfo=None)
        return [instance_key(d.date()) for d in rule.between(*naive, inc=True)]
    length = max(length, timedelta(seconds=1))
    rule = rrulestr(rules, dtstart=first, forceset=True)
    return [instance_key(m) for m in rule.between(start - length, end, inc=False)]


def _length(master: RemoteEvent) -> timedelta:
    if isinstance(master.start, datetime) and isinstance(master.end, datetime):
        return master.end - master.start
    return timedelta(days=1)


def _cancelled(master_id: str, zone: str, instance: str, graph_id: str | None) -> RemoteEvent:
    """An instance of the series (kept in `zone`) that is not held (deleted or cancelled in
    Outlook)."""
    when = _instant(instance)
    if isinstance(when, datetime):
        when = when.astimezone(ZoneInfo(zone))
    ends = when if isinstance(when, datetime) else when + timedelta(days=1)
    return RemoteEvent(
        external_id=master_id,
        instance=instance,
        title="(cancelled)",
        start=when,
        end=ends,
        status="CANCELLED",
        timezone=zone if isinstance(when, datetime) else None,
        href=graph_id,
    )


def _message(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        return f"{error.get('code')}: {str(error.get('message'))[:200]}"
    except (ValueError, KeyError, TypeError, AttributeError):
        return response.text[:200]


def _header(answer: dict[str, Any], name: str) -> str | None:
    """A header of one answer in a batch (their names in any case)."""
    headers = answer.get("headers") or {}
    return next((str(v) for k, v in headers.items() if k.lower() == name.lower()), None)


def _error_of(body: Any) -> str:
    try:
        return f"{body['error'].get('code')}: {str(body['error'].get('message'))[:200]}"
    except (KeyError, TypeError, AttributeError):
        return str(body)[:200]


def _oauth_error(response: httpx.Response) -> str:
    try:
        body = response.json()
        return f"{body.get('error')}: {str(body.get('error_description') or '')[:200]}"
    except (ValueError, AttributeError):
        return response.text[:200]
