"""schemathesis's GraphQL fuzzing against a running server, authenticated, bounded in time:
no 5xx and no INTERNAL error for any generated query or mutation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from graphql_api.security.dev_tokens import mint_dev_token
from graphql_api.settings import Settings
from tests.conftest import ROOT, api_process, process_env

schema = schemathesis.graphql.from_path(ROOT / "schema.graphql")


@pytest.fixture(scope="module")
def api(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    log: Path = tmp_path_factory.mktemp("fuzz") / "api.log"
    with api_process(process_env(settings), log) as url:
        yield url, mint_dev_token(settings, "fuzzer")


@schema.parametrize()
@settings(
    max_examples=12,  # valid and invalid ones: about 300 requests, half a minute
    deadline=None,
    derandomize=True,  # the same cases every run: CI stays reproducible
    suppress_health_check=list(HealthCheck),
)
def test_no_generated_operation_breaks_the_server(case: Any, api: tuple[str, str]) -> None:
    url, token = api
    # sent with httpx: schemathesis's own transport trips over this urllib3's pool type
    response = httpx.post(
        f"{url}/graphql",
        json={"query": case.body},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code < 500, (case.body, response.text[:500])
    body = response.json()
    codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]
    assert "INTERNAL" not in codes, (case.body, body)
    assert None not in codes, (case.body, body)
