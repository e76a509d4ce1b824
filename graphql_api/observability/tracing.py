"""Optional OpenTelemetry tracing (OTEL_ENABLED=true, with the `otel` extra installed).

Spans: one per HTTP request (the ASGI instrumentation) and, inside it, the
GraphQL operation's parse, validate and resolvers (Strawberry's extension).
Argument values are never recorded: they carry users' titles and notes.
The exporter is OTLP over HTTP, configured by the standard OTEL_EXPORTER_OTLP_*
variables; a tracer provider the host process set up already is used as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from strawberry.extensions import SchemaExtension

from graphql_api.settings import Settings


@dataclass(frozen=True)
class Tracing:
    extension: type[SchemaExtension]  # for the schema
    middleware: Any  # the ASGI middleware class


def no_arguments(kwargs: dict[str, Any], info: Any) -> dict[str, Any]:
    return {}


def configure_tracing(settings: Settings) -> Tracing:
    # The `otel` extra is optional: imported here, only when OTEL_ENABLED asks for it, so
    # the API runs without it and does not pay for importing it when tracing is off.
    try:
        from opentelemetry import trace  # noqa: PLC0415 - optional extra, see above
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter,
        )
        from opentelemetry.instrumentation.asgi import (  # noqa: PLC0415
            OpenTelemetryMiddleware,
        )
        from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
        from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
        from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415
        from strawberry.extensions.tracing import OpenTelemetryExtension  # noqa: PLC0415
    except ImportError as e:
        raise RuntimeError(
            "OTEL_ENABLED=true needs the `otel` extra: pip install 'scheduling-worker[otel]'"
        ) from e
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider(
            resource=Resource.create({"service.name": settings.otel_service_name})
        )
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)

    class GraphQLTracing(OpenTelemetryExtension):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(arg_filter=no_arguments, **kwargs)

    return Tracing(extension=GraphQLTracing, middleware=OpenTelemetryMiddleware)
