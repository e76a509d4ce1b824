"""Real providers for the sync tests: a Radicale CalDAV server, an ICS feed over HTTP.

Also what the tests share: iCalendar builders, a synced calendar of a fresh
user, a sync that retires the user's cached events (as a sync run does), and
the instances the API shows next to those an iCalendar document defines.
"""

from __future__ import annotations

import base64
import itertools
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import httpx
import icalendar
import pytest
import recurring_ical_events  # type: ignore[import-untyped]
from caldav.collection import Calendar as DavCalendar
from caldav.davclient import DAVClient
from caldav.lib.url import URL

from graphql_api.embedded import free_port
from graphql_api.security.secrets import seal
from graphql_api.settings import Settings
from graphql_api.state import AppState
from graphql_api.sync import engine
from graphql_api.sync.providers.base import Provider
from graphql_api.sync.runs import retire_events
from models import Calendar
from models.calendar import Source, SyncCursor
from tests.conftest import Client, stop

DAV_USER = "tester"
DAV_PASSWORD = "radicale-secret"
BERLIN = ZoneInfo("Europe/Berlin")

# --------------------------------------------------------------------- Radicale


@dataclass(frozen=True)
class DavServer:
    url: str  # the server's root, e.g. http://127.0.0.1:5232/
    username: str = DAV_USER
    password: str = DAV_PASSWORD

    def client(self) -> DAVClient:
        return DAVClient(
            url=self.url, username=self.username, password=self.password, enable_rfc6764=False
        )


RADICALE_CONFIG = """\
[server]
hosts = 127.0.0.1:{port}
[auth]
type = htpasswd
htpasswd_filename = {root}/users
htpasswd_encryption = plain
delay = 0
[rights]
type = owner_only
[storage]
filesystem_folder = {root}/collections
[web]
type = none
[logging]
level = warning
"""


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DavServer]:
    """`python -m radicale`: htpasswd (plain) auth, every user owning their own collections."""
    root = tmp_path_factory.mktemp("radicale")
    port = free_port()
    (root / "users").write_text(f"{DAV_USER}:{DAV_PASSWORD}\n")
    (root / "config").write_text(RADICALE_CONFIG.format(port=port, root=root))
    log = root / "radicale.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(root / "config")],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_up(url, proc, log)
        yield DavServer(url=url)
    finally:
        stop(proc)


def _wait_until_up(url: str, proc: subprocess.Popen[Any], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not start:\n{log.read_text()}")


@pytest.fixture
def dav_calendar(radicale: DavServer) -> Iterator[DavCalendar]:
    """A new calendar collection of the test user (MKCALENDAR)."""
    with radicale.client() as client:
        made = client.get_principal().make_calendar(
            name="Synced", cal_id=f"cal-{uuid.uuid4().hex[:10]}"
        )
        yield cast("DavCalendar", made)


def put(calendar: DavCalendar, name: str, ics: str) -> str:
    """Creates or replaces the resource `name` of the collection; its URL."""
    assert calendar.client is not None
    url = str(URL.objectify(str(calendar.url)).join(name))
    response = calendar.client.put(url, ics, {"Content-Type": "text/calendar; charset=utf-8"})
    assert response.status in (201, 204), response.status
    return url


def delete(calendar: DavCalendar, url: str) -> None:
    assert calendar.client is not None
    response = calendar.client.delete(url)
    assert response.status in (200, 204), response.status


# ------------------------------------------------------- a server without sync


SUPPORTED_REPORT = b'<?xml version="1.0"?><D:error xmlns:D="DAV:"><D:supported-report/></D:error>'


@dataclass
class NoSyncProxy:
    """Radicale as a server without sync-collection: that REPORT is refused (RFC 3253)."""

    url: str
    requests: list[str] = field(default_factory=list)  # "METHOD path", "REPORT sync-collection"
    refusal: tuple[int, bytes] = (403, SUPPORTED_REPORT)  # the answer to sync-collection


def respond(
    handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes
) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class _Forward(BaseHTTPRequestHandler):
    upstream: str
    proxy: NoSyncProxy

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.command == "REPORT" and b"sync-collection" in body:
            self.proxy.requests.append("REPORT sync-collection")
            status, refusal = self.proxy.refusal
            self._answer(status, {"Content-Type": "application/xml"}, refusal)
            return
        self.proxy.requests.append(f"{self.command} {self.path}")
        skip = {"host", "accept-encoding", "content-length", "connection"}
        headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
        answer = httpx.request(
            self.command, self.upstream + self.path, headers=headers, content=body, timeout=30
        )
        drop = {"content-length", "content-encoding", "transfer-encoding", "connection"}
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in drop}
        self._answer(answer.status_code, kept, answer.content)

    def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
        respond(self, status, headers, body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


for _method in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS", "PROPFIND", "PROPPATCH", "REPORT"):
    setattr(_Forward, f"do_{_method}", _Forward._forward)


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """An HTTP server on a free port, in a thread; its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def no_sync_proxy(radicale: DavServer) -> Iterator[NoSyncProxy]:
    proxy = NoSyncProxy(url="")
    handler = type("Handler", (_Forward,), {"upstream": radicale.url.rstrip("/"), "proxy": proxy})
    with serving(handler) as url:
        proxy.url = url
        yield proxy


# -------------------------------------------------------------------- ICS feed


@dataclass
class Feed:
    """A published calendar whose content, ETag and Last-Modified the test sets."""

    url: str = ""
    body: bytes = b""
    etag: str | None = None
    last_modified: datetime | None = None
    content_type: str = "text/calendar; charset=utf-8"
    status: int | None = None  # answered instead of the feed, when set
    credentials: tuple[str, str] | None = None  # Basic auth required, when set
    requests: list[dict[str, str]] = field(default_factory=list)  # each GET's headers (lower)
    statuses: list[int] = field(default_factory=list)  # and the answer's status
    versions: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    moved_to: str = ""  # where /moved.ics redirects (302); the feed itself by default

    def publish(self, ics: str | bytes, *, etag: bool = True, last_modified: bool = True) -> None:
        version = next(self.versions)
        self.body = ics.encode() if isinstance(ics, str) else ics
        self.etag = f'"v{version}"' if etag else None
        moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=version)
        self.last_modified = moment if last_modified else None

    def answer(
        self, headers: dict[str, str], path: str = "/calendar.ics"
    ) -> tuple[int, dict[str, str], bytes]:
        self.requests.append({**headers, ":path": path})
        if path == "/moved.ics":
            status, answer_headers, body = 302, {"Location": self.moved_to or self.url}, b""
        else:
            status, answer_headers, body = self._answer(headers)
        self.statuses.append(status)
        return status, answer_headers, body

    def _answer(self, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if self.credentials and headers.get("authorization") != _basic(*self.credentials):
            return 401, {"WWW-Authenticate": 'Basic realm="feed"'}, b""
        if self.status is not None:
            return self.status, {"Content-Type": "text/plain"}, b"no"
        validators = {}
        if self.etag:
            validators["ETag"] = self.etag
        if self.last_modified:
            validators["Last-Modified"] = format_datetime(self.last_modified, usegmt=True)
        if self._unchanged(headers):
            return 304, validators, b""
        return 200, {"Content-Type": self.content_type, **validators}, self.body

    def _unchanged(self, headers: dict[str, str]) -> bool:
        """RFC 9110 13.2.2: If-None-Match decides when present, else If-Modified-Since."""
        if "if-none-match" in headers:
            tags = [t.strip() for t in headers["if-none-match"].split(",")]
            return self.etag is not None and self.etag in tags
        if "if-modified-since" in headers and self.last_modified is not None:
            return self.last_modified <= parsedate_to_datetime(headers["if-modified-since"])
        return False


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


class _FeedHandler(BaseHTTPRequestHandler):
    feed: Feed

    def do_GET(self) -> None:
        headers_in = {k.lower(): v for k, v in self.headers.items()}
        respond(self, *self.feed.answer(headers_in, self.path))

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def feed() -> Iterator[Feed]:
    published = Feed()
    with serving(type("Handler", (_FeedHandler,), {"feed": published})) as url:
        published.url = f"{url}/calendar.ics"
        yield published


@pytest.fixture
async def web() -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP client a sync worker hands the ICS provider."""
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


# ------------------------------------------------------------------- iCalendar


def when(name: str, value: datetime | date) -> str:
    """A DTSTART-like content line: UTC, local time in its TZID, or a date."""
    if not isinstance(value, datetime):
        return f"{name};VALUE=DATE:{value:%Y%m%d}"
    if value.tzinfo is UTC:
        return f"{name}:{value:%Y%m%dT%H%M%S}Z"
    zone = cast("ZoneInfo", value.tzinfo)
    return f"{name};TZID={zone.key}:{value:%Y%m%dT%H%M%S}"


def vevent(uid: str, title: str, start: datetime | date, end: datetime | date, *lines: str) -> str:
    return "\r\n".join(
        [
            "BEGIN:VEVENT",
            f"UID:{uid}",
            "DTSTAMP:20260101T000000Z",
            when("DTSTART", start),
            when("DTEND", end),
            f"SUMMARY:{title}",
            *lines,
            "END:VEVENT",
        ]
    )


# A weekly Berlin standup's overrides: one instance moved, one cancelled.
MOVED = vevent(
    "standup@example.com",
    "Standup (moved)",
    datetime(2026, 3, 31, 11, tzinfo=BERLIN),
    datetime(2026, 3, 31, 12, tzinfo=BERLIN),
    when("RECURRENCE-ID", datetime(2026, 3, 31, 9, tzinfo=BERLIN)),
)
CANCELLED = vevent(
    "standup@example.com",
    "Standup",
    datetime(2026, 4, 7, 9, tzinfo=BERLIN),
    datetime(2026, 4, 7, 10, tzinfo=BERLIN),
    when("RECURRENCE-ID", datetime(2026, 4, 7, 9, tzinfo=BERLIN)),
    "STATUS:CANCELLED",
)


def vcalendar(*events: str, headers: Iterable[str] = ()) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//scheduling-worker//tests//EN"]
    return "\r\n".join([*lines, *headers, *events, "END:VCALENDAR"]) + "\r\n"


# ---------------------------------------------------------- calendars and syncs


async def synced_calendar(
    settings: Settings,
    user_id: str,
    provider: str,
    url: str,
    *,
    username: str | None = None,
    password: str | None = None,
    zone: str = "Europe/Berlin",
) -> Calendar:
    credentials = seal(settings, {"password": password}) if password is not None else None
    calendar = Calendar(
        user_id=user_id,
        name=f"{provider} calendar",
        provider=provider,
        timezone=zone,
        source=Source(url=url, username=username, credentials=credentials),
    )
    await calendar.insert()
    return calendar


async def run_sync(
    app_state: AppState, calendar: Calendar, provider: Provider, *, full: bool = False
) -> engine.Progress:
    """A sync of the calendar as stored (its saved cursor); the user's cache retired after."""
    stored = await Calendar.get(calendar.id)
    assert stored is not None
    progress = await engine.sync(stored, provider, full=full)
    await retire_events(app_state.cache, stored)
    return progress


async def cursor_of(calendar: Calendar) -> SyncCursor:
    stored = await Calendar.get(calendar.id)
    assert stored is not None
    return stored.cursor


# -------------------------------------------------------------------- instances

Instance = tuple[str, str, str]  # title, then start and end: UTC instants, or dates if all-day
YEAR = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 12, 31, tzinfo=UTC))

EVENTS = """
query SyncedEvents($range: TimeRangeInput!, $after: String) {
  events(range: $range, first: 200, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { title start end allDay startDate endDate } }
  }
}
"""


def utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def shown(
    client: Client, start: datetime = YEAR[0], end: datetime = YEAR[1]
) -> list[Instance]:
    """The events the API lists for the range, as instances."""
    found: list[Instance] = []
    after: str | None = None
    while True:
        window = {"start": start.isoformat(), "end": end.isoformat()}
        events = (await client.execute(EVENTS, {"range": window, "after": after})).data["events"]
        for edge in events["edges"]:
            node = edge["node"]
            if node["allDay"]:
                found.append((node["title"], node["startDate"], node["endDate"]))
            else:
                found.append((node["title"], node["start"], node["end"]))
        if not events["pageInfo"]["hasNextPage"]:
            return sorted(found)
        after = events["pageInfo"]["endCursor"]


def defined(
    documents: Iterable[str], start: datetime = YEAR[0], end: datetime = YEAR[1]
) -> list[Instance]:
    """The instances iCalendar documents define (recurring_ical_events), cancelled ones left out."""
    found: list[Instance] = []
    for document in documents:
        parsed = icalendar.Calendar.from_ical(document)
        for event in recurring_ical_events.of(parsed).between(start, end):
            if str(event.get("STATUS", "CONFIRMED")).upper() == "CANCELLED":
                continue
            first, after = event["DTSTART"].dt, event["DTEND"].dt
            title = str(event.get("SUMMARY", ""))
            if isinstance(first, datetime):
                found.append((title, utc(first), utc(after)))
            else:
                found.append((title, first.isoformat(), after.isoformat()))
    return sorted(found)


NewUser = Callable[..., Client]
