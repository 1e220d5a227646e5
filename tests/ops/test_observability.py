"""What an operator watches, checked on the real processes of `make run` (tests/reliability/stack.py):

- `/metrics` of the API and of the worker (ours and the Temporal SDK's runtime metrics), and every
  metric the alert rules (ops/prometheus/alerts.yml) and the Grafana dashboard
  (ops/grafana/sp4n-dashboard.json) name is there after a case has been opened and forwarded;
- the rules pass `promtool check rules` (Debian's `prometheus`; .ci/run installs it: skipped only
  outside CI when it is missing);
- one trace goes from the API request through the Temporal client, the workflow and its
  activities, exported by OTLP/HTTP to a receiver here; the API's log line for the request (JSON)
  carries the same trace id.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from prometheus_client.parser import text_string_to_metric_families

from tests.reliability.stack import ADMIN_TOKEN, ROOT, Stack, eventually, running_stack

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
RULES = ROOT / "ops" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "ops" / "grafana" / "sp4n-dashboard.json"
# Series Prometheus makes itself for every target (not exposed by any endpoint).
PROMETHEUS_SYNTHETIC = {"up"}
METRIC_NAME = re.compile(r"\b((?:sp4n|temporal)_[a-z0-9_]+|up)\b")


def named_metrics() -> set[str]:
    expressions = [rule["expr"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]
    expressions += [t["expr"] for panel in json.loads(DASHBOARD.read_text())["panels"] for t in panel["targets"]]
    return {name for expression in expressions for name in METRIC_NAME.findall(expression)}


def test_rules_and_dashboard_name_metrics() -> None:
    names = named_metrics()
    assert {"sp4n_http_requests_total", "sp4n_open_cases", "sp4n_overdue_cases",
            "temporal_workflow_task_schedule_to_start_latency_bucket"} <= names


def test_alert_rules_pass_promtool() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI"):
            pytest.fail("promtool missing in CI: .ci/run installs Debian's prometheus package")
        pytest.skip("promtool (Debian package prometheus) is not installed")
    result = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    config = subprocess.run([promtool, "check", "config", str(ROOT / "ops/prometheus/prometheus.yml")],
                            capture_output=True, text=True)
    assert config.returncode == 0, config.stdout + config.stderr


class OtlpReceiver:
    """An OTLP/HTTP trace receiver on loopback: the spans it got, as (service, name, trace, span, parent)."""

    def __init__(self) -> None:
        self.spans: list[dict[str, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportTraceServiceRequest.FromString(body)
                for resource_spans in request.resource_spans:
                    service = next((a.value.string_value for a in resource_spans.resource.attributes
                                    if a.key == "service.name"), "")
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            receiver.spans.append({
                                "service": service, "name": span.name, "trace_id": span.trace_id.hex(),
                                "span_id": span.span_id.hex(), "parent": span.parent_span_id.hex(),
                            })
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    running = OtlpReceiver()
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def stack(tmp_path: Path, receiver: OtlpReceiver) -> Iterator[Stack]:
    # A read model of its own (the counts below are exact), whatever DATABASE_URL says.
    with running_stack(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'sp4n.db'}", LOG_FORMAT="json", METRICS_READ_MODEL_CACHE_SECONDS="0",
                       OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY="200") as running:
        yield running



def sample_names(text: str) -> set[str]:
    """Series names as Prometheus stores them (read from the lines: the client library's parser
    would add `_total` to the SDK's counters)."""
    return {re.split(r"[{ ]", line, maxsplit=1)[0] for line in text.splitlines() if line and not line.startswith("#")}


async def test_metrics_traces_and_logs_of_a_running_stack(stack: Stack, receiver: OtlpReceiver) -> None:
    trace_id = os.urandom(16).hex()
    traceparent = f"00-{trace_id}-{os.urandom(8).hex()}-01"
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.api_port}", timeout=30) as api:
        async def healthy() -> bool:
            try:
                return (await api.get("/healthz")).status_code == 200
            except httpx.HTTPError:
                return False

        assert await eventually(healthy, timeout=90)
        response = await api.post("/v1/complaints", headers={"traceparent": traceparent},
                                  json={"title": "Lampu jalan mati", "description": "Lampu di depan pasar mati.",
                                        "region_code": "62.71"})
        assert response.status_code == 201, response.text
        tracking_id = response.json()["tracking_id"]
        response = await api.post(f"/v1/complaints/{tracking_id}/verification", headers=ADMIN,
                                  json={"decision": "accept", "agency_id": "pemkot-62.71"})
        assert response.status_code == 200, response.text

        async def projected() -> bool:
            listed = (await api.get("/v1/complaints?status=awaiting_agency", headers=ADMIN)).json()["items"]
            return [item["tracking_id"] for item in listed] == [tracking_id]

        assert await eventually(projected)
        api_text = (await api.get("/metrics")).text
        worker_url = f"http://127.0.0.1:{stack.metrics_ports['worker']}/metrics"

        async def worker_metrics() -> str:
            text = (await api.get(worker_url)).text  # the worker's endpoint (another port)
            return text if "temporal_workflow_task_schedule_to_start_latency_bucket" in text else ""

        worker_text = await eventually(worker_metrics)
        assert worker_text, "the SDK's runtime metrics are not on the worker's endpoint"

        # Every metric an alert or a panel names exists on one of the two endpoints.
        exposed = sample_names(api_text) | sample_names(worker_text)
        missing = named_metrics() - exposed - PROMETHEUS_SYNTHETIC
        assert not missing, f"named in ops/ but not exposed: {sorted(missing)}"
        api_samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                       for f in text_string_to_metric_families(api_text) for s in f.samples}
        assert api_samples[("sp4n_open_cases", (("status", "awaiting_agency"),))] == 1
        assert api_samples[("sp4n_cases_submitted_total", (("channel", "api"),))] == 1
        worker_samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                          for f in text_string_to_metric_families(worker_text) for s in f.samples}
        assert worker_samples[("sp4n_activities_total", (("activity", "project_case"), ("outcome", "completed")))] >= 2
        assert worker_samples[("sp4n_projection_lag_seconds_count", ())] >= 2

    # One trace from the caller's traceparent: the API's request, the Temporal client's
    # StartWorkflow, the workflow run and its activities in the worker.
    def spans() -> list[dict[str, str]]:
        return [s for s in receiver.spans if s["trace_id"] == trace_id]

    async def whole_trace() -> list[dict[str, str]]:
        names = {(s["service"], s["name"].split(":")[0]) for s in spans()}
        wanted = {("sp4n-api", "POST /v1/complaints"), ("sp4n-api", "StartWorkflow"),
                  ("sp4n-worker", "RunWorkflow"), ("sp4n-worker", "RunActivity")}
        return spans() if wanted <= names else []

    found = await eventually(whole_trace, timeout=30)
    assert found, f"trace incomplete: {sorted({(s['service'], s['name']) for s in spans()})}"
    names = {s["name"] for s in found}
    assert "RunActivity:project_case" in names and "RunActivity:suggest_agencies" in names, names
    by_id = {s["span_id"]: s for s in found}
    roots = [s for s in found if s["name"] == "POST /v1/complaints"]
    assert len(roots) == 1, roots  # one server span (FastAPI's own is off: it records query strings)
    root = roots[0]
    orphans = [s for s in found if s["parent"] not in by_id and s is not root]
    assert not orphans, (orphans, found)

    # The API's log line for that request carries the trace id (JSON lines in this stack).
    lines = [json.loads(line) for line in (stack.workdir / "api.log").read_text().splitlines()
             if line.startswith("{")]
    request_lines = [line for line in lines if line.get("event") == "request" and line.get("route") == "/v1/complaints"
                     and line.get("method") == "POST"]
    assert [line["trace_id"] for line in request_lines] == [trace_id]
    assert request_lines[0]["tracking_id"] == tracking_id
