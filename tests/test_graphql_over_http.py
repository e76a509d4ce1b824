"""GraphQL over HTTP as the spec (and graphql-http's audit of it) expects: media types,
status codes, methods, and the caching headers of every answer."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from bson import ObjectId

from graphql_api.app import create_app
from graphql_api.relay import to_global_id
from graphql_api.security.dev_tokens import mint_dev_token
from graphql_api.settings import Settings
from graphql_api.state import AppState
from tests.conftest import Client, operation
from tests.test_clients import node

GRAPHQL_RESPONSE = "application/graphql-response+json"

REQUEST_ERRORS = [
    pytest.param({"query": "{ me { id "}, "GRAPHQL_PARSE_FAILED", id="parse"),
    pytest.param({"query": "{ me { nope } }"}, "GRAPHQL_VALIDATION_FAILED", id="validation"),
    pytest.param(
        {
            "query": "query Goals($first: Int!) { goals(first: $first) { totalCount } }",
            "variables": {"first": "many"},
        },
        "BAD_USER_INPUT",
        id="variable-coercion",
    ),
]


async def post(
    client: Client, body: dict[str, Any], accept: str | None = None, **headers: str
) -> httpx.Response:
    if accept is not None:
        headers["Accept"] = accept
    if client.token:
        headers["Authorization"] = f"Bearer {client.token}"
    return await client.http.post("/graphql", json=body, headers=headers)


def codes(response: httpx.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json().get("errors", [])]


def test_the_graphql_http_audit_passes_every_check(live_server: str, settings: Settings) -> None:
    # given
    token = mint_dev_token(settings, "graphql-http-audit")
    # when: graphql-http's own audit of the GraphQL over HTTP spec, from npm
    results = node("graphql_http_audit.mjs", f"{live_server}/graphql", token)
    # then
    assert [r for r in results if r["status"] != "ok"] == []
    assert len(results) == 61


@pytest.mark.parametrize(("body", "code"), REQUEST_ERRORS)
async def test_a_request_error_in_graphql_response_json_is_400_without_data(
    alice: Client, body: dict[str, Any], code: str
) -> None:
    # when
    r = await post(alice, body, accept=GRAPHQL_RESPONSE)
    # then
    assert r.status_code == 400
    assert r.headers["content-type"] == GRAPHQL_RESPONSE
    assert "data" not in r.json()
    assert codes(r) == [code]
    assert r.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(("body", "code"), REQUEST_ERRORS)
@pytest.mark.parametrize("accept", ["application/json", "*/*", None])
async def test_application_json_answers_are_unchanged(
    alice: Client, body: dict[str, Any], code: str, accept: str | None
) -> None:
    r = await post(alice, body, accept=accept)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json()["data"] is None
    assert codes(r) == [code]


async def test_a_field_error_keeps_its_data_and_200_in_graphql_response_json(
    alice: Client,
) -> None:
    # given: a habit that does not exist; `recommendations` is a non-null list
    habit = to_global_id("Habit", ObjectId())
    query = (
        "query Slots($habit: ID!) { recommendations(habitId: $habit, range: "
        '{start: "2026-03-02T00:00:00Z", end: "2026-03-03T00:00:00Z"}) { rankedBy } }'
    )
    # when
    r = await post(alice, {"query": query, "variables": {"habit": habit}}, GRAPHQL_RESPONSE)
    # then: execution started, so the answer has `data` (null here) and is a 200
    assert r.status_code == 200
    assert r.json()["data"] is None
    assert codes(r) == ["NOT_FOUND"]


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", GRAPHQL_RESPONSE),  # Apollo Client 4
        (f"application/json, {GRAPHQL_RESPONSE}", "application/json"),  # listed first
        (f"{GRAPHQL_RESPONSE};q=0.5, application/json", "application/json"),
        ("application/*", "application/json"),
        ("*/*", "application/json"),
        ("text/html", "application/json"),
        (None, "application/json"),
    ],
)
async def test_the_answer_is_in_the_media_type_the_client_prefers(
    alice: Client, accept: str | None, expected: str
) -> None:
    r = await post(alice, {"query": "{ me { id } }"}, accept=accept)
    assert r.status_code == 200
    assert r.headers["content-type"] == expected
    assert r.json()["data"]["me"]["id"]


async def test_a_refusal_keeps_its_own_status_in_graphql_response_json(
    anonymous: Client,
) -> None:
    r = await post(anonymous, {"query": "{ me { id } }"}, accept=GRAPHQL_RESPONSE)
    assert r.status_code == 401
    assert "data" not in r.json()
    assert codes(r) == ["UNAUTHENTICATED"]


async def test_a_bad_request_body_is_answered_in_the_media_type_asked_for(
    alice: Client,
) -> None:
    r = await alice.http.post(
        "/graphql",
        content=b"{not json",
        headers={
            "Authorization": f"Bearer {alice.token}",
            "Content-Type": "application/json",
            "Accept": GRAPHQL_RESPONSE,
        },
    )
    assert r.status_code == 400
    assert r.headers["content-type"] == GRAPHQL_RESPONSE
    assert codes(r) == ["BAD_REQUEST"]
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-request-id"]


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
async def test_a_mutation_over_get_is_405_and_writes_nothing(alice: Client, accept: str) -> None:
    # given
    mutation = 'mutation { createGoal(input: {title: "via GET"}) { id } }'
    headers = {"Authorization": f"Bearer {alice.token}", "Accept": accept}
    # when
    r = await alice.http.get("/graphql", params={"query": mutation}, headers=headers)
    # then
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"
    assert codes(r) == ["METHOD_NOT_ALLOWED"]
    assert r.headers["cache-control"] == "no-store"
    goals = await alice.execute("{ goals { totalCount } }")
    assert goals.data["goals"]["totalCount"] == 0


async def test_cacheable_answers_vary_on_the_token(alice: Client, bob: Client) -> None:
    # given: the same URL for two users of one browser
    params = {"query": operation("Me"), "operationName": "Me"}
    # when
    mine, theirs = [
        await c.http.get("/graphql", params=params, headers={"Authorization": f"Bearer {c.token}"})
        for c in (alice, bob)
    ]
    # then: a cache that honours Vary keeps them apart
    assert mine.json() != theirs.json()
    for r in (mine, theirs):
        assert r.headers["cache-control"].startswith("private, max-age=")
        assert {"Authorization", "Accept"} <= vary(r)


async def test_compressed_answers_also_vary_on_accept_encoding(alice: Client) -> None:
    # given: an answer over 1 KB
    for i in range(15):
        await alice.op("CreateGoal", {"input": {"title": f"goal {i}", "description": "x" * 40}})
    # when
    r = await alice.http.get(
        "/graphql",
        params={"query": operation("Goals")},
        headers={"Authorization": f"Bearer {alice.token}", "Accept-Encoding": "gzip"},
    )
    # then
    assert r.headers["content-encoding"] == "gzip"
    assert {"Authorization", "Accept", "Accept-Encoding"} <= vary(r)


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_parse_error_is_never_stored(alice: Client, method: str) -> None:
    body = {"query": "{ me { id "}
    headers = {"Authorization": f"Bearer {alice.token}"}
    if method == "GET":
        r = await alice.http.get("/graphql", params=body, headers=headers)
    else:
        r = await alice.http.post("/graphql", json=body, headers=headers)
    assert codes(r) == ["GRAPHQL_PARSE_FAILED"]
    assert r.headers["cache-control"] == "no-store"
    assert {"Authorization", "Accept"} <= vary(r)


def vary(response: httpx.Response) -> set[str]:
    return {name.strip() for name in response.headers.get("vary", "").split(",")}


@pytest.mark.parametrize(("accept", "status"), [("application/json", 200), (GRAPHQL_RESPONSE, 504)])
async def test_a_timeout_without_data_has_a_status_in_graphql_response_json(
    settings: Settings, app_state: AppState, alice: Client, accept: str, status: int
) -> None:
    # given: a server whose operations all run out of time
    app = create_app(settings.model_copy(update={"execution_timeout_s": 0.000001}))
    app.state.app = app_state
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        # when
        r = await http.post(
            "/graphql",
            json={"query": "{ goals(first: 5) { totalCount } me { id } }"},
            headers={"Authorization": f"Bearer {alice.token}", "Accept": accept},
        )
    # then
    assert r.status_code == status
    assert codes(r) == ["TIMEOUT"]
