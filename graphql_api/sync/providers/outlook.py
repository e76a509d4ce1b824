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
are stored as the other providers store them: the master once (fetched from
`/me/events/{id}` the first time a run meets it, its `recurrence` pattern as an
RRULE) and each instance as an override keyed by its original start, remembering
its Graph id (`href`) so that a later `@removed` of that id cancels that
instance, or removes the whole series once its master is gone. `isCancelled`
instances are cancelled, `showAs: free` is not busy, all-day events are dates.

Times are read in the zone Graph names (`start.timeZone`: UTC unless asked
otherwise, an IANA name or a Windows one such as "Pacific Standard Time", mapped
with CLDR's windowsZones table as the icalendar package ships it); an event's
own zone is its `originalStartTimeZone`. 429 and 5xx are retried with
exponential backoff and jitter, honouring Retry-After; a 401 refreshes the access
token once with the refresh token (Microsoft rotates it: the new one is kept,
sealed), then fails the run with Graph's reason.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from dateutil.rrule import rrulestr
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from graphql_api.events.recurrence import instance_key
from graphql_api.security.secrets import seal, unseal
from graphql_api.settings import Settings
from graphql_api.sync.providers.base import (
    CursorExpired,
    Listing,
    Page,
    ProviderError,
    ProviderRefused,
    RemoteEvent,
    Removed,
)
from models import Calendar, Event
from models.base import ref, save_changes

log = logging.getLogger(__name__)
WINDOW_PAST = timedelta(days=90)
WINDOW_FUTURE = timedelta(days=365)
WINDOW_ROLL = timedelta(days=7)  # a delta link this much older than today's window: full sync
MAX_ATTEMPTS = 6
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
        run = _Run(full=link is None)
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
        while True:
            data = await self._get(calendar, link, params)
            if data is None:  # pragma: no cover - only asked of a series' master
                raise ProviderError("Microsoft Graph lost the calendar view")
            yield await self._page(calendar, data.get("value") or [], run)
            params = None
            if data.get("@odata.nextLink"):
                link = self._followed(str(data["@odata.nextLink"]))
                continue
            delta = data.get("@odata.deltaLink")
            calendar.cursor.token = self._followed(str(delta)) if delta else None
            break
        # Instances a series' rule makes in the window that Graph did not list were deleted
        # before we met the series: they are not held.
        gaps = Page(upserts=[g for m in run.whole for g in _unlisted(run, m, start, end)])
        if gaps.upserts:
            yield gaps

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
        for item in items:
            try:
                if "@removed" in item:
                    await self._remove(
                        page, upserts, calendar, str(item["id"]), known=known, run=run
                    )
                else:
                    await self._add(page, upserts, calendar, item, run)
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

    async def _remove(
        self,
        page: Page,
        upserts: dict[tuple[str, str], RemoteEvent],
        calendar: Calendar,
        graph_id: str,
        *,
        known: dict[str, tuple[str, str]],
        run: _Run,
    ) -> None:
        if graph_id not in known:
            page.removed.append(Removed(graph_id))  # a single event (or a series master)
            return
        master_id, instance = known[graph_id]
        master = await self._master(page, calendar, master_id, run)
        if master is None or (master_id, instance) in upserts:
            return  # the whole series is gone; or the instance lives on under a new id
        upserts[master_id, instance] = _cancelled(master, instance, graph_id)

    async def _add(
        self,
        page: Page,
        upserts: dict[tuple[str, str], RemoteEvent],
        calendar: Calendar,
        item: dict[str, Any],
        run: _Run,
    ) -> None:
        kind = item.get("type") or "singleInstance"
        if kind == "seriesMaster":
            master = self._event(calendar, item, str(item["id"]), "")
            run.masters.setdefault(master.external_id, master)
            upserts[master.external_id, ""] = master
            return
        if kind not in ("occurrence", "exception"):
            if item.get("isCancelled"):
                page.removed.append(Removed(str(item["id"])))
            else:
                upserts[str(item["id"]), ""] = self._event(calendar, item, str(item["id"]), "")
            return
        master_id = str(item["seriesMasterId"])
        series = await self._master(page, calendar, master_id, run)
        if series is None:
            return
        instance = instance_key(_original(item, all_day=bool(item.get("isAllDay"))))
        run.listed.setdefault(master_id, set()).add(instance)
        if item.get("isCancelled"):
            upserts[master_id, instance] = _cancelled(series, instance, str(item["id"]))
            return
        event = self._event(calendar, item, master_id, instance)
        upserts[master_id, instance] = replace(event, recurrence=[], href=str(item["id"]))

    async def _master(
        self, page: Page, calendar: Calendar, master_id: str, run: _Run
    ) -> RemoteEvent | None:
        """The series (fetched once a run, then in this page), or None once it is gone."""
        if master_id in run.masters:
            return run.masters[master_id]
        url = f"{self.settings.microsoft_graph_url}/me/events/{quote(master_id, safe='')}"
        item = await self._get(calendar, url, None, missing_ok=True)
        if item is None or item.get("isCancelled"):
            run.masters[master_id] = None
            page.removed.append(Removed(master_id))
            return None
        master = self._event(calendar, item, master_id, "")
        run.masters[master_id] = master
        if run.full or not await self._held(calendar, master_id):
            run.whole.append(master_id)  # every instance it has in the window will be listed
        page.upserts.append(master)
        return master

    async def _held(self, calendar: Calendar, master_id: str) -> bool:
        found = await Event.get_pymongo_collection().find_one(
            {
                "userId": calendar.user_id,
                "calendarId": ref(calendar),
                "externalId": master_id,
                "instance": "",
            },
            {"_id": 1},
        )
        return found is not None

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

    async def _get(
        self,
        calendar: Calendar,
        url: str,
        params: dict[str, str] | None,
        *,
        missing_ok: bool = False,
    ) -> dict[str, Any] | None:
        refreshed = False
        headers = {"Prefer": f"odata.maxpagesize={self.settings.sync_page_size}"}
        for attempt in range(MAX_ATTEMPTS):
            token = await self._access_token(calendar)
            self.requests += 1
            try:
                response = await self.http.get(
                    url, params=params, headers={**headers, "Authorization": f"Bearer {token}"}
                )
            except httpx.HTTPError as e:
                await self._back_off(attempt, None, f"network: {type(e).__name__}")
                continue
            if response.status_code == 200:
                data: dict[str, Any] = response.json()
                return data
            if response.status_code == 410:
                raise CursorExpired(_message(response))
            if response.status_code == 404 and missing_ok:
                return None
            if response.status_code == 401 and not refreshed:
                await self._refresh(calendar)
                refreshed = True
                continue
            if response.status_code == 429 or response.status_code >= 500:
                await self._back_off(attempt, response, f"HTTP {response.status_code}")
                continue
            raise ProviderRefused(
                f"Microsoft Graph answered HTTP {response.status_code}: {_message(response)}"
            )
        raise ProviderError(f"Microsoft Graph still failing after {MAX_ATTEMPTS} attempts")

    async def _back_off(self, attempt: int, response: httpx.Response | None, why: str) -> None:
        delay = min(MAX_BACKOFF_S, 0.5 * 2**attempt) * random.uniform(0.5, 1.0)  # noqa: S311
        retry_after = response.headers.get("Retry-After") if response is not None else None
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
        secret = self._secret(calendar)
        refresh_token = secret.get("refreshToken")
        if not refresh_token or calendar.source is None:
            raise ProviderRefused(
                "the Microsoft access token expired and there is no refresh token"
            )
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "scope": SCOPE}
        if self.settings.microsoft_client_id:
            form["client_id"] = self.settings.microsoft_client_id
        if self.settings.microsoft_client_secret:
            form["client_secret"] = self.settings.microsoft_client_secret
        try:
            response = await self.http.post(self.settings.microsoft_token_url, data=form)
        except httpx.HTTPError as e:
            raise ProviderError(f"Microsoft token endpoint unreachable: {type(e).__name__}") from e
        if response.status_code != 200:
            raise ProviderRefused(
                f"Microsoft refused to refresh the token (HTTP {response.status_code}: "
                f"{_oauth_error(response)})"
            )
        body = response.json()
        secret["accessToken"] = body["access_token"]
        secret["refreshToken"] = body.get("refresh_token") or refresh_token  # rotated
        secret["expiresAt"] = (
            datetime.now(UTC) + timedelta(seconds=int(body.get("expires_in", 3600)))
        ).isoformat()
        calendar.source.credentials = seal(self.settings, secret)
        await save_changes(calendar, {"userId": calendar.user_id}, source=calendar.source)
        return secret


@dataclass
class _Run:
    """What one sync has met so far."""

    full: bool
    masters: dict[str, RemoteEvent | None] = field(default_factory=dict)  # None: gone
    listed: dict[str, set[str]] = field(default_factory=dict)  # series -> instances listed
    whole: list[str] = field(default_factory=list)  # series all of whose instances are listed


def _unlisted(run: _Run, master_id: str, start: datetime, end: datetime) -> list[RemoteEvent]:
    """The instances the series' rule makes in the window that Graph did not list."""
    master = run.masters.get(master_id)
    if master is None or not master.recurrence:
        return []
    listed = run.listed.get(master_id, set())
    if isinstance(master.start, datetime):
        length = _length(master)
        rule = rrulestr("\n".join(master.recurrence), dtstart=master.start, forceset=True)
        made: list[datetime | date] = list(rule.between(start - length, end, inc=False))
    else:
        first = datetime.combine(master.start, time())
        rule = rrulestr("\n".join(master.recurrence), dtstart=first, forceset=True, ignoretz=True)
        naive = (start - timedelta(days=1)).replace(tzinfo=None), end.replace(tzinfo=None)
        made = [d.date() for d in rule.between(*naive, inc=True)]
    return [
        _cancelled(master, key, None)
        for key in (instance_key(m) for m in made)
        if key not in listed
    ]


def _length(master: RemoteEvent) -> timedelta:
    if isinstance(master.start, datetime) and isinstance(master.end, datetime):
        return max(master.end - master.start, timedelta(seconds=1))
    return timedelta(days=1)


def _cancelled(master: RemoteEvent, instance: str, graph_id: str | None) -> RemoteEvent:
    """An instance of the series that is not held (deleted or cancelled in Outlook)."""
    when = _instant(instance)
    if isinstance(when, datetime) and master.timezone:
        when = when.astimezone(ZoneInfo(master.timezone))
    ends = when if isinstance(when, datetime) else when + timedelta(days=1)
    return RemoteEvent(
        external_id=master.external_id,
        instance=instance,
        title="(cancelled)",
        start=when,
        end=ends,
        status="CANCELLED",
        timezone=master.timezone,
        href=graph_id,
    )


def _message(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        return f"{error.get('code')}: {str(error.get('message'))[:200]}"
    except (ValueError, KeyError, TypeError, AttributeError):
        return response.text[:200]


def _oauth_error(response: httpx.Response) -> str:
    try:
        body = response.json()
        return f"{body.get('error')}: {str(body.get('error_description') or '')[:200]}"
    except (ValueError, AttributeError):
        return response.text[:200]
