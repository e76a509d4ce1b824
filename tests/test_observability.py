"""What an operator sees: Prometheus metrics after real traffic, one JSON log line per request."""

from __future__ import annotations

import gc
import json
import logging
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient

from graphql_api.app import create_app
from graphql_api.observability.logs import RedactSecrets, _Json, redact
from graphql_api.observability.metrics import SlowCommandLog
from graphql_api.settings import Settings
from graphql_api.state import AppState
from tests.conftest import Client, operation

WEEK = {"start": "2026-03-23T00:00:00Z", "end": "2026-03-30T00:00:00Z"}
DASHBOARD_CREATE = """
mutation Create($title: String!) {
  createGoal(input: {title: $title, priority: P1}) { id }
}
"""


async def scrape(http: httpx.AsyncClient) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Every sample on /metrics: name -> [(labels, value)]."""
    r = await http.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def total(
    samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str
) -> float:
    return sum(
        value
        for got, value in samples.get(name, [])
        if all(got.get(k) == v for k, v in labels.items())
    )


async def test_a_dashboard_shows_up_in_every_request_metric(
    http: httpx.AsyncClient, alice: Client
) -> None:
    # given
    for title in ("Run", "Read"):
        await alice.execute(DASHBOARD_CREATE, {"title": title})
    before = await scrape(http)
    # when
    r = await alice.op("Dashboard", {"range": WEEK})
    after = await scrape(http)
    # then
    assert r.status == 200
    assert r.data
    grew = {
        name: total(after, name, **labels) - total(before, name, **labels)
        for name, labels in [
            ("http_request_duration_seconds_count", {"route": "/graphql", "status": "200"}),
            (
                "graphql_operation_duration_seconds_count",
                {"operation_name": "Dashboard", "operation_type": "query"},
            ),
            ("mongo_command_duration_seconds_count", {}),
            ("cache_requests_total", {}),
        ]
    }
    assert all(delta >= 1 for delta in grew.values()), grew
    # the pool's size is the setting; connections are back in the pool between requests
    pool_max = after["db_connections_max"]
    assert pool_max
    assert {value for _, value in pool_max} == {10.0}
    assert all(0 <= value <= 10 for _, value in after["db_connections_active"])
    assert total(after, "process_resident_memory_bytes") > 0


async def test_dataloader_batches_are_measured_by_their_size(
    http: httpx.AsyncClient, alice: Client
) -> None:
    # given: two goals
    ids = [
        (await alice.execute(DASHBOARD_CREATE, {"title": t})).data["createGoal"]["id"]
        for t in ("Run", "Read")
    ]
    before = await scrape(http)
    # when: both are read in one request
    r = await alice.execute(
        "query Two($a: ID!, $b: ID!) { a: node(id: $a) { id } b: node(id: $b) { id } }",
        {"a": ids[0], "b": ids[1]},
    )
    after = await scrape(http)
    # then: one batch of two keys, not two batches of one
    assert r.data == {"a": {"id": ids[0]}, "b": {"id": ids[1]}}
    labels = {"loader": "GoalByIdLoader"}
    batches = total(after, "dataloader_batch_size_count", **labels) - total(
        before, "dataloader_batch_size_count", **labels
    )
    keys = total(after, "dataloader_batch_size_sum", **labels) - total(
        before, "dataloader_batch_size_sum", **labels
    )
    assert (batches, keys) == (1, 2)


async def test_errors_are_counted_by_their_code(
    http: httpx.AsyncClient, alice: Client, anonymous: Client
) -> None:
    # given
    before = await scrape(http)
    # when
    invalid = await alice.execute("{ goals { nope } }")
    unauthenticated = await anonymous.op("Dashboard", {"range": WEEK})
    after = await scrape(http)
    # then
    assert invalid.codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert "UNAUTHENTICATED" in unauthenticated.codes
    for code in ("GRAPHQL_VALIDATION_FAILED", "UNAUTHENTICATED"):
        delta = total(after, "graphql_errors_total", code=code) - total(
            before, "graphql_errors_total", code=code
        )
        assert delta >= 1, code


async def test_labels_stay_bounded_whatever_clients_send(
    http: httpx.AsyncClient, alice: Client
) -> None:
    # when: a made-up path and an operation name no dashboard should grow a series for
    await http.get("/no/such/page/12345")
    long_name = "x" * 500
    await http.post(
        "/graphql",
        json={"query": f"query {long_name} {{ __typename }}", "operationName": long_name},
        headers={"Authorization": f"Bearer {alice.token}"},
    )
    r = await http.post(
        "/graphql",
        json={"query": "query Q { __typename }", "operationName": "Q"},
        headers={"Authorization": f"Bearer {alice.token}"},
    )
    samples = await scrape(http)
    # then
    assert r.status_code == 200
    routes = {labels["route"] for labels, _ in samples["http_request_duration_seconds_count"]}
    assert "/no/such/page/12345" not in routes
    assert "unmatched" in routes
    names = {
        labels["operation_name"]
        for labels, _ in samples["graphql_operation_duration_seconds_count"]
    }
    assert "x" * 64 in names
    assert all(len(name) <= 64 for name in names)


async def test_one_access_log_line_per_request_with_its_operation_and_user(
    http: httpx.AsyncClient, alice: Client, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    caplog.set_level(logging.INFO, logger="graphql_api.access")
    # when
    r = await http.post(
        "/graphql",
        json={"query": "query Me { me { id } }", "operationName": "Me"},
        headers={"Authorization": f"Bearer {alice.token}", "X-Request-ID": "req-abc-123"},
    )
    # then
    assert r.status_code == 200
    assert r.headers["x-request-id"] == "req-abc-123"
    lines = [rec for rec in caplog.records if rec.name == "graphql_api.access"]
    assert len(lines) == 1
    line = json.loads(
        _Json("%(levelname)s %(name)s %(message)s", timestamp="time").format(lines[0])
    )
    assert line["request_id"] == "req-abc-123"
    assert line["operation_name"] == "Me"
    assert line["operation_type"] == "query"
    assert line["user_id"] == alice.sub
    assert line["status"] == 200
    assert line["outcome"] == "ok"
    assert line["duration_ms"] > 0
    assert alice.token is not None
    assert alice.token not in json.dumps(line)


async def test_the_log_line_of_a_failed_operation_names_its_codes(
    http: httpx.AsyncClient, alice: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="graphql_api.access")
    await alice.execute("{ goals { nope } }")
    (line,) = [rec for rec in caplog.records if rec.name == "graphql_api.access"]
    record: Any = line
    assert record.outcome == "errors"
    assert record.error_codes == ["GRAPHQL_VALIDATION_FAILED"]


@pytest.mark.parametrize(
    ("message", "secret"),
    [
        ("headers: Authorization: Bearer abc.def-ghi_jkl", "abc.def-ghi_jkl"),
        ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl seen", "eyJhbGciOiJIUzI1NiJ9"),
        ("GET https://cal.example/feed.ics?token=s3cr3t&x=1", "s3cr3t"),
        ("connect mongodb://app:hunter2@db.example:27017/x", "hunter2"),
        ("refresh_token=1//0gAbCdEf and password=pa55", "pa55"),
    ],
)
def test_secrets_never_reach_a_log_line(message: str, secret: str) -> None:
    # given
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s", (message,), None)
    # when
    RedactSecrets().filter(record)
    # then
    assert secret not in record.getMessage()
    assert secret not in redact(message)
    assert "[redacted" in record.getMessage()


async def test_tracing_when_enabled_records_spans_without_argument_values(
    settings: Settings, app_state: AppState, alice: Client
) -> None:
    # given: a tracer provider of our own (as a host process would set up), and tracing on

    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    trace.set_tracer_provider(provider)
    app = create_app(settings.model_copy(update={"otel_enabled": True}))
    app.state.app = app_state  # the suite's connections: no second lifespan
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        # when
        r = await http.post(
            "/graphql",
            json={
                "query": "mutation Create($t: String!) { createGoal(input: {title: $t}) { id } }",
                "variables": {"t": "secret diary title"},
                "operationName": "Create",
            },
            headers={"Authorization": f"Bearer {alice.token}"},
        )
    # then
    assert r.status_code == 200
    assert "errors" not in r.json()
    names = [span.name for span in spans.get_finished_spans()]
    assert "GraphQL Mutation: Create" in names or "GraphQL Query: Create" in names, names
    assert any(name.startswith("POST") for name in names), names
    everything = json.dumps([dict(span.attributes or {}) for span in spans.get_finished_spans()])
    assert "secret diary title" not in everything


async def test_a_slow_mongo_command_is_logged_with_its_filter_shape_and_no_values(
    mongo_uri: str, caplog: pytest.LogCaptureFixture
) -> None:

    # given: every command counts as slow
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_uri, event_listeners=[SlowCommandLog(0)]
    )
    caplog.set_level(logging.WARNING, logger="graphql_api.observability.metrics")
    try:
        # when
        collection = client["slow_log_test"]["things"]
        await collection.find(
            {"userId": "alice-secret", "habitId": {"$in": ["h1", "h2"]}}
        ).to_list()
    finally:
        await client.close()
    # then
    (line,) = [r.getMessage() for r in caplog.records if " find " in r.getMessage()]
    assert line.startswith("slow mongo command: find things ")
    assert line.endswith('{"userId": "?", "habitId": {"$in": ["?", "?"]}}')
    assert "alice-secret" not in line
    assert "h1" not in line


async def test_a_cached_answer_is_counted_and_logged_under_its_documents_operation_name(
    http: httpx.AsyncClient, alice: Client, caplog: pytest.LogCaptureFixture
) -> None:
    # given: a client that sends the document without `operationName`, twice
    query = operation("Me")
    await alice.execute(query)
    before = await scrape(http)
    caplog.set_level(logging.INFO, logger="graphql_api.access")
    # when: the second answer comes whole from the cache
    r = await alice.execute(query)
    after = await scrape(http)
    # then: it is counted and logged as Me, as an executed one is
    assert r.data["me"]
    (line,) = [rec for rec in caplog.records if rec.name == "graphql_api.access"]
    record: Any = line
    assert (record.operation_name, record.operation_type, record.cached) == ("Me", "query", True)
    labels = {"operation_name": "Me", "operation_type": "query"}
    name = "graphql_operation_duration_seconds_count"
    assert total(after, name, **labels) - total(before, name, **labels) == 1
    assert total(after, "cache_requests_total", level="response", result="hit") > total(
        before, "cache_requests_total", level="response", result="hit"
    )


async def test_garbage_collection_pauses_are_measured(http: httpx.AsyncClient, app: Any) -> None:
    # given: the server is up (its start-up hooks the collector)
    before = await scrape(http)
    # when: a full collection, as a busy process makes them
    gc.collect()
    after = await scrape(http)
    # then: one more pause of the oldest generation, and it took time
    name = "python_gc_pause_seconds"
    assert total(after, f"{name}_count", generation="2") > total(
        before, f"{name}_count", generation="2"
    )
    assert total(after, f"{name}_sum", generation="2") > total(
        before, f"{name}_sum", generation="2"
    )


async def test_young_collections_follow_the_setting(app: Any, settings: Settings) -> None:
    # given: the server is up, with the default setting
    # then: the collector's first threshold is the setting's, not Python's 700
    assert gc.get_threshold()[0] == settings.gc_gen0_threshold == 20_000
