"""GraphQL operations measured: duration by name and type, errors by code, subscriptions."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from functools import lru_cache
from typing import TypeVar

from prometheus_client import Histogram
from strawberry.extensions import SchemaExtension

from graphql_api.observability.metrics import (
    GRAPHQL_ERRORS,
    GRAPHQL_OPERATION_DURATION,
    SUBSCRIPTIONS_ACTIVE,
)
from graphql_api.observability.requests import current

T = TypeVar("T")

# Operation names come from clients: a bounded set of labels, whatever they send.
_MAX_NAME = 64


def label_of(name: str | None) -> str:
    if not name:
        return "anonymous"
    return name[:_MAX_NAME] if name.isidentifier() else "invalid"


@lru_cache(maxsize=1024)
def operation_duration(name: str, kind: str) -> Histogram:
    """The labelled child, looked up once per operation name and type."""
    return GRAPHQL_OPERATION_DURATION.labels(name, kind)


class OperationMetrics(SchemaExtension):
    """First in the schema's extensions, so it sees the errors after ErrorCodes coded them."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        try:
            kind = context.operation_type.value
        except Exception:  # noqa: BLE001 - no operation type when parsing failed
            kind = "unknown"
        name = label_of(context.operation_name)
        if kind != "subscription":  # a subscription's lifetime is not a latency
            operation_duration(name, kind).observe(time.perf_counter() - started)
        codes = [
            str((error.extensions or {}).get("code", "INTERNAL"))
            for error in (context.result.errors if context.result else None) or []
        ]
        for code in codes:
            GRAPHQL_ERRORS.labels(code).inc()
        record = current()
        if record is not None:
            record.operation_name = context.operation_name
            record.operation_type = kind
            record.error_codes.extend(codes)
            user = getattr(context.context, "claims", None)
            record.user_id = getattr(user, "sub", None)


async def counted(events: AsyncIterator[T]) -> AsyncGenerator[T, None]:
    """A subscription's events, with the open-subscriptions gauge up while it runs."""
    SUBSCRIPTIONS_ACTIVE.inc()
    try:
        async for event in events:
            yield event
    finally:
        SUBSCRIPTIONS_ACTIVE.dec()
