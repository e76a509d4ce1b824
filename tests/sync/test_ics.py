"""ICS feed sync end to end: a feed over HTTP, the sync engine, Mongo, the GraphQL API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import httpx
import icalendar
import pytest

from graphql_api.embedded import free_port
from graphql_api.settings import Settings
from graphql_api.state import AppState
from graphql_api.sync.engine import Progress
from graphql_api.sync.providers import ics
from graphql_api.sync.providers.base import ProviderError, ProviderRefused
from graphql_api.sync.providers.ics import IcsFeed
from models import Calendar, Event
from models.base import ref
from tests.conftest import Client
from tests.helpers import event_node, repeating
from tests.sync.conftest import (
    BERLIN,
    CANCELLED,
    MOVED,
    Feed,
    NewUser,
    cursor_of,
    defined,
    run_sync,
    shown,
    synced_calendar,
    vcalendar,
    vevent,
    when,
)

pytestmark = pytest.mark.slow

LUNCH = vevent(
    "lunch@example.com",
    "Lunch",
    datetime(2026, 3, 10, 12, tzinfo=BERLIN),
    datetime(2026, 3, 10, 13, tzinfo=BERLIN),
)
HOLIDAY = vevent("holiday@example.com", "Holiday", date(2026, 3, 29), date(2026, 3, 31))
STANDUP = vevent(
    "standup@example.com",
    "Standup",
    datetime(2026, 3, 17, 9, tzinfo=BERLIN),
    datetime(2026, 3, 17, 10, tzinfo=BERLIN),
    "RRULE:FREQ=WEEKLY;COUNT=5",
    when("EXDATE", datetime(2026, 3, 24, 9, tzinfo=BERLIN)),
)
HOURLY = ["REFRESH-INTERVAL;VALUE=DURATION:PT1H"]


@dataclass
class Subscribed:
    """A user's calendar that follows the feed."""

    app_state: AppState
    user: Client
    calendar: Calendar
    provider: IcsFeed

    async def sync(self, *, full: bool = False) -> Progress:
        return await run_sync(self.app_state, self.calendar, self.provider, full=full)


Subscribe = Callable[..., Awaitable[Subscribed]]


@pytest.fixture
def subscribe(
    app_state: AppState, settings: Settings, new_user: NewUser, web: httpx.AsyncClient, feed: Feed
) -> Subscribe:
    async def make(
        url: str | None = None, username: str | None = None, password: str | None = None
    ) -> Subscribed:
        user = new_user()
        calendar = await synced_calendar(
            settings, user.sub, "ICS", url or feed.url, username=username, password=password
        )
        return Subscribed(app_state, user, calendar, IcsFeed(settings, web))

    return make


@pytest.fixture
async def subscribed(subscribe: Subscribe) -> Subscribed:
    return await subscribe()


async def test_a_feed_is_listed_in_full_with_its_validators_and_refresh_interval(
    app_state: AppState,
    settings: Settings,
    web: httpx.AsyncClient,
    feed: Feed,
    subscribed: Subscribed,
) -> None:
    # given
    document = vcalendar(LUNCH, HOLIDAY, STANDUP, MOVED, CANCELLED, headers=HOURLY)
    feed.publish(document)
    # when
    progress = await subscribed.sync()
    # then
    assert progress.created == 5
    assert "if-none-match" not in feed.requests[0]
    assert await shown(subscribed.user) == defined([document])
    assert await shown(subscribed.user) == [
        ("Holiday", "2026-03-29", "2026-03-31"),
        ("Lunch", "2026-03-10T11:00:00Z", "2026-03-10T12:00:00Z"),
        ("Standup", "2026-03-17T08:00:00Z", "2026-03-17T09:00:00Z"),
        ("Standup", "2026-04-14T07:00:00Z", "2026-04-14T08:00:00Z"),
        ("Standup (moved)", "2026-03-31T09:00:00Z", "2026-03-31T10:00:00Z"),
    ]
    cursor = await cursor_of(subscribed.calendar)
    assert cursor.etag == feed.etag
    assert cursor.last_modified == "Thu, 01 Jan 2026 00:01:00 GMT"
    assert cursor.refresh_interval_s == 3600


async def test_an_unchanged_feed_answers_304_and_nothing_is_written(
    app_state: AppState,
    settings: Settings,
    web: httpx.AsyncClient,
    feed: Feed,
    subscribed: Subscribed,
) -> None:
    # given
    document = vcalendar(LUNCH, STANDUP, MOVED, headers=HOURLY)
    feed.publish(document)
    await subscribed.sync()
    before = await cursor_of(subscribed.calendar)
    # when
    progress = await subscribed.sync()
    # then
    assert (progress.processed, progress.created, progress.updated, progress.deleted) == (
        0,
        0,
        0,
        0,
    )
    assert feed.requests[-1]["if-none-match"] == feed.etag
    assert feed.requests[-1]["if-modified-since"] == before.last_modified
    assert feed.statuses == [200, 304]
    assert await cursor_of(subscribed.calendar) == before
    assert await shown(subscribed.user) == defined([document])


async def test_a_feed_with_only_last_modified_is_asked_if_modified_since(
    app_state: AppState,
    settings: Settings,
    web: httpx.AsyncClient,
    feed: Feed,
    subscribed: Subscribed,
) -> None:
    # given
    feed.publish(vcalendar(LUNCH), etag=False)
    await subscribed.sync()
    # when
    progress = await subscribed.sync()
    # then
    assert "if-none-match" not in feed.requests[-1]
    assert feed.statuses == [200, 304]
    assert progress.processed == 0


async def test_a_feed_without_validators_that_sends_the_same_body_is_not_applied_again(
    feed: Feed, subscribed: Subscribed
) -> None:
    # given: a feed that says nothing of its versions (no ETag, no Last-Modified)
    document = vcalendar(LUNCH, STANDUP, MOVED)
    feed.publish(document, etag=False, last_modified=False)
    first = await subscribed.sync()
    stored = await stored_events(subscribed.calendar)
    # when
    progress = await subscribed.sync()
    # then: read in full, but not one event listed, compared or written
    assert first.processed == 3
    assert "if-none-match" not in feed.requests[-1]
    assert feed.statuses == [200, 200]
    assert (progress.processed, progress.created, progress.updated, progress.deleted) == (
        0,
        0,
        0,
        0,
    )
    assert await stored_events(subscribed.calendar) == stored
    assert await shown(subscribed.user) == defined([document])


async def test_a_feed_without_validators_that_changed_is_applied(
    feed: Feed, subscribed: Subscribed
) -> None:
    # given
    feed.publish(vcalendar(LUNCH, HOLIDAY), etag=False, last_modified=False)
    await subscribed.sync()
    # when: lunch is retitled, the holiday is gone
    document = vcalendar(LUNCH.replace("SUMMARY:Lunch", "SUMMARY:Long lunch"))
    feed.publish(document, etag=False, last_modified=False)
    progress = await subscribed.sync()
    # then
    assert (progress.created, progress.updated, progress.deleted) == (0, 1, 1)
    assert await shown(subscribed.user) == defined([document])


async def test_a_full_sync_applies_the_same_body_again(
    app_state: AppState, feed: Feed, subscribed: Subscribed
) -> None:
    # given: the events were lost on our side since the last sync
    feed.publish(vcalendar(LUNCH, HOLIDAY), etag=False, last_modified=False)
    await subscribed.sync()
    await Event.find(Event.calendar_id == ref(subscribed.calendar)).delete()
    # when
    progress = await subscribed.sync(full=True)
    # then
    assert progress.created == 2
    assert await shown(subscribed.user) == defined([vcalendar(LUNCH, HOLIDAY)])


def test_the_same_body_read_for_another_zone_is_not_the_same_content() -> None:
    # An all-day event's bounds are the calendar's zone's midnights: a calendar whose zone
    # changed must apply the same body again.
    body = vcalendar(HOLIDAY).encode()
    berlin = Calendar(user_id="u", name="Feed", provider="ICS", timezone="Europe/Berlin")
    tokyo = Calendar(user_id="u", name="Feed", provider="ICS", timezone="Asia/Tokyo")
    assert ics.content_digest(berlin, body) == ics.content_digest(berlin, body)
    assert ics.content_digest(berlin, body) != ics.content_digest(tokyo, body)
    assert ics.content_digest(berlin, body) != ics.content_digest(berlin, body + b"\r\n")


async def stored_events(calendar: Calendar) -> list[tuple[str, int]]:
    """Each stored event of the calendar's (external id and instance) with its revision."""
    found = await Event.find(Event.calendar_id == ref(calendar)).to_list()
    return sorted((f"{e.external_id}/{e.instance}", e.rev) for e in found)


async def test_a_changed_feed_deletes_what_it_no_longer_holds(
    app_state: AppState,
    settings: Settings,
    web: httpx.AsyncClient,
    feed: Feed,
    subscribed: Subscribed,
) -> None:
    # given
    feed.publish(vcalendar(LUNCH, HOLIDAY, STANDUP, MOVED))
    await subscribed.sync()
    # when: the holiday and the moved instance are gone, lunch is retitled
    document = vcalendar(LUNCH.replace("SUMMARY:Lunch", "SUMMARY:Long lunch"), STANDUP)
    feed.publish(document)
    progress = await subscribed.sync()
    # then
    assert feed.statuses == [200, 200]
    assert (progress.created, progress.updated, progress.deleted) == (0, 1, 2)
    assert await shown(subscribed.user) == defined([document])
    assert ("Standup", "2026-03-31T07:00:00Z", "2026-03-31T08:00:00Z") in await shown(
        subscribed.user
    )


async def test_a_full_sync_asks_without_validators(
    app_state: AppState,
    settings: Settings,
    web: httpx.AsyncClient,
    feed: Feed,
    subscribed: Subscribed,
) -> None:
    # given
    feed.publish(vcalendar(LUNCH, HOLIDAY))
    await subscribed.sync()
    # when
    progress = await subscribed.sync(full=True)
    # then: all of it read again, none of it rewritten
    assert "if-none-match" not in feed.requests[-1]
    assert feed.statuses == [200, 200]
    assert (progress.processed, progress.created, progress.updated) == (2, 0, 0)


async def test_x_published_ttl_is_the_refresh_interval_without_refresh_interval(
    app_state: AppState,
    settings: Settings,
    web: httpx.AsyncClient,
    feed: Feed,
    subscribed: Subscribed,
) -> None:
    # given
    feed.publish(vcalendar(LUNCH, headers=["X-PUBLISHED-TTL:P1D"]))
    # when
    await subscribed.sync()
    # then
    assert (await cursor_of(subscribed.calendar)).refresh_interval_s == 86400


async def test_a_feed_behind_basic_auth(feed: Feed, subscribe: Subscribe) -> None:
    # given
    feed.credentials = ("reader", "feed-secret")
    feed.publish(vcalendar(LUNCH))
    subscribed = await subscribe(username="reader", password="feed-secret")
    # when
    await subscribed.sync()
    # then
    assert await shown(subscribed.user) == defined([vcalendar(LUNCH)])


async def test_a_wrong_password_is_refused(feed: Feed, subscribe: Subscribe) -> None:
    # given
    feed.credentials = ("reader", "feed-secret")
    feed.publish(vcalendar(LUNCH))
    subscribed = await subscribe(username="reader", password="wrong")
    # when / then
    with pytest.raises(ProviderRefused, match="401"):
        await subscribed.sync()
    assert await shown(subscribed.user) == []


async def test_a_page_that_is_not_icalendar_is_refused(
    app_state: AppState,
    settings: Settings,
    web: httpx.AsyncClient,
    feed: Feed,
    subscribed: Subscribed,
) -> None:
    # given
    feed.content_type = "text/html"
    feed.publish("<!doctype html><html><body>Sign in</body></html>")
    # when / then
    with pytest.raises(ProviderRefused, match="iCalendar"):
        await subscribed.sync()


@pytest.mark.parametrize(
    ("status", "error"),
    [(404, ProviderRefused), (403, ProviderRefused), (503, ProviderError), (429, ProviderError)],
)
async def test_a_failing_feed(
    feed: Feed, subscribed: Subscribed, status: int, error: type[Exception]
) -> None:
    # given
    feed.publish(vcalendar(LUNCH))
    feed.status = status
    # when / then
    with pytest.raises(error, match=str(status)):
        await subscribed.sync()


async def test_an_unreachable_feed_is_an_error_worth_retrying(subscribe: Subscribe) -> None:
    # given: nothing listens on the port
    subscribed = await subscribe(f"http://127.0.0.1:{free_port()}/calendar.ics")
    # when / then
    with pytest.raises(ProviderError):
        await subscribed.sync()


async def test_a_feed_larger_than_the_limit_is_refused_and_nothing_is_written(
    feed: Feed, subscribed: Subscribed, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a limit below the feed's size
    feed.publish(vcalendar(LUNCH, HOLIDAY))
    monkeypatch.setattr(ics, "FEED_MAX_BYTES", 200)
    # when / then
    with pytest.raises(ProviderRefused, match="larger than 200 bytes"):
        await subscribed.sync()
    assert await shown(subscribed.user) == []


async def test_rdates_add_instances_in_their_zone_across_the_dst_change(
    feed: Feed, subscribed: Subscribed
) -> None:
    # given: a weekly 09:00 Berlin class, one week skipped, two extra sessions
    extra_class = vevent(
        "class@example.com",
        "Class",
        datetime(2026, 3, 20, 9, tzinfo=BERLIN),
        datetime(2026, 3, 20, 10, 30, tzinfo=BERLIN),
        "RRULE:FREQ=WEEKLY;COUNT=3",
        when("EXDATE", datetime(2026, 3, 27, 9, tzinfo=BERLIN)),
        "RDATE;TZID=Europe/Berlin:20260401T180000,20260408T180000",
    )
    document = vcalendar(extra_class)
    feed.publish(document)
    # when
    await subscribed.sync()
    # then: 1h30 each, at 09:00 or 18:00 Berlin whichever side of March 29
    assert await shown(subscribed.user) == defined([document])
    assert await shown(subscribed.user) == [
        ("Class", "2026-03-20T08:00:00Z", "2026-03-20T09:30:00Z"),
        ("Class", "2026-04-01T16:00:00Z", "2026-04-01T17:30:00Z"),
        ("Class", "2026-04-03T07:00:00Z", "2026-04-03T08:30:00Z"),
        ("Class", "2026-04-08T16:00:00Z", "2026-04-08T17:30:00Z"),
    ]


async def test_a_series_from_a_feed_says_how_it_repeats(feed: Feed, subscribed: Subscribed) -> None:
    # given: Tuesdays 09:00 in Berlin, across the DST change, one instance moved
    feed.publish(vcalendar(STANDUP, MOVED, CANCELLED, LUNCH))
    # when
    await subscribed.sync()
    # then
    listed = await repeating(subscribed.user, "2026-03-01T00:00:00Z", "2026-05-01T00:00:00Z")
    weekly = {"rrule": "FREQ=WEEKLY;COUNT=5", "timezone": "Europe/Berlin"}
    assert [(e["title"], e["start"], e["recurrence"]) for e in listed] == [
        ("Lunch", "2026-03-10T11:00:00Z", None),
        ("Standup", "2026-03-17T08:00:00Z", weekly),
        ("Standup (moved)", "2026-03-31T09:00:00Z", weekly),
        ("Standup", "2026-04-14T07:00:00Z", weekly),  # 09:00 in Berlin, after March 29
    ]
    series = await event_node(subscribed.user, listed[1]["recurringEventId"])
    assert (series["start"], series["end"], series["recurrence"]) == (
        "2026-03-17T08:00:00Z",
        "2026-03-17T09:00:00Z",
        weekly,
    )


async def test_a_feed_is_parsed_once_a_sync(
    feed: Feed, subscribed: Subscribed, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a feed, and every parse of an iCalendar document counted
    feed.publish(vcalendar(LUNCH, STANDUP, headers=HOURLY))
    parses: list[object] = []
    parse = icalendar.Calendar.from_ical

    def counted(*args: Any, **kwargs: Any) -> Any:
        parses.append(args[0])
        return parse(*args, **kwargs)

    monkeypatch.setattr(icalendar.Calendar, "from_ical", counted)
    # when
    progress = await subscribed.sync()
    # then: both events, and the refresh interval, from one parse of the document
    assert progress.created == 2
    assert (await cursor_of(subscribed.calendar)).refresh_interval_s == 3600
    assert len(parses) == 1
