"""The Redis pieces one at a time on a real Redis Cluster: the cache across slots, the
rate limiter's script, sync progress over pub/sub when a node goes, and the settings."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import ValidationError
from redis.asyncio.cluster import RedisCluster

from graphql_api.cache import codecs
from graphql_api.cache.request import RequestCache
from graphql_api.cache.store import Cache
from graphql_api.lifespan import cache_of, limiter_of, queue_of
from graphql_api.redis_clients import connect
from graphql_api.settings import Settings
from graphql_api.sync import status
from tests.cluster.servers import Cluster

pytestmark = pytest.mark.slow


@pytest.fixture
async def cache(cluster_settings: Settings) -> AsyncIterator[Cache]:
    built = cache_of(cluster_settings)
    yield built
    assert built.redis is not None
    await built.aclose()


async def test_a_request_reads_its_versions_across_slots_and_a_user_stays_in_one(
    cache: Cache, cluster_client: RedisCluster
) -> None:
    # given: two users' caches, and a scope every user shares
    alice, bob = RequestCache(cache, f"alice-{uuid.uuid4().hex}"), RequestCache(cache, "bob")
    # when: one request reads the epoch, a shared scope and its user's scopes
    tokens = await alice.tokens(["goals", "habits", "shared:models"])
    # then: every token is there, and the user's keys all hash to one slot
    assert tokens is not None
    assert len(tokens) == 4
    names = [f"{cache.config.prefix}v:{name}" for name in alice.read]
    alice_slots = {cluster_client.keyslot(n) for n in names if "{u:" in n}
    assert len(alice_slots) == 1
    assert {cluster_client.keyslot(n) for n in names} != alice_slots  # epoch elsewhere
    assert alice.key("goals", tokens).startswith(f"{cache.config.prefix}{{u:{alice.user_id}}}:")
    assert await bob.tokens(["goals"]) is not None


async def test_values_and_invalidations_on_the_cluster_behave_as_on_one_redis(
    cache: Cache,
) -> None:
    # given: two users with cached values
    calls: list[str] = []

    async def cached(user: str) -> str:
        async def compute() -> str:
            calls.append(user)
            return f"{user}'s goals, version {calls.count(user)}"

        request = RequestCache(cache, user)
        value: str = await request.cached("goals", ["goals"], 60, compute, codecs.JSON)
        return value

    users = [f"user-{i}-{uuid.uuid4().hex[:6]}" for i in range(8)]  # spread over the masters
    first = [await cached(u) for u in users]
    cache.l1.clear()
    # when: read again (from Redis, L1 cleared), then one user's goals retired
    again = [await cached(u) for u in users]
    await RequestCache(cache, users[0]).bump("goals")
    cache.l1.clear()
    after = [await cached(u) for u in users]
    # then: hits for everyone but the retired one, recomputed once
    assert again == first
    assert after[1:] == first[1:]
    assert after[0] == f"{users[0]}'s goals, version 2"
    assert len(calls) == len(users) + 1
    # and many keys over every slot in one call (whole answers and events use this)
    keys = {cache.key(f"{{u:{u}}}", "x"): u.encode() for u in users}
    await cache.set_many(keys, 60)
    cache.l1.clear()
    assert await cache.get_many(list(keys)) == keys


async def test_the_rate_limit_is_one_bucket_per_user_across_processes(
    cluster_settings: Settings,
) -> None:
    # given: two processes' limiters (two clients) on the cluster, a burst of 3
    settings = cluster_settings.model_copy(update={"rate_limit_per_s": 0.01, "rate_limit_burst": 3})
    one, two = limiter_of(settings), limiter_of(settings)
    assert one is not None
    assert two is not None
    user = f"limited-{uuid.uuid4().hex}"
    try:
        # when: the user's requests alternate between them
        verdicts = [await (one if i % 2 else two).take(user) for i in range(5)]
        other = await one.take(f"other-{uuid.uuid4().hex}")
    finally:
        for limiter in (one, two):
            assert limiter.redis is not None
            await limiter.aclose()
            await limiter.redis.aclose()
    # then: three pass, the rest are refused with a Retry-After; another user is not held up
    assert [v.allowed for v in verdicts] == [True, True, True, False, False]
    assert verdicts[-1].retry_after_s > 0
    assert other.allowed


@pytest.fixture
def restart_killed(redis_cluster: Cluster) -> Iterator[None]:
    yield
    for node in redis_cluster.nodes:
        if node.proc is None:
            node.start()
    redis_cluster.wait_healthy()


async def test_a_progress_subscriber_whose_node_dies_listens_on_another(
    cluster_settings: Settings, redis_cluster: Cluster, restart_killed: None
) -> None:
    # given: a subscriber to a user's sync progress, through some node of the cluster
    redis = connect(str(cluster_settings.redis_url), cluster=True)
    prefix, user = cluster_settings.cache_prefix, f"subscriber-{uuid.uuid4().hex}"
    heard: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def listen() -> None:
        async for event in status.follow(redis, prefix, user):
            await heard.put(event)

    listening = asyncio.create_task(listen())
    try:
        node = await asyncio.to_thread(subscribed_node, redis_cluster, status.channel(prefix, user))
        # when: that node is killed, and progress is published afterwards
        node.kill()
        channel = status.channel(prefix, user)
        event = await asyncio.wait_for(published_until_heard(redis_cluster, channel, heard), 60)
        # then: the subscriber heard it through another node
        assert event["message"] == "after"
    finally:
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening
        await redis.aclose()


def subscribed_node(cluster: Cluster, channel: str) -> Any:
    """The node the one subscriber of `channel` is connected to."""
    for _ in range(100):
        for node in cluster.nodes:
            if node.proc is None:
                continue
            with node.client() as r:
                counts = dict(r.pubsub_numsub(channel))
            if counts.get(channel.encode()):
                return node
        time.sleep(0.1)
    raise AssertionError("no node has the subscriber")


async def published_until_heard(
    cluster: Cluster, channel: str, heard: asyncio.Queue[dict[str, Any]]
) -> dict[str, Any]:
    """Publishes through a running node (again, while the subscriber moves) until heard."""

    def publish() -> None:
        node = next(n for n in cluster.nodes if n.proc is not None)
        with node.client() as r:
            r.publish(channel, '{"message": "after"}')

    while True:
        await asyncio.to_thread(publish)
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(heard.get(), 0.5)


def test_a_cluster_needs_a_queue_of_its_own_and_a_prefix_without_hash_tags() -> None:
    # given / when / then: refused at start-up, with what to set
    with pytest.raises(ValidationError, match="QUEUE_REDIS_URL"):
        Settings(redis_url="redis://127.0.0.1:7000", redis_cluster=True)
    with pytest.raises(ValidationError, match="CACHE_PREFIX"):
        Settings(
            redis_url="redis://127.0.0.1:7000",
            redis_cluster=True,
            queue_redis_url="redis://127.0.0.1:6379",
            cache_prefix="{app}:",
        )


async def test_the_queue_is_on_queue_redis_url_when_set_else_on_redis_url() -> None:
    # given
    shared = Settings(redis_url="redis://127.0.0.1:6379/4")
    apart = Settings(redis_url="redis://127.0.0.1:7000", queue_redis_url="redis://127.0.0.2:6380/2")
    # when
    queues = [queue_of(shared), queue_of(apart)]
    # then
    try:
        kwargs = [q.redis.connection_pool.connection_kwargs for q in queues]  # type: ignore[attr-defined]
        assert [(k["host"], k["port"], k["db"]) for k in kwargs] == [
            ("127.0.0.1", 6379, 4),
            ("127.0.0.2", 6380, 2),
        ]
    finally:
        for queue in queues:
            await queue.redis.aclose()  # type: ignore[attr-defined] # never connected
