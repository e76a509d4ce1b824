"""Real clients where users use them: Apollo Client (APQ) and GraphiQL in Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from graphql_api.security.tokens import mint_dev_token
from graphql_api.settings import Settings
from tests.conftest import ROOT

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
