"""Browsers on other origins (CORS_ORIGINS): the preflight, the headers of every answer
(refusals included), and a real Apollo Client in Chromium on an allowed origin and on
one that is not."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from graphql_api.app import create_app
from graphql_api.embedded import free_port
from graphql_api.security.dev_tokens import mint_dev_token
from graphql_api.security.ratelimit import RateLimiter
from graphql_api.settings import Settings
from graphql_api.state import AppState
from tests.conftest import api_process, process_env
from tests.test_clients import node

APP = "https://app.example.test"
OTHER = "https://evil.example.test"
SENT = "authorization, content-type, apollo-require-preflight, idempotency-key, x-request-id"


@pytest.fixture
async def cors_api(settings: Settings, app_state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    """The API allowing APP (and only APP), over ASGI."""
    app = create_app(settings.model_copy(update={"cors_origins": [APP]}))
    app.state.app = app_state
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        yield client


def preflight(origin: str, method: str = "POST", headers: str = SENT) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


def vary(response: httpx.Response) -> set[str]:
    return {v.strip().lower() for v in response.headers.get("vary", "").split(",")}


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_a_preflight_from_an_allowed_origin_is_answered(
    cors_api: httpx.AsyncClient, method: str
) -> None:
    # when
    r = await cors_api.options("/graphql", headers=preflight(APP, method))
    # then: this origin (never *), our methods and headers, kept 10 minutes
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == APP
    assert {m.strip() for m in r.headers["access-control-allow-methods"].split(",")} == {
        "GET",
        "POST",
    }
    allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert set(SENT.split(", ")) <= allowed
    assert r.headers["access-control-max-age"] == "600"
    assert "access-control-allow-credentials" not in r.headers
    assert "origin" in vary(r)


@pytest.mark.parametrize(
    "refused",
    [
        preflight(OTHER),
        preflight(APP, method="DELETE"),
        preflight(APP, headers="authorization, x-something-else"),
    ],
)
async def test_a_preflight_outside_the_policy_gets_no_allow_origin(
    cors_api: httpx.AsyncClient, refused: dict[str, str]
) -> None:
    r = await cors_api.options("/graphql", headers=refused)
    assert r.status_code == 400
    assert r.headers.get("access-control-allow-origin") in {None, APP}
    if refused["Origin"] == OTHER:
        assert "access-control-allow-origin" not in r.headers


async def test_an_answer_to_an_allowed_origin_exposes_what_clients_read(
    cors_api: httpx.AsyncClient, settings: Settings
) -> None:
    # given
    token = mint_dev_token(settings, f"cors-{uuid.uuid4().hex[:8]}")
    # when
    r = await cors_api.post(
        "/graphql",
        json={"query": "{ me { id } }"},
        headers={"Origin": APP, "Authorization": f"Bearer {token}"},
    )
    other = await cors_api.post(
        "/graphql",
        json={"query": "{ me { id } }"},
        headers={"Origin": OTHER, "Authorization": f"Bearer {token}"},
    )
    # then
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == APP
    exposed = {h.strip().lower() for h in r.headers["access-control-expose-headers"].split(",")}
    assert exposed == {"x-request-id", "retry-after", "idempotent-replayed"}
    # the answer varies on the origin, as well as on what it varied on before
    assert {"origin", "accept", "authorization"} <= vary(r)
    assert "access-control-allow-origin" not in other.headers
    assert "origin" in vary(other)


async def test_refusals_carry_the_cors_headers_too(
    cors_api: httpx.AsyncClient, settings: Settings, app_state: AppState
) -> None:
    # given: a rate limit of one request, and a user who used it
    token = mint_dev_token(settings, f"cors-limited-{uuid.uuid4().hex[:8]}")
    query = {"query": "{ me { id } }"}
    bearer = {"Origin": APP, "Authorization": f"Bearer {token}"}
    saved = app_state.limiter
    app_state.limiter = RateLimiter(app_state.redis, settings.cache_prefix, per_s=0.01, burst=1)
    try:
        await cors_api.post("/graphql", json=query, headers=bearer)
        # when
        limited = await cors_api.post("/graphql", json=query, headers=bearer)
    finally:
        await app_state.limiter.aclose()
        app_state.limiter = saved
    unauthenticated = await cors_api.post(
        "/graphql", json=query, headers={"Origin": APP, "Authorization": "Bearer nope"}
    )
    too_large = await cors_api.post(
        "/graphql",
        content=b'{"query": "' + b" " * (settings.max_body_bytes + 1) + b'"}',
        headers={"Origin": APP, "Content-Type": "application/json"},
    )
    # then
    statuses = [r.status_code for r in (limited, unauthenticated, too_large)]
    assert statuses == [429, 401, 413]
    for refused in (limited, unauthenticated, too_large):
        assert refused.headers["access-control-allow-origin"] == APP
    assert limited.headers["retry-after"]


async def test_without_cors_origins_no_browser_elsewhere_may_call(http: httpx.AsyncClient) -> None:
    # when: the suite's app, CORS_ORIGINS unset
    r = await http.options("/graphql", headers=preflight(APP))
    answer = await http.post("/graphql", json={"query": "{ __typename }"}, headers={"Origin": APP})
    # then
    assert r.status_code == 405
    assert "access-control-allow-origin" not in r.headers
    assert "access-control-allow-origin" not in answer.headers


async def test_any_origin_is_star_without_credentials(
    settings: Settings, app_state: AppState
) -> None:
    app = create_app(settings.model_copy(update={"cors_origins": ["*"]}))
    app.state.app = app_state
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api.test"
    ) as api:
        r = await api.options("/graphql", headers=preflight(OTHER))
    assert r.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in r.headers


def test_cors_origins_read_as_browsers_send_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "https://App.example.test/, http://127.0.0.1:8080")
    assert Settings().cors_origins == ["https://app.example.test", "http://127.0.0.1:8080"]
    monkeypatch.setenv("CORS_ORIGINS", '["https://a.example:443", "http://[::1]:3000"]')
    assert Settings().cors_origins == ["https://a.example", "http://[::1]:3000"]


@pytest.mark.parametrize(
    ("given", "refusal"),
    [
        ({"cors_origins": ["*"], "cors_allow_credentials": True}, "never goes with"),
        ({"cors_origins": ["https://app.example.test/login"]}, "is not an origin"),
        ({"cors_origins": ["app.example.test"]}, "is not an origin"),
    ],
)
def test_a_cors_setting_that_would_never_work_or_be_unsafe_is_refused(
    given: dict[str, Any], refusal: str
) -> None:
    with pytest.raises(ValidationError, match=refusal):
        Settings(**given)


# ---- a real browser


@pytest.fixture(scope="module")
def frontend_ports() -> tuple[int, int]:
    """The ports of the frontend's two origins: the API allows the first."""
    return free_port(), free_port()


@pytest.fixture(scope="module")
def cors_server(
    settings: Settings,
    frontend_ports: tuple[int, int],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The API as a real process allowing the first origin, with a rate limit of two
    requests per user (and hardly a refill)."""
    env = process_env(
        settings,
        CORS_ORIGINS=f"http://127.0.0.1:{frontend_ports[0]}",
        RATE_LIMIT_PER_S="0.001",
        RATE_LIMIT_BURST="2",
        CACHE_PREFIX=f"cors-{uuid.uuid4().hex[:6]}:",
    )
    with api_process(env, tmp_path_factory.mktemp("cors") / "api.log") as url:
        yield url


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="Debian chromium not installed")
def test_apollo_client_in_chromium_on_another_origin(
    cors_server: str, frontend_ports: tuple[int, int], settings: Settings
) -> None:
    # given: a user, a writer and a rate-limited user for each of the page's origins
    def users(label: str) -> dict[str, str]:
        run = uuid.uuid4().hex[:8]
        return {
            role: mint_dev_token(settings, f"{label}-{role}-{run}", email=f"{role}@{label}.test")
            for role in ("user", "writer", "limited")
        }

    tokens = {"allowed": users("allowed"), "other": users("other")}
    # when: the same page, from the allowed origin and from the other one
    report = node(
        "cross_origin.mjs",
        f"{cors_server}/graphql",
        *(str(port) for port in frontend_ports),
        json.dumps(tokens),
    )
    allowed, other = report["allowed"], report["other"]
    # then: from the allowed origin, data, with the headers clients read
    assert allowed["offsite"] == []  # Apollo Client came from node_modules, not a CDN
    assert allowed["me"] == {"data": {"me": {"__typename": "User", "email": "user@allowed.test"}}}
    assert allowed["meHeaders"]["requestId"] == "cross-origin-1"
    written = {"updateProfile": {"__typename": "User", "displayName": "From another origin"}}
    assert allowed["firstWrite"] == allowed["secondWrite"] == {"data": written}
    assert [h["replayed"] for h in allowed["writeHeaders"]] == [None, "true"]
    # and its refusals are readable: status, the body's code, Retry-After
    assert allowed["badToken"]["error"]["status"] == 401
    assert allowed["badToken"]["error"]["codes"] == ["UNAUTHENTICATED"]
    assert [list(r) for r in allowed["limited"]] == [["data"], ["data"], ["error"]]
    limited = allowed["limited"][2]["error"]
    assert (limited["status"], limited["codes"]) == (429, ["RATE_LIMITED"])
    assert int(limited["retryAfter"]) > 0
    # from the other origin, every call fails as CORS failures do: nothing readable
    for scenario in ("me", "firstWrite", "badToken"):
        failed = other[scenario]["error"]
        assert (failed["status"], failed["codes"]) == (None, [])
        assert "Failed to fetch" in failed["message"]
    assert any("blocked by CORS policy" in line for line in other["consoleErrors"])
    assert not any("CORS" in line for line in allowed["consoleErrors"])
