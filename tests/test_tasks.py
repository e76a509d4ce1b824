"""Tasks through the API: planned at once in the user's working hours, around their
meetings; bad input refused with nothing written; each user's own; re-planned when the
calendar changes (the worker's job, run here in process)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from graphql_api.lifespan import AppState
from graphql_api.planning import service as planning_service
from graphql_api.planning import solver
from graphql_api.planning.jobs import plan_user
from graphql_api.planning.planner import Plan
from graphql_api.relay import to_global_id
from graphql_api.replans import reasons_key
from tests.conftest import Client
from tests.helpers import connect_local, create_event, create_goal, next_plan_update, set_timezone

# Monday 30 March 2026, 09:00 in Berlin (summer time since Sunday): 07:00 UTC.
MONDAY_9 = datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
WEEK = {"start": "2026-03-30T00:00:00+02:00", "end": "2026-04-06T00:00:00+02:00"}


def berlin(day: int, hour: int, minute: int = 0) -> str:
    """A Berlin wall-clock time in the week of 30 March 2026, as the API answers (UTC)."""
    return datetime(2026, 3, day, hour - 2, minute, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def spans(task: dict[str, Any]) -> list[tuple[str, str]]:
    return [(b["start"], b["end"]) for b in task["blocks"]]


async def create_task(client: Client, **fields: Any) -> dict[str, Any]:
    r = await client.op("CreateTask", {"input": {"title": "Report", **fields}})
    task: dict[str, Any] = r.data["createTask"]
    return task


async def tasks_of(client: Client, **variables: Any) -> list[dict[str, Any]]:
    r = await client.op("Tasks", variables)
    return [edge["node"] for edge in r.data["tasks"]["edges"]]


async def schedule(client: Client) -> list[dict[str, Any]]:
    r = await client.op("Schedule", {"range": WEEK})
    return [edge["node"] for edge in r.data["events"]["edges"]]


@pytest.fixture
async def monday(alice: Client, clock: Any) -> dict[str, Any]:
    """Alice in Berlin on Monday at 09:00, no working hours set, a meeting 10:00-11:00."""
    clock(MONDAY_9)
    await set_timezone(alice, "Europe/Berlin")
    calendar = await connect_local(alice, name="Work")
    meeting = await create_event(
        alice,
        calendar["id"],
        "2026-03-30T10:00:00+02:00",
        "2026-03-30T11:00:00+02:00",
        title="Standup",
    )
    return {"calendar": calendar, "meeting": meeting}


async def test_create_task_answers_with_the_task_planned_around_the_meeting(
    alice: Client, monday: dict[str, Any]
) -> None:
    # when: two hours of work in blocks of at most one hour
    task = await create_task(alice, priority="P1", durationMinutes=120, maxChunkMinutes=60)

    # then: after 30 minutes' notice, before the meeting, then right after it
    assert spans(task) == [
        (berlin(30, 9, 30), berlin(30, 10)),
        (berlin(30, 11), berlin(30, 12)),
        (berlin(30, 12), berlin(30, 12, 30)),
    ]
    assert {b["task"]["id"] for b in task["blocks"]} == {task["id"]}
    assert (task["scheduledMinutes"], task["remainingMinutes"], task["atRisk"]) == (120, 0, False)
    assert (task["status"], task["minChunkMinutes"], task["maxChunkMinutes"]) == ("OPEN", 30, 60)

    # and the blocks are events of the primary LOCAL calendar, linked to the task
    shown = await schedule(alice)
    blocks = [e for e in shown if e["task"]]
    assert [(e["start"], e["end"]) for e in blocks] == spans(task)
    assert {e["task"]["title"] for e in blocks} == {"Report"}
    assert {e["calendar"]["id"] for e in blocks} == {monday["calendar"]["id"]}
    assert [e["title"] for e in shown if not e["task"]] == ["Standup"]


async def test_working_hours_of_the_profile_and_the_due_decide_where_work_goes(
    alice: Client, monday: dict[str, Any]
) -> None:
    # given: Alice works 14:00-16:00 on Mondays only
    hours = [{"weekday": 1, "start": "14:00", "end": "16:00"}]
    await alice.op("UpdateProfile", {"input": {"workingHours": hours}})

    # when: three hours due Monday evening, and an hour with no due
    evening = "2026-03-30T20:00:00+02:00"
    late = await create_task(alice, title="Late", durationMinutes=180, due=evening)
    later = await create_task(alice, title="Later", durationMinutes=60, minChunkMinutes=60)

    # then: the due one books Monday's two hours and is at risk; the other goes next Monday
    assert spans(late) == [(berlin(30, 14), berlin(30, 16))]
    assert (late["scheduledMinutes"], late["remainingMinutes"], late["atRisk"]) == (120, 60, True)
    assert spans(later) == [("2026-04-06T12:00:00Z", "2026-04-06T13:00:00Z")]
    assert later["atRisk"] is False


async def test_a_series_is_busy_time_and_a_free_event_is_not(
    alice: Client, monday: dict[str, Any]
) -> None:
    # given: a daily standup 11:00-11:30 (a series) after Monday's 10:00 meeting, and time
    # marked free from 11:30 to 13:00
    calendar = monday["calendar"]["id"]
    daily = {"rrule": "FREQ=DAILY;COUNT=5", "timezone": "Europe/Berlin"}
    await create_event(
        alice,
        calendar,
        "2026-03-30T11:00:00+02:00",
        "2026-03-30T11:30:00+02:00",
        title="Standup",
        recurrence=daily,
    )
    free = ("2026-03-30T11:30:00+02:00", "2026-03-30T13:00:00+02:00")
    await create_event(alice, calendar, *free, title="Focus", busy=False)

    # when: two hours of work, one after the other (the second plan reads the busy time
    # the first one cached)
    hour = {"durationMinutes": 60, "minChunkMinutes": 60}
    first = await create_task(alice, title="First", priority="P1", **hour)
    second = await create_task(alice, title="Second", **hour)

    # then: the work goes after the standup's instance, over the free time
    assert spans(first) == [(berlin(30, 11, 30), berlin(30, 12, 30))]
    assert spans(second) == [(berlin(30, 12, 30), berlin(30, 13, 30))]
    # and on Tuesday the standup's next instance is busy time too
    tuesday = await create_task(
        alice, title="Tuesday", notBefore="2026-03-31T10:45:00+02:00", **hour
    )
    assert spans(tuesday) == [(berlin(31, 11, 30), berlin(31, 12, 30))]


async def test_tasks_are_listed_by_priority_then_due(alice: Client, monday: dict[str, Any]) -> None:
    # given
    goal = await create_goal(alice, title="Ship it")
    await create_task(alice, title="c", priority="P2", durationMinutes=30)
    friday = "2026-04-03T12:00:00Z"
    await create_task(alice, title="b", priority="P2", durationMinutes=30, due=friday)
    await create_task(alice, title="a", priority="P1", durationMinutes=30, goalId=goal["id"])

    # when
    listed = await tasks_of(alice)

    # then
    assert [t["title"] for t in listed] == ["a", "b", "c"]
    assert listed[0]["goal"] == {"id": goal["id"], "title": "Ship it"}
    assert all(t["blocks"] and t["blocks"][0]["calendar"]["id"] for t in listed)
    assert [t["title"] for t in await tasks_of(alice, status="DONE")] == []


async def test_update_task_answers_with_the_task_planned_again(
    alice: Client, monday: dict[str, Any]
) -> None:
    # given
    task = await create_task(alice, durationMinutes=60)

    # when: twice the work, due before the meeting ends
    r = await alice.op(
        "UpdateTask",
        {"id": task["id"], "input": {"durationMinutes": 120, "due": "2026-03-30T11:00:00+02:00"}},
    )

    # then: what fits before the due is booked, and the task is at risk
    updated = r.data["updateTask"]
    assert spans(updated) == [(berlin(30, 9, 30), berlin(30, 10))]
    assert (updated["durationMinutes"], updated["scheduledMinutes"]) == (120, 30)
    assert (updated["remainingMinutes"], updated["atRisk"]) == (90, True)


async def test_complete_and_delete_remove_the_future_blocks(
    alice: Client, monday: dict[str, Any], clock: Any
) -> None:
    # given: two tasks, and the first block of one already past
    done = await create_task(alice, title="Done", durationMinutes=60, maxChunkMinutes=30)
    gone = await create_task(alice, title="Gone", durationMinutes=60)
    clock(datetime(2026, 3, 30, 8, 5, tzinfo=UTC))  # 10:05, in the meeting

    # when
    completed = (await alice.op("CompleteTask", {"id": done["id"]})).data["completeTask"]
    deleted = (await alice.op("DeleteTask", {"id": gone["id"]})).data["deleteTask"]

    # then: the past block stays as history, nothing else of either task is booked
    assert (completed["status"], completed["scheduledMinutes"]) == ("DONE", 0)
    assert spans(completed) == [(berlin(30, 9, 30), berlin(30, 10))]
    assert deleted is True
    assert [e["title"] for e in await schedule(alice) if e["task"]] == ["Done"]
    assert [t["title"] for t in await tasks_of(alice)] == ["Done"]


async def test_a_meeting_booked_over_a_block_moves_that_block_alone(
    alice: Client, monday: dict[str, Any], app_state: AppState
) -> None:
    # given: two tasks in a row, and a subscriber to Alice's plan updates
    hour = {"durationMinutes": 60, "minChunkMinutes": 60}
    first = await create_task(alice, title="First", priority="P1", **hour)
    second = await create_task(alice, title="Second", **hour)
    assert spans(first) == [(berlin(30, 11), berlin(30, 12))]
    assert spans(second) == [(berlin(30, 12), berlin(30, 13))]
    listening = await next_plan_update(app_state, alice.sub)

    # when: a meeting lands on the first block, and the worker's re-plan runs
    await create_event(
        alice,
        monday["calendar"]["id"],
        "2026-03-30T11:30:00+02:00",
        "2026-03-30T12:00:00+02:00",
        title="Call",
    )
    await plan_user(app_state, alice.sub)
    heard = [await asyncio.wait_for(listening, 5)]

    # then: the first task moves to the next free hour, the second stays where it was
    listed = {t["title"]: t for t in await tasks_of(alice)}
    assert spans(listed["First"]) == [(berlin(30, 13), berlin(30, 14))]
    assert spans(listed["Second"]) == [(berlin(30, 12), berlin(30, 13))]
    # and the subscriber heard why, and how each task stands
    assert heard[0]["reason"] == "CALENDAR_CHANGED"
    assert [(t["scheduledMinutes"], t["atRisk"]) for t in heard[0]["tasks"]] == [(60, False)] * 2


async def test_a_re_plan_of_an_unchanged_calendar_changes_nothing(
    alice: Client, monday: dict[str, Any], app_state: AppState
) -> None:
    # given
    await create_task(alice, durationMinutes=240, maxChunkMinutes=90, due="2026-04-01T12:00:00Z")
    before = await schedule(alice)

    # when
    await plan_user(app_state, alice.sub)

    # then: the same events, the same IDs
    assert await schedule(alice) == before


BAD = [
    ({"durationMinutes": 0}, "durationMinutes"),
    ({"durationMinutes": 50}, "durationMinutes"),
    ({"durationMinutes": 10095}, "durationMinutes"),
    ({"minChunkMinutes": 20}, "minChunkMinutes"),
    ({"maxChunkMinutes": 120}, "maxChunkMinutes"),
    ({"minChunkMinutes": 60, "maxChunkMinutes": 45, "durationMinutes": 90}, "minChunkMinutes"),
    ({"due": "2026-03-30T10:00:00Z", "notBefore": "2026-03-31T10:00:00Z"}, "due"),
    ({"title": "  "}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"goalId": to_global_id("Goal", "0" * 24)}, "goalId"),
    ({"calendarId": to_global_id("Calendar", "0" * 24)}, "calendarId"),
]


@pytest.mark.parametrize(("fields", "field"), BAD, ids=[f for _, f in BAD])
async def test_bad_input_is_refused_naming_its_field_and_nothing_is_written(
    alice: Client, monday: dict[str, Any], fields: dict[str, Any], field: str
) -> None:
    # given
    before = await schedule(alice)

    # when
    data = {"title": "Report", "durationMinutes": 60, **fields}
    r = await alice.op("CreateTask", {"input": data})

    # then
    assert r.codes == ["BAD_USER_INPUT"]
    assert r.errors[0]["extensions"]["field"] == field
    assert await tasks_of(alice) == []
    assert await schedule(alice) == before


async def test_a_bad_update_is_refused_and_the_task_stays_as_it_was(
    alice: Client, monday: dict[str, Any]
) -> None:
    task = await create_task(alice, durationMinutes=60, minChunkMinutes=60)

    r = await alice.op("UpdateTask", {"id": task["id"], "input": {"maxChunkMinutes": 30}})

    assert r.codes == ["BAD_USER_INPUT"]
    assert r.errors[0]["extensions"]["field"] == "minChunkMinutes"
    (stored,) = await tasks_of(alice)
    assert (stored["maxChunkMinutes"], spans(stored)) == (60, spans(task))


async def test_blocks_go_on_a_local_calendar_only(alice: Client, monday: dict[str, Any]) -> None:
    r = await alice.op(
        "ConnectCalendar",
        {"input": {"provider": "ICS", "url": "http://127.0.0.1:9/feed.ics"}},
    )
    feed = r.data["connectCalendar"]

    r = await alice.op(
        "CreateTask", {"input": {"title": "x", "durationMinutes": 30, "calendarId": feed["id"]}}
    )

    assert r.codes == ["BAD_USER_INPUT"]
    assert r.errors[0]["extensions"]["field"] == "calendarId"


async def test_another_users_task_is_not_found(
    alice: Client, bob: Client, monday: dict[str, Any]
) -> None:
    # given
    task = await create_task(alice, durationMinutes=30)

    # when
    node = await bob.execute("query($id: ID!) { node(id: $id) { id } }", {"id": task["id"]})
    update = await bob.op("UpdateTask", {"id": task["id"], "input": {"title": "Mine"}})
    complete = await bob.op("CompleteTask", {"id": task["id"]})
    delete = await bob.op("DeleteTask", {"id": task["id"]})

    # then
    assert node.data["node"] is None
    assert [update.codes, complete.codes, delete.codes] == [["NOT_FOUND"]] * 3
    assert await tasks_of(bob) == []
    (mine,) = await tasks_of(alice)
    assert (mine["title"], mine["status"]) == ("Report", "OPEN")


async def test_concurrent_updates_of_different_fields_all_hold(
    alice: Client, monday: dict[str, Any]
) -> None:
    # given
    task = await create_task(alice, durationMinutes=60)

    # when: five clients change five fields at once
    changes = [
        {"title": "Renamed"},
        {"priority": "P1"},
        {"notes": "remember the charts"},
        {"due": "2026-04-03T12:00:00Z"},
        {"durationMinutes": 90},
    ]
    await asyncio.gather(*(alice.op("UpdateTask", {"id": task["id"], "input": c}) for c in changes))

    # then
    node = await alice.execute(
        "query($id: ID!) { node(id: $id) { ... on Task { title priority notes due "
        "durationMinutes scheduledMinutes } } }",
        {"id": task["id"]},
    )
    assert node.data["node"] == {
        "title": "Renamed",
        "priority": "P1",
        "notes": "remember the charts",
        "due": "2026-04-03T12:00:00Z",
        "durationMinutes": 90,
        "scheduledMinutes": 90,
    }


async def test_a_task_moved_to_another_calendar_and_renamed_takes_its_blocks_along(
    alice: Client, monday: dict[str, Any]
) -> None:
    # given
    task = await create_task(alice, durationMinutes=90, maxChunkMinutes=60)
    home = await connect_local(alice, name="Home")

    # when
    r = await alice.op(
        "UpdateTask", {"id": task["id"], "input": {"calendarId": home["id"], "title": "Essay"}}
    )

    # then: the same times, on the other calendar, under the new title
    assert spans(r.data["updateTask"]) == spans(task)
    blocks = [e for e in await schedule(alice) if e["task"]]
    assert [(e["start"], e["end"]) for e in blocks] == spans(task)
    assert {(e["calendar"]["id"], e["title"]) for e in blocks} == {(home["id"], "Essay")}


async def test_a_calendar_change_queues_a_re_plan_only_for_a_user_with_something_to_plan(
    alice: Client, monday: dict[str, Any], app_state: AppState
) -> None:
    prefix = app_state.settings.cache_prefix

    async def reasons() -> set[str]:
        raw = await app_state.redis.smembers(reasons_key(prefix, alice.sub))  # type: ignore[misc]
        await app_state.redis.delete(reasons_key(prefix, alice.sub))
        return {r.decode() if isinstance(r, bytes) else str(r) for r in raw}

    async def meeting(hour: int) -> None:
        start = f"2026-03-31T{hour:02}:00:00+02:00"
        end = f"2026-03-31T{hour:02}:30:00+02:00"
        await create_event(alice, monday["calendar"]["id"], start, end, title="Call")

    await reasons()  # whatever the fixture's own meeting asked
    # given: Alice has no task: a meeting asks for no re-plan (it would find nothing to do)
    await meeting(9)
    assert await reasons() == set()
    # when: she has an open task, the next meeting does
    task = await create_task(alice, durationMinutes=60)
    await meeting(10)
    assert "CALENDAR_CHANGED" in await reasons()
    # and once it is done, a meeting asks for none again
    await alice.op("CompleteTask", {"id": task["id"]})
    await reasons()
    await meeting(11)
    assert await reasons() == set()


async def report_then_slides(
    alice: Client, monday: dict[str, Any], app_state: AppState
) -> dict[str, Any]:
    """Monday afternoon taken; a P1 report due Friday takes what Monday has left; then
    slides due Tuesday 09:00, which the greedy plan (P1 first) leaves at risk."""
    await create_event(
        alice,
        monday["calendar"]["id"],
        "2026-03-30T13:00:00+02:00",
        "2026-03-30T17:00:00+02:00",
        title="Workshop",
    )
    report = await create_task(
        alice,
        title="Report",
        priority="P1",
        durationMinutes=150,
        maxChunkMinutes=120,
        due="2026-04-03T17:00:00+02:00",
    )
    assert spans(report) == [(berlin(30, 9, 30), berlin(30, 10)), (berlin(30, 11), berlin(30, 13))]
    await app_state.redis.delete(reasons_key(app_state.settings.cache_prefix, alice.sub))
    return await create_task(
        alice,
        title="Slides",
        priority="P3",
        durationMinutes=120,
        due="2026-03-31T09:00:00+02:00",
    )


async def test_the_worker_finds_a_plan_with_fewer_tasks_at_risk_and_tells_subscribers(
    alice: Client, monday: dict[str, Any], app_state: AppState
) -> None:
    prefix = app_state.settings.cache_prefix
    # given a report (P1, due Friday) on Monday; when slides due Tuesday 09:00 come in, the
    # request's greedy plan leaves them at risk and asks the worker for its solver's pass
    # instead of waiting for it
    slides = await report_then_slides(alice, monday, app_state)
    assert (slides["atRisk"], slides["scheduledMinutes"]) == (True, 0)
    pending = await app_state.redis.smembers(reasons_key(prefix, alice.sub))  # type: ignore[misc]
    assert b"IMPROVE" in pending
    listening = await next_plan_update(app_state, alice.sub)
    await plan_user(app_state, alice.sub)
    heard = await asyncio.wait_for(listening, 10)

    # then: the slides go first on Monday and the report moves to Tuesday: both on time
    listed = {t["title"]: t for t in await tasks_of(alice)}
    assert spans(listed["Slides"]) == [(berlin(30, 11), berlin(30, 13))]
    assert spans(listed["Report"]) == [
        (berlin(30, 9, 30), berlin(30, 10)),
        (berlin(31, 9), berlin(31, 11)),
    ]
    assert not listed["Slides"]["atRisk"]
    assert not listed["Report"]["atRisk"]
    # and subscribers heard it, as a change made by a task
    assert heard["reason"] == "TASK_CHANGED"
    assert sorted((t["scheduledMinutes"], t["atRisk"]) for t in heard["tasks"]) == [
        (120, False),
        (150, False),
    ]
    # and the next re-plan keeps it: no tug of war between the greedy and the solver
    before = await schedule(alice)
    await plan_user(app_state, alice.sub)
    assert await schedule(alice) == before


async def test_a_solvers_plan_is_dropped_when_the_calendar_changed_while_it_ran(
    alice: Client, monday: dict[str, Any], app_state: AppState, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the slides at risk, and a meeting booked while the worker's solver runs
    await report_then_slides(alice, monday, app_state)
    loop = asyncio.get_running_loop()
    solve = solver.improve

    def improve_while_a_meeting_is_booked(*args: Any, **kwargs: Any) -> Plan | None:
        better = solve(*args, **kwargs)
        meeting = create_event(
            alice,
            monday["calendar"]["id"],
            "2026-04-01T09:00:00+02:00",
            "2026-04-01T10:00:00+02:00",
            title="Interview",
        )
        asyncio.run_coroutine_threadsafe(meeting, loop).result(10)
        return better

    monkeypatch.setattr(solver, "improve", improve_while_a_meeting_is_booked)
    before = {t["title"]: spans(t) for t in await tasks_of(alice)}

    # when
    await plan_user(app_state, alice.sub)

    # then: the plan it solved is not the user's any more: nothing of it is written
    assert {t["title"]: spans(t) for t in await tasks_of(alice)} == before
    # and the meeting's own re-plan, queued, finds the better plan on what is there now
    monkeypatch.setattr(solver, "improve", solve)
    await plan_user(app_state, alice.sub)
    listed = {t["title"]: t for t in await tasks_of(alice)}
    assert not listed["Slides"]["atRisk"]
    assert spans(listed["Slides"]) == [(berlin(30, 11), berlin(30, 13))]


async def test_a_solvers_plan_is_dropped_when_its_first_block_came_inside_the_notice(
    alice: Client,
    monday: dict[str, Any],
    app_state: AppState,
    clock: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: the slides at risk; the solver books them from 11:00, and by the time it
    # answers the clock says 10:45 (the minimum notice is 30 minutes)
    await report_then_slides(alice, monday, app_state)
    solve = solver.improve

    def improve_slowly(*args: Any, **kwargs: Any) -> Plan | None:
        better = solve(*args, **kwargs)
        assert better is not None
        assert min(b.start for b in better.add) == datetime(2026, 3, 30, 9, tzinfo=UTC)  # 11:00
        clock(MONDAY_9 + timedelta(hours=1, minutes=45))
        return better

    monkeypatch.setattr(solver, "improve", improve_slowly)
    before = {t["title"]: spans(t) for t in await tasks_of(alice)}

    # when
    await plan_user(app_state, alice.sub)

    # then: nothing of that plan is written
    assert {t["title"]: spans(t) for t in await tasks_of(alice)} == before


async def test_blocks_written_before_a_failed_write_show_at_once(
    alice: Client, monday: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: Monday's page of events read (and cached), and the habits' bookings failing
    # once a task's blocks are written
    day = {"start": "2026-03-30T00:00:00Z", "end": "2026-03-31T00:00:00Z"}

    async def titles() -> list[str]:
        edges = (await alice.op("Events", {"range": day})).data["events"]["edges"]
        return [edge["node"]["title"] for edge in edges]

    assert await titles() == ["Standup"]

    async def failing(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the bookings' write failed")

    monkeypatch.setattr(planning_service, "apply_bookings", failing)

    # when: a task is made (its plan's write fails after its blocks)
    r = await alice.execute(
        "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
        {"i": {"title": "Report", "durationMinutes": 60}},
    )
    assert r.errors
    monkeypatch.undo()

    # then: the page shows the blocks that were written
    assert "Report" in await titles()
