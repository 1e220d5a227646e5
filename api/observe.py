"""One pure ASGI middleware for what the API tells its operators about each request: the access
log line (by route template, never the raw path: private links carry reporter tokens), the
Prometheus request counter and latency histogram (telemetry/metrics.py), and the request's server span
(OpenTelemetry; a `traceparent` header from the caller continues its trace)."""

from __future__ import annotations

import time

import structlog
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from telemetry.metrics import HTTP_LATENCY, HTTP_REQUESTS
from telemetry.tracing import tracer

log = structlog.get_logger("sp4n.api")

UNMATCHED = "unmatched"  # paths no route knows: one label value, not one per scanned path


class _Headers:
    """The ASGI headers as the propagator's carrier (lower-case names)."""

    @staticmethod
    def get(carrier: list[tuple[bytes, bytes]], key: str) -> list[str] | None:
        values = [v.decode("latin-1") for k, v in carrier if k.decode("latin-1") == key]
        return values or None

    @staticmethod
    def keys(carrier: list[tuple[bytes, bytes]]) -> list[str]:
        return [k.decode("latin-1") for k, _ in carrier]


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or UNMATCHED


class RequestObserver:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method = scope["method"]
        status = 500
        context = propagate.extract(scope.get("headers") or [], getter=_Headers)
        with tracer.start_as_current_span(f"{method}", context=context, kind=SpanKind.SERVER,
                                          record_exception=False, set_status_on_exception=False) as span:

            async def observed_send(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await self.app(scope, receive, observed_send)
            finally:
                route = route_template(scope)
                elapsed = time.perf_counter() - started
                HTTP_REQUESTS.labels(method, route, str(status)).inc()
                HTTP_LATENCY.labels(method, route).observe(elapsed)
                if span.is_recording():
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.request.method", method)
                    span.set_attribute("http.route", route)
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                path_params = scope.get("path_params") or {}
                state = scope.get("state") or {}
                log.info("request", method=method, route=route, status=status,
                         latency_ms=round(elapsed * 1000, 1),
                         tracking_id=path_params.get("tracking_id") or state.get("tracking_id"))
