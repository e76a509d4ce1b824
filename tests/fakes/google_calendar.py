"""A local Google Calendar v3, as its documentation describes it, for tests and benchmarks.

Implements what our sync relies on: `events.list` with `maxResults` pages
(`nextPageToken`), full listings that end with `nextSyncToken`, incremental
listings with `syncToken` (changed events, deleted ones as `status: cancelled`),
410 Gone for an expired token, recurring masters with `recurrence` lines and
their exceptions (`recurringEventId`, `originalStartTime`, ids like
`<master>_20260329T070000Z`), Bearer access tokens that expire, the OAuth token
endpoint for refresh, and rate limiting (403 rateLimitExceeded or 429 with
Retry-After) on demand. Its events are edited through Python methods.

Push channels as Google documents them: `events.watch` (POST
.../events/watch with id, type web_hook, address, token, params.ttl; answered
with id, resourceId, resourceUri, token and expiration in milliseconds; 400
for a channel id in use, 404 for an unknown calendar) and `channels.stop`
(POST /channels/stop with id and resourceId; 204, or 404 for a channel it does
not know). A channel is told `sync` when made, then `exists` whenever an event
of its calendar changes, as real HTTP POSTs to its address with the
X-Goog-Channel-* and X-Goog-Resource-* headers and an empty body, in order,
from a thread of its own (`wait_delivered()` waits for them).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import queue
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

API = "/calendar/v3"
CHANNEL_TTL_S = 7 * 24 * 3600  # a channel's life when the watch asks for none


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


@dataclass
class FakeChannel:
    id: str
    resource_id: str
    calendar_id: str
    address: str
    token: str | None
    expiration: datetime
    stopped: bool = False
    messages: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def live(self) -> bool:
        return not self.stopped and self.expiration > datetime.now(UTC)


@dataclass(frozen=True)
class Delivery:
    """A notification POSTed to a channel's address, and the status it was answered with
    (0: no answer)."""

    channel_id: str
    state: str
    number: int
    status: int


class FakeGoogle:
    def __init__(self, page_size_cap: int = 2500, *, https_only: bool = False) -> None:
        self.calendars: dict[str, FakeCalendar] = {}
        self.sequence = itertools.count(1)
        self.now_seq = 0
        self.tokens: dict[str, int] = {}  # sync token -> sequence it stands for
        self.access: dict[str, datetime] = {}  # access token -> expiry
        self.refresh_tokens: set[str] = set()
        self.granted_by: dict[str, str] = {}  # access token -> the refresh token it came from
        # Push channels: by id, what was asked of them in order ("watch"/"stop", id,
        # status), the refusals the next watches answer, and what was delivered.
        self.channels: dict[str, FakeChannel] = {}
        self.resource_ids: dict[str, str] = {}  # calendar -> the id of its events resource
        self.channel_calls: list[tuple[str, str, int]] = []
        self.watch_refusals: list[tuple[int, str]] = []
        self.deliveries: list[Delivery] = []
        self.https_only = https_only  # Google pushes to https only; local tests use http
        self._outbox: queue.Queue[tuple[FakeChannel, str, int]] = queue.Queue()
        self._courier: threading.Thread | None = None
        self.failures: list[tuple[int, str, str | None]] = []
        self.requests: list[str] = []
        self.page_size_cap = page_size_cap
        self.broken_after: int | None = None  # every listing request after this many fails (503)
        self.delay_s = 0.0  # a slow Google, to kill a worker in the middle of a sync
        self.lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route(f"{API}/calendars/{{calendar_id}}/events", self._list),
                Route(
                    f"{API}/calendars/{{calendar_id}}/events/watch", self._watch, methods=["POST"]
                ),
                Route(f"{API}/channels/stop", self._stop, methods=["POST"]),
                Route("/token", self._token, methods=["POST"]),
            ]
        )

    # --- what tests do ------------------------------------------------------------

    def grant(self, lifetime: timedelta = timedelta(hours=1)) -> dict[str, Any]:
        """OAuth tokens for a connectCalendar input."""
        access, refresh = secrets.token_hex(8), secrets.token_hex(8)
        self.access[access] = datetime.now(UTC) + lifetime
        self.refresh_tokens.add(refresh)
        self.granted_by[access] = refresh
        expires = (datetime.now(UTC) + lifetime).isoformat()
        return {"accessToken": access, "refreshToken": refresh, "expiresAt": expires}

    def calendar(self, calendar_id: str = "primary") -> FakeCalendar:
        return self.calendars.setdefault(calendar_id, FakeCalendar())

    def _touch(self, cal: FakeCalendar, event_id: str) -> None:
        self.now_seq = next(self.sequence)
        cal.changed_at[event_id] = self.now_seq
        for channel in self.channels.values():
            if self.calendars.get(channel.calendar_id) is cal and channel.live():
                self._send(channel, "exists")

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

    def revoke(self, grant: dict[str, Any]) -> None:
        """The user took the access back: the grant's refresh token and every access
        token that came from it stop working (invalid_grant, 401)."""
        refresh = grant["refreshToken"]
        self.refresh_tokens.discard(refresh)
        for access, origin in list(self.granted_by.items()):
            if origin == refresh:
                self.access.pop(access, None)

    def refuse_watch(
        self, status: int = 403, reason: str = "pushNotSupportedForRequestedResource"
    ) -> None:
        """The next events.watch is answered with this error."""
        self.watch_refusals.append((status, reason))

    def live_channels(self, calendar_id: str = "primary") -> list[FakeChannel]:
        return [c for c in self.channels.values() if c.calendar_id == calendar_id and c.live()]

    def wait_delivered(self, timeout: float = 30) -> None:
        """Until every notification so far has been POSTed and answered."""
        done = threading.Event()

        def join() -> None:
            self._outbox.join()
            done.set()

        threading.Thread(target=join, daemon=True).start()
        assert done.wait(timeout), "notifications still undelivered"

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
        self.granted_by[access] = form["refresh_token"]
        return JSONResponse({"access_token": access, "expires_in": 3600, "token_type": "Bearer"})

    def _authorized(self, request: Request) -> bool:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        return self.access.get(token, datetime.min.replace(tzinfo=UTC)) > datetime.now(UTC)

    async def _watch(self, request: Request) -> Response:
        calendar_id = request.path_params["calendar_id"]
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "parseError", "Parse Error")
        channel_id = str(body.get("id") or "")
        answer = self._refusal(request, body, calendar_id, channel_id)
        self.channel_calls.append(("watch", channel_id, answer.status_code if answer else 200))
        if answer is not None:
            return answer
        params = body.get("params") or {}
        if "ttl" in params:
            expiration = datetime.now(UTC) + timedelta(seconds=int(params["ttl"]))
        elif "expiration" in body:
            expiration = datetime.fromtimestamp(int(body["expiration"]) / 1000, UTC)
        else:
            expiration = datetime.now(UTC) + timedelta(seconds=CHANNEL_TTL_S)
        with self.lock:
            channel = FakeChannel(
                id=channel_id,
                resource_id=self.resource_ids.setdefault(calendar_id, secrets.token_urlsafe(18)),
                calendar_id=calendar_id,
                address=body["address"],
                token=body.get("token"),
                expiration=expiration,
            )
            self.channels[channel_id] = channel
            self._send(channel, "sync")
        reply = {
            "kind": "api#channel",
            "id": channel.id,
            "resourceId": channel.resource_id,
            "resourceUri": f"{request.base_url}calendar/v3/calendars/{calendar_id}/events?alt=json",
            "expiration": str(int(expiration.timestamp() * 1000)),
        }
        if channel.token is not None:
            reply["token"] = channel.token
        return JSONResponse(reply)

    def _refusal(
        self, request: Request, body: dict[str, Any], calendar_id: str, channel_id: str
    ) -> JSONResponse | None:
        """Why a watch is refused, Google's way; None when it is not."""
        if not self._authorized(request):
            return _error(401, "authError", "Invalid Credentials")
        if self.watch_refusals:
            status, reason = self.watch_refusals.pop(0)
            return _error(status, reason, f"Refused: {reason}")
        if calendar_id not in self.calendars:
            return _error(404, "notFound", "Not Found")
        address = str(body.get("address") or "")
        schemes = ("https://",) if self.https_only else ("https://", "http://")
        problems = [
            (not channel_id or len(channel_id) > 64, "required", "Channel id: 1 to 64 characters"),
            (body.get("type") not in ("web_hook", "webhook"), "invalid", "Invalid channel type"),
            (not address.startswith(schemes), "push.webhookUrlNotHttps", "WebHook must be HTTPS"),
            (len(str(body.get("token") or "")) > 256, "invalid", "Channel token too long"),
            (channel_id in self.channels, "channelIdNotUnique", "Channel id not unique"),
        ]
        for refused, reason, message in problems:
            if refused:
                return _error(400, reason, message)
        return None

    async def _stop(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "parseError", "Parse Error")
        channel_id = str(body.get("id") or "")
        channel = self.channels.get(channel_id)
        answer: Response
        if not self._authorized(request):
            answer = _error(401, "authError", "Invalid Credentials")
        elif channel is None or channel.stopped or channel.resource_id != body.get("resourceId"):
            answer = _error(404, "notFound", f"Channel '{channel_id}' not found for project")
        else:
            channel.stopped = True
            answer = Response(status_code=204)
        self.channel_calls.append(("stop", channel_id, answer.status_code))
        return answer

    # --- delivery --------------------------------------------------------------------

    def _send(self, channel: FakeChannel, state: str) -> None:
        self._outbox.put((channel, state, next(channel.messages)))
        if self._courier is None:
            self._courier = threading.Thread(target=self._deliver_all, daemon=True)
            self._courier.start()

    def _deliver_all(self) -> None:
        with httpx.Client(timeout=10) as client:
            while True:
                channel, state, number = self._outbox.get()
                headers = {
                    "X-Goog-Channel-ID": channel.id,
                    "X-Goog-Channel-Expiration": format_datetime(channel.expiration, usegmt=True),
                    "X-Goog-Resource-ID": channel.resource_id,
                    "X-Goog-Resource-URI": f"{API}/calendars/{channel.calendar_id}/events",
                    "X-Goog-Resource-State": state,
                    "X-Goog-Message-Number": str(number),
                }
                if channel.token is not None:
                    headers["X-Goog-Channel-Token"] = channel.token
                try:
                    status = client.post(channel.address, headers=headers, content=b"").status_code
                except httpx.HTTPError:
                    status = 0
                self.deliveries.append(Delivery(channel.id, state, number, status))
                self._outbox.task_done()

    def break_after(self, requests: int | None) -> None:
        """From the (n+1)th listing request on, Google answers 503; None mends it."""
        self.broken_after = None if requests is None else len(self.requests) + requests

    async def _list(self, request: Request) -> JSONResponse:
        self.requests.append(str(request.url))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.broken_after is not None and len(self.requests) > self.broken_after:
            return _error(503, "backendError", "Backend Error")
        if not self._authorized(request):
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
