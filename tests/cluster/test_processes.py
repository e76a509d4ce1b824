"""Two API processes and a worker on one real Redis Cluster (REDIS_CLUSTER=true), the job
queue on a standalone Redis (QUEUE_REDIS_URL): what they share behaves as on one Redis,
and a master killed under traffic costs no request."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from gql import Client as GqlClient
from gql import gql
from gql.transport.websockets import WebsocketsTransport
from prometheus_client.parser import text_string_to_metric_families

from graphql_api.cache.store import EPOCH
from graphql_api.lifespan import cache_of
from graphql_api.persisted.manifest import sha256
from graphql_api.security.dev_tokens import mint_dev_token
from graphql_api.settings import Settings
from tests.cluster.conftest import Processes
from tests.cluster.servers import Cluster
from tests.conftest import operation

pytestmark = pytest.mark.slow


def graphql(api: str, token: str, query: str, variables: Any = None, **headers: str) -> Any:
    r = httpx.post(
        f"{api}/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}", **headers},
        timeout=30,
    )
    body = r.json()
    assert r.status_code == 200, body
    assert not body.get("errors"), body
    return body["data"]


def cache_counts(api: str) -> dict[tuple[str, str], float]:
    """cache_requests_total of one process, by (level, result)."""
    counts: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(httpx.get(f"{api}/metrics").text):
        for sample in family.samples:
            if sample.name == "cache_requests_total":
                counts[sample.labels["level"], sample.labels["result"]] = sample.value
    return counts


def hits(api: str) -> float:
    return sum(v for (_, result), v in cache_counts(api).items() if result == "hit")


def new_user(settings: Settings) -> str:
    return mint_dev_token(settings, f"cluster-{uuid.uuid4().hex[:10]}")


def create_goal(api: str, token: str, title: str) -> str:
    data = graphql(api, token, operation("CreateGoal"), {"input": {"title": title}})
    goal_id: str = data["createGoal"]["id"]
    return goal_id


def titles(api: str, token: str) -> list[str]:
    data = graphql(api, token, operation("Goals"), {"first": 50})
    return [edge["node"]["title"] for edge in data["goals"]["edges"]]


def test_what_one_api_process_caches_the_other_reads(
    processes: Processes, cluster_settings: Settings
) -> None:
    # given: goals of a user, listed once through A (which caches the answer)
    token = new_user(cluster_settings)
    for title in ("read", "write", "sleep"):
        create_goal(processes.a, token, title)
    first = titles(processes.a, token)
    before = hits(processes.b)
    # when: B lists them
    second = titles(processes.b, token)
    # then: B answers the same, from the cache A filled
    assert second == first
    assert sorted(first) == ["read", "sleep", "write"]
    assert hits(processes.b) > before


def test_a_write_through_one_process_is_seen_fresh_through_the_other(
    processes: Processes, cluster_settings: Settings
) -> None:
    # given: both processes have listed (and cached) the user's goals
    token = new_user(cluster_settings)
    goal = create_goal(processes.a, token, "before")
    assert titles(processes.a, token) == ["before"]
    assert titles(processes.b, token) == ["before"]
    # when: A renames the goal, then B adds one
    graphql(processes.a, token, operation("UpdateGoal"), {"id": goal, "input": {"title": "after"}})
    seen_by_b = titles(processes.b, token)
    create_goal(processes.b, token, "second")
    seen_by_a = titles(processes.a, token)
    # then: each sees the other's write at once
    assert seen_by_b == ["after"]
    assert sorted(seen_by_a) == ["after", "second"]


def test_persisted_queries_and_idempotency_keys_are_shared_by_the_processes(
    processes: Processes, cluster_settings: Settings
) -> None:
    # given: a query registered (APQ) through A, and a mutation sent with a key through A
    token = new_user(cluster_settings)
    query = "query Mine { goals(first: 5) { totalCount } }"
    digest = sha256(query)
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    headers = {"Authorization": f"Bearer {token}"}
    registered = httpx.post(
        f"{processes.a}/graphql",
        json={"query": query, "extensions": extensions},
        headers=headers,
    )
    assert registered.json()["data"] == {"goals": {"totalCount": 0}}
    mutation = {"query": operation("CreateGoal"), "variables": {"input": {"title": "once"}}}
    key = {"Idempotency-Key": uuid.uuid4().hex, **headers}
    first = httpx.post(f"{processes.a}/graphql", json=mutation, headers=key)
    # when: B gets the hash alone, and the same mutation with the same key
    by_hash = httpx.post(f"{processes.b}/graphql", json={"extensions": extensions}, headers=headers)
    retried = httpx.post(f"{processes.b}/graphql", json=mutation, headers=key)
    # then: B runs the registered text, and replays A's answer without writing again
    assert by_hash.json() == {"data": {"goals": {"totalCount": 1}}}
    assert retried.headers.get("idempotent-replayed") == "true"
    assert retried.json() == first.json()
    assert titles(processes.b, token) == ["once"]


async def subscribe(
    api: str, token: str, heard: list[dict[str, Any]], ready: asyncio.Event
) -> None:
    transport = WebsocketsTransport(
        url=api.replace("http", "ws") + "/graphql",
        init_payload={"Authorization": f"Bearer {token}"},
    )
    async with GqlClient(transport=transport) as session:
        iterator = aiter(session.subscribe(gql(operation("SyncStatus"))))
        await asyncio.sleep(0.5)  # the subscription is in place on the server
        ready.set()
        async for result in iterator:
            heard.append(result["syncStatus"])
            if result["syncStatus"]["status"] in ("SUCCEEDED", "FAILED"):
                return


async def test_a_sync_queued_through_one_process_is_heard_on_the_other(
    processes: Processes, cluster_settings: Settings
) -> None:
    # given: a subscriber on B, and events in the user's Google calendar
    token = new_user(cluster_settings)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    for i in range(5):
        processes.google.put(
            f"cluster {i}", start + timedelta(hours=i), start + timedelta(hours=i, minutes=30)
        )
    heard: list[dict[str, Any]] = []
    ready = asyncio.Event()
    listening = asyncio.create_task(subscribe(processes.b, token, heard, ready))
    await asyncio.wait_for(ready.wait(), 20)
    # when: the calendar is connected through A (a sync queued), and the worker runs it
    connect = {"provider": "GOOGLE", "timezone": "UTC", "oauth": processes.google.grant()}
    calendar = await asyncio.to_thread(
        graphql, processes.a, token, operation("ConnectCalendar"), {"input": connect}
    )
    await asyncio.wait_for(listening, 60)
    # then: B's subscriber heard every step of that run
    statuses = [e["status"] for e in heard]
    assert statuses[0] == "QUEUED"
    assert "RUNNING" in statuses
    assert statuses[-1] == "SUCCEEDED"
    assert {e["calendarId"] for e in heard} == {calendar["connectCalendar"]["id"]}
    assert heard[-1]["processed"] >= 5


class Traffic:
    """Clients asking both API processes, as fast as they answer, until stopped."""

    def __init__(self, apis: list[str], tokens: list[str]) -> None:
        self.apis = apis
        self.tokens = tokens
        self.sent = 0
        self.failed: list[str] = []
        self.answers: dict[str, list[str]] = {}
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(4)]

    def _run(self, index: int) -> None:
        with httpx.Client(timeout=30) as client:
            turn = index
            while not self._stop.is_set():
                turn += 1
                api, token = self.apis[turn % len(self.apis)], self.tokens[turn % len(self.tokens)]
                try:
                    r = client.post(
                        f"{api}/graphql",
                        json={"query": operation("Goals"), "variables": {"first": 50}},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    body = r.json()
                    if r.status_code != 200 or body.get("errors"):
                        self.failed.append(f"{r.status_code} {body}")
                    else:
                        names = [e["node"]["title"] for e in body["data"]["goals"]["edges"]]
                        if names != self.answers.setdefault(token, names):
                            self.failed.append(f"wrong answer {names}")
                except httpx.HTTPError as e:
                    self.failed.append(repr(e))
                self.sent += 1

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)


async def current_epoch(settings: Settings) -> str | None:
    """The cache's epoch token as an API process on the cluster reads it (a new client:
    one that knew the killed master would leave its connections behind)."""
    cache = cache_of(settings)
    try:
        for _ in range(50):
            found = await cache.versions([EPOCH])
            if found is not None:
                return found[EPOCH]
            await asyncio.sleep(0.2)
        return None
    finally:
        assert cache.redis is not None
        await cache.aclose()


@pytest.fixture
def restart_killed(redis_cluster: Cluster) -> Iterator[None]:
    """Whatever master a test kills comes back afterwards, as a replica."""
    yield
    for node in redis_cluster.nodes:
        if node.proc is None:
            node.start()
    redis_cluster.wait_healthy()


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.2)


async def test_a_master_killed_under_traffic_costs_no_request_and_the_cache_hits_again(
    processes: Processes,
    redis_cluster: Cluster,
    restart_killed: None,
    cluster_settings: Settings,
) -> None:
    # given: users whose keys fall on every master, their answers cached, clients asking
    tokens = [new_user(cluster_settings) for _ in range(12)]
    for i, token in enumerate(tokens):
        create_goal(processes.a, token, f"goal {i}")
    apis = [processes.a, processes.b]
    epoch_before = await current_epoch(cluster_settings)
    assert epoch_before is not None
    errors_before = sum(cache_counts(api).get(("versions", "error"), 0) for api in apis)
    with Traffic(apis, tokens) as traffic:
        wait_for(lambda: traffic.sent > 50, 60, "traffic under way")
        # when: a master is killed (SIGKILL), and its replica takes over
        redis_cluster.kill_master()
        await asyncio.to_thread(redis_cluster.wait_healthy)
        promoted = [hits(api) for api in apis]
        # then: both processes hit the cache again
        wait_for(
            lambda: all(hits(api) > h for api, h in zip(apis, promoted, strict=True)),
            60,
            "cache hits after the failover",
        )
    # and no request failed, while the cache had stepped aside during the failover
    assert traffic.failed == []
    errors_after = sum(cache_counts(api).get(("versions", "error"), 0) for api in apis)
    assert errors_after > errors_before
    # and the failover retired every entry (a new epoch), as a restarted Redis does
    assert await current_epoch(cluster_settings) not in (None, epoch_before)
