"""CalDAV sync end to end: a real Radicale, the sync engine, Mongo, the GraphQL API."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

import icalendar
import pytest
from caldav.collection import Calendar as DavCalendar
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from graphql_api.embedded import free_port
from graphql_api.settings import Settings
from graphql_api.state import AppState
from graphql_api.sync.engine import Progress
from graphql_api.sync.providers.base import Listing, Provider, ProviderError, ProviderRefused
from graphql_api.sync.providers.caldav import CalDav
from models import Calendar, Event
from models.base import ref, save_changes
from tests.conftest import Client
from tests.helpers import event_node, repeating
from tests.sync.conftest import (
    BERLIN,
    CANCELLED,
    DAV_PASSWORD,
    DAV_USER,
    MOVED,
    SUPPORTED_REPORT,
    DavServer,
    Instance,
    NewUser,
    NoSyncProxy,
    cursor_of,
    defined,
    delete,
    put,
    run_sync,
    shown,
    synced_calendar,
    vcalendar,
    vevent,
    when,
)

pytestmark = pytest.mark.slow


@dataclass
class Spy:
    """The provider, and whether each listing it was asked for was full (None: it failed)."""

    provider: Provider
    asked: list[bool] = field(default_factory=list)
    listed: list[bool] = field(default_factory=list)

    async def listing(self, calendar: Calendar, *, full: bool) -> Listing:
        self.asked.append(full)
        listing = await self.provider.listing(calendar, full=full)
        self.listed.append(listing.full)
        return listing


@dataclass
class Synced:
    """A user's CalDAV calendar, the collection it comes from and what was written there."""

    app_state: AppState
    settings: Settings
    user: Client
    calendar: Calendar
    collection: DavCalendar
    documents: dict[str, str] = field(default_factory=dict)  # resource URL -> iCalendar

    def put(self, name: str, ics: str) -> str:
        url = put(self.collection, name, ics)
        self.documents[url] = ics
        return url

    def delete(self, url: str) -> None:
        delete(self.collection, url)
        del self.documents[url]

    async def sync(self, *, full: bool = False, provider: Provider | None = None) -> Progress:
        provider = provider or CalDav(self.settings)
        return await run_sync(self.app_state, self.calendar, provider, full=full)

    async def shown(self) -> list[Instance]:
        """What the API lists."""
        return await shown(self.user)

    def defined(self) -> list[Instance]:
        """What the resources written to the server define."""
        return defined(self.documents.values())


Connect = Callable[..., Awaitable[Synced]]


@pytest.fixture
def connect(app_state: AppState, settings: Settings, new_user: NewUser) -> Connect:
    """A new user's calendar of the collection (maybe reached at another URL)."""

    async def make(
        collection: DavCalendar, url: str | None = None, password: str = DAV_PASSWORD
    ) -> Synced:
        user = new_user()
        url = url or str(collection.url)
        calendar = await synced_calendar(
            settings, user.sub, "CALDAV", url, username=DAV_USER, password=password
        )
        return Synced(app_state, settings, user, calendar, collection)

    return make


@pytest.fixture
async def synced(connect: Connect, dav_calendar: DavCalendar) -> Synced:
    return await connect(dav_calendar)


def single(uid: str, title: str, day: int, hour: int = 10) -> str:
    start = datetime(2026, 3, day, hour, tzinfo=BERLIN)
    return vcalendar(vevent(uid, title, start, start + timedelta(hours=1)))


def standup_series(*exceptions: str) -> str:
    """Tuesdays 09:00 in Berlin from 17 March 2026 (clocks go forward on the 29th), 5 times."""
    start = datetime(2026, 3, 17, 9, tzinfo=BERLIN)
    master = vevent(
        "standup@example.com",
        "Standup",
        start,
        start + timedelta(hours=1),
        "RRULE:FREQ=WEEKLY;COUNT=5",
        when("EXDATE", datetime(2026, 3, 24, 9, tzinfo=BERLIN)),
    )
    return vcalendar(master, *exceptions)


def with_timezones(ics: str) -> str:
    """As calendar clients write it: with the VTIMEZONE of every TZID."""
    parsed = icalendar.Calendar.from_ical(ics)
    parsed.add_missing_timezones()
    return str(parsed.to_ical().decode())


# ---------------------------------------------------------------- full syncs


async def test_a_first_sync_lists_every_event_and_keeps_the_sync_token(
    synced: Synced,
) -> None:
    # given
    synced.put("lunch.ics", single("lunch@example.com", "Lunch", 10, 12))
    synced.put("review.ics", single("review@example.com", "Review", 12, 15))
    synced.put("standup.ics", standup_series(MOVED))
    spy = Spy(CalDav(synced.settings))
    # when
    progress = await synced.sync(provider=spy)
    # then
    assert spy.listed == [True]
    assert progress.created == 4  # two events, a series and its moved instance
    assert await synced.shown() == synced.defined()
    cursor = await cursor_of(synced.calendar)
    assert cursor.token
    assert cursor.token.startswith("http://radicale.org/ns/sync/")
    assert cursor.ctag is None


async def test_a_series_keeps_its_local_time_across_dst_without_its_exceptions(
    synced: Synced,
) -> None:
    # given: an EXDATE (24 March), a moved instance (31 March), a cancelled one (7 April)
    synced.put("standup.ics", with_timezones(standup_series(MOVED, CANCELLED)))
    # when
    await synced.sync()
    # then: 09:00 in Berlin is 08:00Z before 29 March and 07:00Z after
    assert await synced.shown() == [
        ("Standup", "2026-03-17T08:00:00Z", "2026-03-17T09:00:00Z"),
        ("Standup", "2026-04-14T07:00:00Z", "2026-04-14T08:00:00Z"),
        ("Standup (moved)", "2026-03-31T09:00:00Z", "2026-03-31T10:00:00Z"),
    ]
    assert await synced.shown() == synced.defined()


async def test_a_series_and_its_instances_say_how_it_repeats(synced: Synced) -> None:
    # given: Tuesdays 09:00 in Berlin (the clocks go forward on 29 March), one moved
    synced.put("standup.ics", with_timezones(standup_series(MOVED)))
    # when
    await synced.sync()
    # then
    listed = await repeating(synced.user, "2026-03-01T00:00:00Z", "2026-05-01T00:00:00Z")
    weekly = {"rrule": "FREQ=WEEKLY;COUNT=5", "timezone": "Europe/Berlin"}
    assert [(e["title"], e["start"], e["recurrence"]) for e in listed] == [
        ("Standup", "2026-03-17T08:00:00Z", weekly),
        ("Standup (moved)", "2026-03-31T09:00:00Z", weekly),
        ("Standup", "2026-04-07T07:00:00Z", weekly),
        ("Standup", "2026-04-14T07:00:00Z", weekly),
    ]
    series = await event_node(synced.user, listed[0]["recurringEventId"])
    assert (series["start"], series["end"], series["recurrence"]) == (
        "2026-03-17T08:00:00Z",
        "2026-03-17T09:00:00Z",
        weekly,
    )


async def test_all_day_events_stay_on_their_dates(
    synced: Synced,
) -> None:
    # given: the night of 29 March loses an hour; 25 October gains one
    synced.put(
        "days.ics",
        vcalendar(vevent("spring@example.com", "Spring", date(2026, 3, 29), date(2026, 3, 30))),
    )
    synced.put(
        "trip.ics",
        vcalendar(vevent("trip@example.com", "Trip", date(2026, 10, 24), date(2026, 10, 27))),
    )
    synced.put(
        "bins.ics",
        vcalendar(
            vevent(
                "bins@example.com",
                "Bins",
                date(2026, 3, 27),
                date(2026, 3, 28),
                "RRULE:FREQ=WEEKLY;COUNT=3",
                when("EXDATE", date(2026, 4, 3)),
            )
        ),
    )
    # when
    await synced.sync()
    # then
    assert await synced.shown() == [
        ("Bins", "2026-03-27", "2026-03-28"),
        ("Bins", "2026-04-10", "2026-04-11"),
        ("Spring", "2026-03-29", "2026-03-30"),
        ("Trip", "2026-10-24", "2026-10-27"),
    ]
    assert await synced.shown() == synced.defined()


# --------------------------------------------------------- incremental syncs


async def test_an_incremental_sync_reads_only_what_changed(
    synced: Synced,
) -> None:
    # given: four resources synced; one of them (a series and its exception) named
    # unlike its UID, so only its href can tell what its deletion removes
    lunch = synced.put("lunch.ics", single("lunch@example.com", "Lunch", 10, 12))
    synced.put("review.ics", single("review@example.com", "Review", 12, 15))
    synced.put("retro.ics", single("retro@example.com", "Retro", 13, 16))
    notes = synced.put("meeting-notes.ics", standup_series(MOVED))
    await synced.sync()
    # when: one retitled, one added, one deleted
    synced.put("lunch.ics", single("lunch@example.com", "Long lunch", 10, 12))
    synced.put("planning.ics", single("planning@example.com", "Planning", 20, 9))
    synced.delete(notes)
    spy = Spy(CalDav(synced.settings))
    progress = await synced.sync(provider=spy)
    # then
    assert spy.listed == [False]
    assert progress.processed == 3  # the two changed resources' events, one deleted resource
    assert (progress.created, progress.updated, progress.deleted) == (1, 1, 2)
    assert await synced.shown() == synced.defined()
    stored = await Event.find({"calendarId": ref(synced.calendar)}).to_list()
    assert {e.href for e in stored if e.external_id == "lunch@example.com"} == {
        urlsplit(lunch).path
    }


async def test_a_sync_with_nothing_changed_writes_nothing(
    synced: Synced,
) -> None:
    # given
    synced.put("standup.ics", standup_series(MOVED, CANCELLED))
    await synced.sync()
    # when
    progress = await synced.sync()
    # then
    assert (progress.processed, progress.created, progress.updated, progress.deleted) == (
        0,
        0,
        0,
        0,
    )
    assert await synced.shown() == synced.defined()


async def test_an_exception_removed_from_its_series_is_removed(
    synced: Synced,
) -> None:
    # given
    synced.put("standup.ics", standup_series(MOVED, CANCELLED))
    await synced.sync()
    # when: the series is written again without its moved instance
    synced.put("standup.ics", standup_series(CANCELLED))
    progress = await synced.sync()
    # then
    assert progress.deleted == 1
    assert ("Standup", "2026-03-31T07:00:00Z", "2026-03-31T08:00:00Z") in await synced.shown()
    assert await synced.shown() == synced.defined()


async def test_an_expired_sync_token_means_a_full_sync_to_the_servers_state(
    synced: Synced,
) -> None:
    # given: a synced calendar whose token the server no longer knows, and changes since
    review = synced.put("review.ics", single("review@example.com", "Review", 12, 15))
    synced.put("standup.ics", standup_series(MOVED))
    await synced.sync()
    synced.delete(review)
    synced.put("planning.ics", single("planning@example.com", "Planning", 20, 9))
    calendar = await Calendar.get(synced.calendar.id)
    assert calendar is not None
    expired = calendar.cursor.model_copy(update={"token": "http://radicale.org/ns/sync/0000"})
    await save_changes(calendar, {"userId": calendar.user_id}, cursor=expired)
    spy = Spy(CalDav(synced.settings))
    # when
    progress = await synced.sync(provider=spy)
    # then
    assert spy.asked == [False, True]  # refused (DAV:valid-sync-token), then listed in full
    assert spy.listed == [True]
    assert (progress.created, progress.deleted) == (1, 1)
    assert await synced.shown() == synced.defined()
    token = (await cursor_of(synced.calendar)).token
    assert token
    assert token != "http://radicale.org/ns/sync/0000"


# -------------------------------------------------------------- without sync


@pytest.mark.parametrize(
    "refusal", [(403, SUPPORTED_REPORT), (501, b"")], ids=["supported-report", "not-implemented"]
)
async def test_a_server_without_sync_collection_is_followed_by_its_ctag(
    connect: Connect,
    dav_calendar: DavCalendar,
    no_sync_proxy: NoSyncProxy,
    refusal: tuple[int, bytes],
) -> None:
    # given: the collection, reached through a server that refuses sync-collection
    no_sync_proxy.refusal = refusal
    synced = await connect(
        dav_calendar, f"{no_sync_proxy.url}{urlsplit(str(dav_calendar.url)).path}"
    )
    lunch = synced.put("lunch.ics", single("lunch@example.com", "Lunch", 10, 12))
    synced.put("standup.ics", standup_series(MOVED))
    spy = Spy(CalDav(synced.settings))
    # when: synced, synced again unchanged, then after a deletion
    first = await synced.sync(provider=spy)
    refused = no_sync_proxy.requests.count("REPORT sync-collection")
    ctag = (await cursor_of(synced.calendar)).ctag
    no_sync_proxy.requests.clear()
    unchanged = await synced.sync(provider=spy)
    asked_unchanged = list(no_sync_proxy.requests)
    synced.delete(lunch)
    after_delete = await synced.sync(provider=spy)
    # then
    assert first.created == 3
    assert refused == 1
    assert ctag is not None
    assert (unchanged.processed, unchanged.created, unchanged.deleted) == (0, 0, 0)
    # the ctag (after the 401 that tells the client how to authenticate), nothing else
    assert {r.split(" ")[0] for r in asked_unchanged} == {"PROPFIND"}
    assert spy.listed == [True, False, True]
    assert after_delete.deleted == 1
    assert await synced.shown() == synced.defined()
    cursor = await cursor_of(synced.calendar)
    assert cursor.token is None
    assert cursor.ctag not in (None, ctag)


# -------------------------------------------------------------------- refusals


async def test_a_wrong_password_is_refused(connect: Connect, dav_calendar: DavCalendar) -> None:
    # given
    put(dav_calendar, "lunch.ics", single("lunch@example.com", "Lunch", 10, 12))
    synced = await connect(dav_calendar, password="wrong")
    # when / then
    with pytest.raises(ProviderRefused, match="401"):
        await synced.sync()
    assert await synced.shown() == []


async def test_a_calendar_that_does_not_exist_is_refused(
    connect: Connect, dav_calendar: DavCalendar, radicale: DavServer
) -> None:
    # given
    synced = await connect(dav_calendar, f"{radicale.url}{DAV_USER}/no-such-calendar/")
    # when / then
    with pytest.raises(ProviderRefused, match="404"):
        await synced.sync()


async def test_an_unreachable_server_is_an_error_worth_retrying(
    connect: Connect, dav_calendar: DavCalendar
) -> None:
    # given: nothing listens on the port
    synced = await connect(dav_calendar, f"http://127.0.0.1:{free_port()}/tester/calendar/")
    # when / then
    with pytest.raises(ProviderError):
        await synced.sync()


# ------------------------------------------------------------------ property

MONDAY = date(2026, 3, 9)  # the clocks go forward 20 days later
TITLES = ("Alpha", "Beta", "Gamma", "Delta")


@dataclass(frozen=True)
class Spec:
    """A resource as the test wrote it: one event or a weekly series, maybe with exceptions."""

    uid: str
    title: str
    day: int  # after MONDAY
    hour: int  # in Berlin; all-day events have none
    length: int  # hours, or days when all-day
    all_day: bool = False
    count: int = 1  # weekly instances
    skipped: int | None = None  # EXDATE of that instance
    moved: int | None = None  # that instance later and retitled
    cancelled: int | None = None  # that instance STATUS:CANCELLED

    def start(self, index: int = 0) -> datetime | date:
        first = MONDAY + timedelta(days=self.day + 7 * index)
        return first if self.all_day else datetime(*first.timetuple()[:3], self.hour, tzinfo=BERLIN)

    def span(self, index: int = 0, shift: int = 0) -> tuple[datetime | date, datetime | date]:
        unit = timedelta(days=1) if self.all_day else timedelta(hours=1)
        start = self.start(index) + shift * unit
        return start, start + self.length * unit

    def ics(self) -> str:
        lines = [f"RRULE:FREQ=WEEKLY;COUNT={self.count}"] if self.count > 1 else []
        if self.skipped is not None:
            lines.append(when("EXDATE", self.start(self.skipped)))
        events = [vevent(self.uid, self.title, *self.span(), *lines)]
        if self.moved is not None:
            original = when("RECURRENCE-ID", self.start(self.moved))
            moved = self.span(self.moved, shift=1)
            events.append(vevent(self.uid, f"{self.title} (moved)", *moved, original))
        if self.cancelled is not None:
            original = when("RECURRENCE-ID", self.start(self.cancelled))
            cancelled = self.span(self.cancelled)
            events.append(vevent(self.uid, self.title, *cancelled, original, "STATUS:CANCELLED"))
        return vcalendar(*events)


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    all_day = draw(st.booleans())
    count = draw(st.integers(min_value=1, max_value=5))
    exceptions: list[int | None] = [None, None, None]
    if count > 1:
        chosen = draw(st.lists(st.integers(0, count - 1), max_size=3, unique=True))
        positions = draw(st.permutations(range(3)))
        for position, index in zip(positions, chosen, strict=False):
            exceptions[position] = index
    return Spec(
        uid="",
        title=draw(st.sampled_from(TITLES)),
        day=draw(st.integers(min_value=0, max_value=34)),
        hour=draw(st.integers(min_value=6, max_value=20)),
        length=draw(st.integers(min_value=1, max_value=3)),
        all_day=all_day,
        count=count,
        skipped=exceptions[0],
        moved=exceptions[1],
        cancelled=exceptions[2],
    )


Edit = tuple[str, Any, Any]
edits = st.one_of(
    st.tuples(st.just("create"), specs(), st.none()),
    st.tuples(st.just("move"), st.integers(0, 9), st.integers(-10, 10)),
    st.tuples(st.just("retitle"), st.integers(0, 9), st.sampled_from(TITLES)),
    st.tuples(st.just("delete"), st.integers(0, 9), st.none()),
    st.tuples(st.just("plain"), st.integers(0, 9), st.none()),
    st.tuples(st.just("sync"), st.booleans(), st.none()),
)


def edited(resources: dict[str, Spec], name: str, edit: Edit) -> Spec | None:
    """The resource after the edit; None when it is deleted."""
    kind, _, argument = edit
    spec = resources[name]
    if kind == "move":
        return replace(spec, day=min(40, max(0, spec.day + argument)))
    if kind == "retitle":
        return replace(spec, title=argument)
    if kind == "plain":
        return replace(spec, skipped=None, moved=None, cancelled=None)
    return None


@examples(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(script=st.lists(edits, min_size=1, max_size=10))
async def test_the_api_shows_what_the_caldav_server_defines_after_any_edits(
    connect: Connect, radicale: DavServer, script: list[Edit]
) -> None:
    # given: a new collection, a user's calendar of it, nothing synced yet
    with radicale.client() as client:
        made = client.get_principal().make_calendar(cal_id=f"p-{uuid.uuid4().hex}")
        synced = await connect(cast("DavCalendar", made))
        resources: dict[str, Spec] = {}
        created = itertools.count()
        for kind, target, argument in [*script, ("sync", False, None)]:
            # when: an edit on the server, or a sync (full or incremental)
            if kind == "sync":
                await synced.sync(full=target)
                # then: the API shows the instances the server's resources define
                assert await synced.shown() == synced.defined()
            elif kind == "create":
                number = next(created)
                spec = replace(target, uid=f"event-{number}@example.com")
                resources[synced.put(f"resource-{number}.ics", spec.ics())] = spec
            elif resources:
                url = sorted(resources)[target % len(resources)]
                changed = edited(resources, url, (kind, target, argument))
                if changed is None:
                    synced.delete(url)
                    del resources[url]
                else:
                    resources[url] = changed
                    synced.put(url.rsplit("/", 1)[1], changed.ics())
