"""Outlook sync as it runs in production: an API process, worker processes, a local Graph."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from graphql_api.relay import ref_of
from graphql_api.security.dev_tokens import mint_dev_token
from graphql_api.settings import Settings
from models import Event, SyncRun
from tests.conftest import BIN, api_process, operation, process_env, stop
from tests.fakes.microsoft_graph import FakeGraph, Series
from tests.fakes.serve import serving

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = date.today() + timedelta(days=7 - date.today().weekday())


@pytest.fixture(scope="module")
def graph() -> Iterator[tuple[FakeGraph, str]]:
    fake = FakeGraph()
    with serving(fake.app) as url:
        yield fake, url


@pytest.fixture(scope="module")
def env(settings: Settings, graph: tuple[FakeGraph, str]) -> dict[str, str]:
    _, url = graph
    return process_env(
        settings,
        MICROSOFT_GRAPH_URL=f"{url}/v1.0",
        MICROSOFT_TOKEN_URL=f"{url}/token",
        SYNC_HEARTBEAT_S="3",
        SYNC_PAGE_SIZE="3",
        SYNC_RETRIES="3",
    )


@pytest.fixture(scope="module")
def api(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with api_process(env, tmp_path_factory.mktemp("api") / "api.log") as url:
        yield url


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("a") as out:
        return subprocess.Popen(
            [str(BIN / "scheduling-worker"), "worker"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def connect(api: str, token: str, oauth: dict[str, Any]) -> str:
    body = httpx.post(
        f"{api}/graphql",
        json={
            "query": operation("ConnectCalendar"),
            "variables": {"input": {"provider": "OUTLOOK", "externalId": "slow", "oauth": oauth}},
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()
    assert not body.get("errors"), body
    return ref_of(body["data"]["connectCalendar"]["id"], "Calendar")


async def test_a_worker_killed_mid_sync_leaves_no_half_state(
    api: str,
    graph: tuple[FakeGraph, str],
    settings: Settings,
    env: dict[str, str],
    tmp_path: Path,
    app_state: Any,
) -> None:
    # given: a slow Graph with 24 single events and a daily series of 7 (11 pages of 3)
    fake, _ = graph
    fake.delay_s = 0.3
    for i in range(24):
        begins = datetime.combine(MONDAY + timedelta(days=i % 7), datetime.min.time(), BERLIN)
        begins = begins.replace(hour=7 + i % 12)
        fake.put(f"slow {i}", begins, begins.replace(minute=30), calendar_id="slow")
    first_day = datetime.combine(MONDAY, datetime.min.time(), BERLIN).replace(hour=6)
    fake.put(
        "daily",
        first_day,
        first_day + timedelta(minutes=15),
        zone="W. Europe Standard Time",
        calendar_id="slow",
        series=Series("daily", count=7),
    )
    token = mint_dev_token(settings, "outlook-killed-worker")
    first = start_worker(env, tmp_path / "first.log")
    try:
        calendar_id = await asyncio.to_thread(connect, api, token, fake.grant())

        async def running() -> SyncRun | None:
            run = await SyncRun.find_one({"calendarId": calendar_id})
            return run if run and run.status == "RUNNING" and run.processed >= 3 else None

        deadline = time.monotonic() + 30
        while (run := await running()) is None:
            assert time.monotonic() < deadline, "the sync never got going"
            await asyncio.sleep(0.1)
        # when: the worker dies mid-run, without a chance to clean up
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    finally:
        stop(first)
    fake.delay_s = 0.0
    second = start_worker(env, tmp_path / "second.log")
    try:
        deadline = time.monotonic() + 60
        while True:
            done = await SyncRun.get(run.id)
            assert done is not None
            if done.status in ("SUCCEEDED", "FAILED"):
                break
            assert time.monotonic() < deadline, f"the run was not carried out again: {done}"
            await asyncio.sleep(0.2)
    finally:
        stop(second)
    # then: run again to the end, and our copy is Outlook's calendar, each event once
    assert done.status == "SUCCEEDED"
    assert done.attempts >= 2
    stored = await Event.find({"calendarId": calendar_id}).to_list()
    assert Counter((e.external_id, e.instance) for e in stored).most_common(1)[0][1] == 1
    singles = sorted(e.title for e in stored if not e.instance and not e.recurrence)
    assert singles == sorted(f"slow {i}" for i in range(24))
    assert len([e for e in stored if e.title == "daily"]) == 1 + 7  # the series, its instances
