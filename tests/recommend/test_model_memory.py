"""XGBoost is loaded with the first model a process serves, not at start-up: an API
process that ranks no slot does without its ~40 MB (and SciPy's)."""

from __future__ import annotations

from pathlib import Path

import httpx

from graphql_api.security.dev_tokens import mint_dev_token
from graphql_api.settings import Settings
from tests.conftest import operation, process_env, start_api, stop


def mapped(pid: int, library: str) -> bool:
    return library in Path(f"/proc/{pid}/maps").read_text()


def test_a_process_that_ranks_no_slot_never_loads_xgboost(
    settings: Settings, tmp_path: Path
) -> None:
    # given: the API as a process of its own, answering a Dashboard and a check-in
    proc, url = start_api(process_env(settings), tmp_path / "server.log")
    try:
        headers = {"Authorization": f"Bearer {mint_dev_token(settings, 'no-ranking-user')}"}
        week = {"start": "2026-03-16T00:00:00Z", "end": "2026-03-23T00:00:00Z"}
        body = {"query": operation("Dashboard"), "variables": {"range": week}}
        answer = httpx.post(f"{url}/graphql", json=body, headers=headers, timeout=30).json()
        assert answer["data"]["me"]["id"]
        # then: numpy is there (the heuristic's), XGBoost and SciPy are not
        assert mapped(proc.pid, "site-packages/numpy/")
        assert not mapped(proc.pid, "site-packages/xgboost/")
        assert not mapped(proc.pid, "site-packages/scipy/")
    finally:
        stop(proc)
