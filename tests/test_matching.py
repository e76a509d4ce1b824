"""`models.base.matching`: the same filter, with each plain value through `$eq`.

Every user-scoped read goes through it (loaders, check-ins, sync), so it must select
exactly what the bare filter selects, for any mix of plain values, operators, nulls
and missing fields of the scalar fields it is used on."""

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


@pytest.fixture(scope="module")
def collection(mongo_uri: str) -> Iterator[Collection[Any]]:
    client: MongoClient[Any] = MongoClient(mongo_uri)
    docs = client["test_matching"]["docs"]
    docs.drop()
    docs.create_index([("userId", 1), ("habitId", 1), ("date", 1)])
    rows: list[dict[str, Any]] = [
        {"userId": u, "habitId": h, "date": d, "status": "DONE" if (i + j) % 2 else "SKIPPED"}
        for i, u in enumerate(USERS)
        for j, h in enumerate(HABITS)
        for d in DAYS
        if (i + j + len(d)) % 3
    ]
    rows.append({"userId": "u2", "date": None})  # a null and a missing field
    docs.insert_many(rows)
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


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=filters)
def test_selects_what_the_bare_filter_selects(
    collection: Collection[Any], query: dict[str, Any]
) -> None:
    assert ids(collection, matching(query)) == ids(collection, query)


def test_plain_values_are_explicit_and_operators_are_kept() -> None:
    query = {"userId": "u1", "habitId": {"$in": ["h1"]}, "$or": [{"a": 1}], "date": None}
    assert matching(query) == {
        "userId": {"$eq": "u1"},
        "habitId": {"$in": ["h1"]},
        "$or": [{"a": 1}],
        "date": {"$eq": None},
    }
