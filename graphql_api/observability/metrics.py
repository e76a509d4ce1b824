"""Prometheus metrics, served on /metrics (the worker serves its own on WORKER_METRICS_PORT).

With PROMETHEUS_MULTIPROC_DIR set (`serve --workers N` sets it for its processes),
every process writes its samples there and /metrics, on any of them, sums them; the
process_* figures (RSS, CPU, ...) are then given per process, with a `pid` label.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Metric,
    ProcessCollector,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector
from pymongo import monitoring

log = logging.getLogger(__name__)

# Latency buckets from 1 ms to 10 s: the alert reads the p95 against 500 ms.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "HTTP requests by method, route and status, from the first byte in to the last byte out",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)
GRAPHQL_OPERATION_DURATION = Histogram(
    "graphql_operation_duration_seconds",
    "GraphQL operations (parse, validate, execute) by operation name and type",
    ["operation_name", "operation_type"],
    buckets=LATENCY_BUCKETS,
)
GRAPHQL_ERRORS = Counter("graphql_errors", "GraphQL errors by extensions.code", ["code"])
WEBSOCKETS_OPEN = Gauge(
    "websocket_connections_open", "Open WebSocket connections", multiprocess_mode="livesum"
)
SUBSCRIPTIONS_ACTIVE = Gauge(
    "graphql_subscriptions_active", "Running GraphQL subscriptions", multiprocess_mode="livesum"
)

MONGO_COMMANDS = Counter("mongo_commands", "MongoDB commands sent, by command name", ["command"])
MONGO_COMMAND_DURATION = Histogram(
    "mongo_command_duration_seconds",
    "Round-trip time of MongoDB commands",
    ["command"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
MONGO_COMMAND_FAILURES = Counter(
    "mongo_command_failures", "MongoDB commands that failed", ["command"]
)
DB_CONNECTIONS_ACTIVE = Gauge(
    "db_connections_active",
    "MongoDB connections checked out of the pool, by server",
    ["address"],
    multiprocess_mode="livesum",
)
DB_CONNECTIONS_MAX = Gauge(
    "db_connections_max",
    "The pool's maxPoolSize, by server",
    ["address"],
    multiprocess_mode="livesum",
)


# Every command passes here several times: each label set's child is looked up once.
@lru_cache(maxsize=256)
def _commands(name: str) -> Counter:
    return MONGO_COMMANDS.labels(name)


@lru_cache(maxsize=256)
def _command_duration(name: str) -> Histogram:
    return MONGO_COMMAND_DURATION.labels(name)


@lru_cache(maxsize=64)
def _active(address: tuple[str, int | None]) -> Gauge:
    return DB_CONNECTIONS_ACTIVE.labels(_address(address))


class MongoCommandMetrics(monitoring.CommandListener):
    """Counts every command pymongo sends; the N+1 tests read this counter."""

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        _commands(event.command_name).inc()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        _command_duration(event.command_name).observe(event.duration_micros / 1_000_000)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        MONGO_COMMAND_FAILURES.labels(event.command_name).inc()


def _address(address: tuple[str, int | None]) -> str:
    host, port = address
    return f"{host}:{port}" if port is not None else host


class MongoPoolMetrics(monitoring.ConnectionPoolListener):
    """Connections in use against the pool's maximum: the pool-exhaustion alert's ratio."""

    def pool_created(self, event: monitoring.PoolCreatedEvent) -> None:
        size = event.options.get("maxPoolSize", 100)
        DB_CONNECTIONS_MAX.labels(_address(event.address)).set(size)
        DB_CONNECTIONS_ACTIVE.labels(_address(event.address)).set(0)

    def pool_ready(self, event: monitoring.PoolReadyEvent) -> None:
        pass

    def pool_cleared(self, event: monitoring.PoolClearedEvent) -> None:
        pass

    def pool_closed(self, event: monitoring.PoolClosedEvent) -> None:
        DB_CONNECTIONS_ACTIVE.labels(_address(event.address)).set(0)

    def connection_created(self, event: monitoring.ConnectionCreatedEvent) -> None:
        pass

    def connection_ready(self, event: monitoring.ConnectionReadyEvent) -> None:
        pass

    def connection_closed(self, event: monitoring.ConnectionClosedEvent) -> None:
        pass

    def connection_check_out_started(
        self, event: monitoring.ConnectionCheckOutStartedEvent
    ) -> None:
        pass

    def connection_check_out_failed(self, event: monitoring.ConnectionCheckOutFailedEvent) -> None:
        pass

    def connection_checked_out(self, event: monitoring.ConnectionCheckedOutEvent) -> None:
        _active(event.address).inc()

    def connection_checked_in(self, event: monitoring.ConnectionCheckedInEvent) -> None:
        _active(event.address).dec()


_FILTERS = {"find": "filter", "count": "query", "distinct": "query", "findAndModify": "query"}


def shape_of(value: Any) -> Any:
    """A filter with every value replaced: field names and operators, never user data."""
    if isinstance(value, dict):
        return {k: shape_of(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape_of(v) for v in value[:3]] + (["..."] if len(value) > 3 else [])
    return "?"


def _filter_of(name: str, command: Mapping[str, Any]) -> Any:
    if name in _FILTERS:
        return command.get(_FILTERS[name])
    if name == "aggregate":
        return [next(iter(stage)) for stage in command.get("pipeline", [])]
    if name in ("update", "delete"):
        statements = command.get(f"{name}s") or [{}]
        return statements[0].get("q")
    return None


class SlowCommandLog(monitoring.CommandListener):
    """A warning for each Mongo command slower than MONGO_SLOW_MS: what it was, on which
    collection, how long, and its filter's shape (never a value), as a slow query log."""

    def __init__(self, threshold_ms: int) -> None:
        self.threshold_us = threshold_ms * 1000
        self._started: dict[tuple[Any, int], Mapping[str, Any]] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self._started[(event.connection_id, event.request_id)] = event.command

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._finished(event, event.duration_micros)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._finished(event, event.duration_micros)

    def _finished(
        self, event: monitoring.CommandSucceededEvent | monitoring.CommandFailedEvent, us: int
    ) -> None:
        command = self._started.pop((event.connection_id, event.request_id), None)
        if command is None or us < self.threshold_us:
            return
        name = event.command_name
        collection = command.get(name)
        filter_shape = json.dumps(shape_of(_filter_of(name, command)), default=str)
        log.warning(
            "slow mongo command: %s %s %.0f ms %s",
            name,
            collection if isinstance(collection, str) else "",
            us / 1000,
            filter_shape,
        )


def mongo_listeners(slow_ms: int = 0) -> list[monitoring._EventListener]:
    listeners: list[monitoring._EventListener] = [MongoCommandMetrics(), MongoPoolMetrics()]
    if slow_ms > 0:
        listeners.append(SlowCommandLog(slow_ms))
    return listeners


def _constant(pid: int) -> Callable[[], int]:
    return lambda: pid


class LiveProcesses(Collector):
    """The process_* metrics of every live process that writes to the multiprocess
    directory, each with its `pid` (prometheus_client's own process collector sees only
    the process that answers the scrape)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def pids(self) -> set[int]:
        # prometheus_client names each process's files <kind>_<pid>.db; a dead
        # process's counters stay (they are part of the sums), its /proc entry does not.
        found = {int(f.stem.rsplit("_", 1)[1]) for f in self.directory.glob("*_*.db")}
        return {pid for pid in found if Path(f"/proc/{pid}").exists()}

    def collect(self) -> Iterator[Metric]:
        merged: dict[str, Metric] = {}
        for pid in sorted(self.pids()):
            for family in ProcessCollector(pid=_constant(pid), registry=None).collect():
                into = merged.setdefault(
                    family.name, Metric(family.name, family.documentation, family.type)
                )
                for sample in family.samples:
                    into.add_sample(sample.name, {**sample.labels, "pid": str(pid)}, sample.value)
        yield from merged.values()


def exposition() -> tuple[bytes, str]:
    """The text format of every metric of this process, or of all the API's processes."""
    if directory := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(LiveProcesses(Path(directory)))
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
