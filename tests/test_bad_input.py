"""Every bad input gets BAD_USER_INPUT with a message a client developer can act on,
and nothing is written.

Variables are templates: the strings GOAL, HABIT, CALENDAR and EVENT stand for
the IDs of the user's own objects (see `fill`).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from bson import ObjectId

from graphql_api.relay import encode_cursor, to_global_id
from graphql_api.state import AppState
from tests.conftest import Client, Response
from tests.helpers import connect_local, create_event, create_goal, create_habit, set_timezone

NOW = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
RANGE = {"start": "2026-03-01T00:00:00Z", "end": "2026-04-01T00:00:00Z"}
MONTH = {"from": "2026-03-01", "to": "2026-03-31"}
DAILY = {"times": 1, "per": "DAY"}
COLLECTIONS = (
    "goals",
    "goal_progress",
    "habits",
    "check_ins",
    "calendars",
    "events",
    "recommendation_feedback",
)
GOAL, HABIT, CALENDAR, EVENT = "<goal>", "<habit>", "<calendar>", "<event>"


@dataclass(frozen=True)
class User:
    client: Client
    ids: dict[str, str]


def fill(template: Any, ids: dict[str, str]) -> Any:
    """The template with its placeholders (also inside strings) replaced by the user's IDs."""
    if isinstance(template, dict):
        return {key: fill(value, ids) for key, value in template.items()}
    if isinstance(template, list):
        return [fill(value, ids) for value in template]
    if isinstance(template, str):
        for placeholder, real in ids.items():
            template = template.replace(placeholder, real)
    return template


async def stored(app_state: AppState, client: Client) -> dict[str, list[dict[str, Any]]]:
    """Everything stored for the user, collection by collection."""
    db = app_state.mongo[app_state.settings.mongodb_db]
    docs = {
        name: await db[name].find({"userId": client.sub}).sort("_id", 1).to_list()
        for name in COLLECTIONS
    }
    docs["users"] = await db["users"].find({"sub": client.sub}).to_list()
    return docs


def assert_bad_user_input(r: Response, mention: str) -> None:
    """Only BAD_USER_INPUT errors, each naming the offending field or value."""
    assert r.errors, r.body
    assert set(r.codes) == {"BAD_USER_INPUT"}, r.body
    for error in r.errors:
        assert mention in error["message"], (mention, error["message"])


@pytest.fixture
async def user(alice: Client, clock: Any) -> User:
    """A user standing on NOW with a goal (with a target), a habit on it, a LOCAL calendar
    and an event."""
    clock(NOW)
    goal = await create_goal(alice, target={"value": 10, "unit": "km"})
    habit = await create_habit(alice, goalId=goal["id"])
    calendar = await connect_local(alice)
    event = await create_event(
        alice, calendar["id"], "2026-03-29T09:00:00Z", "2026-03-29T10:00:00Z"
    )
    ids = {GOAL: goal["id"], HABIT: habit["id"], CALENDAR: calendar["id"], EVENT: event["id"]}
    return User(client=alice, ids=ids)


async def refused(
    app_state: AppState, user: User, name: str, variables: dict[str, Any], mention: str
) -> Response:
    """Sends the operation; asserts BAD_USER_INPUT naming `mention` and nothing written."""
    before = await stored(app_state, user.client)
    r = await user.client.op(name, fill(variables, user.ids))
    assert_bad_user_input(r, fill(mention, user.ids))
    assert await stored(app_state, user.client) == before
    return r


# --- profile -------------------------------------------------------------------------


def _hours(weekday: int, start: str, end: str) -> dict[str, Any]:
    return {
        "displayName": "Changed",
        "workingHours": [{"weekday": weekday, "start": start, "end": end}],
    }


@pytest.mark.parametrize(
    ("profile", "mention"),
    [
        pytest.param(
            {"displayName": "Changed", "timezone": "Mars/Olympus"}, "'Mars/Olympus'", id="zone"
        ),
        pytest.param({"timezone": "Europe/Berln"}, "'Europe/Berln'", id="zone-typo"),
        pytest.param({"timezone": "CEST"}, "'CEST'", id="zone-abbreviation"),
        pytest.param({"timezone": ""}, "IANA time zone", id="zone-empty"),
        pytest.param({"timezone": None}, "timezone", id="zone-null"),
        pytest.param(_hours(0, "09:00", "17:00"), "workingHours[0].weekday", id="weekday-0"),
        pytest.param(_hours(8, "09:00", "17:00"), "workingHours[0].weekday", id="weekday-8"),
        pytest.param(_hours(1, "17:00", "09:00"), "workingHours[0]", id="end-before-start"),
        pytest.param(_hours(1, "09:00", "09:00"), "workingHours[0]", id="end-equals-start"),
        pytest.param(_hours(1, "9:00", "17:00"), "'9:00'", id="start-9:00"),
        pytest.param(_hours(1, "09:00", "5pm"), "'5pm'", id="end-5pm"),
        pytest.param(_hours(1, "09:00", "24:30"), "'24:30'", id="end-24:30"),
        pytest.param(
            {
                "workingHours": [
                    {"weekday": 1, "start": "09:00", "end": "12:00"},
                    {"weekday": 1, "start": "11:00", "end": "17:00"},
                ]
            },
            "workingHours[1]",
            id="overlap",
        ),
    ],
)
async def test_update_profile_refuses(
    user: User, app_state: AppState, profile: dict[str, Any], mention: str
) -> None:
    # given
    me_before = (await user.client.op("Me")).data
    # when
    await refused(app_state, user, "UpdateProfile", {"input": profile}, mention)
    # then
    assert (await user.client.op("Me")).data == me_before


# --- time ranges ---------------------------------------------------------------------

EMPTY_RANGE = {"start": "2026-03-29T10:00:00Z", "end": "2026-03-29T10:00:00Z"}
BACKWARD_RANGE = {"start": "2026-03-29T10:00:00Z", "end": "2026-03-29T09:00:00Z"}
SAME_INSTANT_RANGE = {"start": "2026-03-29T10:00:00+02:00", "end": "2026-03-29T09:00:00+01:00"}
LONG_RANGE = {"start": "2026-01-01T00:00:00Z", "end": "2027-01-03T00:00:00Z"}  # 367 days


@pytest.mark.parametrize("name", ["Events", "Dashboard"])
@pytest.mark.parametrize(
    ("time_range", "mention"),
    [
        pytest.param(EMPTY_RANGE, "range", id="end-equals-start"),
        pytest.param(BACKWARD_RANGE, "range", id="end-before-start"),
        pytest.param(SAME_INSTANT_RANGE, "range", id="same-instant-other-offsets"),
        pytest.param(LONG_RANGE, "366 days", id="367-days"),
    ],
)
async def test_time_range_is_checked(
    user: User, app_state: AppState, name: str, time_range: dict[str, str], mention: str
) -> None:
    # given
    variables = {"range": time_range}
    # when
    r = await refused(app_state, user, name, variables, mention)
    # then
    assert r.body["data"] is None


# --- habits: frequency and duration --------------------------------------------------


@pytest.mark.parametrize(
    ("times", "per"),
    [(2, "DAY"), (0, "DAY"), (-1, "DAY"), (0, "WEEK"), (8, "WEEK"), (0, "MONTH"), (31, "MONTH")],
)
@pytest.mark.parametrize(
    ("name", "variables"),
    [
        pytest.param("CreateHabit", {"input": {"name": "Read"}}, id="CreateHabit"),
        pytest.param("UpdateHabit", {"id": HABIT, "input": {}}, id="UpdateHabit"),
    ],
)
async def test_frequency_is_checked(
    user: User, app_state: AppState, *, name: str, variables: dict[str, Any], times: int, per: str
) -> None:
    # given
    variables = {
        **variables,
        "input": {**variables["input"], "frequency": {"times": times, "per": per}},
    }
    # when
    r = await refused(app_state, user, name, variables, "frequency.times")
    # then
    assert r.errors[0]["extensions"]["field"] == "frequency.times"


@pytest.mark.parametrize("minutes", [0, -5, 1441])
@pytest.mark.parametrize(
    ("name", "variables"),
    [
        pytest.param(
            "CreateHabit", {"input": {"name": "Read", "frequency": DAILY}}, id="CreateHabit"
        ),
        pytest.param("UpdateHabit", {"id": HABIT, "input": {}}, id="UpdateHabit"),
    ],
)
async def test_duration_is_checked(
    user: User, app_state: AppState, name: str, variables: dict[str, Any], minutes: int
) -> None:
    # given
    variables = {**variables, "input": {**variables["input"], "durationMinutes": minutes}}
    # when
    r = await refused(app_state, user, name, variables, "durationMinutes")
    # then
    assert str(minutes) in r.errors[0]["message"]


@pytest.mark.parametrize(
    ("window", "mention"),
    [
        pytest.param(
            {"weekdays": [0], "start": "07:00", "end": "08:00"},
            "preferredWindows[0]",
            id="weekday-0",
        ),
        pytest.param(
            {"weekdays": [], "start": "07:00", "end": "08:00"}, "preferredWindows[0]", id="no-days"
        ),
        pytest.param(
            {"weekdays": [1], "start": "08:00", "end": "07:00"},
            "preferredWindows[0]",
            id="backward",
        ),
        pytest.param({"weekdays": [1], "start": "7:00", "end": "08:00"}, "'7:00'", id="7:00"),
    ],
)
async def test_preferred_windows_are_checked(
    user: User, app_state: AppState, window: dict[str, Any], mention: str
) -> None:
    # given
    habit = {"name": "Read", "frequency": DAILY, "preferredWindows": [window]}
    # when
    r = await refused(app_state, user, "CreateHabit", {"input": habit}, mention)
    # then
    assert r.body["data"] is None


# --- texts ---------------------------------------------------------------------------

LONG_TITLE = "x" * 201
LONG_DESCRIPTION = "d" * 5001
EVENT_INPUT = {
    "calendarId": CALENDAR,
    "start": "2026-03-30T09:00:00Z",
    "end": "2026-03-30T10:00:00Z",
}


def _goal(**fields: Any) -> dict[str, Any]:
    return {"input": {"title": "Goal", **fields}}


def _event(**fields: Any) -> dict[str, Any]:
    return {"input": {**EVENT_INPUT, "title": "Event", **fields}}


def _update(**fields: Any) -> dict[str, Any]:
    return {"id": GOAL, "input": fields}


TEXT_CASES = [
    ("title", {"title": LONG_TITLE}, "201 characters"),
    ("title", {"title": "   "}, "blank"),
    ("title", {"title": ""}, "blank"),
    ("description", {"description": LONG_DESCRIPTION}, "5001 characters"),
]


@pytest.mark.parametrize(
    ("name", "build"),
    [("CreateGoal", _goal), ("CreateEvent", _event), ("UpdateGoal", _update)],
)
@pytest.mark.parametrize(
    ("field", "fields", "why"),
    TEXT_CASES,
    ids=["long-title", "blank-title", "empty-title", "long-description"],
)
async def test_texts_are_checked(
    user: User,
    app_state: AppState,
    *,
    name: str,
    build: Any,
    field: str,
    fields: dict[str, Any],
    why: str,
) -> None:
    # given
    variables = build(**fields)
    # when
    r = await refused(app_state, user, name, variables, field)
    # then
    assert why in r.errors[0]["message"]
    assert r.errors[0]["extensions"]["field"] == field


@pytest.mark.parametrize(
    ("name", "variables", "mention"),
    [
        pytest.param("UpdateGoal", _update(title=None), "title", id="UpdateGoal-null-title"),
        pytest.param(
            "CreateHabit",
            {"input": {"name": " ", "frequency": DAILY}},
            "name",
            id="CreateHabit-blank",
        ),
        pytest.param(
            "CreateHabit",
            {"input": {"name": LONG_TITLE, "frequency": DAILY}},
            "name",
            id="CreateHabit-long",
        ),
        pytest.param(
            "UpdateHabit", {"id": HABIT, "input": {"name": ""}}, "name", id="UpdateHabit-blank"
        ),
        pytest.param(
            "ConnectCalendar",
            {"input": {"provider": "LOCAL", "name": LONG_TITLE}},
            "name",
            id="calendar-name",
        ),
        pytest.param(
            "ConnectCalendar",
            {"input": {"provider": "LOCAL", "color": "red"}},
            "color",
            id="calendar-color",
        ),
        pytest.param(
            "ConnectCalendar",
            {"input": {"provider": "LOCAL", "timezone": "Mars/Olympus"}},
            "'Mars/Olympus'",
            id="calendar-zone",
        ),
        pytest.param(
            "LogGoalProgress",
            {"goalId": GOAL, "value": 1, "note": "n" * 1001},
            "note",
            id="progress-note",
        ),
    ],
)
async def test_other_texts_are_checked(
    user: User, app_state: AppState, name: str, variables: dict[str, Any], mention: str
) -> None:
    # given
    expected_data = None
    # when
    r = await refused(app_state, user, name, variables, mention)
    # then
    assert r.body["data"] == expected_data


# --- page sizes and cursors ----------------------------------------------------------

PAGED = [
    pytest.param("Goals", {}, id="Goals"),
    pytest.param("Habits", {}, id="Habits"),
    pytest.param("Events", {"range": RANGE}, id="Events"),
]


@pytest.mark.parametrize("first", [501, 1000, -1])
@pytest.mark.parametrize(("name", "variables"), PAGED)
async def test_page_size_is_checked(
    user: User, app_state: AppState, name: str, variables: dict[str, Any], first: int
) -> None:
    # given
    variables = {**variables, "first": first}
    # when
    r = await refused(app_state, user, name, variables, "first")
    # then
    assert str(first) in r.errors[0]["message"]


async def test_dashboard_page_size_is_checked(user: User, app_state: AppState) -> None:
    # given
    variables = {"range": RANGE, "goalsFirst": 501}
    # when
    r = await refused(app_state, user, "Dashboard", variables, "first")
    # then
    assert r.body["data"] is None


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


BAD_CURSORS = [
    pytest.param("garbage", id="garbage"),
    pytest.param("!!!", id="punctuation"),
    pytest.param(_b64("not json"), id="not-json"),
    pytest.param(_b64('{"a": 1}'), id="json-object"),
    pytest.param(_b64("[1.5]"), id="float-key"),
    pytest.param(encode_cursor(["x", "y"]), id="wrong-key-types"),
]


@pytest.mark.parametrize("cursor", BAD_CURSORS)
@pytest.mark.parametrize(("name", "variables"), PAGED)
async def test_cursor_is_checked(
    user: User, app_state: AppState, name: str, variables: dict[str, Any], cursor: str
) -> None:
    # given
    variables = {**variables, "after": cursor}
    # when
    r = await refused(app_state, user, name, variables, repr(cursor))
    # then
    assert r.errors[0]["extensions"]["field"] == "after"


@pytest.mark.parametrize(
    "key",
    [
        pytest.param([10**20, "0" * 24], id="far-future"),
        pytest.param([-(10**20), "0" * 24], id="far-past"),
        pytest.param([1, "not-an-object-id"], id="bad-object-id"),
        pytest.param([1, "x", "y"], id="three-keys"),
    ],
)
async def test_events_cursor_key_is_checked(
    user: User, app_state: AppState, key: list[Any]
) -> None:
    # given
    cursor = encode_cursor(key)
    # when
    r = await refused(app_state, user, "Events", {"range": RANGE, "after": cursor}, repr(cursor))
    # then
    assert r.errors[0]["extensions"]["field"] == "after"


# --- IDs -----------------------------------------------------------------------------

# Each makes a malformed ID for the kind of ID the operation expects.
GARBAGE_IDS = [
    pytest.param(lambda kind: "garbage", id="garbage"),
    pytest.param(lambda kind: "not-an-id!!", id="punctuation"),
    pytest.param(lambda kind: "", id="empty"),
    pytest.param(lambda kind: f"{kind}:abc", id="plain-text"),
    pytest.param(_b64, id="no-colon"),
    pytest.param(lambda kind: _b64(f"{kind}:"), id="no-raw-id"),
    pytest.param(lambda kind: _b64(f"{kind}:42"), id="raw-not-object-id"),
    pytest.param(lambda kind: _b64(f"{kind}:" + "z" * 24), id="raw-not-hex"),
    pytest.param(lambda kind: _b64(":" + "a" * 24), id="no-type"),
    pytest.param(lambda kind: base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(), id="not-utf8"),
]

ID_OPERATIONS = [
    pytest.param(
        "UpdateGoal", "Goal", lambda i: {"id": i, "input": {"title": "New"}}, id="UpdateGoal"
    ),
    pytest.param("DeleteGoal", "Goal", lambda i: {"id": i}, id="DeleteGoal"),
    pytest.param(
        "LogGoalProgress", "Goal", lambda i: {"goalId": i, "value": 1.0}, id="LogGoalProgress"
    ),
    pytest.param(
        "CreateHabit",
        "Goal",
        lambda i: {"input": {"name": "Read", "goalId": i, "frequency": DAILY}},
        id="CreateHabit-goalId",
    ),
    pytest.param(
        "UpdateHabit", "Habit", lambda i: {"id": i, "input": {"name": "New"}}, id="UpdateHabit"
    ),
    pytest.param("DeleteHabit", "Habit", lambda i: {"id": i}, id="DeleteHabit"),
    pytest.param(
        "CheckInHabit",
        "Habit",
        lambda i: {"habitId": i, "date": "2026-03-28", "status": "DONE"},
        id="CheckInHabit",
    ),
    pytest.param(
        "CreateEvent", "Calendar", lambda i: _event(calendarId=i), id="CreateEvent-calendarId"
    ),
    pytest.param(
        "Events",
        "Calendar",
        lambda i: {"range": RANGE, "calendarIds": [i]},
        id="Events-calendarIds",
    ),
    *(
        pytest.param("GoalDetail", kind, lambda i: {"id": i, **MONTH}, id=f"node-{kind}")
        for kind in ("Goal", "Habit", "Calendar", "Event", "User")
    ),
]


@pytest.mark.parametrize("make_id", GARBAGE_IDS)
@pytest.mark.parametrize(("name", "kind", "build"), ID_OPERATIONS)
async def test_malformed_ids_are_refused(
    user: User, app_state: AppState, *, name: str, kind: str, build: Any, make_id: Any
) -> None:
    # given
    bad_id = make_id(kind)
    # when
    r = await refused(app_state, user, name, build(bad_id), repr(bad_id))
    # then
    assert "valid ID" in r.errors[0]["message"]


@pytest.mark.parametrize(
    ("name", "variables", "expected_kind"),
    [
        pytest.param(
            "UpdateGoal", {"id": HABIT, "input": {"title": "New"}}, "Goal", id="UpdateGoal-Habit"
        ),
        pytest.param("DeleteGoal", {"id": HABIT}, "Goal", id="DeleteGoal-Habit"),
        pytest.param(
            "LogGoalProgress", {"goalId": EVENT, "value": 1.0}, "Goal", id="LogGoalProgress-Event"
        ),
        pytest.param(
            "CreateHabit",
            {"input": {"name": "Read", "goalId": HABIT, "frequency": DAILY}},
            "Goal",
            id="CreateHabit-goalId-Habit",
        ),
        pytest.param(
            "UpdateHabit",
            {"id": HABIT, "input": {"goalId": CALENDAR}},
            "Goal",
            id="UpdateHabit-goalId-Calendar",
        ),
        pytest.param(
            "UpdateHabit", {"id": GOAL, "input": {"name": "New"}}, "Habit", id="UpdateHabit-Goal"
        ),
        pytest.param("DeleteHabit", {"id": GOAL}, "Habit", id="DeleteHabit-Goal"),
        pytest.param(
            "CheckInHabit",
            {"habitId": GOAL, "date": "2026-03-28", "status": "DONE"},
            "Habit",
            id="CheckInHabit-Goal",
        ),
        pytest.param("CreateEvent", _event(calendarId=EVENT), "Calendar", id="CreateEvent-Event"),
        pytest.param(
            "Events", {"range": RANGE, "calendarIds": [GOAL]}, "Calendar", id="Events-Goal"
        ),
    ],
)
async def test_ids_of_the_wrong_type_are_refused(
    user: User, app_state: AppState, name: str, variables: dict[str, Any], expected_kind: str
) -> None:
    # given
    mention = f"is not a {expected_kind} ID"
    # when
    r = await refused(app_state, user, name, variables, mention)
    # then
    assert r.body["data"] is None


# --- dates and date-times ------------------------------------------------------------

BAD_DATES = ["2026-02-30", "2026-13-01", "20260301", "2026-3-1", "29.03.2026", ""]

DATE_OPERATIONS = [
    pytest.param(
        "CheckInHabit", lambda d: {"habitId": HABIT, "date": d, "status": "DONE"}, id="CheckInHabit"
    ),
    pytest.param("CreateGoal", lambda d: _goal(targetDate=d), id="CreateGoal-targetDate"),
    pytest.param("UpdateGoal", lambda d: _update(targetDate=d), id="UpdateGoal-targetDate"),
    pytest.param(
        "GoalDetail", lambda d: {"id": GOAL, "from": d, "to": "2026-03-31"}, id="GoalDetail-from"
    ),
    pytest.param(
        "GoalDetail", lambda d: {"id": GOAL, "from": "2026-03-01", "to": d}, id="GoalDetail-to"
    ),
]


@pytest.mark.parametrize("bad_date", BAD_DATES)
@pytest.mark.parametrize(("name", "build"), DATE_OPERATIONS)
async def test_dates_that_do_not_exist_are_refused(
    user: User, app_state: AppState, name: str, build: Any, bad_date: str
) -> None:
    # given
    variables = build(bad_date)
    # when
    r = await refused(app_state, user, name, variables, f"'{bad_date}'")
    # then
    assert r.body["data"] is None


BAD_DATETIMES = [
    "2026-03-29T09:30:00",
    "2026-02-30T10:00:00Z",
    "2026-03-29",
    "2026-03-29 09:30:00Z",
    "2026-03-29T25:00:00Z",
    "2026-03-29T09:30:00+25:00",
    "1743240600",
]

DATETIME_OPERATIONS = [
    pytest.param("CreateEvent", lambda t: _event(start=t), id="CreateEvent-start"),
    pytest.param("CreateEvent", lambda t: _event(end=t), id="CreateEvent-end"),
    pytest.param("Events", lambda t: {"range": {**RANGE, "start": t}}, id="Events-start"),
    pytest.param("Events", lambda t: {"range": {**RANGE, "end": t}}, id="Events-end"),
    pytest.param("Dashboard", lambda t: {"range": {**RANGE, "start": t}}, id="Dashboard-start"),
    pytest.param(
        "BatchCreateEvents",
        lambda t: {"inputs": [_event()["input"], _event(end=t)["input"]]},
        id="BatchCreateEvents-end",
    ),
]


@pytest.mark.parametrize("bad_datetime", BAD_DATETIMES)
@pytest.mark.parametrize(("name", "build"), DATETIME_OPERATIONS)
async def test_date_times_without_offset_or_that_do_not_exist_are_refused(
    user: User, app_state: AppState, name: str, build: Any, bad_datetime: str
) -> None:
    # given
    variables = build(bad_datetime)
    # when
    r = await refused(app_state, user, name, variables, f"'{bad_datetime}'")
    # then
    assert r.body["data"] is None


@pytest.mark.parametrize(
    ("now", "zone", "day"),
    [
        pytest.param(NOW, "UTC", "2026-03-30", id="tomorrow"),
        pytest.param(NOW, "UTC", "2027-01-01", id="next-year"),
        pytest.param(
            datetime(2026, 3, 29, 5, tzinfo=UTC),
            "Pacific/Honolulu",
            "2026-03-29",
            id="utc-today-not-yet-local",
        ),
        pytest.param(
            datetime(2026, 3, 29, 23, tzinfo=UTC),
            "America/New_York",
            "2026-03-30",
            id="west-of-utc",
        ),
    ],
)
async def test_check_in_after_the_users_today_is_refused(
    user: User, app_state: AppState, clock: Any, *, now: datetime, zone: str, day: str
) -> None:
    # given
    await set_timezone(user.client, zone)
    clock(now)
    variables = {"habitId": HABIT, "date": day, "status": "DONE"}
    # when
    r = await refused(app_state, user, "CheckInHabit", variables, day)
    # then
    assert r.errors[0]["extensions"]["field"] == "date"


async def test_check_in_more_than_ten_years_back_is_refused(
    user: User, app_state: AppState
) -> None:
    # given
    variables = {"habitId": HABIT, "date": "2010-01-01", "status": "DONE"}
    # when
    r = await refused(app_state, user, "CheckInHabit", variables, "ten years")
    # then
    assert r.errors[0]["extensions"]["field"] == "date"


@pytest.mark.parametrize(
    ("from_", "to", "mention"),
    [
        pytest.param("2026-03-10", "2026-03-01", "before", id="backward"),
        pytest.param("2024-01-01", "2026-01-01", "366 days", id="too-long"),
    ],
)
async def test_check_in_window_is_checked(
    user: User, app_state: AppState, from_: str, to: str, mention: str
) -> None:
    # given
    variables = {"id": GOAL, "from": from_, "to": to}
    # when
    r = await refused(app_state, user, "GoalDetail", variables, mention)
    # then
    assert r.errors[0]["extensions"]["field"] == "from"


# --- goals: target -------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, -1, -0.5])
@pytest.mark.parametrize(("name", "build"), [("CreateGoal", _goal), ("UpdateGoal", _update)])
async def test_target_value_must_be_positive(
    user: User, app_state: AppState, name: str, build: Any, value: float
) -> None:
    # given
    variables = build(target={"value": value, "unit": "km"})
    # when
    r = await refused(app_state, user, name, variables, "target.value")
    # then
    assert r.errors[0]["extensions"]["field"] == "target.value"


@pytest.mark.parametrize(("name", "build"), [("CreateGoal", _goal), ("UpdateGoal", _update)])
async def test_target_unit_must_not_be_blank(
    user: User, app_state: AppState, name: str, build: Any
) -> None:
    # given
    variables = build(target={"value": 5, "unit": " "})
    # when
    r = await refused(app_state, user, name, variables, "target.unit")
    # then
    assert r.body["data"] is None


# --- events ----------------------------------------------------------------------------

BAD_SPANS = [
    pytest.param(
        {"start": "2026-03-30T10:00:00Z", "end": "2026-03-30T10:00:00Z"}, id="end-equals-start"
    ),
    pytest.param(
        {"start": "2026-03-30T10:00:00Z", "end": "2026-03-30T09:00:00Z"}, id="end-before-start"
    ),
    pytest.param(
        {"start": "2026-03-30T10:00:00+02:00", "end": "2026-03-30T09:00:00+01:00"},
        id="same-instant",
    ),
    pytest.param(
        {"start": "2026-03-30T00:00:00Z", "end": "2026-03-30T00:00:00Z", "allDay": True},
        id="all-day-empty",
    ),
    pytest.param(
        {"start": "2026-03-30T00:00:00Z", "end": "2026-03-29T00:00:00Z", "allDay": True},
        id="all-day-backward",
    ),
    pytest.param(
        {"start": "2026-03-30T10:00:00Z", "end": "2026-03-30T09:00:00Z", "allDay": True},
        id="all-day-end-before-start-same-day",
    ),
]


@pytest.mark.parametrize("span", BAD_SPANS)
async def test_event_end_must_be_after_start(
    user: User, app_state: AppState, span: dict[str, Any]
) -> None:
    # given
    variables = _event(**span)
    # when
    r = await refused(app_state, user, "CreateEvent", variables, "end must be after start")
    # then
    assert r.errors[0]["extensions"]["field"] == "end"


async def test_event_longer_than_366_days_is_refused(user: User, app_state: AppState) -> None:
    # given
    variables = _event(start="2026-01-01T00:00:00Z", end="2027-01-03T00:00:00Z")
    # when
    r = await refused(app_state, user, "CreateEvent", variables, "366 days")
    # then
    assert r.errors[0]["extensions"]["field"] == "end"


BAD_BATCH_ITEMS = [
    pytest.param({"end": "2026-03-30T08:00:00Z"}, "end", id="end-before-start"),
    pytest.param({"title": "  "}, "title", id="blank-title"),
    pytest.param({"title": LONG_TITLE}, "title", id="long-title"),
    pytest.param({"description": LONG_DESCRIPTION}, "description", id="long-description"),
    pytest.param({"calendarId": GOAL}, "calendarId", id="goal-id-as-calendar"),
    pytest.param({"calendarId": "garbage"}, "calendarId", id="garbage-calendar-id"),
]


@pytest.mark.parametrize(("bad", "field"), BAD_BATCH_ITEMS)
async def test_batch_with_a_bad_item_names_it_and_writes_nothing(
    user: User, app_state: AppState, bad: dict[str, Any], field: str
) -> None:
    # given
    items = [
        {
            **EVENT_INPUT,
            "title": f"Event {i}",
            "start": f"2026-03-2{i}T09:00:00Z",
            "end": f"2026-03-2{i}T10:00:00Z",
        }
        for i in range(5)
    ]
    items[3] = {**items[3], "start": "2026-03-30T09:00:00Z", "end": "2026-03-30T10:00:00Z", **bad}
    # when
    r = await refused(app_state, user, "BatchCreateEvents", {"inputs": items}, "inputs[3]")
    # then
    assert len(r.errors) == 1
    assert r.errors[0]["extensions"]["index"] == 3
    assert r.errors[0]["extensions"]["field"].startswith("inputs[3]")
    assert (
        field in r.errors[0]["message"]
        or repr(fill(items[3][field], user.ids)) in r.errors[0]["message"]
    )
    events = (await user.client.op("Events", {"range": RANGE})).data["events"]
    assert events["totalCount"] == 1  # the user's one event from before


@pytest.mark.parametrize(
    ("calendar", "field"),
    [
        pytest.param(
            {"provider": "GOOGLE", "externalId": "primary"}, "oauth", id="GOOGLE-no-oauth"
        ),
        pytest.param(
            {"provider": "GOOGLE", "oauth": {"accessToken": ""}},
            "oauth.accessToken",
            id="GOOGLE-empty",
        ),
        pytest.param(
            {"provider": "CALDAV", "username": "u", "password": "p"}, "url", id="CALDAV-no-url"
        ),
        pytest.param(
            {"provider": "CALDAV", "url": "https://dav.example.com/cal/", "username": "u"},
            "password",
            id="CALDAV-no-password",
        ),
        pytest.param(
            {
                "provider": "CALDAV",
                "url": "ftp://dav.example.com/",
                "username": "u",
                "password": "p",
            },
            "url",
            id="CALDAV-ftp",
        ),
        pytest.param({"provider": "ICS"}, "url", id="ICS-no-url"),
        pytest.param({"provider": "ICS", "url": "file:///etc/passwd"}, "url", id="ICS-file"),
        pytest.param({"provider": "ICS", "url": "not a url"}, "url", id="ICS-garbage"),
    ],
)
async def test_connecting_a_provider_needs_its_source(
    user: User, app_state: AppState, calendar: dict[str, Any], field: str
) -> None:
    # when
    r = await refused(app_state, user, "ConnectCalendar", {"input": calendar}, field)
    # then
    assert r.errors[0]["extensions"]["field"] == field


# --- enums and missing fields (variable coercion) ------------------------------------


@pytest.mark.parametrize(
    ("name", "variables", "mention"),
    [
        pytest.param("CreateGoal", _goal(priority="P0"), "P0", id="priority"),
        pytest.param("UpdateGoal", _update(status="DONE"), "DONE", id="goal-status"),
        pytest.param(
            "CreateHabit",
            {"input": {"name": "Read", "frequency": {"times": 1, "per": "YEAR"}}},
            "YEAR",
            id="period",
        ),
        pytest.param(
            "CheckInHabit",
            {"habitId": HABIT, "date": "2026-03-28", "status": "YES"},
            "YES",
            id="check-in-status",
        ),
        pytest.param(
            "ConnectCalendar", {"input": {"provider": "OUTLOOK"}}, "OUTLOOK", id="provider"
        ),
        pytest.param("Goals", {"orderBy": "TITLE"}, "TITLE", id="order"),
        pytest.param(
            "CreateGoal", {"input": {"description": "no title"}}, "title", id="missing-title"
        ),
        pytest.param(
            "CreateHabit", {"input": {"name": "Read"}}, "frequency", id="missing-frequency"
        ),
        pytest.param(
            "CreateHabit",
            {"input": {"name": "Read", "frequency": {"times": 1.5, "per": "DAY"}}},
            "1.5",
            id="times-float",
        ),
        pytest.param(
            "LogGoalProgress", {"goalId": GOAL, "value": "much"}, "much", id="value-string"
        ),
        pytest.param("Goals", {"first": "ten"}, "ten", id="first-string"),
    ],
)
async def test_values_that_do_not_coerce_are_refused(
    user: User, app_state: AppState, name: str, variables: dict[str, Any], mention: str
) -> None:
    # given
    expected_data = None
    # when
    r = await refused(app_state, user, name, variables, mention)
    # then
    assert r.body["data"] == expected_data


async def test_nonexistent_ids_are_not_found_not_bad_input(user: User, app_state: AppState) -> None:
    # given
    missing_goal = to_global_id("Goal", ObjectId())
    before = await stored(app_state, user.client)
    # when
    r = await user.client.op("UpdateGoal", {"id": missing_goal, "input": {"title": "New"}})
    # then
    assert r.codes == ["NOT_FOUND"]
    assert await stored(app_state, user.client) == before


# --- scheduling and recommendations ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "variables", "mention"),
    [
        pytest.param(
            "Recommendations",
            {"habitId": HABIT, "range": RANGE, "limit": 0},
            "limit",
            id="limit-0",
        ),
        pytest.param(
            "Recommendations",
            {"habitId": HABIT, "range": RANGE, "limit": 51},
            "limit",
            id="limit-51",
        ),
        pytest.param(
            "Recommendations",
            {
                "habitId": HABIT,
                "range": {"start": "2026-03-01T00:00:00Z", "end": "2026-04-02T00:00:00Z"},
            },
            "31 days",
            id="range-too-long",
        ),
        pytest.param(
            "Recommendations",
            {"habitId": HABIT, "range": {"start": RANGE["end"], "end": RANGE["start"]}},
            "end must be after start",
            id="range-backwards",
        ),
        pytest.param(
            "ScheduleHabit",
            {"habitId": HABIT, "start": "2026-03-29T11:00:00Z"},
            "past",
            id="schedule-in-the-past",
        ),
        pytest.param(
            "ScheduleHabit",
            {"habitId": HABIT, "start": "2026-03-30T09:00:00"},
            "offset",
            id="schedule-without-offset",
        ),
        pytest.param(
            "ScheduleHabit",
            {"habitId": HABIT, "start": "2026-03-30T09:00:00Z", "calendarId": "not-an-id"},
            "not-an-id",
            id="schedule-bad-calendar-id",
        ),
        pytest.param(
            "ScheduleHabit",
            {"habitId": GOAL, "start": "2026-03-30T09:00:00Z"},
            "Habit",
            id="schedule-a-goal",
        ),
        pytest.param(
            "RecommendationFeedback",
            {"habitId": HABIT, "start": "yesterday", "accepted": True},
            "yesterday",
            id="feedback-bad-start",
        ),
    ],
)
async def test_scheduling_inputs_are_checked(
    user: User, app_state: AppState, name: str, variables: dict[str, Any], mention: str
) -> None:
    await refused(app_state, user, name, variables, mention)


async def test_a_paused_habit_is_neither_recommended_nor_booked(
    user: User, app_state: AppState
) -> None:
    # given
    await user.client.op("UpdateHabit", {"id": user.ids[HABIT], "input": {"isActive": False}})
    # when / then
    await refused(
        app_state,
        user,
        "ScheduleHabit",
        {"habitId": HABIT, "start": "2026-03-30T09:00:00Z"},
        "paused",
    )
    await refused(app_state, user, "Recommendations", {"habitId": HABIT, "range": RANGE}, "paused")


async def test_booking_on_a_synced_calendar_is_refused(user: User, app_state: AppState) -> None:
    # given
    feed = {"provider": "ICS", "url": "https://example.com/cal.ics"}
    synced = (await user.client.op("ConnectCalendar", {"input": feed})).data["connectCalendar"]
    # when / then
    await refused(
        app_state,
        user,
        "ScheduleHabit",
        {"habitId": HABIT, "start": "2026-03-30T09:00:00Z", "calendarId": synced["id"]},
        "synced from ICS",
    )


async def test_booking_on_another_users_calendar_is_not_found(
    user: User, app_state: AppState, bob: Client
) -> None:
    # given
    theirs = await connect_local(bob)
    before = await stored(app_state, user.client)
    # when
    r = await user.client.op(
        "ScheduleHabit",
        {"habitId": user.ids[HABIT], "start": "2026-03-30T09:00:00Z", "calendarId": theirs["id"]},
    )
    # then
    assert r.codes == ["NOT_FOUND"]
    assert await stored(app_state, user.client) == before
