"""Logs as telemetry/tracing.py sets them up, in a process of their own (it owns the root logger):
exceptions rendered as plain text (never the rich traceback with every frame's locals that
structlog's development default draws when `rich` is installed: it once held the worker's event
loop for ~20 s), JSON lines in production with the trace id of the current span."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.reliability.stack import ROOT

SCRIPT = """
import logging, structlog
from opentelemetry import trace
from config import Settings
from telemetry.tracing import configure
configure(Settings(_env_file=None, log_format={fmt!r}), "sp4n-test")
log = structlog.get_logger("sp4n.test")
with trace.get_tracer("t").start_as_current_span("work") as span:
    print(format(span.get_span_context().trace_id, "032x"), flush=True)
    try:
        try:
            {{}}["missing"]
        except KeyError as error:
            raise RuntimeError("database unavailable") from error
    except RuntimeError:
        log.exception("pass failed; retrying", secret_local="do-not-print")
    logging.getLogger("temporalio.worker").warning("from the standard library")
    logging.getLogger("uvicorn.access").info('127.0.0.1 - "GET /kasus/LAP-1?token=rt_1.private HTTP/1.1" 200')
"""


def run(fmt: str) -> tuple[str, list[str]]:
    result = subprocess.run([sys.executable, "-c", SCRIPT.format(fmt=fmt)], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip(), result.stderr.strip().splitlines()


def test_console_logs_render_exceptions_as_plain_text() -> None:
    trace_id, lines = run("console")
    text = "\n".join(lines)
    assert "Traceback (most recent call last)" in text and "RuntimeError: database unavailable" in text
    assert "do-not-print" in text  # the event's own fields, yes
    assert "╭" not in text and "locals" not in text  # no rich box, no frame locals
    assert f"trace_id={trace_id}" in text
    assert any("from the standard library" in line and trace_id in line for line in lines)


def test_uvicorns_access_log_never_writes_a_private_link() -> None:
    """Whole URLs, and a private link's query holds the reporter's token: the app logs route templates."""
    for fmt in ("console", "json"):
        _, lines = run(fmt)
        assert not any("rt_1.private" in line for line in lines)


def test_production_logs_are_json_lines_with_the_trace_id() -> None:
    trace_id, lines = run("json")
    records = [json.loads(line) for line in lines]
    failed = next(r for r in records if r["event"] == "pass failed; retrying")
    assert failed["trace_id"] == trace_id and failed["level"] == "error"
    assert "RuntimeError: database unavailable" in failed["exception"]
    foreign = next(r for r in records if r["event"] == "from the standard library")
    assert foreign["trace_id"] == trace_id and foreign["logger"] == "temporalio.worker"
