"""Traces and logs of a process (API, worker, CLI), set up once at its start.

Traces: OpenTelemetry. Every process has a tracer provider, so every request, Temporal call,
workflow and activity has a trace id (in the logs); spans are exported by OTLP over HTTP only when
`OTEL_EXPORTER_OTLP_ENDPOINT` is set (e.g. http://127.0.0.1:4318), never otherwise. The trace
crosses Temporal through `TracingInterceptor` (temporalio.contrib.opentelemetry), installed on
the client by workflows.client.connect when an endpoint is set (issue 25: unread, it cost the
worker ~11 % of its CPU): API request -> StartWorkflow/update/query -> the workflow's run and
handlers -> its activities.

Logs: structlog for our own loggers and the standard library's (uvicorn, temporalio) alike, with
`trace_id` and `span_id` in every line that has a current span; JSON lines in production (or
LOG_FORMAT=json), readable key=value lines in development.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from config import Settings

_configured: set[str] = set()


def add_trace_ids(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: the current span's trace and span ids (hex, as in any OTel backend)."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
    return event_dict


def log_format(settings: Settings) -> str:
    return settings.log_format or ("json" if settings.environment == "production" else "console")


def configure_logging(settings: Settings) -> None:
    """structlog and the standard library's logging through one set of processors and renderer."""
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_ids,
    ]
    renderer = (
        structlog.processors.JSONRenderer() if log_format(settings) == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.processors.format_exc_info,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, renderer],
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    for name in ("uvicorn", "uvicorn.error"):  # uvicorn's own handlers: ours instead
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Nor httpx's request lines: they write whole URLs, and Telegram's carry the bot token
    # (whoever holds it can point the bot's webhook, so citizens' messages, elsewhere).
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # Never uvicorn's access log: it writes whole URLs, and a private link carries the reporter's
    # token in its query. The app logs each request itself, by route template (api/main.py).
    access = logging.getLogger("uvicorn.access")
    access.handlers[:] = []
    access.propagate = False
    access.disabled = True


def configure_tracing(settings: Settings, service_name: str) -> None:
    """A tracer provider for this process (once); an OTLP exporter when an endpoint is set."""
    if "tracing" in _configured:
        return
    _configured.add("tracing")
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if settings.otel_exporter_otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)


def configure(settings: Settings, service_name: str) -> None:
    """Logs and traces of a process: call first thing in its entry point."""
    configure_logging(settings)
    configure_tracing(settings, service_name)


tracer = trace.get_tracer("sp4n")
