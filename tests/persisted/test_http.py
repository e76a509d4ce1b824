"""Persisted queries, GET, Cache-Control and gzip, as an HTTP client meets them."""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from graphql_api.lifespan import AppState
from graphql_api.persisted.manifest import PACKAGED, Manifest, build_manifest, render, sha256
from graphql_api.persisted.queries import Mode, PersistedQueries
from tests.conftest import OPERATIONS, Client, operation

ME = "query Mine { me { id email } }"


def apq(digest: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def post(client: Client, body: dict[str, Any]) -> httpx.Response:
    return await client.http.post(
        "/graphql", json=body, headers={"Authorization": f"Bearer {client.token}"}
    )


async def get(client: Client, params: dict[str, Any]) -> httpx.Response:
    encoded = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()}
    return await client.http.get(
        "/graphql", params=encoded, headers={"Authorization": f"Bearer {client.token}"}
    )


def codes(response: httpx.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json().get("errors", [])]


@pytest.fixture
def mode(app_state: AppState) -> Iterator[Any]:
    """Switch the server's PERSISTED_QUERIES mode for one test."""
    original = app_state.persisted

    def switch(new: Mode) -> None:
        app_state.persisted = PersistedQueries(
            new,
            original.manifest,
            redis=original.redis,
            prefix=original.prefix,
            ttl_s=original.ttl_s,
        )

    yield switch
    app_state.persisted = original


def test_the_shipped_manifest_is_built_from_the_operations() -> None:
    assert PACKAGED.read_text() == render(build_manifest(OPERATIONS))


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_apq_miss_register_hit(alice: Client, method: str) -> None:
    # given: a text the server has never seen
    text = f"{ME} # {method}"
    digest = sha256(text)
    send = post if method == "POST" else get
    # when: the hash alone
    miss = await send(alice, {"extensions": apq(digest)})
    # then: Apollo Client's cue to send the text
    assert miss.status_code == 200
    assert codes(miss) == ["PERSISTED_QUERY_NOT_FOUND"]
    # when: hash and text (Apollo registers with a POST)
    registered = await post(alice, {"query": text, "extensions": apq(digest)})
    assert registered.json()["data"]["me"]["email"] == "alice@example.com"
    # then: the hash alone now runs
    hit = await send(alice, {"extensions": apq(digest)})
    assert hit.json() == registered.json()


async def test_manifest_operations_run_by_id_over_get(alice: Client) -> None:
    manifest = Manifest.load(PACKAGED)
    me_id = next(i for i, body in manifest.by_id.items() if body == operation("Me"))
    r = await get(alice, {"operationName": "Me", "extensions": apq(me_id)})
    assert r.json()["data"]["me"]["email"] == "alice@example.com"
    assert r.headers["cache-control"] == "private, max-age=300"


async def test_a_text_that_does_not_match_its_hash_is_refused(alice: Client) -> None:
    r = await post(alice, {"query": ME, "extensions": apq(sha256("something else"))})
    assert codes(r) == ["BAD_USER_INPUT"]
    assert "does not match" in r.json()["errors"][0]["message"]


@pytest.mark.parametrize("bad", [{"version": 2, "sha256Hash": "0" * 64}, {"version": 1}, "x"])
async def test_a_malformed_persisted_query_is_refused(alice: Client, bad: Any) -> None:
    r = await post(alice, {"extensions": {"persistedQuery": bad}})
    assert codes(r) == ["BAD_USER_INPUT"]


async def test_get_never_runs_a_mutation(alice: Client, app_state: AppState) -> None:
    # given
    goals = app_state.mongo[app_state.settings.mongodb_db]["goals"]
    mutation = 'mutation { createGoal(input: {title: "via GET"}) { id } }'
    # when
    r = await get(alice, {"query": mutation})
    by_hash = await get(alice, {"extensions": apq(next(iter(Manifest.load(PACKAGED).by_id)))})
    # then
    assert r.status_code == 405
    assert by_hash.status_code == 405  # BatchCreateEvents, a mutation, by its id
    assert await goals.count_documents({"userId": alice.sub}) == 0


async def test_off_refuses_hashes_but_runs_texts(alice: Client, mode: Any) -> None:
    mode("off")
    assert codes(await post(alice, {"extensions": apq(sha256(ME))})) == [
        "PERSISTED_QUERY_NOT_SUPPORTED"
    ]
    assert (await post(alice, {"query": ME})).json()["data"]["me"]


async def test_safelist_runs_only_the_manifest(alice: Client, mode: Any) -> None:
    # given
    mode("safelist")
    me_text = operation("Me")
    # then: by id, and by the same text (however it is spaced)
    assert (await post(alice, {"extensions": apq(sha256(me_text))})).json()["data"]["me"]
    assert (await post(alice, {"query": me_text})).json()["data"]["me"]
    assert (await post(alice, {"query": " ".join(me_text.split())})).json()["data"]["me"]
    # and nothing else: another text, its registration, an unknown hash, introspection
    for body in (
        {"query": ME},
        {"query": ME, "extensions": apq(sha256(ME))},
        {"extensions": apq(sha256(ME))},
        {"query": "{ __schema { types { name } } }"},
    ):
        r = await post(alice, body)
        assert r.json().get("data") is None
        assert codes(r) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_log_unknown_runs_and_logs_other_operations(
    alice: Client, mode: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="graphql_api.persisted.queries")
    mode("log-unknown")
    r = await post(alice, {"query": ME})
    assert r.json()["data"]["me"]
    assert sha256(ME) in caplog.text


async def test_apq_works_without_redis(alice: Client, app_state: AppState) -> None:
    # given: the APQ store unreachable
    original = app_state.persisted.redis
    app_state.persisted.redis = None
    try:
        text = f"{ME} # no redis"
        # then: a miss, the client resends the text, and it runs
        assert codes(await post(alice, {"extensions": apq(sha256(text))})) == [
            "PERSISTED_QUERY_NOT_FOUND"
        ]
        r = await post(alice, {"query": text, "extensions": apq(sha256(text))})
        assert r.json()["data"]["me"]
    finally:
        app_state.persisted.redis = original


# --- Cache-Control -------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("{ me { id } }", "private, max-age=300"),
        ("{ me { id } goals { totalCount } }", "private, max-age=120"),
        ("{ goals { edges { node { progress } } } }", "private, max-age=60"),
        (
            "query { ...F } fragment F on Query { goals { edges { node { progress } } } }",
            "private, max-age=60",
        ),
        ("{ __schema { queryType { name } } }", "no-store"),
        ('mutation { createGoal(input: {title: "x"}) { id } }', "no-store"),
        ('{ node(id: "bad") { id } }', "no-store"),
    ],
)
async def test_cache_control_is_the_smallest_hint(alice: Client, query: str, expected: str) -> None:
    r = await post(alice, {"query": query})
    assert r.headers["cache-control"] == expected


async def test_unauthenticated_answers_are_not_stored(anonymous: Client) -> None:
    r = await anonymous.http.post("/graphql", json={"query": "{ me { id } }"})
    assert r.status_code == 401
    assert r.headers["cache-control"] == "no-store"


# --- gzip ------------------------------------------------------------------------


async def test_large_answers_are_gzipped_when_accepted(alice: Client) -> None:
    # given: an answer over 1 KB
    for i in range(15):
        await alice.op(
            "CreateGoal", {"input": {"title": f"goal number {i}", "description": "x" * 40}}
        )
    body = {"query": operation("Goals"), "variables": {}}
    headers = {"Authorization": f"Bearer {alice.token}", "Accept-Encoding": "gzip"}
    # when
    r = await alice.http.post("/graphql", json=body, headers=headers)
    plain = await alice.http.post(
        "/graphql", json=body, headers={**headers, "Accept-Encoding": "identity"}
    )
    # then
    assert r.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert r.json() == plain.json()  # httpx decodes; the bytes on the wire were smaller
    assert len(gzip.compress(plain.content, 6)) < len(plain.content)


async def test_small_answers_are_not_gzipped(alice: Client) -> None:
    r = await alice.http.post(
        "/graphql",
        json={"query": "{ me { id } }"},
        headers={"Authorization": f"Bearer {alice.token}", "Accept-Encoding": "gzip"},
    )
    assert "content-encoding" not in r.headers
