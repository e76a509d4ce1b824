"""Prometheus metrics, served on /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Histogram
from pymongo import monitoring

MONGO_COMMANDS = Counter(
    "mongo_commands_total", "MongoDB commands sent, by command name", ["command"]
)
MONGO_COMMAND_DURATION = Histogram(
    "mongo_command_duration_seconds",
    "Round-trip time of MongoDB commands",
    ["command"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
MONGO_COMMAND_FAILURES = Counter(
    "mongo_command_failures_total", "MongoDB commands that failed", ["command"]
)


class MongoCommandMetrics(monitoring.CommandListener):
    """Counts every command pymongo sends; the N+1 tests read this counter."""

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        MONGO_COMMANDS.labels(event.command_name).inc()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        MONGO_COMMAND_DURATION.labels(event.command_name).observe(event.duration_micros / 1_000_000)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        MONGO_COMMAND_FAILURES.labels(event.command_name).inc()
