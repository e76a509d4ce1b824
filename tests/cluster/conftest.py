"""A real Redis Cluster for the session, and API and worker processes that share it.

The layout under test: REDIS_URL a seed node of the cluster (REDIS_CLUSTER=true),
the job queue on the suite's standalone Redis (QUEUE_REDIS_URL).
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis.asyncio.cluster import RedisCluster

from graphql_api.settings import Settings
from tests.cluster.servers import Cluster, missing_binaries
from tests.conftest import BIN, process_env, start_api, stop
from tests.fakes.google_calendar import FakeGoogle
from tests.fakes.serve import serving


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if reason := missing_binaries():
        pytest.skip(reason)
    cluster = Cluster(tmp_path_factory.mktemp("redis-cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def cluster_settings(settings: Settings, redis_cluster: Cluster) -> Settings:
    """The suite's settings, with Redis a cluster and the queue on the standalone Redis."""
    return settings.model_copy(
        update={
            "redis_url": redis_cluster.url,
            "redis_cluster": True,
            "queue_redis_url": settings.redis_url,
            "cache_prefix": f"cluster-{uuid.uuid4().hex[:8]}:",
        }
    )


@pytest.fixture
async def cluster_client(redis_cluster: Cluster) -> AsyncIterator[RedisCluster]:
    client = RedisCluster.from_url(redis_cluster.url)
    yield client
    await client.aclose()


@dataclass
class Processes:
    """Two API processes and a worker on one cluster; a fake Google they sync from."""

    a: str
    b: str
    google: FakeGoogle
    env: dict[str, str]


def cluster_env(settings: Settings, google_url: str) -> dict[str, str]:
    return process_env(
        settings,
        REDIS_URL=str(settings.redis_url),
        REDIS_CLUSTER="true",
        QUEUE_REDIS_URL=str(settings.queue_redis_url),
        # The limiter runs (its script on the cluster) without ever refusing a test.
        RATE_LIMIT_PER_S="10000",
        RATE_LIMIT_BURST="10000",
        GOOGLE_API_URL=f"{google_url}/calendar/v3",
        GOOGLE_TOKEN_URL=f"{google_url}/token",
        SYNC_HEARTBEAT_S="3",
        SYNC_PAGE_SIZE="3",
    )


@pytest.fixture(scope="session")
def processes(
    cluster_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Processes]:
    logs = tmp_path_factory.mktemp("cluster-processes")
    google = FakeGoogle()
    google.calendar("primary")
    with serving(google.app) as google_url:
        env = cluster_env(cluster_settings, google_url)
        a, a_url = start_api(env, logs / "api-a.log")
        try:
            b, b_url = start_api(env, logs / "api-b.log")
            try:
                worker = start_worker(env, logs / "worker.log")
                try:
                    yield Processes(a_url, b_url, google, env)
                finally:
                    stop(worker)
            finally:
                stop(b)
        finally:
            stop(a)


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("a") as out:
        return subprocess.Popen(
            [str(BIN / "scheduling-worker"), "worker"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
