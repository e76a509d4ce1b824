"""Sync as it runs in production: an API process, a worker process, real clients."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import httpx
import pytest
import websockets
from gql import Client as GqlClient
from gql import GraphQLRequest, gql
from gql.transport.websockets import WebsocketsTransport
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis
from websockets.typing import Subprotocol

from graphql_api.embedded import free_port
from graphql_api.relay import ref_of
from graphql_api.security.dev_tokens import mint_dev_token
from graphql_api.settings import Settings
from graphql_api.sync.status import channel
from models import Event, SyncRun
from tests.conftest import BIN, ROOT, api_process, operation, process_env, stop
from tests.fakes.google_calendar import FakeGoogle
from tests.fakes.serve import serving

BERLIN = ZoneInfo("Europe/Berlin")
WEEK = {"start": "2026-03-23T00:00:00Z", "end": "2026-04-06T00:00:00Z"}


@pytest.fixture(scope="module")
def google() -> Iterator[tuple[FakeGoogle, str]]:
    fake = FakeGoogle()
    fake.calendar("primary")
    with serving(fake.app) as url:
        yield fake, url


@pytest.fixture(scope="module")
def env(settings: Settings, google: tuple[FakeGoogle, str]) -> dict[str, str]:
    _, url = google
    return process_env(
        settings,
        GOOGLE_API_URL=f"{url}/calendar/v3",
        GOOGLE_TOKEN_URL=f"{url}/token",
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


@pytest.fixture
def worker(env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    proc = start_worker(env, tmp_path / "worker.log")
    yield proc
    stop(proc)


def graphql(api: str, token: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    r = httpx.post(
        f"{api}/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    body = r.json()
    assert not body.get("errors"), body
    return body["data"]


def connect_google(api: str, token: str, fake: FakeGoogle) -> dict[str, Any]:
    data = graphql(
        api,
        token,
        operation("ConnectCalendar"),
        {"input": {"provider": "GOOGLE", "timezone": "Europe/Berlin", "oauth": fake.grant()}},
    )
    calendar: dict[str, Any] = data["connectCalendar"]
    return calendar


def seed(fake: FakeGoogle, prefix: str, count: int) -> None:
    for i in range(count):
        day = 23 + i % 14
        begins = datetime(2026, 3, day, 8 + i % 9, tzinfo=BERLIN)
        fake.put(f"{prefix} {i}", begins, begins.replace(minute=45), zone="Europe/Berlin")


async def subscribe_until_done(
    api: str, token: str, protocol: str, started: asyncio.Event
) -> list[dict[str, Any]]:
    transport = WebsocketsTransport(
        url=api.replace("http", "ws") + "/graphql",
        init_payload={"Authorization": f"Bearer {token}"},
        subprotocols=[protocol],
    )
    seen: list[dict[str, Any]] = []
    async with GqlClient(transport=transport) as session:
        subscription = session.subscribe(gql(operation("SyncStatus")))
        iterator = aiter(subscription)
        await asyncio.sleep(0.5)  # the subscription is in place on the server
        started.set()
        async for result in iterator:
            seen.append(result["syncStatus"])
            if result["syncStatus"]["status"] in ("SUCCEEDED", "FAILED"):
                break
    return seen


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_sync_status_reaches_a_subscriber_of_another_process(
    api: str, google: tuple[FakeGoogle, str], settings: Settings, worker: Any, protocol: str
) -> None:
    # given
    fake, _ = google
    seed(fake, f"gql-{protocol}", 7)
    token = mint_dev_token(settings, f"sub-{protocol}")
    started = asyncio.Event()
    # when: subscribed, then the calendar is connected (which queues its first sync)
    watching = asyncio.create_task(subscribe_until_done(api, token, protocol, started))
    await asyncio.wait_for(started.wait(), 20)
    calendar = await asyncio.to_thread(connect_google, api, token, fake)
    events = await asyncio.wait_for(watching, 60)
    # then: QUEUED, RUNNING with counts, SUCCEEDED, all for that calendar's run
    statuses = [e["status"] for e in events]
    assert statuses[0] == "QUEUED"
    assert "RUNNING" in statuses
    assert statuses[-1] == "SUCCEEDED"
    assert {e["calendarId"] for e in events} == {calendar["id"]}
    assert len({e["runId"] for e in events}) == 1
    running = [e for e in events if e["status"] == "RUNNING"]
    assert [e["processed"] for e in running] == sorted(e["processed"] for e in running)
    assert events[-1]["processed"] >= 7
    listed = graphql(api, token, operation("Events"), {"range": WEEK, "first": 100})
    assert listed["events"]["totalCount"] >= 7


async def subscribe_into(
    api: str,
    token: str,
    variables: dict[str, Any],
    heard: asyncio.Queue[dict[str, Any]],
    started: asyncio.Event,
) -> None:
    """A gql subscriber to SyncStatus, putting what it hears into `heard` until cancelled."""
    transport = WebsocketsTransport(
        url=api.replace("http", "ws") + "/graphql",
        init_payload={"Authorization": f"Bearer {token}"},
    )
    async with GqlClient(transport=transport) as session:
        request = GraphQLRequest(operation("SyncStatus"), variable_values=variables)
        iterator = aiter(session.subscribe(request))
        await asyncio.sleep(0.5)  # the subscription is in place on the server
        started.set()
        async for result in iterator:
            await heard.put(result["syncStatus"])


async def one_run(heard: asyncio.Queue[dict[str, Any]]) -> list[dict[str, Any]]:
    """The updates heard until a run ends."""
    updates: list[dict[str, Any]] = []
    while not updates or updates[-1]["status"] not in ("SUCCEEDED", "FAILED"):
        updates.append(await asyncio.wait_for(heard.get(), 60))
    return updates


def steps(updates: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(u["status"], u["processed"]) for u in updates]


async def test_a_subscriber_hears_each_step_of_a_sync_once(
    api: str,
    google: tuple[FakeGoogle, str],
    settings: Settings,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    # given: 7 events (pages of 3) on a calendar connected while no worker runs,
    # and a subscriber to that calendar's syncs
    fake, _ = google
    for i in range(7):
        begins = datetime(2026, 3, 23 + i, 9, tzinfo=BERLIN)
        fake.put(f"step {i}", begins, begins.replace(hour=10), calendar_id="steps")
    token = mint_dev_token(settings, "steps-user")
    connect = {"provider": "GOOGLE", "externalId": "steps", "oauth": fake.grant()}
    data = await asyncio.to_thread(
        graphql, api, token, operation("ConnectCalendar"), {"input": connect}
    )
    calendar_id = data["connectCalendar"]["id"]
    heard: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    started = asyncio.Event()
    subscriber = asyncio.create_task(
        subscribe_into(api, token, {"calendarId": calendar_id}, heard, started)
    )
    await asyncio.wait_for(started.wait(), 20)
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        # when: the worker carries out the full sync, then an incremental one that
        # finds nothing new
        full = await one_run(heard)
        await asyncio.to_thread(
            graphql, api, token, operation("SyncCalendar"), {"calendarId": calendar_id}
        )
        quiet = await one_run(heard)
    finally:
        stop(worker)
        subscriber.cancel()
    # then: one update per page, and the final counts once, with SUCCEEDED
    assert steps(full) == [
        ("RUNNING", 0),
        ("RUNNING", 3),
        ("RUNNING", 6),
        ("RUNNING", 7),
        ("SUCCEEDED", 7),
    ]
    assert full[-1]["created"] == 7
    # an empty page changes no count: nothing to say until the run ends
    assert steps(quiet) == [("QUEUED", 0), ("RUNNING", 0), ("SUCCEEDED", 0)]
    assert {u["calendarId"] for u in full + quiet} == {calendar_id}
    assert len({u["runId"] for u in quiet}) == 1


def test_the_graphql_ws_npm_client_follows_a_sync(
    api: str, google: tuple[FakeGoogle, str], settings: Settings, worker: Any
) -> None:
    # given
    fake, _ = google
    token = mint_dev_token(settings, "npm-graphql-ws")
    script = ROOT / "tests" / "js" / "sync_status.mjs"
    url = api.replace("http", "ws") + "/graphql"
    with subprocess.Popen(
        ["node", str(script), url, token, operation("SyncStatus")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    ) as node:
        assert node.stdout is not None
        try:
            assert node.stdout.readline().strip() == "ready"
            # when
            connect_google(api, token, fake)
            lines = [node.stdout.readline().strip() for _ in range(100)]
        finally:
            stop(node)
    # then
    events = [json.loads(line) for line in lines[: lines.index("done")]]
    assert events[0]["status"] == "QUEUED"
    assert events[-1]["status"] == "SUCCEEDED"


def test_apollo_clients_http_link_follows_a_sync_over_multipart(
    api: str,
    google: tuple[FakeGoogle, str],
    settings: Settings,
    worker: Any,
    request: pytest.FixtureRequest,
) -> None:
    # given: Apollo Client subscribed over plain HTTP (its HttpLink, the multipart protocol)
    fake, _ = google
    user = "npm-apollo-multipart"
    token = mint_dev_token(settings, user)
    topic = channel(settings.cache_prefix, user)
    redis = Redis.from_url(str(settings.redis_url))
    request.addfinalizer(redis.close)
    script = ROOT / "tests" / "js" / "sync_status_http.mjs"

    def listening() -> int:
        found = cast("list[tuple[bytes, int]]", redis.pubsub_numsub(topic))
        return dict(found).get(topic.encode(), 0)

    with subprocess.Popen(
        ["node", str(script), f"{api}/graphql", token, operation("SyncStatus")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    ) as node:
        try:
            deadline = time.monotonic() + 30
            while listening() == 0:  # the subscription is in place on the server
                assert node.poll() is None, node.communicate()
                assert time.monotonic() < deadline, "the subscription never started"
                time.sleep(0.05)
            # when
            calendar = connect_google(api, token, fake)
            out, err = node.communicate(timeout=60)
        finally:
            stop(node)
    # then: QUEUED, RUNNING with counts, SUCCEEDED, as Apollo Client delivered them
    lines = out.splitlines()
    assert lines[-1] == "done", (out, err)
    events = [json.loads(line) for line in lines[:-1]]
    assert events[0]["status"] == "QUEUED"
    assert "RUNNING" in [e["status"] for e in events]
    assert events[-1]["status"] == "SUCCEEDED"
    assert {e["calendarId"] for e in events} == {calendar["id"]}
    # and the client's unsubscribe ended the subscription on the server
    deadline = time.monotonic() + 30
    while listening() != 0:
        assert time.monotonic() < deadline, "the subscription outlived its client"
        time.sleep(0.05)


async def test_a_bad_token_in_connection_init_closes_with_4403(api: str) -> None:

    url = api.replace("http", "ws") + "/graphql"
    init = {"type": "connection_init", "payload": {"Authorization": "Bearer nope"}}
    protocols = [Subprotocol("graphql-transport-ws")]
    async with websockets.connect(url, subprotocols=protocols) as ws:
        await ws.send(json.dumps(init))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


async def test_a_worker_killed_mid_sync_leaves_no_half_state(
    api: str,
    google: tuple[FakeGoogle, str],
    settings: Settings,
    env: dict[str, str],
    tmp_path: Path,
    app_state: Any,
) -> None:
    # given: a slow Google with 30 events (10 pages of 3)
    fake, _ = google
    seed(fake, "kill", 0)
    token = mint_dev_token(settings, "killed-worker")
    first = start_worker(env, tmp_path / "first.log")
    try:
        fake.delay_s = 0.3
        for i in range(30):
            begins = datetime(2026, 3, 23 + i % 7, 7 + i % 12, tzinfo=BERLIN)
            fake.put(
                f"slow {i}",
                begins,
                begins.replace(minute=30),
                zone="Europe/Berlin",
                calendar_id="slow",
            )
        # a calendar of its own on the fake Google
        data = graphql(
            api,
            token,
            operation("ConnectCalendar"),
            {"input": {"provider": "GOOGLE", "externalId": "slow", "oauth": fake.grant()}},
        )
        calendar_id = ref_of(data["connectCalendar"]["id"], "Calendar")

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
    # then: run again to the end, and our copy is Google's calendar, each event once
    assert done.status == "SUCCEEDED"
    assert done.attempts >= 2
    stored = await Event.find({"calendarId": calendar_id}).to_list()
    assert sorted(e.title for e in stored) == sorted(f"slow {i}" for i in range(30))


def scrape(url: str) -> dict[str, float]:
    """`name{labels}` -> value, for every sample a /metrics page shows."""
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(httpx.get(url, timeout=5).text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples


async def test_sockets_subscriptions_and_jobs_show_in_the_metrics(
    api: str,
    google: tuple[FakeGoogle, str],
    settings: Settings,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    # given: a worker serving its metrics, and a client subscribed to sync status
    fake, _ = google
    seed(fake, "metrics", 4)
    token = mint_dev_token(settings, "metrics-user")
    port = free_port()
    worker = start_worker({**env, "WORKER_METRICS_PORT": str(port)}, tmp_path / "worker.log")
    gauges = ("websocket_connections_open{}", "graphql_subscriptions_active{}")
    try:
        ws = await websockets.connect(
            api.replace("http", "ws") + "/graphql",
            subprotocols=[Subprotocol("graphql-transport-ws")],
        )
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        await ws.send(json.dumps(init))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        query = "subscription { syncStatus { status } }"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        await asyncio.sleep(0.5)
        during = scrape(f"{api}/metrics")
        # when: a sync runs to the end
        await asyncio.to_thread(connect_google, api, token, fake)
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if message["payload"]["data"]["syncStatus"]["status"] in ("SUCCEEDED", "FAILED"):
                break
        await ws.close()
        deadline = time.monotonic() + 5
        while any(scrape(f"{api}/metrics")[g] for g in gauges):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        after = scrape(f"{api}/metrics")
        jobs = scrape(f"http://127.0.0.1:{port}/metrics")
    finally:
        stop(worker)
    # then: the API counted the socket and the subscription while they were open
    assert all(during[g] >= 1 for g in gauges), {g: during[g] for g in gauges}
    assert all(after[g] == 0 for g in gauges), {g: after[g] for g in gauges}
    # and the worker timed the sync job and reports its queue
    done = 'job_duration_seconds_count{function="sync_calendar",status="complete"}'
    assert jobs.get(done, 0) >= 1, [k for k in jobs if k.startswith("job_")]
    queue = f'job_queue_depth{{queue="{settings.cache_prefix}sync"}}'
    assert jobs.get(queue, -1) >= 0, [k for k in jobs if k.startswith("job_")]
