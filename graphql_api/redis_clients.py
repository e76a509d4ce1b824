"""Redis clients: one Redis, or a Redis Cluster when REDIS_CLUSTER is set.

On a cluster, `REDIS_URL` is one seed node; redis-py's `RedisCluster` finds the
others, routes each key to its slot's master and follows failovers. What differs
from one Redis is kept here:

- commands over several keys (MGET, MSET) are split per slot (keys that share a
  hash tag, such as a user's `{u:<id>}`, stay one command);
- the run id that names the data's incarnation is that of every master at once
  (a restart or a failover anywhere changes it);
- pub/sub: a PUBLISH on any node reaches the subscribers of every node, so a
  subscriber listens on one node through a plain connection (redis-py's asyncio
  cluster client has no pub/sub) and moves to another node if that one goes.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import random
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager, suppress
from typing import Any, TypeGuard, cast

import hiredis
from redis._parsers.base import BaseParser
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.driver_info import DriverInfo
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import (
    InvalidResponse,
    LockError,
    NoScriptError,
    RedisClusterException,
    RedisError,
)

AnyRedis = Redis | RedisCluster
# What a Redis that is down, slow or failing over raises: a cluster client's own
# exceptions (no slot covered yet, no node reachable) are not RedisErrors, and while it
# drops a failed node's connections a call may write to one just closed (RuntimeError).
FAILURES: tuple[type[Exception], ...] = (
    RedisError,
    RedisClusterException,
    OSError,
    RuntimeError,
)


class ClusterClient(RedisCluster):
    """A RedisCluster that reads the cluster's layout (which node serves which slots) in a
    task of its own. Callers bound their calls with short timeouts (the cache's 50 ms);
    redis-py reads the layout inside the first call after a node failed, and a read cut
    short by the caller's timeout starts over from nothing the next time, so after a
    failover a busy process might never finish one. Here a timeout ends the caller's wait,
    not the reading, and the next call finds the new master."""

    _reading: asyncio.Future[Any] | None = None
    _read_at = 0.0

    async def initialize(self) -> ClusterClient:
        if self._initialize:
            reading = self._reading
            if reading is None or reading.done():
                reading = self._start_reading()
            await asyncio.shield(reading)
        return self

    def read_layout_again(self, every_s: float = 1.0) -> None:
        """Reads the layout again in the background, at most every `every_s`: while
        calls are paused after failures, the next one then goes to the new master."""
        reading = self._reading is not None and not self._reading.done()
        if reading or time.monotonic() - self._read_at < every_s:
            return
        self._initialize = True
        self._start_reading()

    def _start_reading(self) -> asyncio.Future[Any]:
        self._read_at = time.monotonic()
        self._reading = asyncio.ensure_future(self._read_layout())
        self._reading.add_done_callback(_retrieved)
        return self._reading

    async def _read_layout(self) -> None:
        before = {id(n): n for n in self._known_nodes()}
        try:
            await super().initialize()
        finally:
            # redis-py forgets a node that left the layout (the killed master) with its
            # connections open: close them, rather than leave them to the collector.
            kept = {id(n) for n in self._known_nodes()}
            for key, node in before.items():
                if key not in kept:
                    await node.disconnect()

    async def aclose(self) -> None:
        """Closes every node's connections (redis-py closes none while the layout is
        due to be read again, as after a failure)."""
        if self._reading is not None:
            self._reading.cancel()
        await super().aclose()
        await self.nodes_manager.aclose()
        await self.nodes_manager.aclose("startup_nodes")

    def _known_nodes(self) -> list[Any]:
        manager = self.nodes_manager
        return [*manager.nodes_cache.values(), *manager.startup_nodes.values()]


def _retrieved(done: asyncio.Future[Any]) -> None:
    if not done.cancelled():
        done.exception()  # whoever waited got it; nobody need have


@functools.cache
def _driver_info() -> DriverInfo:
    """What each connection tells Redis it is (CLIENT SETINFO), worked out once: redis-py
    reads its own package's metadata for it on every new connection when not given it
    (~1.4 ms of CPU each, a new process's first requests open dozens)."""
    return DriverInfo()


def connect(url: str, *, cluster: bool, **options: Any) -> AnyRedis:
    """A client of the Redis at `url`; of the whole cluster it belongs to when `cluster`."""
    options.setdefault("driver_info", _driver_info())
    if cluster:
        return ClusterClient.from_url(url, **options)
    return Redis.from_url(url, **options)


class Replies:
    """Commands to one Redis over connections of its own, for the cache's hot path (its
    MGETs and pipelines of SETs). redis-py's client checks a connection out of its pool
    for every command (a probe of the socket, its own metrics) and reads each reply
    through an asyncio stream; here an idle connection is taken from a list, its
    commands written at once, and its replies parsed by hiredis as they arrive (`_Pipe`,
    the connection's protocol once redis-py has opened it: its AUTH, SELECT and TLS are
    redis-py's), into a future the caller awaits. A round trip of an MGET of five keys:
    133 µs of CPU through redis-py's client, 44 through redis-py's connections taken
    from a list and read through their streams, 38 here (bench/RESULTS.md, 2026-12-06).
    A failure or a cancellation (the caller's timeout) between sending and the last
    reply closes the connection: a reply still on its way never answers another
    command."""

    def __init__(self, redis: Redis) -> None:
        self._pool = redis.connection_pool
        self._idle: list[_Pipe] = []
        self._closing: set[asyncio.Future[Any]] = set()

    @staticmethod
    def serve(redis: AnyRedis | None) -> TypeGuard[Redis]:
        """Whether Replies can serve this client: one Redis, spoken to in RESP2."""
        if not isinstance(redis, Redis):
            return False
        return str(redis.connection_pool.connection_kwargs.get("protocol") or 2) == "2"

    async def send(self, *commands: tuple[Any, ...]) -> list[Any]:
        """The replies to `commands`, sent together (one round trip); an error reply raises."""
        pipe = None
        while self._idle and pipe is None:
            pipe = self._idle.pop()
            if pipe.lost:  # closed while idle (Redis restarted, or closed it)
                self._close(pipe)
                pipe = None
        if pipe is None:
            pipe = await self._open()
        try:
            # hiredis packs in C; redis-py's asyncio connection packs each argument in
            # Python (an MGET of 20 keys: 12 against 1.5 µs).
            replies = await pipe.send(b"".join(map(hiredis.pack_command, commands)), len(commands))
        except BaseException:
            self._close(pipe)
            raise
        self._idle.append(pipe)
        for reply in replies:
            if isinstance(reply, Exception):  # every reply was read: the connection is sound
                raise reply
        return replies

    async def _open(self) -> _Pipe:
        connection = self._pool.make_connection()  # type: ignore[no-untyped-call]
        await connection.connect()
        try:
            return _Pipe(connection)
        except BaseException:
            self._close_connection(connection)
            raise

    def _close(self, pipe: _Pipe) -> None:
        pipe.lost = True
        self._close_connection(pipe.connection)

    def _close_connection(self, connection: Any) -> None:
        closing = asyncio.ensure_future(connection.disconnect(nowait=True))
        self._closing.add(closing)
        closing.add_done_callback(self._closed)

    def _closed(self, closing: asyncio.Future[Any]) -> None:
        self._closing.discard(closing)
        _retrieved(closing)

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for pipe in idle:
            with suppress(*FAILURES):
                await pipe.connection.disconnect()


class _Pipe(asyncio.Protocol):
    """The protocol of a RESP2 connection redis-py opened (`Replies.serve` says which
    clients; redis-py keeps the connection, to close it): each
    `send`'s replies, parsed by hiredis as they arrive, into the future it returned.
    One batch at a time (`Replies` takes an idle connection for each). What redis-py's
    stream protocol is told about the connection's end, it is still told, so that
    redis-py closes it as it would."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        writer: asyncio.StreamWriter = connection._writer
        self._transport = writer.transport
        self._stream = self._transport.get_protocol()
        # Error replies as redis-py's hiredis parser makes them (NOSCRIPT: NoScriptError, ...)
        self._reader = hiredis.Reader(replyError=BaseParser.parse_error)
        self._waiting: asyncio.Future[list[Any]] | None = None
        self._expected = 0
        self._replies: list[Any] = []
        self.lost = False
        buffered = connection._reader._buffer  # what came after the handshake: nothing
        if buffered:
            self._reader.feed(bytes(buffered))
            buffered.clear()
        self._transport.set_protocol(self)

    def send(self, packed: bytes, count: int) -> asyncio.Future[list[Any]]:
        if self.lost or self._transport.is_closing():
            raise RedisConnectionError("the connection to Redis is closed")
        waiting = self._waiting = asyncio.get_running_loop().create_future()
        self._expected, self._replies = count, []
        self._transport.write(packed)
        return waiting

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while True:
            try:
                reply = self._reader.gets()
            except hiredis.ProtocolError as e:
                self._fail(InvalidResponse(str(e)))
                self._transport.abort()
                return
            if reply is False:
                return
            self._replies.append(reply)
            if len(self._replies) == self._expected and self._waiting is not None:
                waiting, self._waiting = self._waiting, None
                if not waiting.done():
                    waiting.set_result(self._replies)

    def eof_received(self) -> bool:
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._fail(RedisConnectionError(f"the connection to Redis was lost: {exc}"))
        self._stream.connection_lost(exc)

    def _fail(self, error: Exception) -> None:
        waiting, self._waiting = self._waiting, None
        if waiting is not None and not waiting.done():
            waiting.set_exception(error)


async def mget(redis: AnyRedis, keys: list[str]) -> list[Any]:
    """MGET, one per slot on a cluster (in one round trip per node)."""
    if isinstance(redis, RedisCluster):
        return await redis.mget_nonatomic(keys)
    found: list[Any] = await redis.mget(keys)
    return found


async def server_run(redis: AnyRedis) -> tuple[str, tuple[int, ...]]:
    """What changes whenever the data may have gone back in time: the run id of one
    Redis (a restart), or a digest of every master's run id (a restart, or a replica
    taking over with the writes it had not yet received). And the server's version (a
    cluster's oldest master's), as numbers."""
    if isinstance(redis, RedisCluster):
        infos = list((await redis.info("server", target_nodes=RedisCluster.PRIMARIES)).values())
        runs = sorted(str(info["run_id"]) for info in infos)
        digest = hashlib.sha256(":".join(runs).encode()).hexdigest()[:16]
        return digest, min(_version(info) for info in infos)
    info = await redis.info("server")
    return str(info["run_id"]), _version(info)


def _version(info: dict[str, Any]) -> tuple[int, ...]:
    return tuple(
        int(part) for part in str(info.get("redis_version", "0")).split(".") if part.isdigit()
    )


async def ping(redis: AnyRedis) -> object:
    """One node answers: on a cluster, the client's default node (replaced if it fails),
    so a failover elsewhere does not make every API process unready at once."""
    if isinstance(redis, RedisCluster):
        return await redis.execute_command("PING", target_nodes=RedisCluster.DEFAULT_NODE)
    return await cast("Awaitable[object]", redis.ping())


async def publish(redis: AnyRedis, channel: str, message: str) -> None:
    """PUBLISH; on a cluster through any node (the cluster bus carries it to every node)."""
    await redis.execute_command("PUBLISH", channel, message)


class Script:
    """A Lua script run by EVALSHA (EVAL when Redis does not know it yet, as after a
    restart): on one Redis over `Replies`, on a cluster through redis-py, on the master of
    its keys' slot (the keys of one call must share a slot)."""

    def __init__(self, redis: AnyRedis, source: str) -> None:
        self.source = source
        self._script = AsyncScript(redis, source)  # type: ignore[arg-type]
        self._replies = Replies(redis) if Replies.serve(redis) else None

    async def __call__(self, keys: list[str], args: list[Any]) -> Any:
        replies = self._replies
        if replies is None:
            return await self._script(keys=keys, args=args)
        try:
            return (await replies.send(("EVALSHA", self._script.sha, len(keys), *keys, *args)))[0]
        except NoScriptError:
            return (await replies.send(("EVAL", self.source, len(keys), *keys, *args)))[0]

    async def aclose(self) -> None:
        if self._replies is not None:
            await self._replies.aclose()


async def subscriber(redis: AnyRedis, avoid: Redis | None = None) -> tuple[Redis, bool]:
    """A plain client to subscribe with, and whether it is one of our own to close.

    One Redis: that client itself. A cluster: a node's own client, another node than
    `avoid` (the one that just failed) where there is one.
    """
    if not isinstance(redis, RedisCluster):
        return redis, False
    if redis._initialize:
        await redis.initialize()
    nodes = redis.get_nodes()
    if avoid is not None:
        address = avoid.connection_pool.connection_kwargs
        others = [
            n for n in nodes if (n.host, n.port) != (address.get("host"), address.get("port"))
        ]
        nodes = others or nodes
    node = random.choice(nodes)  # noqa: S311 - spreads subscribers over the nodes
    options = redis.connection_kwargs
    return Redis(
        host=node.host,
        port=int(node.port),
        username=options.get("username"),
        password=options.get("password"),
        ssl=options.get("connection_class") is not None
        and options["connection_class"].__name__ == "SSLConnection",
        socket_connect_timeout=options.get("socket_connect_timeout"),
        health_check_interval=30,
    ), True


@asynccontextmanager
async def held_if_possible(
    redis: AnyRedis, name: str, *, expires_s: float, wait_s: float
) -> AsyncIterator[None]:
    """A Redis lock around the block, held at most `expires_s` and waited for up to
    `wait_s`; when Redis cannot be reached (or the wait runs out) the block runs
    unguarded rather than failing."""
    lock = redis.lock(name, timeout=expires_s, blocking_timeout=wait_s)
    try:
        acquired = await lock.acquire()
    except FAILURES:
        acquired = False
    try:
        yield
    finally:
        if acquired:
            with suppress(*FAILURES, LockError):
                await lock.release()
