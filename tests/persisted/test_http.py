"""Persisted queries, GET, Cache-Control and gzip, as an HTTP client meets them."""

from __future__ import annotations

import gzip
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from graphql_api.persisted.manifest import PACKAGED, Manifest, sha256
from graphql_api.persisted.queries import Mode, PersistedQueries
from graphql_api.state import AppState
from tests.conftest import Client, operation

ME = "query Mine { me { id email } }"
# Me as Apollo Client sends it: the packaged manifest's body, and its id.
APOLLO_ME = next(op for op in json.loads(PACKAGED.read_text())["operations"] if op["name"] == "Me")


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
    """Switch the server's PERSISTED_QUERIES mode for one test, with an APQ store of its own
    (kept across switches within the test)."""
    original = app_state.persisted
    prefix = f"{original.prefix}{uuid.uuid4().hex[:8]}:"

    def switch(new: Mode) -> None:
        app_state.persisted = PersistedQueries(
            new, original.manifest, redis=original.redis, prefix=prefix, ttl_s=original.ttl_s
        )

    yield switch
    app_state.persisted = original


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
    r = await get(alice, {"operationName": "Me", "extensions": apq(APOLLO_ME["id"])})
    assert r.json()["data"]["me"]["email"] == "alice@example.com"
    assert r.json()["data"]["me"]["__typename"] == "User"  # Apollo Client's body ran
    assert r.headers["cache-control"] == "private, max-age=300"


@pytest.mark.parametrize("kind", ["apq", "log-unknown", "safelist"])
async def test_both_kinds_of_hash_run_in_every_mode(alice: Client, mode: Any, kind: Mode) -> None:
    # given
    mode(kind)
    written = operation("Me")
    # then: the manifest's id (what a stock Apollo Client sends) runs at once
    by_id = await post(alice, {"extensions": apq(APOLLO_ME["id"])})
    assert by_id.json()["data"]["me"]["email"] == "alice@example.com"
    # and the hash of the document as written misses, registers with its text, then hits
    assert codes(await post(alice, {"extensions": apq(sha256(written))})) == [
        "PERSISTED_QUERY_NOT_FOUND"
    ]
    registered = await post(alice, {"query": written, "extensions": apq(sha256(written))})
    assert registered.json()["data"]["me"]["email"] == "alice@example.com"
    hit = await post(alice, {"extensions": apq(sha256(written))})
    assert hit.json() == registered.json()


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
    # then: by id, and by the same text, however it is spaced and `__typename`d
    assert (await post(alice, {"extensions": apq(APOLLO_ME["id"])})).json()["data"]["me"]
    for text in (me_text, " ".join(me_text.split()), APOLLO_ME["body"]):
        assert (await post(alice, {"query": text})).json()["data"]["me"]
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


async def test_safelist_refuses_what_apq_registered_before(alice: Client, mode: Any) -> None:
    # given: another text registered in `apq` mode, in the store safelist reads too
    mode("apq")
    assert (await post(alice, {"query": ME, "extensions": apq(sha256(ME))})).json()["data"]
    assert (await post(alice, {"extensions": apq(sha256(ME))})).json()["data"]
    # when
    mode("safelist")
    r = await post(alice, {"extensions": apq(sha256(ME))})
    # then
    assert r.json().get("data") is None
    assert codes(r) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_log_unknown_runs_and_logs_other_operations(
    alice: Client, mode: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    caplog.set_level(logging.INFO, logger="graphql_api.persisted.queries")
    mode("log-unknown")
    other = f"{ME} # registered"
    # when: the manifest's operations, as written and as Apollo Client sends them
    assert (await post(alice, {"query": operation("Me")})).json()["data"]["me"]
    assert (await post(alice, {"extensions": apq(APOLLO_ME["id"])})).json()["data"]["me"]
    # then: nothing logged
    assert "outside the manifest" not in caplog.text
    # when: others, by text, registered, then by hash alone
    assert (await post(alice, {"query": ME})).json()["data"]["me"]
    assert (await post(alice, {"query": other, "extensions": apq(sha256(other))})).json()["data"]
    assert sha256(ME) in caplog.text
    assert sha256(other) in caplog.text
    caplog.clear()
    assert (await post(alice, {"extensions": apq(sha256(other))})).json()["data"]
    # then: each one logged by its hash
    assert sha256(other) in caplog.text


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
