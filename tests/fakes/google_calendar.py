"""A local Google Calendar v3, as its documentation describes it, for tests and benchmarks.

Implements what our sync relies on: `events.list` with `maxResults` pages
(`nextPageToken`), full listings that end with `nextSyncToken`, incremental
listings with `syncToken` (changed events, deleted ones as `status: cancelled`),
410 Gone for an expired token, recurring masters with `recurrence` lines and
their exceptions (`recurringEventId`, `originalStartTime`, ids like
`<master>_20260329T070000Z`), Bearer access tokens that expire, the OAuth token
endpoint for refresh, and rate limiting (403 rateLimitExceeded or 429 with
Retry-After) on demand. Its events are edited through Python methods.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

API = "/calendar/v3"


def _error(status: int, reason: str, message: str, **headers: str) -> JSONResponse:
    body = {"error": {"code": status, "message": message, "errors": [{"reason": reason}]}}
    return JSONResponse(body, status_code=status, headers=headers)


def when(value: datetime | date, zone: str | None = None) -> dict[str, str]:
    if isinstance(value, datetime):
        moment = {"dateTime": value.isoformat()}
        if zone:
            moment["timeZone"] = zone
        return moment
    return {"date": value.isoformat()}


@dataclass
class FakeCalendar:
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed_at: dict[str, int] = field(default_factory=dict)  # event id -> change sequence
    deleted: set[str] = field(default_factory=set)


class FakeGoogle:
    def __init__(self, page_size_cap: int = 2500) -> None:
        self.calendars: dict[str, FakeCalendar] = {}
        self.sequence = itertools.count(1)
        self.now_seq = 0
        self.tokens: dict[str, int] = {}  # sync token -> sequence it stands for
        self.access: dict[str, datetime] = {}  # access token -> expiry
        self.refresh_tokens: set[str] = set()
        self.failures: list[tuple[int, str, str | None]] = []
        self.requests: list[str] = []
        self.page_size_cap = page_size_cap
        self.broken_after: int | None = None  # every listing request after this many fails (503)
        self.delay_s = 0.0  # a slow Google, to kill a worker in the middle of a sync
        self.lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route(f"{API}/calendars/{{calendar_id}}/events", self._list),
                Route("/token", self._token, methods=["POST"]),
            ]
        )

    # --- what tests do ------------------------------------------------------------

    def grant(self, lifetime: timedelta = timedelta(hours=1)) -> dict[str, Any]:
        """OAuth tokens for a connectCalendar input."""
        access, refresh = secrets.token_hex(8), secrets.token_hex(8)
        self.access[access] = datetime.now(UTC) + lifetime
        self.refresh_tokens.add(refresh)
        expires = (datetime.now(UTC) + lifetime).isoformat()
        return {"accessToken": access, "refreshToken": refresh, "expiresAt": expires}

    def calendar(self, calendar_id: str = "primary") -> FakeCalendar:
        return self.calendars.setdefault(calendar_id, FakeCalendar())

    def _touch(self, cal: FakeCalendar, event_id: str) -> None:
        self.now_seq = next(self.sequence)
        cal.changed_at[event_id] = self.now_seq

    def put(
        self,
        summary: str,
        start: datetime | date,
        end: datetime | date,
        *,
        calendar_id: str = "primary",
        event_id: str | None = None,
        zone: str | None = None,
        recurrence: list[str] | None = None,
        transparent: bool = False,
        status: str = "confirmed",
    ) -> str:
        """Creates or replaces an event; its id."""
        with self.lock:
            cal = self.calendar(calendar_id)
            event_id = event_id or secrets.token_hex(10)
            item: dict[str, Any] = {
                "kind": "calendar#event",
                "id": event_id,
                "etag": f'"{secrets.token_hex(6)}"',
                "status": status,
                "summary": summary,
                "start": when(start, zone),
                "end": when(end, zone),
            }
            if recurrence:
                item["recurrence"] = recurrence
            if transparent:
                item["transparency"] = "transparent"
            cal.events[event_id] = item
            cal.deleted.discard(event_id)
            self._touch(cal, event_id)
            return event_id

    def put_exception(
        self,
        master_id: str,
        original: datetime | date,
        *,
        calendar_id: str = "primary",
        summary: str | None = None,
        start: datetime | date | None = None,
        end: datetime | date | None = None,
        cancelled: bool = False,
    ) -> str:
        """Changes (or cancels) one instance of a series."""
        with self.lock:
            cal = self.calendar(calendar_id)
            master = cal.events[master_id]
            zone = master["start"].get("timeZone")
            if isinstance(original, datetime):
                suffix = original.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
            else:
                suffix = original.strftime("%Y%m%d")
            event_id = f"{master_id}_{suffix}"
            item: dict[str, Any] = {
                "kind": "calendar#event",
                "id": event_id,
                "etag": f'"{secrets.token_hex(6)}"',
                "status": "cancelled" if cancelled else "confirmed",
                "recurringEventId": master_id,
                "originalStartTime": when(original, zone),
            }
            if not cancelled:
                item |= {
                    "summary": summary or master.get("summary"),
                    "start": when(start or original, zone),
                    "end": when(end or start or original, zone),
                }
            cal.events[event_id] = item
            self._touch(cal, event_id)
            return event_id

    def delete(self, event_id: str, calendar_id: str = "primary") -> None:
        with self.lock:
            cal = self.calendar(calendar_id)
            doomed = [event_id] + [
                i for i, e in cal.events.items() if e.get("recurringEventId") == event_id
            ]
            for victim in doomed:
                cal.events.pop(victim, None)
                cal.deleted.add(victim)
                self._touch(cal, victim)

    def expire_sync_tokens(self) -> None:
        self.tokens.clear()

    def expire_access_tokens(self) -> None:
        for token in self.access:
            self.access[token] = datetime.now(UTC) - timedelta(seconds=1)

    def fail_next(self, count: int, status: int = 429, retry_after: str | None = None) -> None:
        reason = "rateLimitExceeded" if status in (403, 429) else "backendError"
        self.failures += [(status, reason, retry_after)] * count

    # --- HTTP -----------------------------------------------------------------------

    async def _token(self, request: Request) -> JSONResponse:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if (
            form.get("grant_type") != "refresh_token"
            or form.get("refresh_token") not in self.refresh_tokens
        ):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        access = secrets.token_hex(8)
        self.access[access] = datetime.now(UTC) + timedelta(hours=1)
        return JSONResponse({"access_token": access, "expires_in": 3600, "token_type": "Bearer"})

    def break_after(self, requests: int | None) -> None:
        """From the (n+1)th listing request on, Google answers 503; None mends it."""
        self.broken_after = None if requests is None else len(self.requests) + requests

    async def _list(self, request: Request) -> JSONResponse:
        self.requests.append(str(request.url))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.broken_after is not None and len(self.requests) > self.broken_after:
            return _error(503, "backendError", "Backend Error")
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self.access.get(token, datetime.min.replace(tzinfo=UTC)) <= datetime.now(UTC):
            return _error(401, "authError", "Invalid Credentials")
        if self.failures:
            status, reason, retry_after = self.failures.pop(0)
            headers = {"Retry-After": retry_after} if retry_after else {}
            return _error(status, reason, "Rate Limit Exceeded", **headers)
        cal = self.calendars.get(request.path_params["calendar_id"])
        if cal is None:
            return _error(404, "notFound", "Not Found")
        params = request.query_params
        size = min(int(params.get("maxResults", "250")), self.page_size_cap)
        with self.lock:
            if "pageToken" in params:
                state = json.loads(base64.urlsafe_b64decode(params["pageToken"]))
                since, snapshot, offset = state["since"], state["snapshot"], state["offset"]
            else:
                snapshot, offset = self.now_seq, 0
                since = None
                if "syncToken" in params:
                    since = self.tokens.get(params["syncToken"])
                    if since is None:
                        return _error(410, "fullSyncRequired", "Sync token is no longer valid")
            ids = sorted(
                i
                for i, seq in cal.changed_at.items()
                if (since is None or seq > since) and (since is not None or i not in cal.deleted)
            )
            items = [
                cal.events.get(i) or {"kind": "calendar#event", "id": i, "status": "cancelled"}
                for i in ids[offset : offset + size]
            ]
            body: dict[str, Any] = {"kind": "calendar#events", "items": items}
            if offset + size < len(ids):
                state = {"since": since, "snapshot": snapshot, "offset": offset + size}
                body["nextPageToken"] = base64.urlsafe_b64encode(
                    json.dumps(state).encode()
                ).decode()
            else:
                sync_token = secrets.token_hex(8)
                self.tokens[sync_token] = snapshot
                body["nextSyncToken"] = sync_token
        return JSONResponse(body)
