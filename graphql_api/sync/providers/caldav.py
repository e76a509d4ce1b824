"""CalDAV (RFC 4791): sync-collection with sync tokens (RFC 6578), or the collection's ctag.

A listing first learns which resources to read: with a sync token, those changed
since it (and the ones deleted); without one, all of them, and a new token. A
server without sync-collection is asked for its ctag (getctag) instead: the same
ctag means nothing changed, another one a full listing. The resources are then
read a page at a time with calendar-multiget; every VEVENT of a resource (a
series, its overrides) becomes an event that remembers the resource's href, so a
deleted resource removes all of them.

The caldav library's client is synchronous: each request runs in a thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, ParamSpec, TypeVar, cast
from urllib.parse import quote, unquote, urlsplit

from caldav.collection import Calendar as DavCalendar
from caldav.collection import SynchronizableCalendarObjectCollection
from caldav.davclient import DAVClient
from caldav.elements import dav
from caldav.elements.base import ValuedBaseElement
from caldav.lib import error
from caldav.lib.url import URL
from caldav.response import DAVResponse

from graphql_api.security.secrets import unseal
from graphql_api.security.urls import refused_url
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
from graphql_api.sync.providers.ical import remote_events
from models import Calendar

log = logging.getLogger(__name__)
TIMEOUT_S = 30
P = ParamSpec("P")
T = TypeVar("T")
EXPIRED_TOKEN = {403, 409, 410}


class GetCTag(ValuedBaseElement):
    tag: ClassVar[str] = "{http://calendarserver.org/ns/}getctag"


def href_of(url: object) -> str:
    """A resource's path in one spelling (servers and the library vary on `@` vs `%40`)."""
    return quote(unquote(urlsplit(str(url)).path), safe="/")


@dataclass
class Plan:
    """What a listing reads: these resources, then these deletions, then the new cursor."""

    full: bool
    urls: dict[str, str] = field(default_factory=dict)  # href -> the URL to ask for
    deleted: list[str] = field(default_factory=list)
    token: str | None = None
    ctag: str | None = None


class NoSyncCollection(Exception):
    """The server does not do sync-collection REPORTs: its ctag tells what changed."""


class CalDav:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def listing(self, calendar: Calendar, *, full: bool) -> Listing:
        if calendar.source is not None and calendar.source.url:
            refused = await refused_url(self.settings, calendar.source.url)
            if refused:
                raise ProviderRefused(f"the CalDAV URL is not reachable from here: {refused}")
        client = self._client(calendar)
        try:
            plan = await asyncio.to_thread(_guarded, self._plan, client, calendar, full)
        except BaseException:
            client.close()
            raise
        return Listing(full=plan.full, pages=self._pages(client, calendar, plan))

    def _client(self, calendar: Calendar) -> DAVClient:
        source = calendar.source
        if source is None or not source.url:
            raise ProviderRefused("the calendar has no CalDAV URL")
        try:
            secret = unseal(self.settings, source.credentials)
        except ValueError as e:
            raise ProviderRefused(str(e)) from None
        return DAVClient(
            url=source.url,
            username=source.username,
            password=secret.get("password"),
            timeout=TIMEOUT_S,
            enable_rfc6764=False,
        )

    # --- what to read (in a thread) -------------------------------------------------

    def _plan(self, client: DAVClient, calendar: Calendar, full: bool) -> Plan:
        collection = _collection(client, calendar)
        cursor = calendar.cursor
        if not full and cursor.token is None and cursor.ctag is not None:
            return _by_ctag(collection, cursor.ctag)  # this server has shown it has no sync
        token = None if full else cursor.token
        try:
            return _by_sync_token(collection, token)
        except NoSyncCollection as e:
            log.info("calendar %s: %s; using the ctag", calendar.id, e)
            return _by_ctag(collection, None)

    # --- the pages ------------------------------------------------------------------

    async def _pages(
        self, client: DAVClient, calendar: Calendar, plan: Plan
    ) -> AsyncIterator[Page]:
        try:
            hrefs = list(plan.urls)
            size = max(1, self.settings.sync_page_size)
            for offset in range(0, len(hrefs), size):
                chunk = {h: plan.urls[h] for h in hrefs[offset : offset + size]}
                resources = await asyncio.to_thread(
                    _guarded, _read, _collection(client, calendar), chunk
                )
                yield Page(upserts=_events(calendar, resources), whole=list(resources))
            if plan.deleted:
                yield Page(removed=[Removed(external_id="", href=h) for h in plan.deleted])
        finally:
            client.close()
        calendar.cursor.token = plan.token
        calendar.cursor.ctag = plan.ctag


def _collection(client: DAVClient, calendar: Calendar) -> DavCalendar:
    return DavCalendar(client=client, url=calendar.source.url if calendar.source else None)


def _by_sync_token(collection: DavCalendar, token: str | None) -> Plan:
    try:
        result = cast(
            "SynchronizableCalendarObjectCollection",
            collection.get_objects_by_sync_token(
                sync_token=token, load_objects=False, disable_fallback=True
            ),
        )
    except error.DAVError as e:
        if token is not None and (_expired(e) or _unsupported(e)):
            raise CursorExpired from e  # the full sync that follows finds out which
        if token is None and _unsupported(e):
            raise NoSyncCollection(f"sync-collection failed ({e.status or e.reason})") from e
        raise
    deleted = {href_of(url) for url in result.deleted_urls}
    urls = {href_of(o.url): str(o.url) for o in result.objects}
    urls = {h: u for h, u in urls.items() if h not in deleted}
    full = token is None
    if full and result.truncated:
        log.warning("%s: the server truncated the full listing; nothing is removed", collection.url)
        full = False
    new_token = str(result.sync_token) if result.sync_token else None
    return Plan(full=full, urls=urls, deleted=sorted(deleted), token=new_token)


def _expired(e: error.DAVError) -> bool:
    """Our sync token refused (RFC 6578 3.2: 403 with DAV:valid-sync-token; some say 409/410)."""
    return dav.ValidSyncToken.tag in e.preconditions or e.status in EXPIRED_TOKEN


def _unsupported(e: error.DAVError) -> bool:
    """A REPORT the server does not do; PROPFINDs then find out if we may read at all."""
    if dav.SupportedReport.tag in e.preconditions:
        return True
    if e.preconditions or e.status is None or e.status in (401, 429):
        return False  # a named refusal, a failure without an answer, bad credentials, a limit
    return 400 <= e.status < 500 or e.status == 501


def _by_ctag(collection: DavCalendar, known: str | None) -> Plan:
    """Nothing when the ctag is `known`; else every resource (a server without a ctag: always)."""
    ctag = collection.get_property(GetCTag())
    if ctag is not None and ctag == known:
        return Plan(full=False, ctag=ctag)
    response = cast(
        "DAVResponse",
        collection.get_properties([dav.GetEtag()], depth=1, parse_response_xml=False),
    )
    base = URL.objectify(str(collection.url))
    own = href_of(base)
    urls = {
        href_of(path): str(base.join(path))
        for path in response.expand_simple_props([dav.GetEtag()])
        if href_of(path).rstrip("/") != own.rstrip("/")
    }
    return Plan(full=True, urls=urls, ctag=str(ctag) if ctag is not None else None)


def _read(collection: DavCalendar, urls: dict[str, str]) -> dict[str, str]:
    """The iCalendar data of these resources (href -> data); those gone since are left out."""
    if not urls:
        return {}
    wanted = [URL.objectify(u) for u in urls.values()]
    objects = cast("list[Any]", collection.multiget(wanted, raise_notfound=False))
    return {href_of(o.url): str(o.data) for o in objects if o.data and href_of(o.url) in urls}


def _events(calendar: Calendar, resources: dict[str, str]) -> list[RemoteEvent]:
    events: dict[tuple[str, str], RemoteEvent] = {}
    for href, data in resources.items():
        try:
            found = remote_events(data, calendar.timezone)
        except ValueError as e:
            log.warning("calendar %s: skipped unreadable resource %s (%s)", calendar.id, href, e)
            continue
        for event in found:
            events[event.external_id, event.instance] = replace(event, href=href)
    return list(events.values())


def _guarded(call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Runs a request; the library's errors in our terms."""
    try:
        return call(*args, **kwargs)
    except (CursorExpired, ProviderError, ProviderRefused):
        raise
    except error.AuthorizationError as e:
        raise ProviderRefused(f"the CalDAV server refused us (HTTP {e.status or '401/403'})") from e
    except error.NotFoundError as e:
        raise ProviderRefused("the CalDAV calendar does not exist (HTTP 404)") from e
    except error.DAVError as e:
        raise ProviderError(f"the CalDAV server failed: {e.reason}"[:300]) from e
    except OSError as e:  # connection refused, timeouts, TLS (the HTTP library's errors)
        raise ProviderError(f"the CalDAV server is unreachable: {type(e).__name__}") from e
