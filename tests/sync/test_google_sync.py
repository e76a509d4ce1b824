"""Google Calendar sync against a local Google (tests/fakes/google_calendar.py), in process."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from graphql_api.cache.store import user_tag
from graphql_api.relay import ref_of
from graphql_api.settings import Settings
from graphql_api.state import AppState
from graphql_api.sync import engine, runs
from graphql_api.sync.channels import channel_token
from graphql_api.sync.providers import google as google_provider
from graphql_api.sync.providers import provider_for
from graphql_api.sync.providers.base import CursorExpired, Listing, Page, RemoteEvent
from models import Calendar, Event, PushChannel, SyncRun, SyncState
from models.base import save_changes
from tests.conftest import Client
from tests.fakes.google_calendar import FakeGoogle
from tests.helpers import event_node, repeating

BERLIN = ZoneInfo("Europe/Berlin")
WEEK = {"start": "2026-03-23T00:00:00+01:00", "end": "2026-03-30T00:00:00+02:00"}
EVENTS = """query($range: TimeRangeInput!) { events(range: $range, first: 500) { edges { node {
  id title start end allDay startDate endDate busy status recurringEventId } } } }"""


def berlin(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=BERLIN)


@pytest.fixture
def google() -> FakeGoogle:
    fake = FakeGoogle()
    fake.calendar("primary")
    return fake


def pointed_at(app_state: AppState, settings: Settings) -> AppState:
    """The app's state as a worker has it, its settings pointing at the local Google."""
    pointed = settings.model_copy(
        update={
            "google_api_url": "http://google.test/calendar/v3",
            "google_token_url": "http://google.test/token",
            "sync_page_size": 3,
        }
    )
    return replace(app_state, settings=pointed)


def google_client(google: FakeGoogle) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=google.app)
    return httpx.AsyncClient(transport=transport, base_url="http://google.test")


@pytest.fixture
async def worker_state(
    app_state: AppState, settings: Settings, google: FakeGoogle
) -> AsyncIterator[tuple[AppState, httpx.AsyncClient]]:
    """What a worker has: the app's state and a client of the local Google."""
    async with google_client(google) as http:
        yield pointed_at(app_state, settings), http


async def connect(client: Client, google: FakeGoogle) -> dict[str, Any]:
    r = await client.op(
        "ConnectCalendar",
        {
            "input": {
                "provider": "GOOGLE",
                "name": "Work",
                "timezone": "Europe/Berlin",
                "oauth": google.grant(),
            }
        },
    )
    calendar: dict[str, Any] = r.data["connectCalendar"]
    return calendar


async def run_pending(state: tuple[AppState, httpx.AsyncClient], calendar_id: str) -> SyncRun:
    """What the worker would do with the calendar's queued run."""
    app_state, http = state
    run = await SyncRun.find_one({"calendarId": calendar_id, "status": "QUEUED"})
    assert run is not None, "no queued run"
    await runs.carry_out(app_state, http, str(run.id), last_attempt=True)
    done = await SyncRun.get(run.id)
    assert done is not None
    return done


async def sync_now(
    client: Client,
    state: tuple[AppState, httpx.AsyncClient],
    calendar: dict[str, Any],
    full: bool = False,
) -> SyncRun:
    r = await client.op("SyncCalendar", {"calendarId": calendar["id"], "fullSync": full})
    assert r.data["syncCalendar"]["status"] == "QUEUED"
    return await run_pending(state, ref_of(calendar["id"], "Calendar"))


async def titles(client: Client, range_: dict[str, str] = WEEK) -> list[tuple[str, str]]:
    edges = (await client.execute(EVENTS, {"range": range_})).data["events"]["edges"]
    return [(e["node"]["title"], e["node"]["start"]) for e in edges]


def seed(google: FakeGoogle) -> dict[str, str]:
    """A week in Berlin across the DST change: singles, a series with exceptions, all-day."""
    ids = {
        "single": google.put("Dentist", berlin(24, 9), berlin(24, 10), zone="Europe/Berlin"),
        "series": google.put(
            "Standup",
            berlin(23, 9),
            berlin(23, 9, 30),
            zone="Europe/Berlin",
            recurrence=["RRULE:FREQ=DAILY;COUNT=7", "EXDATE;TZID=Europe/Berlin:20260328T090000"],
        ),
        "holiday": google.put("Holiday", date(2026, 3, 27), date(2026, 3, 28)),
        "free": google.put(
            "Focus (free)", berlin(26, 14), berlin(26, 16), zone="Europe/Berlin", transparent=True
        ),
    }
    google.put_exception(
        ids["series"],
        berlin(25, 9),
        summary="Standup (moved)",
        start=berlin(25, 11),
        end=berlin(25, 11, 30),
    )
    google.put_exception(ids["series"], berlin(26, 9), cancelled=True)
    return ids


async def test_connecting_google_queues_a_full_sync_and_never_shows_the_tokens(
    alice: Client, google: FakeGoogle
) -> None:
    # when
    grant = google.grant()
    r = await alice.op(
        "ConnectCalendar",
        {"input": {"provider": "GOOGLE", "oauth": grant, "timezone": "Europe/Berlin"}},
    )
    # then
    calendar = r.data["connectCalendar"]
    assert calendar["provider"] == "GOOGLE"
    assert calendar["syncState"] == {"status": "QUEUED"}
    run = await SyncRun.find_one({"calendarId": ref_of(calendar["id"], "Calendar")})
    assert run is not None
    assert run.full
    assert run.status == "QUEUED"
    stored = await Calendar.get(ref_of(calendar["id"], "Calendar"))
    assert stored is not None
    assert stored.source is not None
    assert grant["accessToken"] not in json.dumps(stored.model_dump(mode="json"))  # sealed
    everything = await alice.execute(
        "{ calendars { id name provider timezone color isPrimary syncState { status } } }"
    )
    assert grant["accessToken"] not in json.dumps(everything.body)


async def test_a_sync_brings_singles_series_exceptions_and_all_day_events(
    alice: Client, google: FakeGoogle, worker_state: Any
) -> None:
    # given
    ids = seed(google)
    calendar = await connect(alice, google)
    # when
    run = await run_pending(worker_state, ref_of(calendar["id"], "Calendar"))
    # then
    assert (run.status, run.created, run.error) == ("SUCCEEDED", 6, None)
    events = (await alice.execute(EVENTS, {"range": WEEK})).data["events"]["edges"]
    by_start = {(e["node"]["title"], e["node"]["start"]): e["node"] for e in events}
    assert set(by_start) == {
        ("Standup", "2026-03-23T08:00:00Z"),
        ("Dentist", "2026-03-24T08:00:00Z"),
        ("Standup", "2026-03-24T08:00:00Z"),
        ("Standup (moved)", "2026-03-25T10:00:00Z"),
        ("Focus (free)", "2026-03-26T13:00:00Z"),
        ("Standup", "2026-03-27T08:00:00Z"),
        ("Holiday", "2026-03-27T00:00:00Z"),
        ("Standup", "2026-03-29T07:00:00Z"),  # 09:00 in Berlin, after the clocks changed
    }
    timed = [start for title, start in by_start if title != "Holiday"]
    assert timed == sorted(timed)
    holiday = by_start["Holiday", "2026-03-27T00:00:00Z"]
    assert (holiday["allDay"], holiday["startDate"], holiday["endDate"]) == (
        True,
        "2026-03-27",
        "2026-03-28",
    )
    assert by_start["Focus (free)", "2026-03-26T13:00:00Z"]["busy"] is False
    series = {
        n["recurringEventId"]
        for n in events and by_start.values()
        if n["title"].startswith("Standup")
    }
    assert len(series) == 1
    assert None not in series
    node = await alice.execute(
        "query($id: ID!) { node(id: $id) { ... on Event { title start recurringEventId } } }",
        {"id": by_start["Standup", "2026-03-29T07:00:00Z"]["id"]},
    )
    assert node.data["node"]["start"] == "2026-03-29T07:00:00Z"
    synced = (await alice.op("Calendars")).data["calendars"][0]["syncState"]
    assert synced["status"] == "SUCCEEDED"
    assert synced["eventCount"] == 6
    assert ids  # the provider's ids stay the provider's


async def test_synced_series_say_how_they_repeat_on_the_series_and_its_instances(
    alice: Client, google: FakeGoogle, worker_state: Any
) -> None:
    # given: a daily Berlin standup across the DST change (one instance moved, one
    # cancelled, one excluded) and a weekly all-day series
    seed(google)
    google.put(
        "Bins", date(2026, 3, 23), date(2026, 3, 24), recurrence=["RRULE:FREQ=WEEKLY;COUNT=3"]
    )
    calendar = await connect(alice, google)
    # when
    await run_pending(worker_state, ref_of(calendar["id"], "Calendar"))
    # then: every instance, the moved one too, says how its series repeats
    listed = await repeating(alice, WEEK["start"], WEEK["end"])
    standup = {"rrule": "FREQ=DAILY;COUNT=7", "timezone": "Europe/Berlin"}
    bins = {"rrule": "FREQ=WEEKLY;COUNT=3", "timezone": "Europe/Berlin"}  # the calendar's
    standups = [e for e in listed if e["title"].startswith("Standup")]
    assert sorted((e["title"], e["start"]) for e in standups) == [
        ("Standup", "2026-03-23T08:00:00Z"),
        ("Standup", "2026-03-24T08:00:00Z"),
        ("Standup", "2026-03-27T08:00:00Z"),
        ("Standup", "2026-03-29T07:00:00Z"),  # 09:00 in Berlin, after the clocks changed
        ("Standup (moved)", "2026-03-25T10:00:00Z"),
    ]
    assert all(e["recurrence"] == standup for e in standups)
    others = {e["title"]: e["recurrence"] for e in listed if e not in standups}
    assert others == {"Dentist": None, "Holiday": None, "Focus (free)": None, "Bins": bins}
    # and each series' own node is its first occurrence, not the span of the series
    series = await event_node(alice, standups[0]["recurringEventId"])
    assert (series["title"], series["start"], series["end"]) == (
        "Standup",
        "2026-03-23T08:00:00Z",
        "2026-03-23T08:30:00Z",
    )
    assert series["recurrence"] == standup
    all_day = await event_node(
        alice, next(e["recurringEventId"] for e in listed if e["title"] == "Bins")
    )
    assert (all_day["startDate"], all_day["endDate"], all_day["end"]) == (
        "2026-03-23",
        "2026-03-24",
        "2026-03-24T00:00:00Z",
    )
    assert all_day["recurrence"] == bins


async def test_an_incremental_sync_with_nothing_changed_is_one_request_and_no_write(
    alice: Client, google: FakeGoogle, worker_state: Any
) -> None:
    # given
    seed(google)
    calendar = await connect(alice, google)
    await run_pending(worker_state, ref_of(calendar["id"], "Calendar"))
    requests = len(google.requests)
    stored = {"calendarId": ref_of(calendar["id"], "Calendar")}
    revisions = {(e.id, e.rev) for e in await Event.find(stored).to_list()}
    # when
    run = await sync_now(alice, worker_state, calendar)
    # then: run records and the calendar's state are written; events are not
    assert len(google.requests) == requests + 1
    assert (run.created, run.updated, run.deleted) == (0, 0, 0)
    assert len(revisions) == 6
    assert {(e.id, e.rev) for e in await Event.find(stored).to_list()} == revisions


async def test_a_quiet_sync_keeps_the_cached_events_and_shows_its_new_sync_state(
    alice: Client, google: FakeGoogle, worker_state: Any
) -> None:
    # given: a synced calendar whose week has been read (and cached)
    seed(google)
    calendar = await connect(alice, google)
    calendar_ref = ref_of(calendar["id"], "Calendar")
    await run_pending(worker_state, calendar_ref)
    shown = await titles(alice)
    cache = worker_state[0].cache
    events_scope = f"{user_tag(alice.sub)}:cal:{calendar_ref}"
    version = await cache.versions([events_scope])
    synced_at = await last_synced_at(alice)
    # when: a sync that finds nothing new
    await sync_now(alice, worker_state, calendar)
    # then: the calendar list says so at once; the cached events stay valid
    assert await last_synced_at(alice) > synced_at
    assert await cache.versions([events_scope]) == version
    assert await titles(alice) == shown
    # when: a sync that brings a change
    google.put("Lunch", berlin(27, 12), berlin(27, 13), zone="Europe/Berlin")
    run = await sync_now(alice, worker_state, calendar)
    # then: the cached events are retired and the change shows
    assert run.created == 1
    assert await cache.versions([events_scope]) != version
    assert ("Lunch", "2026-03-27T11:00:00Z") in await titles(alice)


async def last_synced_at(client: Client) -> datetime:
    calendars = (await client.op("Calendars")).data["calendars"]
    return datetime.fromisoformat(calendars[0]["syncState"]["lastSyncedAt"])


async def test_deletions_and_cancelled_instances_follow_incrementally(
    alice: Client, google: FakeGoogle, worker_state: Any
) -> None:
    # given
    ids = seed(google)
    calendar = await connect(alice, google)
    await run_pending(worker_state, ref_of(calendar["id"], "Calendar"))
    # when: a single event deleted, one more instance cancelled, a new event
    google.delete(ids["single"])
    google.put_exception(ids["series"], berlin(27, 9), cancelled=True)
    google.put("Lunch", berlin(27, 12), berlin(27, 13), zone="Europe/Berlin")
    run = await sync_now(alice, worker_state, calendar)
    # then
    assert (run.created, run.deleted) == (2, 1)
    shown = await titles(alice)
    assert ("Dentist", "2026-03-24T08:00:00Z") not in shown
    assert ("Standup", "2026-03-27T08:00:00Z") not in shown
    assert ("Lunch", "2026-03-27T11:00:00Z") in shown
    # when: the whole series goes
    google.delete(ids["series"])
    await sync_now(alice, worker_state, calendar)
    assert not [t for t, _ in await titles(alice) if t.startswith("Standup")]


async def eight_days(alice: Client, google: FakeGoogle) -> dict[str, Any]:
    """An event a day from 23 to 30 March in Google (3 to a page), the calendar connected."""
    for day in range(23, 31):
        google.put(f"Day {day}", berlin(day, 8), berlin(day, 9), zone="Europe/Berlin")
    return await connect(alice, google)


async def test_the_sync_token_is_kept_only_once_every_page_is_applied(
    alice: Client, google: FakeGoogle, worker_state: Any
) -> None:
    # given: 8 events, pages of 3, and a Google that breaks after the first page
    calendar = await eight_days(alice, google)
    calendar_id = ref_of(calendar["id"], "Calendar")
    google.break_after(1)
    # when
    failed = await run_pending(worker_state, calendar_id)
    # then: what arrived is there, but no token was kept
    assert failed.status == "FAILED"
    stored = await Calendar.get(calendar_id)
    assert stored is not None
    assert stored.cursor.token is None
    # when: Google mends and the sync runs again
    google.break_after(None)
    run = await sync_now(alice, worker_state, calendar)
    # then: the copy equals Google's calendar, nothing twice
    assert run.status == "SUCCEEDED"
    assert (
        len(await titles(alice, {"start": "2026-03-20T00:00:00Z", "end": "2026-04-02T00:00:00Z"}))
        == 8
    )
    stored = await Calendar.get(calendar_id)
    assert stored is not None
    assert stored.cursor.token is not None


async def test_an_expired_sync_token_brings_a_full_resync(
    alice: Client, google: FakeGoogle, worker_state: Any
) -> None:
    # given
    ids = seed(google)
    calendar = await connect(alice, google)
    await run_pending(worker_state, ref_of(calendar["id"], "Calendar"))
    # when: Google forgets our token (410) while the calendar changes
    google.expire_sync_tokens()
    google.delete(ids["holiday"])
    google.put("New", berlin(28, 10), berlin(28, 11), zone="Europe/Berlin")
    run = await sync_now(alice, worker_state, calendar)
    # then
    assert run.status == "SUCCEEDED"
    shown = await titles(alice)
    assert ("Holiday", "2026-03-27T00:00:00Z") not in shown
    assert ("New", "2026-03-28T09:00:00Z") in shown


class CutShort:
    """A provider whose incremental listing writes a page, then finds its cursor expired;
    the full listing that follows holds the same event, unchanged by then."""

    def __init__(self) -> None:
        self.lunch = RemoteEvent("lunch", "", "Lunch", berlin(27, 12), berlin(27, 13))

    async def listing(self, calendar: Calendar, *, full: bool) -> Listing:
        async def pages() -> AsyncIterator[Page]:
            yield Page(upserts=[self.lunch])
            if not full:
                raise CursorExpired

        return Listing(full=full, pages=pages())


async def test_events_written_before_a_cursor_expired_still_count_as_written(
    alice: Client, settings: Settings
) -> None:
    # given
    calendar = Calendar(user_id=alice.sub, name="Work", provider="GOOGLE", timezone="UTC")
    await calendar.insert()
    # when: the incremental listing wrote Lunch, then the full one found it as stored
    progress = await engine.sync(calendar, CutShort(), full=False)
    # then: nothing new in the full listing's counts, but the run did write
    assert (progress.created, progress.updated, progress.deleted) == (0, 0, 0)
    assert progress.wrote
    assert await Event.find({"calendarId": str(calendar.id)}).count() == 1


async def test_rate_limits_are_waited_out_honouring_retry_after(
    alice: Client, google: FakeGoogle, worker_state: Any
) -> None:
    # given
    seed(google)
    calendar = await connect(alice, google)
    google.fail_next(2, status=429, retry_after="3")
    google.fail_next(1, status=403)
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)

    original = google_provider.GoogleCalendar.__init__

    def patched(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.sleep = sleep

    google_provider.GoogleCalendar.__init__ = patched  # type: ignore[method-assign]
    try:
        # when
        run = await run_pending(worker_state, ref_of(calendar["id"], "Calendar"))
    finally:
        google_provider.GoogleCalendar.__init__ = original  # type: ignore[method-assign]
    # then
    assert run.status == "SUCCEEDED"
    assert len(waited) == 3
    assert waited[0] >= 3  # Retry-After
    assert waited[1] >= 3
    assert 0 < waited[2] < 3  # backoff with jitter


async def test_an_expired_access_token_is_refreshed_and_stored_sealed(
    alice: Client, google: FakeGoogle, worker_state: Any
) -> None:
    # given
    seed(google)
    calendar = await connect(alice, google)
    calendar_id = ref_of(calendar["id"], "Calendar")
    google.expire_access_tokens()
    sealed_before = (await Calendar.get(calendar_id)).source.credentials  # type: ignore[union-attr]
    # when
    run = await run_pending(worker_state, calendar_id)
    # then
    assert run.status == "SUCCEEDED"
    sealed_after = (await Calendar.get(calendar_id)).source.credentials  # type: ignore[union-attr]
    assert sealed_after != sealed_before
    assert not any(token in str(sealed_after) for token in google.access)


async def test_revoked_access_fails_the_run_with_a_reason(
    alice: Client, google: FakeGoogle, worker_state: Any
) -> None:
    # given
    calendar = await connect(alice, google)
    google.expire_access_tokens()
    google.refresh_tokens.clear()
    # when
    run = await run_pending(worker_state, ref_of(calendar["id"], "Calendar"))
    # then
    assert run.status == "FAILED"
    assert "refresh" in (run.error or "")
    state = (await alice.op("Calendars")).data["calendars"][0]["syncState"]
    assert state["status"] == "FAILED"
    assert state["lastError"]


async def test_a_second_sync_request_joins_the_queued_one(
    alice: Client, google: FakeGoogle
) -> None:
    # given
    calendar = await connect(alice, google)  # its first sync is queued
    # when
    first = await alice.op("SyncCalendar", {"calendarId": calendar["id"]})
    second = await alice.op("SyncCalendar", {"calendarId": calendar["id"], "fullSync": True})
    # then
    assert first.data["syncCalendar"]["id"] == second.data["syncCalendar"]["id"]
    assert await SyncRun.find({"calendarId": ref_of(calendar["id"], "Calendar")}).count() == 1


async def test_local_calendars_do_not_sync(alice: Client) -> None:
    local = (await alice.op("ConnectCalendar", {"input": {"provider": "LOCAL"}})).data[
        "connectCalendar"
    ]
    r = await alice.op("SyncCalendar", {"calendarId": local["id"]})
    assert r.codes == ["BAD_USER_INPUT"]


async def test_google_push_notifications_start_one_sync_per_burst(
    alice: Client, google: FakeGoogle, http: httpx.AsyncClient, settings: Settings
) -> None:
    # given: the calendar's first sync done
    calendar = await connect(alice, google)
    calendar_id = ref_of(calendar["id"], "Calendar")
    await SyncRun.get_pymongo_collection().update_many(
        {"calendarId": calendar_id}, {"$set": {"status": "SUCCEEDED"}}
    )
    token = channel_token(settings, calendar_id)
    stored = await Calendar.get(calendar_id)
    assert stored is not None
    channel = PushChannel(id="c1", resource_id="r1", expiration=datetime.now(UTC))
    sync_state = SyncState(status="SUCCEEDED", channel=channel)
    await save_changes(stored, {"userId": stored.user_id}, sync_state=sync_state)

    async def notify(channel_token_: str, state: str = "exists") -> httpx.Response:
        headers = {
            "X-Goog-Channel-Token": channel_token_,
            "X-Goog-Resource-State": state,
            "X-Goog-Channel-ID": "c1",
        }
        return await http.post("/webhooks/google", headers=headers)

    # then: a forged token is ignored (200: Google would retry anything else)
    assert (await notify("forged.token")).status_code == 200
    assert not await SyncRun.find({"calendarId": calendar_id, "status": "QUEUED"}).to_list()
    assert (await notify(token, "sync")).status_code == 200
    for _ in range(5):
        assert (await notify(token)).status_code == 200
    queued = await SyncRun.find({"calendarId": calendar_id, "status": "QUEUED"}).to_list()
    assert len(queued) == 1
    assert not queued[0].full


async def test_two_syncs_of_one_calendar_at_once_store_each_event_once(
    alice: Client, google: FakeGoogle, worker_state: Any
) -> None:
    # given: two workers that both read the calendar as empty (no lock between them)
    seed(google)
    calendar = await connect(alice, google)
    app_state, http = worker_state
    calendar_id = ref_of(calendar["id"], "Calendar")
    first, second = await Calendar.get(calendar_id), await Calendar.get(calendar_id)
    assert first is not None
    assert second is not None
    provider = provider_for(first, app_state.settings, http)
    # when
    both = await asyncio.gather(
        engine.sync(first, provider, full=True), engine.sync(second, provider, full=True)
    )
    # then: one copy of each, and the queued run finds nothing left to write
    assert all(progress.processed == 6 for progress in both)
    assert await Event.find({"calendarId": calendar_id}).count() == 6
    shown = await titles(alice)
    run = await run_pending(worker_state, calendar_id)
    assert (run.created, run.updated, run.deleted) == (0, 0, 0)
    assert await titles(alice) == shown
    assert ("Standup (moved)", "2026-03-25T10:00:00Z") in shown


async def test_what_an_attempt_wrote_before_failing_shows_before_it_is_retried(
    alice: Client, google: FakeGoogle, worker_state: Any
) -> None:
    # given: 8 events in pages of 3, the calendar's (still empty) page read and cached,
    # and a Google that breaks after the first page
    calendar = await eight_days(alice, google)
    calendar_id = ref_of(calendar["id"], "Calendar")
    week = {"start": "2026-03-20T00:00:00Z", "end": "2026-04-02T00:00:00Z"}
    assert await titles(alice, week) == []
    google.break_after(1)
    app_state, http = worker_state
    run = await SyncRun.find_one({"calendarId": calendar_id, "status": "QUEUED"})
    assert run is not None

    # when: an attempt that will be retried fails after the first page
    with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the provider raised
        await runs.carry_out(app_state, http, str(run.id), last_attempt=False)

    # then: the page shows what that attempt wrote, without waiting for the retry
    assert len(await titles(alice, week)) == 3
