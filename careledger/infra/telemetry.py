"""OpenTelemetry for every process: traces that follow a command end to end, and metrics.

One trace follows a command: the HTTP request (Django's instrumentation), the append
to the event store (a span whose context is stored with the events), the relay's
publish (a producer span whose parent is that stored context, itself carried on in the
Kafka headers), the consumer's processing and the projections it feeds (children of
the producer span), and a later GraphQL read that sends the same `traceparent`.

Exporters: OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (the SDK reads the OTEL_*
variables itself), the console with `CARELEDGER_TRACE_CONSOLE=1`, otherwise none: the
API stays a no-op and the hot paths ask `enabled()` before making spans at all.

Spans and metrics carry ids, positions, event types and command names, never patient
data: no names, no notes, no SQL parameters.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry import metrics, trace

_lock = threading.Lock()
_enabled = False

tracer = trace.get_tracer("careledger")
meter = metrics.get_meter("careledger")

#: Command latency, by command and outcome (created, refused, conflict, error).
command_seconds = meter.create_histogram(
    "careledger.command.duration", unit="s", description="Command latency, by outcome")
#: GraphQL latency, by operation name.
graphql_seconds = meter.create_histogram(
    "careledger.graphql.duration", unit="s", description="GraphQL request latency")
#: From an event's commit to its batch's commit in the views.
freshness_ms = meter.create_histogram(
    "careledger.views.freshness", unit="ms", description="Commit to view, per event")
#: Messages sent to the dead-letter topic.
dead_letters = meter.create_counter(
    "careledger.views.dead_letters", description="Messages sent to the dead-letter topic")
#: Log positions the relay has yet to publish, and how long the oldest has waited.
relay_behind = meter.create_gauge(
    "careledger.relay.behind", description="Log positions not yet published")
relay_lag_seconds = meter.create_gauge(
    "careledger.relay.lag", unit="s", description="Age of the oldest unpublished event")
#: Per partition: the last applied log position.
applied_position = meter.create_gauge(
    "careledger.views.position", description="Last log position applied, per partition")


def enabled() -> bool:
    """Whether spans are recorded anywhere: hot loops skip making them when not."""
    return _enabled


def configure(service: str, *, console: bool = False,
              span_exporter: Any | None = None, instrument_django: bool = False) -> bool:
    """Once per process (per worker, after a fork): providers, exporters, instrumentations.

    `span_exporter` is for tests (an in-memory exporter). Answers whether tracing is on.
    """
    global _enabled  # noqa: PLW0603 - one switch per process
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if not (endpoint or console or span_exporter is not None):
        return False
    with _lock:
        if _enabled:
            return True
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            ConsoleSpanExporter,
            SimpleSpanProcessor,
        )

        resource = resource_of(service)
        provider = TracerProvider(resource=resource)
        readers: list[Any] = []
        if endpoint:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
                OTLPMetricExporter,
            )
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
        if console:
            provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
        if span_exporter is not None:
            provider.add_span_processor(SimpleSpanProcessor(span_exporter))
        trace.set_tracer_provider(provider)
        metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))
        if instrument_django:
            from opentelemetry.instrumentation.django import DjangoInstrumentor

            DjangoInstrumentor().instrument()
        from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

        PsycopgInstrumentor().instrument(enable_commenter=False)
        _enabled = True
        return True


def resource_of(service: str) -> Any:
    """This process's resource: what the OTEL_* variables say (OTEL_SERVICE_NAME,
    OTEL_RESOURCE_ATTRIBUTES), with `careledger-<service>` as the name only where they
    name none. An operator's variables win over our defaults, never the reverse."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource

    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: f"careledger-{service}"}))
    return resource


def disable() -> None:
    """Stop making spans and undo the instrumentations (the provider stays: OpenTelemetry
    lets a process set it once). For tests, which share one process."""
    global _enabled  # noqa: PLW0603
    with _lock:
        if not _enabled:
            return
        from opentelemetry.instrumentation.django import DjangoInstrumentor
        from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

        for instrumentor in (DjangoInstrumentor(), PsycopgInstrumentor()):
            if instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.uninstrument()
        _enabled = False


def event_attributes(types: Sequence[str], ids: Sequence[object]) -> dict[str, Any]:
    """What a span may say about events: their types and record ids (never contents)."""
    return {"careledger.event.count": len(types),
            "careledger.event.types": sorted(set(types)),
            "careledger.record.ids": sorted({str(i) for i in ids})}
