"""A real Redis Cluster on loopback: six Debian `redis-server` processes in cluster
mode (three masters, three replicas), joined by `redis-cli --cluster create`.

Shared by the cluster tests and `bench/cluster.py`. A master can be killed (SIGKILL)
and started again: it comes back as a replica of the node that took its slots over.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.cluster import RedisCluster

NODES = 6
# How long a master may be silent before its replica takes over: small, so a test's
# failover takes about a second or two, not the default 15.
NODE_TIMEOUT_MS = 1000


def missing_binaries() -> str | None:
    """Why a cluster cannot be started here, or None."""
    missing = [b for b in ("redis-server", "redis-cli") if shutil.which(b) is None]
    if missing:
        names = " and ".join(missing)
        return f"{names} not installed (Debian: apt-get install redis-server redis-tools)"
    return None


def cluster_port() -> int:
    """A free port P of 127.0.0.1 with P + 10000 free too (the node's cluster bus)."""
    while True:
        port = random.randint(20_000, 55_535)  # noqa: S311 - not a secret
        with socket.socket() as a, socket.socket() as b:
            try:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10_000))
            except OSError:
                continue
        return port


@dataclass
class Node:
    port: int
    directory: Path
    node_timeout_ms: int = NODE_TIMEOUT_MS
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def start(self) -> None:
        """Starts the node; its nodes.conf (kept in `directory`) says which cluster it is in."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.directory.resolve()),
                "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(self.node_timeout_ms),
                # The other masters keep serving their slots while one fails over.
                "--cluster-require-full-coverage", "no",
                "--repl-diskless-sync-delay", "0",  # replicas in sync at once
                "--save", "",
                "--appendonly", "no",
                "--logfile", "redis.log",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server on {self.port} exited: {self.log()}")
            with contextlib.suppress(redis.RedisError), self.client() as r:
                if r.ping():
                    return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server on {self.port} did not start")

    def kill(self) -> None:
        """SIGKILL: gone at once, nothing saved, no goodbye to the other nodes."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def role(self) -> str:
        with self.client() as r:
            return str(r.info("replication")["role"])

    def log(self) -> str:
        path = self.directory / "redis.log"
        return path.read_text()[-2000:] if path.exists() else ""


@dataclass
class Cluster:
    directory: Path
    node_timeout_ms: int = NODE_TIMEOUT_MS
    nodes: list[Node] = field(default_factory=list)

    @property
    def seed(self) -> Node:
        """The node REDIS_URL names; kill another one (a seed must be reachable to start)."""
        return self.nodes[0]

    @property
    def url(self) -> str:
        return f"redis://{self.seed.address}"

    def start(self) -> None:
        self.nodes = [
            Node(cluster_port(), self.directory / f"node-{i}", self.node_timeout_ms)
            for i in range(NODES)
        ]
        for node in self.nodes:
            node.start()
        subprocess.run(
            [
                *("redis-cli", "--cluster", "create", *(n.address for n in self.nodes)),
                *("--cluster-replicas", "1", "--cluster-yes"),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self.wait_healthy()

    def client(self) -> RedisCluster:
        return RedisCluster(host="127.0.0.1", port=self.seed.port)

    def masters(self) -> list[Node]:
        return [n for n in self.nodes if n.proc is not None and n.role() == "master"]

    def wait_healthy(self, timeout: float = 60) -> None:
        """Every slot served (`cluster_state:ok` on every running node), three masters,
        and every running replica in sync with its master (so it can take over)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError):
                if len(self.masters()) == 3 and all(self._ready(n) for n in self.nodes):
                    return
            time.sleep(0.1)
        raise RuntimeError("the Redis Cluster did not become healthy: " + self.seed.log())

    @staticmethod
    def _ready(node: Node) -> bool:
        if node.proc is None:
            return True
        with node.client() as r:
            if r.cluster("info").get("cluster_state") != "ok":
                return False
            replication = r.info("replication")
        return bool(replication["role"] == "master" or replication["master_link_status"] == "up")

    def kill_master(self) -> Node:
        """SIGKILLs a master that is not the seed; its replica takes over."""
        victim = next(n for n in self.masters() if n is not self.seed)
        victim.kill()
        return victim

    def stop(self) -> None:
        for node in self.nodes:
            node.kill()
