"""Recommendations, feedback and booking through the API, as a client uses them."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from graphql_api.recommend import training
from graphql_api.recommend.model import ModelStore
from graphql_api.relay import ref_of
from graphql_api.state import AppState
from models import CheckInEntry, CheckInYear, Event, RecommenderModel, User
from models.habit import year_documents
from tests.conftest import Client, operation
from tests.helpers import connect_local, create_event, create_habit, set_timezone

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 16, 5, 0, tzinfo=UTC)  # Monday 06:00 in Berlin
MONDAY = {"start": "2026-03-16T00:00:00Z", "end": "2026-03-17T00:00:00Z"}
MORNINGS = [{"weekdays": [1, 2, 3, 4, 5], "start": "07:00", "end": "09:00"}]
# The client operation, and what ranked each slot (a field of ours beside the contract).
RECOMMENDATIONS = operation("Recommendations").replace("score\n", "score\n    rankedBy\n")


def berlin(hour: int, minute: int = 0, day: int = 16) -> str:
    """A Berlin wall-clock time in March 2026, as the API writes instants."""
    moment = datetime(2026, 3, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Morning:
    client: Client
    habit: dict[str, Any]
    calendar: dict[str, Any]

    async def recommendations(self, limit: int = 10, range_: Any = None) -> list[dict[str, Any]]:
        variables = {"habitId": self.habit["id"], "range": range_ or MONDAY, "limit": limit}
        r = await self.client.execute(RECOMMENDATIONS, variables)
        found: list[dict[str, Any]] = r.data["recommendations"]
        return found

    async def starts(self) -> list[str]:
        return [r["start"] for r in await self.recommendations()]


@pytest.fixture
async def morning(alice: Client, clock: Any) -> Morning:
    """Alice in Berlin at 06:00 on a Monday: a 30-minute run wanted 07:00-09:00 on weekdays,
    and a call from 07:30 to 08:00."""
    clock(NOW)
    await set_timezone(alice, "Europe/Berlin")
    calendar = await connect_local(alice, timezone="Europe/Berlin")
    await create_event(alice, calendar["id"], berlin(7, 30), berlin(8), title="Call")
    habit = await create_habit(alice, name="Run", durationMinutes=30, preferredWindows=MORNINGS)
    return Morning(alice, habit, calendar)


async def test_free_slots_in_the_window_ranked_by_the_heuristic_with_reasons(
    morning: Morning,
) -> None:
    # when
    found = await morning.recommendations()
    # then: every free quarter-hour start that fits before 09:00 and misses the call
    assert sorted(r["start"] for r in found) == [berlin(7), berlin(8), berlin(8, 15), berlin(8, 30)]
    assert all(
        datetime.fromisoformat(r["end"]) - datetime.fromisoformat(r["start"])
        == timedelta(minutes=30)
        for r in found
    )
    # the most room around the slot ranks first; the two slots against the call tie
    assert [r["start"] for r in found] == [berlin(8, 30), berlin(8, 15), berlin(7), berlin(8)]
    assert [r["score"] for r in found] == sorted((r["score"] for r in found), reverse=True)
    assert all(0 <= r["score"] <= 1 for r in found)
    against_the_call = found[2]["reasons"][0]
    assert against_the_call["feature"] == "free time around"
    assert against_the_call["contribution"] < 0


async def test_no_slot_is_offered_sooner_than_the_minimum_notice(
    morning: Morning, clock: Any
) -> None:
    # given: 07:50 in Berlin, 30 minutes' notice
    clock(datetime(2026, 3, 16, 6, 50, tzinfo=UTC))
    # when / then: 08:20 is the earliest start, on the grid 08:30
    assert await morning.starts() == [berlin(8, 30)]


async def test_limit_keeps_the_best(morning: Morning) -> None:
    assert [r["start"] for r in await morning.recommendations(limit=2)] == [
        berlin(8, 30),
        berlin(8, 15),
    ]


async def test_accepting_a_time_lifts_it_and_its_neighbours(morning: Morning) -> None:
    # given: 07:00 and 08:00 tie, the earlier first
    assert (await morning.starts())[2:] == [berlin(7), berlin(8)]
    # when
    r = await morning.client.op(
        "RecommendationFeedback",
        {"habitId": morning.habit["id"], "start": berlin(8), "accepted": True},
    )
    # then: the cached answer is retired, and 08:00 now beats 07:00
    assert r.data["recommendationFeedback"] is True
    after = await morning.recommendations()
    assert [r["start"] for r in after][2:] == [berlin(8), berlin(7)]
    lifted = next(r for r in after if r["start"] == berlin(8))
    assert lifted["score"] > next(r["score"] for r in after if r["start"] == berlin(7))
    # the reason is the user's own answer, in words
    assert "you liked weekdays around 08:00 1 of 1 times" in [
        reason["feature"] for reason in lifted["reasons"] if reason["contribution"] > 0
    ]


async def test_turning_a_time_down_twice_keeps_one_answer(morning: Morning) -> None:
    # when: turned down, then accepted after all
    for accepted in (False, True):
        await morning.client.op(
            "RecommendationFeedback",
            {"habitId": morning.habit["id"], "start": berlin(8), "accepted": accepted},
        )
    # then: only the last answer counts
    assert (await morning.starts())[2:] == [berlin(8), berlin(7)]


async def test_an_answer_moves_on_with_the_clock(morning: Morning, clock: Any) -> None:
    # given: asked at 06:00, 07:00 is offered
    assert berlin(7) in await morning.starts()
    # when: the same question half an hour later (06:31: 07:00 is too soon now)
    clock(NOW + timedelta(minutes=31))
    # then
    assert berlin(7) not in await morning.starts()


async def test_booking_a_slot_creates_a_linked_event_and_takes_the_time(
    morning: Morning,
) -> None:
    # when
    r = await morning.client.op(
        "ScheduleHabit", {"habitId": morning.habit["id"], "start": berlin(8, 30)}
    )
    # then
    booked = r.data["scheduleHabit"]
    assert booked["title"] == "Run"
    assert (booked["start"], booked["end"]) == (berlin(8, 30), berlin(9))
    assert booked["habit"]["id"] == morning.habit["id"]
    assert booked["calendar"]["id"] == morning.calendar["id"]
    assert await morning.starts() == [berlin(7), berlin(8)]


async def test_a_page_of_events_shows_the_habit_each_one_was_booked_for(
    morning: Morning,
) -> None:
    """A page reads the user's habits once for all its events (graphql_api.lookahead);
    each event alone reads its own."""
    # given: the run booked beside the call
    r = await morning.client.op(
        "ScheduleHabit", {"habitId": morning.habit["id"], "start": berlin(8, 30)}
    )
    booked = r.data["scheduleHabit"]["id"]
    # when
    page = await morning.client.op("Events", {"range": MONDAY})
    # then
    habits = {e["node"]["id"]: e["node"]["habit"] for e in page.data["events"]["edges"]}
    assert habits[booked] == {"id": morning.habit["id"], "name": "Run"}
    assert sorted(habits.values(), key=bool) == [None, habits[booked]]
    for event_id, habit in habits.items():
        alone = await morning.client.execute(
            "query($id: ID!) { node(id: $id) { ... on Event { habit { id name } } } }",
            {"id": event_id},
        )
        assert alone.data["node"]["habit"] == habit


async def test_a_time_no_longer_free_is_refused_and_nothing_is_written(
    morning: Morning, app_state: AppState
) -> None:
    # given
    booking = {"habitId": morning.habit["id"], "start": berlin(8, 30)}
    await morning.client.op("ScheduleHabit", booking)
    events = await Event.find({"userId": morning.client.sub}).count()
    # when: the same time again, and a time that overlaps the call
    again = await morning.client.op("ScheduleHabit", booking)
    clash = await morning.client.op(
        "ScheduleHabit", {"habitId": morning.habit["id"], "start": berlin(7, 15)}
    )
    # then
    for r in (again, clash):
        assert r.codes == ["BAD_USER_INPUT"]
        assert r.errors[0]["extensions"]["field"] == "start"
        assert "no longer free" in r.errors[0]["message"]
    assert "'Call'" in clash.errors[0]["message"]
    assert await Event.find({"userId": morning.client.sub}).count() == events


async def test_booking_without_a_local_calendar_makes_one(alice: Client, clock: Any) -> None:
    # given: no calendar at all
    clock(NOW)
    habit = await create_habit(alice, name="Stretch", durationMinutes=15)
    # when
    r = await alice.op("ScheduleHabit", {"habitId": habit["id"], "start": "2026-03-16T18:00:00Z"})
    # then
    calendars = (await alice.op("Calendars")).data["calendars"]
    assert [(c["name"], c["provider"], c["isPrimary"]) for c in calendars] == [
        ("Habits", "LOCAL", True)
    ]
    assert r.data["scheduleHabit"]["calendar"]["id"] == calendars[0]["id"]


async def test_two_bookings_of_the_same_time_at_once_make_one_event(
    morning: Morning,
) -> None:
    booking = {"habitId": morning.habit["id"], "start": berlin(8, 30)}
    answers = await asyncio.gather(*(morning.client.op("ScheduleHabit", booking) for _ in range(3)))
    assert sorted(bool(a.errors) for a in answers) == [False, True, True]
    booked = await Event.find({"userId": morning.client.sub, "habitId": {"$ne": None}}).count()
    assert booked == 1


# --- the model ------------------------------------------------------------------------


@pytest.fixture
async def fresh_models(app_state: AppState) -> AsyncIterator[None]:
    """A fresh store of served models that would look for new versions only hourly
    (`train` tells it sooner), and no models left after the test."""
    store = app_state.rankers
    app_state.rankers = ModelStore(refresh_s=3600)
    yield
    app_state.rankers = store
    await RecommenderModel.get_pymongo_collection().delete_many({})


async def history_of_early_runs(morning: Morning, weeks: int = 10) -> None:
    """Weeks of runs booked at 07:00 (done) and 08:30 (mostly missed), one a weekday."""
    user = await User.find_one({"sub": morning.client.sub})
    assert user is not None
    habit_id = ref_of(morning.habit["id"], "Habit")
    calendar_id = ref_of(morning.calendar["id"], "Calendar")
    first = date(2026, 3, 16) - timedelta(weeks=weeks)
    booked, checked = [], []
    for n in range(weeks * 7):
        day = first + timedelta(days=n)
        if day.isoweekday() > 5:
            continue
        early = n % 2 == 0
        at = time(7) if early else time(8, 30)
        begins = datetime.combine(day, at, BERLIN).astimezone(UTC)
        booked.append(
            Event(
                user_id=user.sub,
                calendar_id=calendar_id,
                title="Run",
                start_time=begins,
                end_time=begins + timedelta(minutes=30),
                habit_id=habit_id,
            )
        )
        done = early or n % 7 == 1
        checked.append(CheckInEntry(habit_id, day.isoformat(), "DONE" if done else "MISSED", None))
    await Event.insert_many(booked)
    await CheckInYear.insert_many(year_documents(user.sub, checked, NOW))


async def test_a_trained_model_ranks_the_times_the_user_keeps(
    morning: Morning, fresh_models: None, app_state: AppState
) -> None:
    # given: a history of early runs kept and late ones missed, and a model trained on it
    await history_of_early_runs(morning)
    user = await User.find_one({"sub": morning.client.sub})
    assert user is not None
    report = await training.train([user], cache=app_state.cache, rounds=60)
    assert report.global_model is not None
    # when
    found = await morning.recommendations(
        range_={"start": berlin(0, 0, 17), "end": berlin(23, 0, 17)}
    )
    # then: ranked by the model, early slots first, explained by its features
    assert {r["rankedBy"] for r in found} == {f"model global v{report.global_model.version}"}
    assert found[0]["start"] == berlin(7, 0, 17)
    assert found[-1]["start"] in {berlin(8, 15, 17), berlin(8, 30, 17)}
    assert all(r["reasons"] for r in found)


async def test_a_new_model_version_is_served_without_a_restart(
    morning: Morning, fresh_models: None, app_state: AppState
) -> None:
    # given
    await history_of_early_runs(morning)
    user = await User.find_one({"sub": morning.client.sub})
    assert user is not None
    first = await training.train([user], cache=app_state.cache, rounds=30)
    week = {"start": berlin(0, 0, 17), "end": berlin(23, 0, 17)}
    before = {r["rankedBy"] for r in await morning.recommendations(range_=week)}
    # when
    second = await training.train([user], cache=app_state.cache, rounds=30)
    # then
    after = {r["rankedBy"] for r in await morning.recommendations(range_=week)}
    assert first.global_model is not None
    assert second.global_model is not None
    assert before == {f"model global v{first.global_model.version}"}
    assert after == {f"model global v{second.global_model.version}"}


async def test_an_answer_counts_at_the_next_request_without_training_again(
    morning: Morning, fresh_models: None, app_state: AppState
) -> None:
    # given: a model trained on the early runs, ranking Tuesday's slots
    await history_of_early_runs(morning)
    user = await User.find_one({"sub": morning.client.sub})
    assert user is not None
    report = await training.train([user], cache=app_state.cache, rounds=60)
    assert report.global_model is not None
    tuesday = {"start": berlin(0, 0, 17), "end": berlin(23, 0, 17)}
    before = {r["start"]: r for r in await morning.recommendations(range_=tuesday)}
    # when: the user turns Tuesday 07:00 down
    await morning.client.op(
        "RecommendationFeedback",
        {"habitId": morning.habit["id"], "start": berlin(7, 0, 17), "accepted": False},
    )
    # then: the next answer, by the same model, thinks less of it, and says why
    after = {r["start"]: r for r in await morning.recommendations(range_=tuesday)}
    seven = berlin(7, 0, 17)
    assert after[seven]["rankedBy"] == before[seven]["rankedBy"]
    assert after[seven]["score"] < before[seven]["score"]
    assert 0 < after[seven]["score"] < 1
    # (the booked Tuesday runs count as answers too: one more, and not a yes)
    told_before, told_after = (
        next(r["feature"] for r in found[seven]["reasons"] if r["feature"].startswith("you liked"))
        for found in (before, after)
    )
    yes, of = (int(n) for n in re.findall(r"(\d+) of (\d+)", told_before)[0])
    assert told_after == f"you liked Tuesdays around 07:00 {yes} of {of + 1} times"


async def test_a_new_user_is_offered_a_time_to_learn_from_last(alice: Client, clock: Any) -> None:
    # given: a habit that fits anywhere from 07:00 to 22:00, and no answers yet
    clock(NOW)
    await set_timezone(alice, "Europe/Berlin")
    habit = await create_habit(alice, name="Read", durationMinutes=30)
    variables = {"habitId": habit["id"], "range": MONDAY, "limit": 5}
    # when
    first = (await alice.execute(RECOMMENDATIONS, variables)).data["recommendations"]
    every = (await alice.execute(RECOMMENDATIONS, {**variables, "limit": 50})).data[
        "recommendations"
    ]
    # then: the first four are the best four; the last is tried to learn the user's taste
    assert [r["start"] for r in first[:4]] == [r["start"] for r in every[:4]]
    assert first[4]["start"] not in [r["start"] for r in every[:4]]
    assert first[4]["reasons"][0]["feature"] == "a time tried to learn your taste"
    assert [r["score"] for r in first] == sorted((r["score"] for r in first), reverse=True)
    # and the same question gets the same answer
    again = (await alice.execute(RECOMMENDATIONS, variables)).data["recommendations"]
    assert again == first
