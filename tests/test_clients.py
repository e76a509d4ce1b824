"""Real clients where users use them: Apollo Client (APQ, the persisted-query manifest in
`safelist` mode) and GraphiQL in Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from graphql_api.persisted.manifest import PACKAGED
from graphql_api.security.dev_tokens import mint_dev_token
from graphql_api.settings import Settings
from tests.conftest import OPERATIONS, ROOT, api_process, process_env

JS = ROOT / "tests" / "js"
ARTIFACTS = ROOT / "tests" / "artifacts"


def node(script: str, *args: str) -> Any:
    if not (ROOT / "node_modules" / "@apollo" / "client").is_dir():
        pytest.fail("node_modules is missing: run `npm ci` (make test does)")
    done = subprocess.run(
        [shutil.which("node") or "node", str(JS / script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("method", ["get", "post"])
def test_apollo_client_misses_registers_then_hits(
    live_server: str, settings: Settings, method: str
) -> None:
    # given: a user only this test uses, so the operation is new to the server
    token = mint_dev_token(settings, f"apollo-{method}", email=f"apollo-{method}@example.com")
    # when
    name = f"ApolloMe_{method}_{uuid.uuid4().hex[:8]}"
    report = node("apollo_apq.mjs", f"{live_server}/graphql", token, method, name)
    # then: the hash alone misses, hash and text register (POST), data comes back
    first = report["first"]["requests"]
    assert [(r["method"], r["withHash"], r["withText"]) for r in first] == [
        (method.upper(), True, False),
        ("POST", True, True),
    ]
    assert report["first"]["data"]["me"]["email"] == f"apollo-{method}@example.com"
    # and a fresh client hits with the hash alone
    second = report["second"]["requests"]
    assert [(r["method"], r["withHash"], r["withText"]) for r in second] == [
        (method.upper(), True, False)
    ]
    assert report["second"]["data"] == report["first"]["data"]


@pytest.fixture(scope="module")
def safelist_server(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API as a real process that runs only the manifest's operations (its own prefix:
    the sync runs it queues are in a queue no worker of the suite reads)."""
    env = process_env(settings, PERSISTED_QUERIES="safelist", CACHE_PREFIX="safelist:")
    with api_process(env, tmp_path_factory.mktemp("safelist") / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def apollo_in_safelist(safelist_server: str, settings: Settings) -> Any:
    """What tests/js/apollo_safelist.mjs saw: a user's day with every operation of
    operations/, by a stock Apollo Client with the ids of the generated manifest; then an
    app that hashes at run time, and operations that are not in the manifest."""
    token = mint_dev_token(settings, f"apollo-safelist-{uuid.uuid4().hex[:8]}")
    return node(
        "apollo_safelist.mjs", f"{safelist_server}/graphql", token, str(PACKAGED), str(OPERATIONS)
    )


def test_apollo_client_runs_every_operation_by_manifest_id_in_safelist_mode(
    apollo_in_safelist: Any,
) -> None:
    report = apollo_in_safelist
    # then: each one answered with data and no error
    ran = report["ran"]
    names = {p.stem for p in OPERATIONS.glob("*.graphql")}
    assert {name: ran[name]["codes"] for name in names} == {name: [] for name in names}
    assert all(ran[name]["data"] for name in names)
    assert ran["SyncStatus"]["data"]["syncStatus"]["status"] == "QUEUED"
    assert ran["SyncCalendar"]["data"]["syncCalendar"]["status"] == "QUEUED"
    # each sent as its manifest id alone, queries by GET (the subscriptions over the WebSocket)
    ids = report["manifestIds"]
    app = report["app"]
    assert app["mismatches"] == []  # the verification link found every body the manifest's
    assert ran["PlanUpdates"]["data"]["planUpdates"]["reason"] == "TASK_CHANGED"
    assert {r["operation"] for r in app["wire"]} == names - {"SyncStatus", "PlanUpdates"}
    for request in app["wire"]:
        assert request["hash"] == ids[request["operation"]]
        assert not request["withText"]
    methods = {r["operation"]: r["method"] for r in app["wire"]}
    assert (methods["Dashboard"], methods["CreateGoal"]) == ("GET", "POST")


def test_apollo_client_outside_the_manifest_is_refused_in_safelist_mode(
    apollo_in_safelist: Any,
) -> None:
    report = apollo_in_safelist
    # then: an app that hashes at run time sends the manifest's id for Me, which runs
    ran, wire = report["ran"], report["other"]["wire"]
    me = [r for r in wire if r["operation"] == "Me"]
    assert [(r["hash"], r["withText"]) for r in me] == [(report["manifestIds"]["Me"], False)]
    assert ran["Me (hashed at run time)"]["data"]["me"]["id"]
    # and an operation not in the manifest is refused, by hash and then with its text
    unlisted = [(r["method"], r["withText"]) for r in wire if r["operation"] == "Unlisted"]
    assert unlisted == [("GET", False), ("POST", True)]
    assert ran["Unlisted"] == {"data": None, "codes": ["PERSISTED_QUERY_NOT_FOUND"]}
    # and over the WebSocket too
    assert ran["UnlistedSubscription"] == {"data": None, "codes": ["PERSISTED_QUERY_NOT_FOUND"]}


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="Debian chromium not installed")
def test_graphiql_runs_offline_in_chromium(live_server: str) -> None:
    # given
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "graphiql.png"
    # when
    report = node("graphiql.mjs", f"{live_server}/graphql", str(screenshot))
    # then
    assert report["offsite"] == []  # every asset came from this server
    assert "Authorization" in report["headers"]
    assert "dev@example.com" in report["result"]
    assert screenshot.stat().st_size > 10_000
