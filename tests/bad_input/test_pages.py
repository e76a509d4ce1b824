"""Bad page sizes and cursors are refused."""

from __future__ import annotations

from typing import Any

import pytest

from graphql_api.relay import encode_cursor
from graphql_api.state import AppState
from tests.bad_input.helpers import (
    RANGE,
    User,
    _b64,
    refused,
)

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
