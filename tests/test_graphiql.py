"""GraphiQL served from this server's own copy of its packages."""

from __future__ import annotations

import base64
import hashlib
import re

import httpx
from starlette.applications import Starlette

from graphql_api.app import create_app
from graphql_api.settings import Settings
from graphql_api.state import AppState

ASSET = re.compile(r'(?:src|href)="(/graphiql/[^"]+)"\s+integrity="sha384-([^"]+)"')


async def test_every_asset_is_local_and_matches_its_integrity_hash(http: httpx.AsyncClient) -> None:
    # given
    page = (await http.get("/graphql", headers={"Accept": "text/html"})).text
    assets = ASSET.findall(page)
    # then
    assert "unpkg.com" not in page
    assert len(assets) == 7
    for path, digest in assets:
        served = await http.get(path)
        assert served.status_code == 200, path
        assert base64.b64encode(hashlib.sha384(served.content).digest()).decode() == digest


async def test_the_development_page_prefills_a_working_token(http: httpx.AsyncClient) -> None:
    page = (await http.get("/graphql", headers={"Accept": "text/html"})).text
    [token] = re.findall(r"Bearer ([\w.-]+)", page)
    r = await http.post(
        "/graphql", json={"query": "{ me { email } }"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.json() == {"data": {"me": {"email": "dev@example.com"}}}


async def test_only_pinned_packages_are_served(http: httpx.AsyncClient) -> None:
    for path in (
        "/graphiql/graphiql@3.8.2/graphiql.min.js",
        "/graphiql/graphiql@3.8.3/../../package.json",
        "/graphiql/playwright-core@1.0.0/index.js",
        "/graphiql/graphiql@3.8.3/missing.js",
    ):
        assert (await http.get(path)).status_code == 404, path


async def production(settings: Settings, app_state: AppState, **overrides: object) -> Starlette:
    app = create_app(
        settings.model_copy(update={"env": "production", "jwt_secret": "s" * 40, **overrides})
    )
    app.state.app = app_state
    return app


async def test_production_has_no_graphiql_unless_configured(
    settings: Settings, app_state: AppState
) -> None:
    for enabled, expected in ((None, 404), (True, 200)):
        app = await production(settings, app_state, graphiql=enabled)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as http:
            page = await http.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == expected
        if enabled:
            assert "Bearer" not in page.text  # no development token in production
