"""Mongo operators in any argument are data, never operators: no raw dict reaches a filter."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.conftest import Client

CREATE = "mutation C($t: String!) { createGoal(input: {title: $t}) { id title } }"
LIST = "{ goals(first: 50) { totalCount edges { node { id title } } } }"

OPERATOR_STRINGS = [
    '{"$ne": null}',
    '{"$gt": ""}',
    "$where: function() { return true }",
    '{"$regex": ".*"}',
    "'; db.dropDatabase(); '",
]
OPERATOR_OBJECTS: list[Any] = [{"$ne": None}, {"$gt": ""}, {"$where": "1"}, ["$in", []]]


def global_id(kind: str, local: str) -> str:
    return base64.b64encode(f"{kind}:{local}".encode()).decode()


@pytest.mark.parametrize("text", OPERATOR_STRINGS)
async def test_operator_strings_are_stored_as_text(alice: Client, text: str) -> None:
    created = await alice.execute(CREATE, {"t": text})
    listed = await alice.execute(LIST)
    assert created.data["createGoal"]["title"] == text
    assert [e["node"]["title"] for e in listed.data["goals"]["edges"]] == [text]


@pytest.mark.parametrize("text", OPERATOR_STRINGS)
async def test_operator_strings_as_ids_find_nothing_of_anyone(
    alice: Client, bob: Client, text: str
) -> None:
    # given: Alice has a goal
    await alice.execute(CREATE, {"t": "Alice's goal"})
    # when: Bob sends operators where ids go, raw and inside a global id
    answers = []
    for given in (text, global_id("Goal", text)):
        answers.append(
            await bob.execute("query N($id: ID!) { node(id: $id) { id } }", {"id": given})
        )
        answers.append(await bob.op("DeleteGoal", {"id": given}))
        answers.append(await bob.op("UpdateGoal", {"id": given, "input": {"title": "pwned"}}))
    # then: nothing is found, nothing changes
    for answer in answers:
        assert answer.status == 200
        data = answer.body.get("data") or {}
        assert data.get("node") is None
        assert set(answer.codes) <= {"NOT_FOUND", "BAD_USER_INPUT"}
    mine = (await alice.execute(LIST)).data["goals"]
    assert [e["node"]["title"] for e in mine["edges"]] == ["Alice's goal"]


@pytest.mark.parametrize("value", OPERATOR_OBJECTS)
async def test_operator_objects_in_variables_are_refused_by_their_types(
    alice: Client, value: Any
) -> None:
    await alice.execute(CREATE, {"t": "Mine"})
    as_id = await alice.execute("query N($id: ID!) { node(id: $id) { id } }", {"id": value})
    as_title = await alice.execute(CREATE, {"t": value})
    as_page = await alice.execute(
        "query P($n: Int) { goals(first: $n) { totalCount } }", {"n": value}
    )
    for answer in (as_id, as_title, as_page):
        assert answer.codes == ["BAD_USER_INPUT"], json.dumps(answer.body)
    assert (await alice.execute(LIST)).data["goals"]["totalCount"] == 1
