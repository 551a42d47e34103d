"""OpenTelemetry tracing: off unless the standard OTEL_* variables ask for it.

On when an OTLP endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT` or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) and `OTEL_SDK_DISABLED` is not true; the SDK reads every
other OTEL_* variable itself (service name, headers, sampler, batch delays). Off, nothing of
OpenTelemetry is imported, so a worker's memory does not grow: `span()` is an empty context
manager, and the engine calls it only per batch, page or part, never per row.

On, every process traces its requests (Django), queries (psycopg) and S3 calls (botocore); the
web process carries the request's context to the worker in the Dramatiq message options (a W3C
`traceparent`), and the worker's run span continues that trace.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from contextlib import nullcontext
from typing import Any

_tracer: Any = None  # the SDK's tracer once configure() turned tracing on


def tracing_wanted(environ: Mapping[str, str] = os.environ) -> bool:
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return bool(environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def configure() -> bool:
    """Turn tracing on in this process when the environment asks for it (once). True when on."""
    global _tracer
    if _tracer is not None:
        return True
    if not tracing_wanted():
        return False
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    role = "worker" if any("dramatiq" in part for part in sys.argv[:2]) else "web"
    name = os.environ.get("OTEL_SERVICE_NAME", "exportsite")
    resource = Resource.create({"service.name": name, "exportsite.role": role, "process.pid": os.getpid()})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    DjangoInstrumentor().instrument()
    PsycopgInstrumentor().instrument(enable_commenter=False)
    BotocoreInstrumentor().instrument()
    _tracer = trace.get_tracer("exportsite")
    return True


def span(name: str, parent: Any = None, **attributes: Any):
    """A span made current for the block: a child of `parent` (a current_context() of another
    thread, or a context carried in a message) or of the current span; a no-op while off."""
    if _tracer is None:
        return nullcontext()
    return _tracer.start_as_current_span(name, context=parent, attributes=_attributes(attributes))


def carrier() -> dict[str, str]:
    """The current context as message options (`traceparent`, `tracestate`); {} while off."""
    if _tracer is None:
        return {}
    from opentelemetry.propagate import inject

    headers: dict[str, str] = {}
    inject(headers)
    return headers


def continued(name: str, options: Mapping[str, Any], **attributes: Any):
    """A span whose parent is the context carried in `options` (a message's), if any."""
    if _tracer is None:
        return nullcontext()
    from opentelemetry.propagate import extract

    carried = {key: str(value) for key, value in options.items() if key in ("traceparent", "tracestate")}
    return span(name, extract(carried), **attributes)


def annotate(**attributes: Any) -> None:
    """Add attributes to the current span (a no-op while off)."""
    if _tracer is None:
        return
    from opentelemetry import trace

    trace.get_current_span().set_attributes(_attributes(attributes))


def current_context() -> Any:
    """The current context, for work handed to another thread (None while off)."""
    if _tracer is None:
        return None
    from opentelemetry import context

    return context.get_current()


def start_span(name: str, parent: Any = None, **attributes: Any) -> Any:
    """A span that is not made current (work that spans yields, or another thread's part), under
    `parent` (a current_context()) or the current context; end it with end_span. None while off."""
    if _tracer is None:
        return None
    return _tracer.start_span(name, context=parent, attributes=_attributes(attributes))


def end_span(started: Any, **attributes: Any) -> None:
    if started is not None:
        started.set_attributes(_attributes(attributes))
        started.end()


def _attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """OpenTelemetry's dotted names from keyword arguments (export_id -> export.id)."""
    return {key.replace("__", "."): value for key, value in attributes.items() if value is not None}
