"""A local Microsoft Graph (v1.0 calendars), as its documentation describes it, for tests
and benchmarks.

Implements what our sync relies on: `calendarView/delta` of the default calendar
(`/me/calendarView/delta`) or another (`/me/calendars/{id}/calendarView/delta`)
with `startDateTime`/`endDateTime`, pages of `Prefer: odata.maxpagesize`
(`@odata.nextLink` with a `$skiptoken`), the last page's `@odata.deltaLink`
(a `$deltatoken`), and with it only what changed: changed instances, and
`@removed` entries for those that left the view. The view holds instances: single
events and each occurrence or exception of a series (`type`, `seriesMasterId`,
`originalStart`, opaque ids); masters are read with `/me/events/{id}`, alone or up to
20 at a time through JSON batching (`POST /$batch`: one response per request, matched
by its `id` and not in request order, each with its own status, a 429 with its own
Retry-After among them when asked with `fail_next_in_batch`). Times come
in UTC as Graph answers by default (`fake.utc = False`: in the zone the event was
made in, which may be a Windows name), with `originalStartTimeZone`. Also: 410 Gone
(`SyncStateNotFound` / `resyncRequired`) for a forgotten delta token, 429 and 503
with Retry-After on demand, Bearer access tokens that expire, and the token endpoint
for `refresh_token` grants (rotating the refresh token). Events are edited through
Python methods.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote
from zoneinfo import ZoneInfo

from dateutil import rrule
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

API = "/v1.0"
BATCH_MAX = 20  # requests in one JSON batch
# The zones the tests make events in, as Outlook names them.
WINDOWS = {
    "W. Europe Standard Time": "Europe/Berlin",
    "Pacific Standard Time": "America/Los_Angeles",
    "Eastern Standard Time": "America/New_York",
    "UTC": "UTC",
}
WEEKDAYS = {
    "monday": rrule.MO,
    "tuesday": rrule.TU,
    "wednesday": rrule.WE,
    "thursday": rrule.TH,
    "friday": rrule.FR,
    "saturday": rrule.SA,
    "sunday": rrule.SU,
}


def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(WINDOWS.get(name, name))


def _error(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    body = {"error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def _local(value: datetime | date, zone: str) -> dict[str, str]:
    if isinstance(value, datetime):
        moment = value.astimezone(_zone(zone)).replace(tzinfo=None)
    else:
        moment = datetime.combine(value, time())
    return {"dateTime": moment.isoformat(timespec="microseconds") + "0", "timeZone": zone}


@dataclass
class Series:
    """What the tests say of a recurring event: a weekly or daily rule."""

    pattern: str  # daily | weekly
    days: list[str] = field(default_factory=list)  # weekly: monday, ...
    interval: int = 1
    count: int | None = None
    until: date | None = None


@dataclass
class FakeEvent:
    id: str
    subject: str
    start: datetime | date
    end: datetime | date
    zone: str
    show_as: str = "busy"
    cancelled: bool = False
    series: Series | None = None
    change: int = 0
    # A series' instances that differ: original start (UTC) -> changes, or None when deleted
    exceptions: dict[datetime | date, dict[str, Any] | None] = field(default_factory=dict)


@dataclass
class FakeCalendar:
    events: dict[str, FakeEvent] = field(default_factory=dict)
    version: int = 0  # bumped by every change: its view is worked out once a version


class FakeGraph:
    def __init__(self, page_size_cap: int = 1000) -> None:
        self.calendars: dict[str, FakeCalendar] = {}
        self.sequence = itertools.count(1)
        self.access: dict[str, datetime] = {}
        self.refresh_tokens: set[str] = set()
        self.delta_tokens: dict[str, dict[str, Any]] = {}  # token -> window and what it saw
        self.listings: dict[str, dict[str, Any]] = {}  # skip token -> the rest of a listing
        self.failures: list[tuple[int, str | None]] = []
        self.batch_failures: list[tuple[int, str | None]] = []  # for requests inside a $batch
        self.requests: list[str] = []  # every calendarView/delta, events and $batch request
        self.batched = 0  # requests answered inside $batch requests
        self.page_size_cap = page_size_cap
        self.utc = True  # times in UTC, as Graph answers without Prefer: outlook.timezone
        self.delay_s = 0.0
        self.broken_after: int | None = None  # every delta request after this many fails (503)
        self.lock = threading.Lock()
        self.views: dict[tuple[Any, ...], dict[str, dict[str, Any]]] = {}
        self.app = Starlette(
            routes=[
                Route(f"{API}/me/calendarView/delta", self._delta),
                Route(f"{API}/me/calendars/{{calendar_id}}/calendarView/delta", self._delta),
                Route(f"{API}/me/events/{{event_id}}", self._event),
                Route(f"{API}/$batch", self._batch, methods=["POST"]),
                Route("/token", self._token, methods=["POST"]),
            ]
        )

    # --- what tests do --------------------------------------------------------------

    def grant(self, lifetime: timedelta = timedelta(hours=1)) -> dict[str, Any]:
        """Microsoft identity platform tokens for a connectCalendar input."""
        access, refresh = secrets.token_hex(8), secrets.token_hex(8)
        self.access[access] = datetime.now(UTC) + lifetime
        self.refresh_tokens.add(refresh)
        expires = (datetime.now(UTC) + lifetime).isoformat()
        return {"accessToken": access, "refreshToken": refresh, "expiresAt": expires}

    def calendar(self, calendar_id: str = "default") -> FakeCalendar:
        return self.calendars.setdefault(calendar_id, FakeCalendar())

    def put(
        self,
        subject: str,
        start: datetime | date,
        end: datetime | date,
        *,
        zone: str = "UTC",
        calendar_id: str = "default",
        event_id: str | None = None,
        show_as: str = "busy",
        series: Series | None = None,
        cancelled: bool = False,
    ) -> str:
        """Creates or replaces an event (a series' master when `series`); its id."""
        with self.lock:
            self.calendar(calendar_id).version += 1
            event_id = event_id or "AAMk" + secrets.token_hex(12)
            old = self.calendar(calendar_id).events.get(event_id)
            self.calendar(calendar_id).events[event_id] = FakeEvent(
                event_id,
                subject,
                start,
                end,
                zone,
                show_as,
                cancelled,
                series,
                next(self.sequence),
                old.exceptions if old and series else {},
            )
            return event_id

    def change_instance(
        self,
        master_id: str,
        original: datetime | date,
        *,
        calendar_id: str = "default",
        deleted: bool = False,
        **changes: Any,
    ) -> None:
        """Changes one instance of a series (subject, start, end, show_as, cancelled),
        or deletes it."""
        with self.lock:
            self.calendar(calendar_id).version += 1
            master = self.calendar(calendar_id).events[master_id]
            key = original.astimezone(UTC) if isinstance(original, datetime) else original
            master.exceptions[key] = None if deleted else changes

    def delete(self, event_id: str, calendar_id: str = "default") -> None:
        with self.lock:
            self.calendar(calendar_id).version += 1
            self.calendar(calendar_id).events.pop(event_id, None)

    def expire_delta_tokens(self) -> None:
        self.delta_tokens.clear()

    def expire_access_tokens(self) -> None:
        for token in self.access:
            self.access[token] = datetime.now(UTC) - timedelta(seconds=1)

    def break_after(self, requests: int | None) -> None:
        """From the (n+1)th delta request on, Graph answers 503; None mends it."""
        self.broken_after = None if requests is None else len(self.requests) + requests

    def fail_next(self, count: int, status: int = 429, retry_after: str | None = "1") -> None:
        self.failures += [(status, retry_after)] * count

    def fail_next_in_batch(
        self, count: int, status: int = 429, retry_after: str | None = "1"
    ) -> None:
        """The next `count` requests inside $batch requests fail alone, the batch answering 200."""
        self.batch_failures += [(status, retry_after)] * count

    # --- the calendar view ----------------------------------------------------------

    def _instances(self, event: FakeEvent) -> list[tuple[datetime | date, datetime | date]]:
        """A series' original starts and ends, as its rule makes them."""
        assert event.series is not None
        s = event.series
        length = _minus(event.end, event.start)
        first = event.start
        zone = _zone(event.zone)
        dtstart = (
            first.astimezone(zone).replace(tzinfo=None)
            if isinstance(first, datetime)
            else datetime.combine(first, time())
        )
        until = None
        if s.until is not None:
            until = datetime.combine(s.until, time(23, 59, 59))
        rule = rrule.rrule(
            rrule.DAILY if s.pattern == "daily" else rrule.WEEKLY,
            dtstart=dtstart,
            interval=s.interval,
            count=s.count,
            until=until,
            byweekday=[WEEKDAYS[d] for d in s.days] or None,
        )
        out: list[tuple[datetime | date, datetime | date]] = []
        for moment in rule.xafter(dtstart - timedelta(seconds=1), count=2000, inc=True):
            begins: datetime | date = (
                moment.replace(tzinfo=zone).astimezone(UTC)
                if isinstance(first, datetime)
                else moment.date()
            )
            out.append((begins, _plus(begins, length)))
        return out

    def _view(self, cal: FakeCalendar, start: datetime, end: datetime) -> dict[str, dict[str, Any]]:
        """Every instance in the window: Graph id -> resource (worked out once for each
        version of the calendar, as Graph keeps its view rather than making it anew)."""
        key = (id(cal), start, end, cal.version, self.utc)
        if key not in self.views:
            if len(self.views) >= 8:
                self.views.pop(next(iter(self.views)))
            self.views[key] = self._make_view(cal, start, end)
        return self.views[key]

    def _make_view(
        self, cal: FakeCalendar, start: datetime, end: datetime
    ) -> dict[str, dict[str, Any]]:
        view: dict[str, dict[str, Any]] = {}
        for event in cal.events.values():
            if event.series is None:
                if _overlaps(event.start, event.end, start, end):
                    view[event.id] = self._resource(event, event.start, event.end)
                continue
            for original, ends in self._instances(event):
                changes: dict[str, Any] | None = event.exceptions.get(original, {})
                if changes is None:
                    continue  # that instance was deleted
                begins = changes.get("start", original)
                finish = changes.get("end", _plus(begins, _minus(ends, original)))
                if not _overlaps(begins, finish, start, end):
                    continue
                occurrence_id = base64.urlsafe_b64encode(
                    f"{event.id}|{_stamp(original)}".encode()
                ).decode()
                resource = self._resource(event, begins, finish, changes)
                resource |= {
                    "id": occurrence_id,
                    "type": "exception" if changes else "occurrence",
                    "seriesMasterId": event.id,
                    "originalStart": _stamp(original),
                }
                resource.pop("recurrence", None)
                view[occurrence_id] = resource
        return view

    def _resource(
        self,
        event: FakeEvent,
        start: datetime | date,
        end: datetime | date,
        changes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        changes = changes or {}
        shown = "UTC" if self.utc and isinstance(start, datetime) else event.zone
        item: dict[str, Any] = {
            "@odata.etag": f'W/"{event.change}-{hash(json.dumps(changes, default=str))}"',
            "id": event.id,
            "type": "seriesMaster" if event.series else "singleInstance",
            "subject": changes.get("subject", event.subject),
            "bodyPreview": "",
            "isAllDay": not isinstance(start, datetime),
            "isCancelled": changes.get("cancelled", event.cancelled),
            "showAs": changes.get("show_as", event.show_as),
            "start": _local(start, shown),
            "end": _local(end, shown),
            "originalStartTimeZone": event.zone,
            "originalEndTimeZone": event.zone,
            "location": {"displayName": ""},
        }
        if event.series is not None:
            s = event.series
            first = (
                event.start.astimezone(_zone(event.zone))
                if isinstance(event.start, datetime)
                else event.start
            )
            span: dict[str, Any] = {
                "type": "numbered" if s.count else "endDate" if s.until else "noEnd",
                "startDate": (first.date() if isinstance(first, datetime) else first).isoformat(),
                "recurrenceTimeZone": event.zone,
            }
            if s.count:
                span["numberOfOccurrences"] = s.count
            if s.until:
                span["endDate"] = s.until.isoformat()
            item["recurrence"] = {
                "pattern": {
                    "type": s.pattern,
                    "interval": s.interval,
                    "daysOfWeek": s.days,
                    "firstDayOfWeek": "sunday",
                },
                "range": span,
            }
        return item

    # --- HTTP ------------------------------------------------------------------------

    def _refused(self, request: Request) -> JSONResponse | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self.access.get(token, datetime.min.replace(tzinfo=UTC)) <= datetime.now(UTC):
            return _error(401, "InvalidAuthenticationToken", "Access token has expired.")
        if self.failures:
            status, retry_after = self.failures.pop(0)
            headers = {"Retry-After": retry_after} if retry_after else {}
            if status == 429:
                return _error(429, "TooManyRequests", "Too many requests", **headers)
            return _error(status, "ServiceNotAvailable", "Service unavailable", **headers)
        return None

    async def _token(self, request: Request) -> JSONResponse:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        refresh = form.get("refresh_token")
        if form.get("grant_type") != "refresh_token" or refresh not in self.refresh_tokens:
            body = {"error": "invalid_grant", "error_description": "AADSTS70000: bad grant"}
            return JSONResponse(body, status_code=400)
        self.refresh_tokens.discard(refresh)  # rotated
        access, new_refresh = secrets.token_hex(8), secrets.token_hex(8)
        self.refresh_tokens.add(new_refresh)
        self.access[access] = datetime.now(UTC) + timedelta(hours=1)
        return JSONResponse(
            {
                "access_token": access,
                "refresh_token": new_refresh,
                "expires_in": 3600,
                "token_type": "Bearer",
            }
        )

    async def _event(self, request: Request) -> JSONResponse:
        self.requests.append(str(request.url))
        refused = self._refused(request)
        if refused is not None:
            return refused
        status, body = self._read_event(request.path_params["event_id"])
        return JSONResponse(body, status_code=status)

    def _read_event(self, event_id: str) -> tuple[int, dict[str, Any]]:
        for cal in self.calendars.values():
            if event_id in cal.events:
                event = cal.events[event_id]
                return 200, self._resource(event, event.start, event.end)
        message = "The specified object was not found in the store."
        return 404, {"error": {"code": "ErrorItemNotFound", "message": message}}

    async def _batch(self, request: Request) -> JSONResponse:
        """JSON batching: up to 20 requests (here: GET /me/events/{id}), each answered
        with its own status, headers and body; the batch itself answers 200."""
        self.requests.append(str(request.url))
        refused = self._refused(request)
        if refused is not None:
            return refused
        try:
            asked = (await request.json())["requests"]
            ids = [str(r["id"]) for r in asked]
        except (ValueError, KeyError, TypeError):
            return _error(400, "BadRequest", "Invalid batch payload format.")
        if not 0 < len(asked) <= BATCH_MAX:
            return _error(400, "BadRequest", f"A batch holds 1 to {BATCH_MAX} requests.")
        if len(set(ids)) != len(ids):
            return _error(400, "BadRequest", "Batch request ids must be unique.")
        responses = []
        for item in asked:
            self.batched += 1
            url = str(item.get("url", ""))
            if self.batch_failures:
                status, retry_after = self.batch_failures.pop(0)
                headers = {"Retry-After": retry_after} if retry_after else {}
                code = "TooManyRequests" if status == 429 else "ServiceNotAvailable"
                body: dict[str, Any] = {"error": {"code": code, "message": "Try again later"}}
                responses.append(
                    {"id": item["id"], "status": status, "headers": headers, "body": body}
                )
                continue
            if item.get("method", "GET") != "GET" or not url.startswith("/me/events/"):
                status, body = 400, {"error": {"code": "BadRequest", "message": "Unsupported"}}
            else:
                status, body = self._read_event(unquote(url.removeprefix("/me/events/")))
            headers = {"Content-Type": "application/json"}
            responses.append({"id": item["id"], "status": status, "headers": headers, "body": body})
        responses.reverse()  # Graph answers in no particular order
        return JSONResponse({"responses": responses})

    def _listing(self, cal: FakeCalendar, params: Any) -> dict[str, Any] | JSONResponse:
        """Where a delta request is: a listing under way, or the changes since a token."""
        if "$skiptoken" in params:
            listing = self.listings.get(params["$skiptoken"])
            if listing is None:
                return _error(410, "SyncStateNotFound", "The sync state is not found.")
            return listing
        if "$deltatoken" in params:
            before = self.delta_tokens.get(params["$deltatoken"])
            if before is None:
                body = {
                    "error": {
                        "code": "SyncStateNotFound",
                        "message": "The sync state generation is not found.",
                        "innerError": {"code": "resyncRequired"},
                    }
                }
                return JSONResponse(body, status_code=410)
            start, end, seen = before["start"], before["end"], before["seen"]
        else:
            try:
                start = _instant(params["startDateTime"])
                end = _instant(params["endDateTime"])
            except (KeyError, ValueError):
                return _error(400, "ErrorInvalidParameter", "start and end are required")
            seen = {}
        view = self._view(cal, start, end)
        items = [item for i, item in sorted(view.items()) if seen.get(i) != item["@odata.etag"]]
        items += [
            {"@odata.type": "#microsoft.graph.event", "id": i, "@removed": {"reason": "deleted"}}
            for i in sorted(seen)
            if i not in view
        ]
        return {
            "items": items,
            "offset": 0,
            "window": (start, end),
            "seen": {i: item["@odata.etag"] for i, item in view.items()},
        }

    async def _delta(self, request: Request) -> JSONResponse:
        self.requests.append(str(request.url))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.broken_after is not None and len(self.requests) > self.broken_after:
            return _error(503, "ServiceNotAvailable", "Service unavailable")
        refused = self._refused(request)
        if refused is not None:
            return refused
        cal = self.calendars.get(request.path_params.get("calendar_id", "default"))
        if cal is None:
            return _error(404, "ErrorItemNotFound", "The specified object was not found.")
        params = request.query_params
        prefer = request.headers.get("prefer", "")
        size = self.page_size_cap
        if "odata.maxpagesize=" in prefer:
            size = min(size, int(prefer.split("odata.maxpagesize=")[1].split(",")[0]))
        base = str(request.url).split("?")[0]
        with self.lock:
            listing = self._listing(cal, params)
            if isinstance(listing, JSONResponse):
                return listing
            offset = listing["offset"]
            body: dict[str, Any] = {
                "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(event)",
                "value": listing["items"][offset : offset + size],
            }
            if offset + size < len(listing["items"]):
                skip = secrets.token_hex(8)
                self.listings[skip] = {**listing, "offset": offset + size}
                body["@odata.nextLink"] = f"{base}?$skiptoken={skip}"
            else:
                token = secrets.token_hex(8)
                start, end = listing["window"]
                self.delta_tokens[token] = {"start": start, "end": end, "seen": listing["seen"]}
                body["@odata.deltaLink"] = f"{base}?$deltatoken={token}"
        return JSONResponse(body)


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _stamp(value: datetime | date) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{value.isoformat()}T00:00:00Z"


def _minus(a: datetime | date, b: datetime | date) -> timedelta:
    return a - b  # type: ignore[operator]


def _plus(a: datetime | date, length: timedelta) -> datetime | date:
    return a + length


def _overlaps(
    begins: datetime | date, ends: datetime | date, start: datetime, end: datetime
) -> bool:
    def instant(value: datetime | date) -> datetime:
        return value if isinstance(value, datetime) else datetime.combine(value, time(), UTC)

    return instant(begins) < end and instant(ends) > start
