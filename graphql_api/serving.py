"""How `serve` runs hypercorn: in this process, or as N API processes on one port.

With `--workers N` (or WEB_CONCURRENCY) this process binds the address, starts N
`scheduling-worker serve-process` children that each inherit a listening socket
(hypercorn's `fd://` bind) and serve it exactly as a single `serve` does, and watches
them:

- on TCP each child has a socket of its own, all bound to the port with SO_REUSEPORT:
  the kernel spreads new connections over them evenly (by a hash of the client's
  address and port). On one shared socket the process the kernel happens to wake takes
  every connection waiting, and clients keep their connections for minutes: after a
  load test's ramp one process served 68 of 100 users. The sockets stay open here, so a
  replaced child takes over its predecessor's socket and the connections waiting in it;
  elsewhere (a Unix socket) the children share one socket;

- SIGTERM or SIGINT is passed on to every child: each closes its WebSockets with
  1001, answers "draining" on /readyz and finishes its requests in flight
  (graphql_api/shutdown.py); the exit status is 0 when they all ended cleanly;
- a child that dies while serving is replaced; one that cannot start (exit status
  BOOT_FAILED) stops them all, so a bad configuration is not retried forever;
- the children share a PROMETHEUS_MULTIPROC_DIR (the given one, emptied, or a
  temporary one), so /metrics on any of them shows the counters of all.

Hypercorn's own `workers` (hypercorn.run) is not used: its children stop when a
multiprocessing Event they poll is set, and the application is never told, so
WebSockets would be cut at graceful_timeout instead of closed with 1001.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from hypercorn.config import Config
from prometheus_client import multiprocess

from graphql_api.embedded import die_with_parent
from graphql_api.settings import Settings

log = logging.getLogger(__name__)

BOOT_FAILED = 3  # a child's exit status when it never got to serve (gunicorn's number)
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


def hypercorn_config(config_file: Path | None) -> Config:
    """The hypercorn settings of `serve`: the file's, with our logging; without a file,
    deploy/hypercorn.toml's choices where they matter here."""
    config = Config.from_toml(config_file) if config_file else Config()
    config.accesslog = None  # our own access line, in JSON, carries the operation and user
    config.errorlog = logging.getLogger("hypercorn")
    if config_file is None:
        config.graceful_timeout = 10
        config.worker_class = "uvloop"
    return config


def process_count(flag: int | None, settings: Settings, config: Config) -> int:
    """--workers, else WEB_CONCURRENCY, else the config file's `workers`, else 1."""
    return flag or settings.web_concurrency or config.workers or 1


@contextlib.contextmanager
def metrics_directory() -> Iterator[Path]:
    """Where the children write their metrics: PROMETHEUS_MULTIPROC_DIR emptied of an
    earlier run's samples (prometheus_client needs that), else a temporary directory."""
    given = os.environ.get(MULTIPROC_DIR)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for old in path.glob("*.db"):
            old.unlink()
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="scheduling-worker-metrics-") as tmp:
        yield Path(tmp)


def listening_sockets(config: Config, count: int) -> list[socket.socket]:
    """One socket per API process, bound to the configured address (not yet listening):
    on TCP each its own, all with SO_REUSEPORT (hypercorn sets it when `workers` > 1),
    the first one's port for the others when the address asked for any port; elsewhere
    one socket, shared."""
    binds, workers = config.bind, config.workers
    config.workers = max(count, 2)
    try:
        first = _one_socket(config)
        if count == 1 or first.family not in (socket.AF_INET, socket.AF_INET6):
            return [first] * count
        host, port = first.getsockname()[:2]
        config.bind = [f"[{host}]:{port}"]
        return [first, *(_one_socket(config) for _ in range(count - 1))]
    finally:
        config.bind, config.workers = binds, workers


def _one_socket(config: Config) -> socket.socket:
    sockets = config.create_sockets()
    [sock] = sockets.secure_sockets or sockets.insecure_sockets
    return sock


class Processes:
    """N `serve-process` children, each on an inherited listening socket; see the module's
    docstring."""

    def __init__(
        self, settings: Settings, config: Config, count: int, config_file: Path | None
    ) -> None:
        self.count = count
        self.grace_s = config.graceful_timeout + 10  # then SIGKILL
        self.stopping = threading.Event()
        self.failed = False
        self.sockets = listening_sockets(config, count)
        # Listening from now on: connections made while the children start wait in the
        # backlog instead of being refused.
        for sock in dict.fromkeys(self.sockets):
            sock.listen(config.backlog)
        self.config_args = ["--config", str(config_file)] if config_file else []
        self.env = {
            **os.environ,
            # Resolved: the embedded backends this process started, shared by all.
            "MONGODB_URI": str(settings.mongodb_uri),
            "REDIS_URL": str(settings.redis_url),
        }

    def _start(self, index: int) -> subprocess.Popen[bytes]:
        fd = self.sockets[index].fileno()
        child = subprocess.Popen(  # noqa: S603 - our own console script
            [
                str(Path(sys.executable).parent / "scheduling-worker"),
                "serve-process",
                "--fd",
                str(fd),
                *self.config_args,
            ],
            env=self.env,
            pass_fds=[fd],
            preexec_fn=die_with_parent,  # noqa: PLW1509 - only sets the death signal
        )
        log.info("API process started (pid %d)", child.pid)
        return child

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping.set()

    def run(self) -> int:
        """Serve until SIGTERM or SIGINT (or a child that cannot start); the exit status."""
        handlers = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            with metrics_directory() as metrics:
                self.env[MULTIPROC_DIR] = str(metrics)
                children = [self._start(i) for i in range(self.count)]
                while not self.stopping.wait(0.5):
                    children = [self._replace(i, c, metrics) for i, c in enumerate(children)]
                return self._drain(children)
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)

    def _replace(
        self, index: int, child: subprocess.Popen[bytes], metrics: Path
    ) -> subprocess.Popen[bytes]:
        status = child.poll()
        if status is None or self.stopping.is_set():
            return child

        # Its counters stay in the sums; its live gauges (open sockets, pool) go.
        multiprocess.mark_process_dead(child.pid, str(metrics))  # type: ignore[no-untyped-call]
        if status == BOOT_FAILED:
            log.error("an API process could not start (pid %d); stopping", child.pid)
            self.failed = True
            self.stopping.set()
            return child
        log.error("API process %d exited with status %d; starting another", child.pid, status)
        return self._start(index)

    def _drain(self, children: list[subprocess.Popen[bytes]]) -> int:
        # The children hold their own copies of the sockets: they stay open while they drain.
        for sock in dict.fromkeys(self.sockets):
            sock.close()
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        clean = not self.failed
        for child in children:
            try:
                status = child.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("API process %d did not stop in time; killed", child.pid)
                child.kill()
                status = child.wait()
            # SIGTERM before its signal handlers were set: it was still starting, serving nothing.
            clean = clean and status in (0, -signal.SIGTERM)
        return 0 if clean else 1
