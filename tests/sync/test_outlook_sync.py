"""Outlook calendar sync against a local Microsoft Graph (tests/fakes/microsoft_graph.py)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from graphql_api.lifespan import AppState
from graphql_api.relay import ref_of
from graphql_api.settings import Settings
from graphql_api.sync import runs
from graphql_api.sync.microsoft_webhooks import client_state
from graphql_api.sync.providers import outlook
from models import Calendar, Event, SyncRun
from tests.conftest import Client
from tests.fakes.microsoft_graph import FakeGraph, Series

BERLIN = ZoneInfo("Europe/Berlin")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
# A week of the calendar view's window: next week's Monday to the Monday after.
MONDAY = date.today() + timedelta(days=7 - date.today().weekday())
EVENTS = """query($range: TimeRangeInput!) { events(range: $range, first: 500) { edges { node {
  id title start end allDay startDate endDate busy recurrence { rrule timezone } } } } }"""


def berlin(day: int, hour: int, minute: int = 0) -> datetime:
    """`day` days after MONDAY, at that time in Berlin."""
    return datetime.combine(MONDAY + timedelta(days=day), datetime.min.time(), BERLIN).replace(
        hour=hour, minute=minute
    )


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


WEEK = {"start": utc(berlin(0, 0)), "end": utc(berlin(7, 0))}


@pytest.fixture
def graph() -> FakeGraph:
    fake = FakeGraph()
    fake.calendar("default")
    return fake


@pytest.fixture
async def worker_state(
    app_state: AppState, settings: Settings, graph: FakeGraph
) -> AsyncIterator[tuple[AppState, httpx.AsyncClient]]:
    """What a worker has: the app's state (pointing at the local Graph) and its client."""
    pointed = settings.model_copy(
        update={
            "microsoft_graph_url": "http://graph.test/v1.0",
            "microsoft_token_url": "http://graph.test/token",
            "sync_page_size": 3,
        }
    )
    transport = httpx.ASGITransport(app=graph.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://graph.test") as http:
        yield replace(app_state, settings=pointed), http


async def connect(client: Client, graph: FakeGraph, **fields: Any) -> dict[str, Any]:
    r = await client.op(
        "ConnectCalendar",
        {
            "input": {
                "provider": "OUTLOOK",
                "name": "Work",
                "timezone": "Europe/Berlin",
                "oauth": graph.grant(),
                **fields,
            }
        },
    )
    calendar: dict[str, Any] = r.data["connectCalendar"]
    return calendar


async def run_pending(state: tuple[AppState, httpx.AsyncClient], calendar_id: str) -> SyncRun:
    app_state, http = state
    run = await SyncRun.find_one({"calendarId": calendar_id, "status": "QUEUED"})
    assert run is not None, "no queued run"
    await runs.carry_out(app_state, http, str(run.id), last_attempt=True)
    done = await SyncRun.get(run.id)
    assert done is not None
    return done


async def sync_now(
    client: Client, state: tuple[AppState, httpx.AsyncClient], calendar: dict[str, Any]
) -> SyncRun:
    r = await client.op("SyncCalendar", {"calendarId": calendar["id"]})
    assert r.data["syncCalendar"]["status"] == "QUEUED"
    return await run_pending(state, ref_of(calendar["id"], "Calendar"))


async def listed(client: Client) -> list[dict[str, Any]]:
    edges = (await client.execute(EVENTS, {"range": WEEK})).data["events"]["edges"]
    return [e["node"] for e in edges]


async def titles(client: Client) -> Counter[tuple[str, str]]:
    """What the API shows for the week: (title, start), each as many times as it is shown."""
    return Counter(
        (n["title"], n["startDate"] if n["allDay"] else n["start"]) for n in await listed(client)
    )


def seed(graph: FakeGraph) -> dict[str, str]:
    """A week in Berlin: a single, a daily series (one instance moved, one deleted), an
    all-day event, a free one, and a call made in Los Angeles (Windows zone names)."""
    europe = "W. Europe Standard Time"
    ids = {
        "single": graph.put("Dentist", berlin(1, 9), berlin(1, 10), zone=europe),
        "series": graph.put(
            "Standup",
            berlin(0, 9),
            berlin(0, 9, 30),
            zone=europe,
            series=Series("daily", count=7),
        ),
        "holiday": graph.put("Holiday", MONDAY + timedelta(4), MONDAY + timedelta(5), zone=europe),
        "free": graph.put(
            "Focus (free)", berlin(3, 14), berlin(3, 16), zone=europe, show_as="free"
        ),
        "call": graph.put(
            "Call",
            datetime.combine(MONDAY + timedelta(2), datetime.min.time(), LOS_ANGELES).replace(
                hour=8
            ),
            datetime.combine(MONDAY + timedelta(2), datetime.min.time(), LOS_ANGELES).replace(
                hour=9
            ),
            zone="Pacific Standard Time",
        ),
    }
    graph.change_instance(
        ids["series"],
        berlin(2, 9),
        subject="Standup (moved)",
        start=berlin(2, 11),
        end=berlin(2, 11, 30),
    )
    graph.change_instance(ids["series"], berlin(3, 9), deleted=True)
    return ids


def expected() -> Counter[tuple[str, str]]:
    call = datetime.combine(MONDAY + timedelta(2), datetime.min.time(), LOS_ANGELES)
    return Counter(
        [
            ("Dentist", utc(berlin(1, 9))),
            *(("Standup", utc(berlin(day, 9))) for day in (0, 1, 4, 5, 6)),
            ("Standup (moved)", utc(berlin(2, 11))),
            ("Holiday", (MONDAY + timedelta(4)).isoformat()),
            ("Focus (free)", utc(berlin(3, 14))),
            ("Call", utc(call.replace(hour=8))),
        ]
    )


def delta_requests(graph: FakeGraph) -> int:
    return sum("calendarView/delta" in r for r in graph.requests)


async def test_connecting_outlook_queues_a_full_sync_and_never_shows_the_tokens(
    alice: Client, graph: FakeGraph
) -> None:
    # when
    grant = graph.grant()
    r = await alice.op("ConnectCalendar", {"input": {"provider": "OUTLOOK", "oauth": grant}})
    # then
    calendar = r.data["connectCalendar"]
    assert (calendar["provider"], calendar["name"]) == ("OUTLOOK", "Outlook Calendar")
    assert calendar["syncState"] == {"status": "QUEUED"}
    run = await SyncRun.find_one({"calendarId": ref_of(calendar["id"], "Calendar")})
    assert run is not None
    assert run.full
    stored = await Calendar.get(ref_of(calendar["id"], "Calendar"))
    assert stored is not None
    assert stored.source is not None
    assert grant["accessToken"] not in json.dumps(stored.model_dump(mode="json"))  # sealed
    assert grant["refreshToken"] not in json.dumps(stored.model_dump(mode="json"))


async def test_outlook_without_oauth_is_refused_and_nothing_is_written(alice: Client) -> None:
    r = await alice.op("ConnectCalendar", {"input": {"provider": "OUTLOOK"}})
    assert r.codes == ["BAD_USER_INPUT"]
    assert r.errors[0]["extensions"]["field"] == "oauth"
    assert await Calendar.find({"userId": alice.sub}).count() == 0


@pytest.mark.parametrize("in_utc", [True, False], ids=["times-in-utc", "times-in-windows-zones"])
async def test_a_full_sync_over_several_pages_brings_what_outlook_shows(
    alice: Client, graph: FakeGraph, worker_state: Any, in_utc: bool
) -> None:
    # given: times as Graph sends them by default (UTC), or in the zones the events were
    # made in ("W. Europe Standard Time", "Pacific Standard Time")
    graph.utc = in_utc
    seed(graph)
    calendar = await connect(alice, graph)
    # when
    run = await run_pending(worker_state, ref_of(calendar["id"], "Calendar"))
    # then: pages of 3 followed to the end, and the week as Outlook shows it
    assert (run.status, run.error) == ("SUCCEEDED", None)
    assert delta_requests(graph) >= 4
    assert await titles(alice) == expected()
    nodes = {n["title"]: n for n in await listed(alice)}
    assert nodes["Focus (free)"]["busy"] is False
    assert nodes["Dentist"]["busy"] is True
    holiday = nodes["Holiday"]
    assert (holiday["allDay"], holiday["startDate"], holiday["endDate"]) == (
        True,
        (MONDAY + timedelta(4)).isoformat(),
        (MONDAY + timedelta(5)).isoformat(),
    )
    standups = [n for n in await listed(alice) if n["title"].startswith("Standup")]
    assert {json.dumps(n["recurrence"]) for n in standups} == {
        json.dumps({"rrule": "FREQ=DAILY;COUNT=7", "timezone": "Europe/Berlin"})
    }
    assert nodes["Call"]["recurrence"] is None
    state = (await alice.op("Calendars")).data["calendars"][0]["syncState"]
    assert state["status"] == "SUCCEEDED"


async def test_the_delta_link_brings_additions_edits_and_deletions(
    alice: Client, graph: FakeGraph, worker_state: Any
) -> None:
    # given
    ids = seed(graph)
    calendar = await connect(alice, graph)
    await run_pending(worker_state, ref_of(calendar["id"], "Calendar"))
    requests = delta_requests(graph)
    # when: nothing changed
    quiet = await sync_now(alice, worker_state, calendar)
    # then: one request, nothing written
    assert delta_requests(graph) == requests + 1
    assert (quiet.created, quiet.updated, quiet.deleted) == (0, 0, 0)
    # when: a single deleted, one added, one renamed, one instance of the series deleted
    # and another moved
    graph.delete(ids["single"])
    graph.put("Lunch", berlin(4, 12), berlin(4, 13), zone="W. Europe Standard Time")
    graph.put("Focus (free)", berlin(3, 15), berlin(3, 16), event_id=ids["free"], show_as="free")
    graph.change_instance(ids["series"], berlin(5, 9), deleted=True)
    graph.change_instance(ids["series"], berlin(6, 9), start=berlin(6, 10), end=berlin(6, 10, 30))
    run = await sync_now(alice, worker_state, calendar)
    # then
    assert run.status == "SUCCEEDED"
    want = expected()
    del want["Dentist", utc(berlin(1, 9))]
    del want["Focus (free)", utc(berlin(3, 14))]
    del want["Standup", utc(berlin(5, 9))]
    del want["Standup", utc(berlin(6, 9))]
    want["Lunch", utc(berlin(4, 12))] = 1
    want["Focus (free)", utc(berlin(3, 15))] = 1
    want["Standup", utc(berlin(6, 10))] = 1
    assert await titles(alice) == want
    # when: the whole series goes
    graph.delete(ids["series"])
    await sync_now(alice, worker_state, calendar)
    # then: no instance is left, in the window or beyond it
    assert not [t for t, _ in await titles(alice) if t.startswith("Standup")]
    assert not await Event.find({"externalId": ids["series"]}).to_list()


async def test_a_410_brings_a_full_resync_with_nothing_lost_or_doubled(
    alice: Client, graph: FakeGraph, worker_state: Any
) -> None:
    # given
    ids = seed(graph)
    calendar = await connect(alice, graph)
    calendar_id = ref_of(calendar["id"], "Calendar")
    await run_pending(worker_state, calendar_id)
    # when: Graph forgets the delta token (410 SyncStateNotFound) while the calendar changes
    graph.expire_delta_tokens()
    graph.delete(ids["holiday"])
    graph.put("New", berlin(5, 10), berlin(5, 11), zone="W. Europe Standard Time")
    run = await sync_now(alice, worker_state, calendar)
    # then
    assert run.status == "SUCCEEDED"
    want = expected()
    del want["Holiday", (MONDAY + timedelta(4)).isoformat()]
    want["New", utc(berlin(5, 10))] = 1
    assert await titles(alice) == want
    stored = await Event.find({"calendarId": calendar_id}).to_list()
    keys = Counter((e.external_id, e.instance) for e in stored)
    assert max(keys.values()) == 1
    # and the new delta link works
    graph.put("Later", berlin(6, 15), berlin(6, 16), zone="W. Europe Standard Time")
    assert (await sync_now(alice, worker_state, calendar)).created == 1


@pytest.fixture
def waited(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The provider's waits, recorded instead of slept."""
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    original = outlook.OutlookCalendar.__init__

    def patched(self: outlook.OutlookCalendar, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.sleep = sleep

    monkeypatch.setattr(outlook.OutlookCalendar, "__init__", patched)
    return slept


async def test_429_and_503_are_waited_out_honouring_retry_after(
    alice: Client, graph: FakeGraph, worker_state: Any, waited: list[float]
) -> None:
    # given
    seed(graph)
    calendar = await connect(alice, graph)
    graph.fail_next(2, status=429, retry_after="3")
    graph.fail_next(1, status=503, retry_after="2")
    # when
    run = await run_pending(worker_state, ref_of(calendar["id"], "Calendar"))
    # then: each wait as long as Graph asked, and every event once
    assert run.status == "SUCCEEDED"
    assert len(waited) == 3
    assert waited[0] >= 3
    assert waited[1] >= 3
    assert waited[2] >= 2
    assert await titles(alice) == expected()


async def test_a_sync_broken_off_keeps_no_delta_link_and_its_rerun_doubles_nothing(
    alice: Client, graph: FakeGraph, worker_state: Any, waited: list[float]
) -> None:
    # given: Graph breaks (503) after the first page
    seed(graph)
    calendar = await connect(alice, graph)
    calendar_id = ref_of(calendar["id"], "Calendar")
    graph.break_after(1)
    # when
    failed = await run_pending(worker_state, calendar_id)
    # then: what arrived is there, but no delta link was kept
    assert failed.status == "FAILED"
    stored = await Calendar.get(calendar_id)
    assert stored is not None
    assert stored.cursor.token is None
    # when: Graph mends, and the sync runs again
    graph.break_after(None)
    run = await sync_now(alice, worker_state, calendar)
    # then
    assert run.status == "SUCCEEDED"
    assert await titles(alice) == expected()
    stored = await Calendar.get(calendar_id)
    assert stored is not None
    assert stored.cursor.token is not None


async def test_an_expired_access_token_is_refreshed_and_the_rotated_tokens_kept_sealed(
    alice: Client, graph: FakeGraph, worker_state: Any
) -> None:
    # given
    seed(graph)
    calendar = await connect(alice, graph)
    calendar_id = ref_of(calendar["id"], "Calendar")
    await run_pending(worker_state, calendar_id)
    sealed_before = (await Calendar.get(calendar_id)).source.credentials  # type: ignore[union-attr]
    # when: the access token expires while the calendar changes (401, then a refresh)
    graph.expire_access_tokens()
    graph.put("After", berlin(4, 16), berlin(4, 17), zone="W. Europe Standard Time")
    run = await sync_now(alice, worker_state, calendar)
    # then
    assert (run.status, run.created) == ("SUCCEEDED", 1)
    sealed_after = (await Calendar.get(calendar_id)).source.credentials  # type: ignore[union-attr]
    assert sealed_after != sealed_before
    assert not any(token in str(sealed_after) for token in [*graph.access, *graph.refresh_tokens])
    # when: it expires again (the first refresh token was rotated away)
    graph.expire_access_tokens()
    graph.put("Again", berlin(4, 18), berlin(4, 19), zone="W. Europe Standard Time")
    again = await sync_now(alice, worker_state, calendar)
    # then: the rotated refresh token was kept and works
    assert (again.status, again.created) == ("SUCCEEDED", 1)
    want = expected()
    want["After", utc(berlin(4, 16))] = 1
    want["Again", utc(berlin(4, 18))] = 1
    assert await titles(alice) == want


async def test_revoked_access_fails_the_run_with_its_reason(
    alice: Client, graph: FakeGraph, worker_state: Any
) -> None:
    # given
    calendar = await connect(alice, graph)
    graph.expire_access_tokens()
    graph.refresh_tokens.clear()
    # when
    run = await run_pending(worker_state, ref_of(calendar["id"], "Calendar"))
    # then
    assert run.status == "FAILED"
    assert "invalid_grant" in (run.error or "")
    state = (await alice.op("Calendars")).data["calendars"][0]["syncState"]
    assert state["status"] == "FAILED"
    assert "invalid_grant" in state["lastError"]


async def test_another_calendar_than_the_default_one_syncs(
    alice: Client, graph: FakeGraph, worker_state: Any
) -> None:
    # given
    graph.put("Default", berlin(0, 9), berlin(0, 10))
    graph.put("Team", berlin(0, 11), berlin(0, 12), calendar_id="AAMkTeam==")
    calendar = await connect(alice, graph, externalId="AAMkTeam==")
    # when
    run = await run_pending(worker_state, ref_of(calendar["id"], "Calendar"))
    # then
    assert run.status == "SUCCEEDED"
    assert await titles(alice) == Counter([("Team", utc(berlin(0, 11)))])


async def test_graph_change_notifications_start_one_sync_per_burst(
    alice: Client, graph: FakeGraph, http: httpx.AsyncClient, settings: Settings
) -> None:
    # given: the calendar's first sync done
    calendar = await connect(alice, graph)
    calendar_id = ref_of(calendar["id"], "Calendar")
    await SyncRun.get_pymongo_collection().update_many(
        {"calendarId": calendar_id}, {"$set": {"status": "SUCCEEDED"}}
    )

    def notification(state: str) -> dict[str, Any]:
        return {
            "value": [
                {
                    "subscriptionId": "s1",
                    "clientState": state,
                    "changeType": "updated",
                    "resource": "Users/u/Events/AAMk1",
                    "resourceData": {"id": "AAMk1"},
                }
            ]
        }

    # when: Graph validates the notification URL
    handshake = await http.post("/webhooks/microsoft?validationToken=Validation%3A+Testing+1")
    # then: the token, decoded, as text/plain
    assert handshake.status_code == 200
    assert handshake.headers["content-type"].startswith("text/plain")
    assert handshake.text == "Validation: Testing 1"
    # then: forged notifications are refused, ours are accepted, a burst makes one run
    forged = await http.post("/webhooks/microsoft", json=notification(f"{calendar_id}.forged"))
    assert forged.status_code == 403
    for _ in range(5):
        r = await http.post(
            "/webhooks/microsoft", json=notification(client_state(settings, calendar_id))
        )
        assert r.status_code == 202
    queued = await SyncRun.find({"calendarId": calendar_id, "status": "QUEUED"}).to_list()
    assert len(queued) == 1
    assert not queued[0].full
    assert (await http.post("/webhooks/microsoft", content=b"nope")).status_code == 400


def batches(graph: FakeGraph) -> int:
    return sum(r.endswith("/$batch") for r in graph.requests)


def standups(graph: FakeGraph, count: int) -> Counter[tuple[str, str]]:
    """`count` series of three daily instances in the week; what the API should show."""
    want: Counter[tuple[str, str]] = Counter()
    for n in range(count):
        graph.put(
            f"Series {n}",
            berlin(0, 7 + n % 10, 5 * (n // 10)),
            berlin(0, 7 + n % 10, 5 * (n // 10) + 4),
            zone="W. Europe Standard Time",
            series=Series("daily", count=3),
        )
        want.update((f"Series {n}", utc(berlin(d, 7 + n % 10, 5 * (n // 10)))) for d in range(3))
    return want


async def test_series_masters_are_read_twenty_to_a_json_batch(
    alice: Client, graph: FakeGraph, worker_state: Any
) -> None:
    # given: 45 series, listed in pages of 200 instances
    app_state, http = worker_state
    big_pages = app_state.settings.model_copy(update={"sync_page_size": 200})
    want = standups(graph, 45)
    calendar = await connect(alice, graph)
    # when
    run = await run_pending(
        (replace(app_state, settings=big_pages), http), ref_of(calendar["id"], "Calendar")
    )
    # then: the masters in 3 batches (20, 20, 5), none read alone, every instance once
    assert run.status == "SUCCEEDED"
    assert (batches(graph), graph.batched) == (3, 45)
    assert not [r for r in graph.requests if "/me/events/" in r]
    assert await titles(alice) == want
    synced = (await alice.op("Calendars")).data["calendars"][0]["syncState"]
    assert synced["eventCount"] == 45 * (1 + 3)  # counted by the sync's own walk


async def test_a_throttled_request_in_a_batch_is_asked_again_after_its_retry_after(
    alice: Client, graph: FakeGraph, worker_state: Any, waited: list[float]
) -> None:
    # given: 5 series in one page; in the batch that reads their masters, two requests
    # are throttled (429, Retry-After: 4) while the batch itself answers 200
    app_state, http = worker_state
    big_pages = app_state.settings.model_copy(update={"sync_page_size": 200})
    want = standups(graph, 5)
    calendar = await connect(alice, graph)
    calendar_id = ref_of(calendar["id"], "Calendar")
    graph.fail_next_in_batch(2, status=429, retry_after="4")
    # when
    run = await run_pending((replace(app_state, settings=big_pages), http), calendar_id)
    # then: one wait as long as Graph asked, only the two asked again, every event once
    assert run.status == "SUCCEEDED"
    assert len(waited) == 1
    assert waited[0] >= 4
    assert (batches(graph), graph.batched) == (2, 7)
    assert await titles(alice) == want
    stored = await Event.find({"calendarId": calendar_id}).to_list()
    assert max(Counter((e.external_id, e.instance) for e in stored).values()) == 1
    assert len(stored) == 5 * (1 + 3)
    # when: the same again after a 503 in a batch, as a full resync
    graph.fail_next_in_batch(1, status=503, retry_after="2")
    graph.expire_delta_tokens()
    again = await sync_now(alice, worker_state, calendar)
    # then: nothing doubled or lost, nothing rewritten
    assert (again.status, again.created, again.updated, again.deleted) == ("SUCCEEDED", 0, 0, 0)
    assert await titles(alice) == want
    assert await Event.find({"calendarId": calendar_id}).count() == 5 * (1 + 3)
