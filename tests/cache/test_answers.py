"""A whole answer is looked up in one round trip to Redis: its entry is read with the
versions of what the last run of its operation read (graphql_api.responses)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from graphql_api.state import AppState
from tests.cache.test_consistency import NOW, WEEK
from tests.conftest import Client
from tests.helpers import connect_local, create_event
from tests.test_dataloaders import mongo_commands

# An hour of WEEK (Thursday), the event most of these tests need.
THURSDAY = ("2026-03-19T10:00:00Z", "2026-03-19T11:00:00Z")


def recorded(app_state: AppState, monkeypatch: pytest.MonkeyPatch, method: str) -> list[list[str]]:
    """The keys of every call the app's cache makes to `method` from now on, one list
    per call (`_mget`: its MGETs; `_write_many`: its pipelines of SETs)."""
    sent: list[list[str]] = []
    monkeypatch.setattr(app_state.cache, method, _recorded(app_state, method, sent))
    return sent


def _recorded(
    app_state: AppState, method: str, sent: list[list[str]]
) -> Callable[..., Awaitable[Any]]:
    original: Callable[..., Awaitable[Any]] = getattr(app_state.cache, method)

    async def counted(keys: Any, *rest: Any) -> Any:
        sent.append(list(keys))
        return await original(keys, *rest)

    return counted


def count_round_trips(app_state: AppState, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The keys of every MGET the app's cache sends from now on (those that claim the
    versions they find missing too), one list per MGET."""
    sent = recorded(app_state, monkeypatch, "_mget")
    monkeypatch.setattr(
        app_state.cache, "_mget_claiming", _recorded(app_state, "_mget_claiming", sent)
    )
    return sent


async def test_an_answer_not_stored_yet_is_looked_for_with_the_versions_it_then_reads(
    alice: Client, app_state: AppState, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: an event, and a page of its week made once (what that run read is the hint)
    clock(NOW)
    calendar = await connect_local(alice)
    await create_event(alice, calendar["id"], *THURSDAY)
    first = await alice.op("Events", {"range": WEEK})
    sent = count_round_trips(app_state, monkeypatch)
    # when: a page of the same days with a range of its own, whose answer is not stored
    page = await alice.op(
        "Events", {"range": {"start": "2026-03-16T00:00:00Z", "end": "2026-03-22T23:00:00Z"}}
    )
    # then: the event, read in one MGET: the answer's entry and the versions the page
    # went on to read (its days were at hand in this process)
    assert page.data["events"]["edges"] == first.data["events"]["edges"]
    assert len(sent) == 1
    assert any(":answer:" in key for key in sent[0])
    assert any(":v:" in key for key in sent[0])


async def test_a_querys_first_run_looks_its_answer_up_with_the_profile_and_lists_versions(
    alice: Client, app_state: AppState, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a user known to the server (their profile read by another operation)
    clock(NOW)
    await alice.op("Me")
    sent = count_round_trips(app_state, monkeypatch)
    # when: the user's first list of calendars (no run of it to tell what it reads)
    calendars = await alice.op("Calendars")
    # then: the versions it reads (the profile's, the calendar list's) came with the
    # look-up of its answer, and were not asked for again
    assert calendars.data["calendars"] == []
    assert any(":answer:" in key for key in sent[0])
    versions = (f"{{u:{alice.sub}}}:profile", f"{{u:{alice.sub}}}:calendars")
    assert all(any(key.endswith(v) for key in sent[0]) for v in versions)
    assert not any(key.endswith(versions) for batch in sent[1:] for key in batch)


async def test_a_week_no_read_has_named_is_read_from_mongo_without_looking_in_redis(
    alice: Client, app_state: AppState, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: an event in the week after one whose events were read (the week after has
    # no version yet: no read or write has named it)
    clock(NOW)
    calendar = await connect_local(alice)
    await create_event(alice, calendar["id"], *THURSDAY)
    await alice.op("Events", {"range": WEEK})
    app_state.cache.l1.clear()  # what this process keeps: as in another process
    sent = count_round_trips(app_state, monkeypatch)
    # when: a page of both weeks
    both = {"start": "2026-03-16T00:00:00Z", "end": "2026-03-30T00:00:00Z"}
    page = await alice.op("Events", {"range": both})
    # then: the event, with the first week looked for in Redis and the second not
    # (nothing can be kept under a version this request made)
    assert page.data["events"]["totalCount"] == 1
    asked = [key for batch in sent for key in batch if "week-events:" in key]
    assert [key for key in asked if ":2026-03-16" in key]
    assert not [key for key in asked if ":2026-03-23" in key]
    # and another process finds both weeks kept, for a page of other days in them
    app_state.cache.l1.clear()
    before = mongo_commands()
    within = {"start": "2026-03-17T00:00:00Z", "end": "2026-03-29T00:00:00Z"}
    again = await alice.op("Events", {"range": within})
    assert again.data["events"]["edges"] == page.data["events"]["edges"]
    assert mongo_commands() - before == 0


async def test_a_page_of_weeks_that_earlier_pages_showed_finds_their_versions_in_one_round_trip(
    alice: Client, app_state: AppState, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: events in two weeks, and a page of each week made once, one after the other
    clock(NOW)
    calendar = await connect_local(alice)
    await create_event(alice, calendar["id"], *THURSDAY)
    await create_event(alice, calendar["id"], "2026-03-25T10:00:00Z", "2026-03-25T11:00:00Z")
    await alice.op("Events", {"range": WEEK})
    next_week = {"start": "2026-03-23T00:00:00Z", "end": "2026-03-30T00:00:00Z"}
    await alice.op("Events", {"range": next_week})
    sent = count_round_trips(app_state, monkeypatch)
    # when: a page of both weeks, whose answer is not stored
    both = {"start": "2026-03-16T00:00:00Z", "end": "2026-03-30T00:00:00Z"}
    page = await alice.op("Events", {"range": both})
    # then: both events, every version read with the answer's entry (the first week's
    # too, although the last page did not show it)
    assert page.data["events"]["totalCount"] == 2
    assert len(sent) == 1


async def test_an_answer_found_stale_shows_the_write_that_retired_it(
    alice: Client, app_state: AppState, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a page stored, and another process's memory (L1 emptied: the entry and the
    # versions come from Redis, in one MGET)
    clock(NOW)
    calendar = await connect_local(alice)
    await alice.op("Events", {"range": WEEK})
    await create_event(alice, calendar["id"], *THURSDAY)
    app_state.cache.l1.clear()
    sent = count_round_trips(app_state, monkeypatch)
    # when
    page = await alice.op("Events", {"range": WEEK})
    # then: the stored answer was found, seen stale, and the page made again with the event
    assert page.data["events"]["totalCount"] == 1
    assert any(":answer:" in key for key in sent[0])
    # and the next request is served the new answer whole, from one MGET of versions
    sent.clear()
    again = await alice.op("Events", {"range": WEEK})
    assert again.raw == page.raw
    assert len(sent) == 1


def count_writes(app_state: AppState, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The keys of every pipeline of SETs the app's cache sends from now on."""
    return recorded(app_state, monkeypatch, "_write_many")


async def test_an_answer_made_stores_its_days_and_itself_in_one_round_trip_before_it_answers(
    alice: Client, app_state: AppState, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: an event in a week no page has shown yet
    clock(NOW)
    calendar = await connect_local(alice)
    await create_event(alice, calendar["id"], *THURSDAY)
    sent = count_writes(app_state, monkeypatch)
    # when: its page is made (its days read from Mongo and kept, the answer stored)
    page = await alice.op("Events", {"range": WEEK})
    # then: the days and the answer went to Redis together, once
    assert page.data["events"]["totalCount"] == 1
    assert len(sent) == 1
    assert any(":answer:" in key for key in sent[0])
    assert len(sent[0]) > 1
    # and they were there when the answer came: another process finds them
    stored = await app_state.cache.redis.mget(sent[0])  # type: ignore[union-attr]
    assert all(value is not None for value in stored)
