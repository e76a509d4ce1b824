from __future__ import annotations

import time

import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError
from redis.asyncio import Redis

from graphql_api.settings import DEFAULT_JWT_SECRET, Settings
from graphql_api.state import AppState
from tests.conftest import Client


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(env="production", mongodb_uri="mongodb://db", redis_url="redis://cache")


def test_production_refuses_a_short_secret_and_the_embedded_backends() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(env="production", jwt_secret="short")
    message = str(refused.value)
    assert "JWT_SECRET" in message
    assert "MONGODB_URI" in message
    assert "REDIS_URL" in message
    assert "CREDENTIALS_KEY" in message


def test_production_starts_with_a_public_key_and_real_backends() -> None:
    settings = Settings(
        env="production",
        jwt_public_key="-----BEGIN PUBLIC KEY-----...",
        mongodb_uri="mongodb://db",
        redis_url="redis://cache",
        credentials_key=Fernet.generate_key().decode(),
    )
    assert settings.jwt_algorithm == "RS256"
    assert settings.graphiql_enabled is False
    assert settings.private_calendar_urls_allowed is False


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    monkeypatch.setenv("PORT", "4000")
    monkeypatch.setenv("MONGO_MAX_POOL_SIZE", "50")
    monkeypatch.setenv("MONGODB_DB", "other")
    # when
    settings = Settings()
    # then
    assert (settings.port, settings.mongo_max_pool_size, settings.mongodb_db) == (4000, 50, "other")
    assert settings.mongo_min_pool_size == 2
    assert settings.mongo_server_selection_timeout_ms == 1500
    assert settings.jwt_secret == DEFAULT_JWT_SECRET


async def test_healthz_and_readyz_answer_when_backends_do(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "mongo": "ok", "redis": "ok"}


async def test_readyz_is_unready_within_a_second_when_redis_is_gone(
    http: httpx.AsyncClient, app_state: AppState
) -> None:
    # given: Redis replaced by a port where nothing listens
    working = app_state.redis
    app_state.redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=5)
    try:
        # when
        started = time.monotonic()
        r = await http.get("/readyz")
        elapsed = time.monotonic() - started
    finally:
        await app_state.redis.aclose()
        app_state.redis = working
    # then
    assert r.status_code == 503
    assert r.json()["status"] == "unready"
    assert r.json()["mongo"] == "ok"
    assert r.json()["redis"] != "ok"
    assert elapsed < 3  # bounded by the 1 s readiness timeout, not the 5 s connect timeout


async def test_metrics_count_mongo_commands(http: httpx.AsyncClient, alice: Client) -> None:
    await alice.op("Me")
    r = await http.get("/metrics")
    assert r.status_code == 200
    assert 'mongo_commands_total{command="find"}' in r.text
