"""Fixtures of the cache's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from starlette.applications import Starlette

from graphql_api.app import create_app
from graphql_api.settings import Settings
from graphql_api.state import AppState


@pytest.fixture
async def uncached(app_state: AppState, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A second server on the same database, with its field cache switched off."""
    app: Starlette = create_app(settings)
    # Same database, same clock (whatever the test sets), no field cache.
    app.state.app = replace(
        app_state,
        cache=app_state.cache.disabled(),
        clock=lambda: app_state.clock(),  # noqa: PLW0108 - read at call time: tests set it later
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://uncached"
    ) as client:
        yield client
