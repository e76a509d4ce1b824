"""Idempotency-Key: a retried mutation answers as the first time and writes nothing again."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from tests.conftest import Client

CREATE = "mutation C($t: String!) { createGoal(input: {title: $t}) { id title } }"
COUNT = "{ goals(first: 100) { totalCount } }"


async def create(http: httpx.AsyncClient, client: Client, title: str, key: str) -> httpx.Response:
    return await http.post(
        "/graphql",
        json={"query": CREATE, "variables": {"t": title}},
        headers={"Authorization": f"Bearer {client.token}", "Idempotency-Key": key},
    )


async def goals(client: Client) -> Any:
    return (await client.execute(COUNT)).data["goals"]["totalCount"]


async def test_a_retry_returns_the_first_answer_and_writes_nothing(
    http: httpx.AsyncClient, alice: Client
) -> None:
    # given
    key = str(uuid.uuid4())
    first = await create(http, alice, "Run", key)
    # when
    retry = await create(http, alice, "Run", key)
    # then
    assert retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await goals(alice) == 1


async def test_the_same_key_with_another_body_is_refused(
    http: httpx.AsyncClient, alice: Client
) -> None:
    key = str(uuid.uuid4())
    await create(http, alice, "Run", key)
    other = await create(http, alice, "Swim", key)
    assert other.status_code == 422
    assert [e["extensions"]["code"] for e in other.json()["errors"]] == ["IDEMPOTENCY_KEY_REUSED"]
    assert await goals(alice) == 1


async def test_simultaneous_retries_run_once(http: httpx.AsyncClient, alice: Client) -> None:
    key = str(uuid.uuid4())
    answers = await asyncio.gather(*(create(http, alice, "Row", key) for _ in range(5)))
    ids = {r.json()["data"]["createGoal"]["id"] for r in answers}
    assert [r.status_code for r in answers] == [200] * 5
    assert len(ids) == 1
    assert await goals(alice) == 1


async def test_a_refused_mutation_is_not_remembered(http: httpx.AsyncClient, alice: Client) -> None:
    key = str(uuid.uuid4())
    blank = await create(http, alice, " ", key)
    again = await create(http, alice, " ", key)
    assert [e["extensions"]["code"] for e in blank.json()["errors"]] == ["BAD_USER_INPUT"]
    assert "idempotent-replayed" not in again.headers
    assert [e["extensions"]["code"] for e in again.json()["errors"]] == ["BAD_USER_INPUT"]
    assert await goals(alice) == 0


async def test_keys_are_per_user(http: httpx.AsyncClient, alice: Client, bob: Client) -> None:
    key = str(uuid.uuid4())
    mine = await create(http, alice, "Read", key)
    theirs = await create(http, bob, "Read", key)
    assert mine.json()["data"]["createGoal"]["id"] != theirs.json()["data"]["createGoal"]["id"]
    assert (await goals(alice), await goals(bob)) == (1, 1)


async def test_an_unusable_key_is_a_bad_request(http: httpx.AsyncClient, alice: Client) -> None:
    r = await create(http, alice, "Read", "x" * 300)
    assert r.status_code == 400
    assert [e["extensions"]["code"] for e in r.json()["errors"]] == ["BAD_REQUEST"]
    assert await goals(alice) == 0


async def test_a_query_answered_from_the_cache_with_a_key_is_replayed_as_sent(
    http: httpx.AsyncClient, alice: Client
) -> None:
    # given: a query whose answer the server keeps whole (the second one is a hit)
    await goals(alice)
    headers = {"Authorization": f"Bearer {alice.token}"}
    plain = await http.post("/graphql", json={"query": COUNT}, headers=headers)
    # when: the same query, sent twice with a key
    keyed = {**headers, "Idempotency-Key": str(uuid.uuid4())}
    first = await http.post("/graphql", json={"query": COUNT}, headers=keyed)
    retry = await http.post("/graphql", json={"query": COUNT}, headers=keyed)
    # then: the same bytes every time, the retry replayed
    assert plain.content == first.content == retry.content
    assert first.json() == {"data": {"goals": {"totalCount": 0}}}
    assert retry.headers["idempotent-replayed"] == "true"
