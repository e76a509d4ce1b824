"""Every list field has a size the cost limit counts, and the API keeps the sizes it
declares: random queries never answer more objects than their cost said."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from graphql import (
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    OperationDefinitionNode,
    Undefined,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    parse,
    validate,
)
from hypothesis import HealthCheck, given, settings, target
from hypothesis import strategies as st

from graphql_api.list_sizes import LIST_SIZES
from graphql_api.relay import ref_of
from graphql_api.schema import schema
from graphql_api.security.limits import ListSize, operation_cost
from models import CheckInEntry, CheckInYear, GoalProgress
from models.habit import year_documents
from tests.conftest import Client, Response
from tests.helpers import check_in, connect_local, create_event, create_goal, create_habit

SCHEMA = schema._schema
MAX_COST = 10_000


def undeclared_lists(sizes: dict[str, ListSize]) -> list[str]:
    """The list fields of the schema that `sizes` gives no size (directly, or as a
    connection's sized field)."""
    sized_by_parent = {
        f"{get_named_type(field.type).name}.{name}"
        for key, size in sizes.items()
        for field in [field_of(key)]
        for name in size.sized_fields
    }
    return sorted(
        f"{type_.name}.{name}"
        for type_ in SCHEMA.type_map.values()
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType)
        and not type_.name.startswith("__")
        for name, field in type_.fields.items()
        if is_list_type(get_nullable_type(field.type))
        and f"{type_.name}.{name}" not in sizes
        and f"{type_.name}.{name}" not in sized_by_parent
    )


def field_of(key: str) -> GraphQLField:
    type_name, name = key.split(".")
    type_ = SCHEMA.get_type(type_name)
    assert isinstance(type_, GraphQLObjectType | GraphQLInterfaceType), key
    assert name in type_.fields, key
    field: GraphQLField = type_.fields[name]
    return field


def test_every_list_field_of_the_schema_has_a_declared_size() -> None:
    # then: nothing is left out, and nothing declared is missing from the schema
    assert undeclared_lists(LIST_SIZES) == []
    for key, size in LIST_SIZES.items():
        field = field_of(key)
        for argument in (size.slicing, *(size.days or ()), size.per_item_of):
            assert argument is None or argument in field.args, (key, argument)
        target = get_named_type(field.type)
        for name in size.sized_fields:
            assert isinstance(target, GraphQLObjectType), key
            assert is_list_type(get_nullable_type(target.fields[name].type)), (key, name)
    # and a list that loses its size is caught
    without = {k: v for k, v in LIST_SIZES.items() if k not in ("Goal.habits", "Query.events")}
    assert undeclared_lists(without) == ["EventConnection.edges", "Goal.habits"]


# --- random queries over the schema ---------------------------------------------------


@dataclass(frozen=True)
class Sized:
    """One list's size in a generated query: a page variable, or a from/to pair."""

    variables: tuple[str, ...]
    largest: int  # the largest page, or the longest range in days


def field_text(
    draw: Any,
    parent: GraphQLNamedType,
    name: str,
    depth: int,
    sizes: list[Sized],
    literals: dict[str, str],
) -> str | None:
    assert isinstance(parent, GraphQLObjectType | GraphQLInterfaceType)
    field = parent.fields[name]
    declared = LIST_SIZES.get(f"{parent.name}.{name}")
    arguments = []
    for arg_name, argument in field.args.items():
        if declared and arg_name == declared.slicing:
            variable = f"n{len(sizes)}"
            largest = declared.bounds[1] if declared.bounds else 500
            sizes.append(Sized((variable,), largest))
            arguments.append(f"{arg_name}: ${variable}")
        elif declared and declared.days and arg_name == declared.days[0]:
            start, end = f"from{len(sizes)}", f"to{len(sizes)}"
            sizes.append(Sized((start, end), 366))
            arguments.append(f"{declared.days[0]}: ${start}, {declared.days[1]}: ${end}")
        elif declared and declared.days and arg_name == declared.days[1]:
            continue
        elif is_non_null_type(argument.type) and argument.default_value is Undefined:
            literal = literals.get(get_named_type(argument.type).name)
            if literal is None:
                return None
            arguments.append(f"{arg_name}: {literal}")
    inner = selection(draw, get_named_type(field.type), depth - 1, sizes, literals, declared)
    args = f"({', '.join(arguments)})" if arguments else ""
    return f"{name}{args} {{ {inner} }}"


def selection(
    draw: Any,
    type_: GraphQLNamedType,
    depth: int,
    sizes: list[Sized],
    literals: dict[str, str],
    declared: ListSize | None = None,
) -> str:
    assert isinstance(type_, GraphQLObjectType | GraphQLInterfaceType)
    fields = type_.fields
    leaves = [n for n, f in fields.items() if is_leaf_type(get_named_type(f.type)) and not f.args]
    parts = [draw(st.sampled_from(leaves))] if leaves else ["__typename"]
    composite = sorted(n for n, f in fields.items() if not is_leaf_type(get_named_type(f.type)))
    forced = list(declared.sized_fields) if declared else []  # a connection's edges
    chosen = []
    if depth and composite:
        chosen = draw(st.lists(st.sampled_from(composite), unique=True, max_size=3))
    for name in dict.fromkeys([*forced, *chosen]):
        text = field_text(draw, type_, name, max(depth, 1), sizes, literals)
        if text is not None:
            parts.append(text)
    if isinstance(type_, GraphQLInterfaceType) and depth:
        possible = sorted(SCHEMA.get_possible_types(type_), key=lambda t: t.name)
        implementation = draw(st.sampled_from(possible))
        inner = selection(draw, implementation, depth - 1, sizes, literals)
        parts.append(f"... on {implementation.name} {{ {inner} }}")
    return " ".join(parts)


@st.composite
def queries(draw: Any, literals: dict[str, str]) -> tuple[str, list[Sized]]:
    """A valid query of up to four nested levels of the schema's objects, every page
    and date range of it a variable."""
    sizes: list[Sized] = []
    query_type = SCHEMA.query_type
    assert query_type is not None
    roots = sorted(
        n for n, f in query_type.fields.items() if not is_leaf_type(get_named_type(f.type))
    )
    parts = []
    for name in draw(st.lists(st.sampled_from(roots), unique=True, min_size=1, max_size=2)):
        text = field_text(draw, query_type, name, 4, sizes, literals)
        if text is not None:
            parts.append(text)
    definitions = ", ".join(
        f"${v}: {'Int' if len(s.variables) == 1 else 'Date!'}" for s in sizes for v in s.variables
    )
    head = f"query Random({definitions})" if definitions else "query Random"
    return f"{head} {{ {' '.join(parts) or '__typename'} }}", sizes


def values(draw: Any, sizes: list[Sized], days: tuple[date, date], page: int) -> dict[str, Any]:
    """Variables for the sizes: pages of 1 to `page`, ranges inside `days`."""
    result: dict[str, Any] = {}
    for size in sizes:
        if len(size.variables) == 1:
            result[size.variables[0]] = draw(st.integers(1, min(page, size.largest)))
        else:
            first = draw(st.dates(days[0], days[1]))
            last = draw(st.dates(first, days[1]))
            result[size.variables[0]] = first.isoformat()
            result[size.variables[1]] = last.isoformat()
    return result


def cost(query: str, variables: dict[str, Any]) -> int:
    document = parse(query)
    (operation,) = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return operation_cost(SCHEMA, LIST_SIZES, operation, {}, variables)


FAKE = {
    "ID": '"R29hbDo2NWYwMDAwMDAwMDAwMDAwMDAwMDAwMDA"',
    "TimeRangeInput": '{start: "2026-03-16T00:00:00Z", end: "2026-03-23T00:00:00Z"}',
}


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_the_cost_grows_with_every_page_and_every_range(data: Any) -> None:
    # given: a random nesting of lists, each sized by a variable
    query, sizes = data.draw(queries(FAKE))
    assert validate(SCHEMA, parse(query)) == [], query
    base = values(data.draw, sizes, (date(2025, 1, 1), date(2025, 12, 31)), 500)
    before = cost(query, base)
    assert before >= 1
    for size in sizes:
        # when: one page or one range grows
        grown = dict(base)
        if len(size.variables) == 1:
            if base[size.variables[0]] == size.largest:
                continue
            grown[size.variables[0]] = data.draw(
                st.integers(base[size.variables[0]] + 1, size.largest)
            )
        else:
            last = date.fromisoformat(base[size.variables[1]])
            more = data.draw(st.integers(1, 60))
            grown[size.variables[1]] = (last + timedelta(days=more)).isoformat()
        # then: so does the cost (every item of a list counts at least 1)
        assert cost(query, grown) > before, (query, base, grown)


# --- the sizes hold against the API ----------------------------------------------------

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
async def seeded(alice: Client, clock: Any) -> dict[str, str]:
    """Alice with a full goal (10 habits), check-ins, progress, working hours, a
    calendar with events; the literals queries need (an ID, a range)."""
    clock(NOW)
    await create_goal(alice, title="Empty")
    full = await create_goal(alice, title="Full", target={"value": 10, "unit": "km"})
    habits = [await create_habit(alice, name=f"H{i}", goalId=full["id"]) for i in range(10)]
    # a check-in every day up to today: each range holds as many as it has days
    entries = [
        CheckInEntry(ref_of(h["id"], "Habit"), f"2026-03-{day:02d}", "DONE", None)
        for h in habits
        for day in range(1, 20)
    ]
    await CheckInYear.insert_many(year_documents(alice.sub, entries, NOW))
    for habit in habits:  # through the API: what was cached about the habit is retired
        await check_in(alice, habit["id"], "2026-03-20")
    for value in (1, 2, 3):
        await alice.op("LogGoalProgress", {"goalId": full["id"], "value": value})
    hours = [{"weekday": d, "start": "09:00", "end": "17:00"} for d in range(1, 6)]
    await alice.op("UpdateProfile", {"input": {"workingHours": hours}})
    calendar = await connect_local(alice)
    for day in range(16, 21):
        await create_event(
            alice, calendar["id"], f"2026-03-{day}T09:00:00Z", f"2026-03-{day}T10:00:00Z"
        )
    return {"ID": f'"{habits[0]["id"]}"', "TimeRangeInput": FAKE["TimeRangeInput"]}


def objects(value: Any) -> int:
    """How many objects an answer holds."""
    if isinstance(value, dict):
        return 1 + sum(objects(v) for v in value.values())
    if isinstance(value, list):
        return sum(objects(v) for v in value)
    return 0


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
async def test_an_answer_never_holds_more_objects_than_its_cost(
    alice: Client, seeded: dict[str, str], data: Any
) -> None:
    # given: a random query over alice's data, with pages and ranges that reach past it
    query, sizes = data.draw(queries(seeded))
    variables = values(data.draw, sizes, (date(2026, 2, 25), date(2026, 3, 20)), 4)
    expected = cost(query, variables)
    # when
    r: Response = await alice.execute(query, variables)
    # then
    assert "INTERNAL" not in r.codes, (query, r.body)
    if expected > MAX_COST:
        assert r.codes == ["QUERY_TOO_COMPLEX"]
        assert r.errors[0]["extensions"]["cost"] == expected
    else:
        assert "QUERY_TOO_COMPLEX" not in r.codes
        answered = objects(r.body.get("data")) - 1
        assert answered <= expected, (query, variables, r.body)
        target(answered / expected, label="share of the cost answered")  # seek tight ones


# --- the caps behind the sizes ----------------------------------------------------------


async def test_a_goal_holds_ten_habits_and_an_eleventh_is_refused(alice: Client) -> None:
    # given
    goal = await create_goal(alice, title="Fit")
    other = await create_goal(alice, title="Calm")
    habits = [await create_habit(alice, name=f"H{i}", goalId=goal["id"]) for i in range(10)]
    loose = await create_habit(alice, name="Loose")
    daily = {"times": 1, "per": "DAY"}
    # when: an eleventh, created there or moved there
    created = await alice.op(
        "CreateHabit", {"input": {"name": "Eleventh", "goalId": goal["id"], "frequency": daily}}
    )
    moved = await alice.op("UpdateHabit", {"id": loose["id"], "input": {"goalId": goal["id"]}})
    # then
    for refused in (created, moved):
        assert refused.codes == ["BAD_USER_INPUT"]
        assert refused.errors[0]["extensions"]["field"] == "goalId"
        assert "at most 10 habits" in refused.errors[0]["message"]
    listed = (await alice.op("Habits", {"first": 50})).data["habits"]
    assert listed["totalCount"] == 11
    assert [e["node"]["goal"] for e in listed["edges"]].count(None) == 1
    # and a habit of the full goal may still change, even naming its own goal
    same = await alice.op(
        "UpdateHabit", {"id": habits[0]["id"], "input": {"goalId": goal["id"], "name": "Run"}}
    )
    assert same.data["updateHabit"]["name"] == "Run"
    # and once one leaves, another may join
    await alice.op("UpdateHabit", {"id": habits[0]["id"], "input": {"goalId": other["id"]}})
    joined = await alice.op("UpdateHabit", {"id": loose["id"], "input": {"goalId": goal["id"]}})
    assert joined.errors == []


async def test_the_progress_log_shows_the_latest_500_entries_and_progress_counts_all(
    alice: Client,
) -> None:
    # given: 501 entries of 1 km logged, on a goal of 1000 km
    goal = await create_goal(alice, title="Ride", target={"value": 1000, "unit": "km"})
    start = datetime(2025, 1, 1, tzinfo=UTC)
    await GoalProgress.insert_many(
        [
            GoalProgress(
                user_id=alice.sub,
                goal_id=ref_of(goal["id"], "Goal"),
                at=start + timedelta(hours=i),
                value=1,
            )
            for i in range(501)
        ]
    )
    # when: the 502nd, through the API
    r = await alice.op("LogGoalProgress", {"goalId": goal["id"], "value": 1, "note": "last"})
    # then
    logged = r.data["logGoalProgress"]
    assert logged["progress"] == pytest.approx(0.502)
    assert len(logged["progressLog"]) == 500
    assert logged["progressLog"][0]["at"] == "2025-01-01T02:00:00Z"
    assert logged["progressLog"][-1]["note"] == "last"


async def test_working_hours_hold_fifty_windows_and_refuse_more(alice: Client) -> None:
    # given: 50 half-hour windows over the week
    windows = [
        {"weekday": i % 7 + 1, "start": f"{i // 7:02d}:00", "end": f"{i // 7:02d}:30"}
        for i in range(51)
    ]
    # when
    kept = await alice.op("UpdateProfile", {"input": {"workingHours": windows[:50]}})
    refused = await alice.op("UpdateProfile", {"input": {"workingHours": windows}})
    # then
    assert len(kept.data["updateProfile"]["workingHours"]) == 50
    assert refused.codes == ["BAD_USER_INPUT"]
    assert refused.errors[0]["extensions"]["field"] == "workingHours"
    assert len((await alice.op("Me")).data["me"]["workingHours"]) == 50
