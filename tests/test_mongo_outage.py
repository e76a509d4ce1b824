"""The Mongo-wire server stopped under a running API: fast, masked 503s, then recovery."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from graphql_api.embedded import free_port, start_mongo
from graphql_api.security.dev_tokens import mint_dev_token
from graphql_api.settings import Settings
from tests.conftest import api_process, process_env, stop

CREATE = "mutation C($t: String!) { createGoal(input: {title: $t}) { id } }"
GOALS = "{ goals(first: 10) { totalCount edges { node { title } } } }"


def ask(url: str, token: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    started = time.monotonic()
    r = httpx.post(
        f"{url}/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    return r, time.monotonic() - started


def test_requests_fail_fast_while_mongo_is_down_and_recover_when_it_returns(
    settings: Settings, tmp_path: Path
) -> None:
    # given: an API on a Mongo-wire server of its own, with a goal written
    port = free_port()
    mongo, uri = start_mongo(tmp_path, port)
    env = process_env(settings, MONGODB_URI=uri, MONGODB_DB="outage", CACHE_ENABLED="false")
    token = mint_dev_token(settings, "outage-user")
    try:
        with api_process(env, tmp_path / "api.log") as url:
            r, _ = ask(url, token, CREATE, {"t": "Before"})
            assert r.status_code == 200, r.text
            # when: the database stops
            stop(mongo)
            down, took = ask(url, token, GOALS)
            write, write_took = ask(url, token, CREATE, {"t": "During"})
            ready = httpx.get(f"{url}/readyz", timeout=5)
            # then: quick, masked 503s, and not ready
            for answer, seconds in ((down, took), (write, write_took)):
                assert answer.status_code == 503, answer.text
                assert seconds < 2.5
                body = answer.json()
                assert body["data"] is None
                assert [e["extensions"]["code"] for e in body["errors"]] == ["SERVICE_UNAVAILABLE"]
                assert "requestId" in body["errors"][0]["extensions"]
                assert "27017" not in answer.text
                assert str(port) not in answer.text
                assert answer.headers["retry-after"] == "1"
            assert ready.status_code == 503
            assert ready.json()["mongo"] != "ok"
            # when: it comes back on the same port with the same data
            mongo, _ = start_mongo(tmp_path, port)
            back_at = time.monotonic()
            while True:
                r, _ = ask(url, token, GOALS)
                if r.status_code == 200 or time.monotonic() - back_at > 10:
                    break
                time.sleep(0.1)
            recovered = time.monotonic() - back_at
            # then: everything answers again within 5 s, and nothing written before is lost
            assert r.status_code == 200, r.text
            assert recovered < 5
            titles = [e["node"]["title"] for e in r.json()["data"]["goals"]["edges"]]
            assert titles == ["Before"]
            assert httpx.get(f"{url}/readyz", timeout=5).status_code == 200
    finally:
        stop(mongo)
