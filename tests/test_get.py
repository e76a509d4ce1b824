"""A GET with its operation in the URL is answered as Strawberry's own view answers it.

GETs that ask for no stream and no IDE take the endpoint's own path (graphql_api.http:
`_plain_get`, as a JSON POST takes `_plain_post`), with their query strings' parameters
parsed once per distinct URL (`url_params`). These tests hold both to what they stand
in for: Starlette's parse, and Strawberry's `run`.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.datastructures import QueryParams

from graphql_api import http as endpoint
from graphql_api.http import GraphQLApp, url_params
from graphql_api.memo import Memo
from graphql_api.persisted.manifest import sha256
from tests.conftest import Client

ME = "query Mine { me { id email } }"
ECHO = "query Echo($first: Int) { goals(first: $first) { edges { node { id } } } }"

# Parameters a GET may carry, well formed or not.
QUERIES = st.sampled_from([ME, ECHO, "{ __typename }", "query {", "", "mutation { x }"])
JSON_OBJECTS = st.sampled_from(['{"first": 2}', "{}", "null", "[1]", '"x"', "{", "", "3"])
EXTENSIONS = st.sampled_from(
    [
        json.dumps({"persistedQuery": {"version": 1, "sha256Hash": sha256(ME)}}),
        json.dumps({"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}),
        "{}",
        "[]",
        "{",
    ]
)
ACCEPTS = st.sampled_from(
    [None, "application/json", "text/html", "*/*", "application/graphql-response+json"]
)


@st.composite
def gets(draw: st.DrawFn) -> tuple[list[tuple[str, str]], str | None]:
    """A GET's parameters (names may repeat) and its Accept header."""
    params: list[tuple[str, str]] = []
    for name, values in (
        ("query", QUERIES),
        ("variables", JSON_OBJECTS),
        ("extensions", EXTENSIONS),
        ("operationName", st.sampled_from(["Mine", "Echo", "Other", ""])),
    ):
        for _ in range(draw(st.integers(0, 2))):
            params.append((name, draw(values)))
    return draw(st.permutations(params)), draw(ACCEPTS)


async def send(client: Client, params: list[tuple[str, str]], accept: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {client.token}"}
    if accept is not None:
        headers["Accept"] = accept
    return await client.http.get(f"/graphql?{urlencode(params)}", headers=headers)


def shown(response: httpx.Response) -> tuple[Any, ...]:
    """What a client sees of an answer, less what differs between any two (its id)."""
    headers = {k: v for k, v in response.headers.items() if k != "x-request-id"}
    return response.status_code, headers, response.content


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(get=gets())
async def test_a_get_is_answered_as_strawberrys_view_answers_it(
    alice: Client, get: tuple[list[tuple[str, str]], str | None]
) -> None:
    # given: a GET, well formed or not, asking for an answer or for the IDE
    params, accept = get
    # when: it is sent as it is, and with every GET left to Strawberry's `run`
    ours = await send(alice, params, accept)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(GraphQLApp, "_plain_get", lambda _self, _request: None)
        strawberrys = await send(alice, params, accept)
    # then: the same status, headers and body
    assert shown(ours) == shown(strawberrys)


async def test_a_persisted_get_with_html_accepted_is_answered_not_the_ide(alice: Client) -> None:
    # given: a hash never registered, from a client that accepts anything (a browser's)
    unknown = {"persistedQuery": {"version": 1, "sha256Hash": sha256("{ never }")}}
    params = [("extensions", json.dumps(unknown))]
    # when
    r = await send(alice, params, "text/html,*/*")
    # then: a GraphQL answer (here, the hash is unknown), not the IDE's page
    assert r.headers["content-type"].startswith("application/")
    assert r.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


@given(
    pairs=st.lists(
        st.tuples(st.text(max_size=8), st.text(max_size=12)).map(lambda kv: kv), max_size=5
    ),
    raw=st.text(alphabet="ab=&%+2F0;x ", max_size=30),
)
def test_a_query_string_is_parsed_as_starlette_parses_it(
    pairs: list[tuple[str, str]], raw: str
) -> None:
    # given: query strings made by an encoder, and others typed by hand (stray % and =)
    for query_string in (urlencode(pairs), raw):
        encoded = query_string.encode("latin-1", "replace")
        # when
        params = url_params(encoded)
        # then: Starlette's parameters, the last value of each name (as Strawberry reads)
        assert params == dict(QueryParams(encoded))
        assert url_params(encoded) == params  # and the same when met again


def test_the_parsed_urls_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    # given: a memo of its own
    monkeypatch.setattr(endpoint, "_URL_PARAMS", Memo(endpoint.MEMO_URLS))
    long = urlencode({"variables": "x" * endpoint.MEMO_URL_BYTES}).encode()
    # when: more distinct URLs than it keeps, and one longer than it keeps
    for i in range(endpoint.MEMO_URLS + 50):
        url_params(f"query=q{i}".encode())
    assert url_params(long)["variables"] == "x" * endpoint.MEMO_URL_BYTES
    # then: it holds its bound, the most recent URLs, and not the long one
    kept = endpoint._URL_PARAMS
    assert len(kept) == endpoint.MEMO_URLS
    assert f"query=q{endpoint.MEMO_URLS + 49}".encode() in kept
    assert b"query=q0" not in kept
    assert long not in kept
