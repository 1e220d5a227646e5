"""Prometheus metric definitions of the API and the worker (prometheus-client, text exposition format).

A low module: activities, the API and the operator tools count with these objects, importing downward;
the read-model gauges, which read the API's read model, are the API's (api/metrics.py).

API (`GET /metrics`): requests by route template and status, latency histograms, cases submitted
by channel, and gauges read from the read model (open cases by status, overdue open cases by
agency, failed and uncertain deliveries), computed by a few GROUP BY queries at most once per
`METRICS_READ_MODEL_CACHE_SECONDS`. Worker (`WORKER_METRICS_PORT`): activities by outcome,
deliveries by outcome, projection lag, and the Temporal SDK's own runtime metrics (its Prometheus
exporter on a loopback port, relayed on the same endpoint).

Every labelled series an alert or the dashboard names is created at import with its known label
values, so it exists (at 0) before the first event: tests/ops/test_metrics.py checks that.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.request

from typing import Any

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import disable_created_metrics
from temporalio import activity
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from domain.enums import Channel

disable_created_metrics()  # no `_created` series beside every counter and histogram
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# --- API ------------------------------------------------------------------------------------------
api_registry = CollectorRegistry(auto_describe=True)
HTTP_REQUESTS = Counter(
    "sp4n_http_requests", "HTTP requests answered, by route template and status",
    ["method", "route", "status"], registry=api_registry,
)
HTTP_LATENCY = Histogram(
    "sp4n_http_request_duration_seconds", "Time to answer an HTTP request, by route template",
    ["method", "route"], buckets=LATENCY_BUCKETS, registry=api_registry,
)
CASES_SUBMITTED = Counter(
    "sp4n_cases_submitted", "Cases opened through the API, by channel", ["channel"], registry=api_registry,
)
for _channel in Channel:
    CASES_SUBMITTED.labels(_channel.value)

# --- worker ---------------------------------------------------------------------------------------
worker_registry = CollectorRegistry(auto_describe=True)
ACTIVITIES = Counter(
    "sp4n_activities", "Activity attempts by activity and outcome (completed, failed)",
    ["activity", "outcome"], registry=worker_registry,
)
ACTIVITY_LATENCY = Histogram(
    "sp4n_activity_duration_seconds", "Time of one activity attempt", ["activity"],
    buckets=LATENCY_BUCKETS, registry=worker_registry,
)
DELIVERIES = Counter(
    "sp4n_notification_deliveries", "Notification delivery attempts by channel and outcome "
    "(sent; pending: refused, to be retried; failed: dead-lettered; uncertain: may have been taken)",
    ["channel", "outcome"], registry=worker_registry,
)
PROJECTION_LAG = Histogram(
    "sp4n_projection_lag_seconds",
    "From a transition in the workflow (its newest event or escalation) to its commit in the read model",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0), registry=worker_registry,
)
# Connected bodies (issue 27; activities/connected.py).
CONNECTED_FORWARDS = Counter(
    "sp4n_connected_forwards", "Sends into connected bodies' systems by kind (request, update) and outcome "
    "(acknowledged, sent: a token only, retried, refused)", ["kind", "outcome"], registry=worker_registry,
)
CONNECTED_SYNCS = Counter(
    "sp4n_connected_syncs", "Reads of connected bodies' updates by outcome (ok, failed)", ["outcome"],
    registry=worker_registry,
)
CONNECTED_UPDATES = Counter(
    "sp4n_connected_updates", "Updates read back from connected bodies by outcome "
    "(follow_up, reroute, progress, own, skipped)", ["outcome"], registry=worker_registry,
)
CONNECTED_SYNC_LAG = Histogram(
    "sp4n_connected_sync_lag_seconds", "From an update's time in the body's system to its application here",
    buckets=(1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 6 * 3600.0, 86400.0), registry=worker_registry,
)
for _kind in ("request", "update"):
    for _outcome in ("acknowledged", "sent", "retried", "refused"):
        CONNECTED_FORWARDS.labels(_kind, _outcome)
for _outcome in ("ok", "failed"):
    CONNECTED_SYNCS.labels(_outcome)
for _outcome in ("follow_up", "reroute", "progress", "own", "skipped"):
    CONNECTED_UPDATES.labels(_outcome)
for _activity in ("project_case", "record_case", "suggest_agencies"):
    for _outcome in ("completed", "failed"):
        ACTIVITIES.labels(_activity, _outcome)
for _channel_name in ("email", "sms", "webhook", "none"):
    for _outcome in ("sent", "pending", "failed", "uncertain"):
        DELIVERIES.labels(_channel_name, _outcome)


# --- worker: activities by outcome (a worker interceptor), the endpoint and the SDK's runtime -----

class ActivityMetrics(Interceptor):
    """Counts each activity attempt (local ones too) by outcome and times it."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityMetricsInbound(next)


class _ActivityMetricsInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        name = activity.info().activity_type
        started = time.perf_counter()
        outcome = "failed"
        try:
            result = await super().execute_activity(input)
            outcome = "completed"
            return result
        finally:
            ACTIVITIES.labels(name, outcome).inc()
            ACTIVITY_LATENCY.labels(name).observe(time.perf_counter() - started)


def _loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _WorkerMetricsHandler(BaseHTTPRequestHandler):
    sdk_url = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path.split("?")[0] != "/metrics":
            self.send_error(404)
            return
        body = generate_latest(worker_registry)
        try:  # the SDK's exposition as it wrote it (a parse and re-exposition would rename counters)
            with urllib.request.urlopen(self.sdk_url, timeout=2) as response:  # noqa: S310 - loopback
                body += response.read()
        except OSError:
            pass
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE_LATEST)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # scrapes are not worth a log line
        pass


def worker_runtime_and_endpoint(host: str, port: int) -> Runtime | None:
    """The worker's Temporal runtime with the SDK's Prometheus exporter on a loopback port, and
    the endpoint on `host:port` serving our metrics followed by the SDK's. None when port is 0
    (no endpoint; the default runtime)."""
    if not port:
        return None
    sdk_address = f"127.0.0.1:{_loopback_port()}"
    runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(
        bind_address=sdk_address, durations_as_seconds=True,
    )))
    handler = type("WorkerMetricsHandler", (_WorkerMetricsHandler,), {"sdk_url": f"http://{sdk_address}/metrics"})
    server = ThreadingHTTPServer((host, port), handler)
    threading.Thread(target=server.serve_forever, name="metrics-endpoint", daemon=True).start()
    return runtime
