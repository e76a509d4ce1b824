"""`models.base.matching`: the same filter, with each plain value through `$eq`.

Every user-scoped read goes through it (loaders, check-ins, sync), so it must select
exactly what the bare filter selects, for any mix of plain values, operators, nulls
and missing fields of the scalar fields it is used on. On the embedded server the
bare filter is itself not always MongoDB's answer: a bare null beside an `$in` of two
values can miss a document MongoDB selects (`{"habitId": None, "date": None, "userId":
{"$in": ["u2", "2026-03-28"]}}` misses `{"userId": "u2", "date": None}`), which the
`$eq` form finds. So what `matching` selects there must be what the bare filter
selects there, or what MongoDB selects by its documented semantics (`selected`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo import MongoClient
from pymongo.collection import Collection

from models.base import matching

USERS = ["u1", "u2", "u3"]
HABITS = ["h1", "h2", "h3", "h4"]
DAYS = ["2026-03-28", "2026-03-29", "2026-03-30"]


ROWS: list[dict[str, Any]] = [
    {"userId": u, "habitId": h, "date": d, "status": "DONE" if (i + j) % 2 else "SKIPPED"}
    for i, u in enumerate(USERS)
    for j, h in enumerate(HABITS)
    for d in DAYS
    if (i + j + len(d)) % 3
]
ROWS.append({"userId": "u2", "date": None})  # a null and a missing field


@pytest.fixture(scope="module")
def collection(mongo_uri: str) -> Iterator[Collection[Any]]:
    client: MongoClient[Any] = MongoClient(mongo_uri)
    docs = client["test_matching"]["docs"]
    docs.drop()
    docs.create_index([("userId", 1), ("habitId", 1), ("date", 1)])
    docs.insert_many([dict(row) for row in ROWS])
    yield docs
    client.drop_database("test_matching")
    client.close()


conditions = st.one_of(
    st.sampled_from([*USERS, *HABITS, *DAYS, "zz"]),
    st.none(),
    st.lists(st.sampled_from(USERS + HABITS + DAYS), min_size=1, max_size=3).map(
        lambda values: {"$in": values}
    ),
    st.sampled_from(DAYS).map(lambda day: {"$gte": day}),
    st.sampled_from(["", "DONE"]).map(lambda value: {"$ne": value}),
)
filters = st.dictionaries(
    st.sampled_from(["userId", "habitId", "date", "status"]), conditions, max_size=4
)


def ids(collection: Collection[Any], query: dict[str, Any]) -> set[str]:
    return {str(row["_id"]) for row in collection.find(query, {"_id": 1})}


def _matches(row: dict[str, Any], field: str, condition: Any) -> bool:
    """MongoDB's match of one scalar field: a null matches null or missing; `$gte`
    compares strings with strings only; `$ne` matches a missing field too."""
    value = row.get(field)
    if isinstance(condition, dict):
        ((operator, operand),) = condition.items()
        if operator == "$in":
            return bool(value in operand)
        if operator == "$gte":
            return isinstance(value, str) and value >= operand
        if operator == "$ne":
            return bool(value != operand)
        raise AssertionError(operator)
    return bool(value == condition)  # a missing field reads as None


def selected(collection: Collection[Any], query: dict[str, Any]) -> set[str]:
    """The ids of the rows MongoDB selects for `query`, the bare filter."""
    return {
        str(row["_id"])
        for row in collection.find({})
        if all(_matches(row, f, c) for f, c in query.items())
    }


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=filters)
def test_selects_what_the_bare_filter_selects(
    collection: Collection[Any], query: dict[str, Any]
) -> None:
    got = ids(collection, matching(query))
    assert got in (ids(collection, query), selected(collection, query)), query


def test_plain_values_are_explicit_and_operators_are_kept() -> None:
    query = {"userId": "u1", "habitId": {"$in": ["h1"]}, "$or": [{"a": 1}], "date": None}
    assert matching(query) == {
        "userId": {"$eq": "u1"},
        "habitId": {"$in": ["h1"]},
        "$or": [{"a": 1}],
        "date": {"$eq": None},
    }
