"""History size of a complaint (issue 7, ARCHITECTURE.md §4 "History").

    python -m bench history                 # typical lifecycle + 200 reply rounds
    python -m bench history --rounds 50     # fewer rounds

Runs the real ComplaintWorkflow on a time-skipping test server with the stand-in activities of
tests/workflows/conftest.py (the same harness that records tests/histories/), then reads back
every run's history: events and bytes (the JSON history, as `WorkflowHistory.to_json()` writes it,
and the protobuf size the server stores). Two cases:

- `typical`: submit -> accept -> dispose -> follow-up -> completion by silence -> rating 5;
- `rounds`: accept, then N rounds of (officer follow-up, reporter reply) with the production
  `history_event_limit` (2,000): continue-as-new keeps each run small.

Last line: `typical_events=… typical_bytes=… rounds=… runs=… max_run_events=… max_run_bytes=…
total_events=…`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

from temporalio.client import WorkflowHandle

from temporalio.testing import WorkflowEnvironment

from domain.models import CaseState
from tests.conftest import test_server_path
from tests.crypto import TEST_DATA_CONVERTER
from tests.histories.record import Case, GatedActivities, open_case, typical
from tests.workflows.conftest import Harness
from workflows.client import ensure_search_attributes

# Temporal's defaults: a run is terminated at 51,200 events or 50 MiB of history; the server
# warns (and suggests continue-as-new) at 10,240 events / 10 MiB.
LIMIT_EVENTS, LIMIT_BYTES = 51_200, 50 * 1024 * 1024


async def run_sizes(handle: WorkflowHandle) -> list[tuple[str, int, int, int]]:
    """(run id, events, JSON bytes, protobuf bytes) for every run of a workflow id, oldest first."""
    sizes = []
    client = handle._client  # noqa: SLF001 - a handle knows its client
    run_id = ""  # "" = the latest run (describe cannot decode this server's search attributes)
    while True:
        history = await client.get_workflow_handle(handle.id, run_id=run_id or None).fetch_history()
        proto = sum(event.ByteSize() for event in history.events)
        sizes.append((run_id, len(history.events), len(history.to_json()), proto))
        started = history.events[0].workflow_execution_started_event_attributes
        run_id = started.continued_execution_run_id
        if not run_id:
            break
    return list(reversed(sizes))


async def rounds_case(harness: Harness, rounds: int) -> WorkflowHandle:
    case = await open_case(harness, region_code="62.71")
    await case.accept()
    for _ in range(rounds):
        # The workflow id stays; after continue-as-new the latest run takes the updates.
        latest = Case(harness, harness.client.get_workflow_handle(case.handle.id, result_type=CaseState))
        await latest.follow_up()
        await latest.reply()
    return harness.client.get_workflow_handle(case.handle.id, result_type=CaseState)


async def run(rounds: int) -> dict[str, float]:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=TEST_DATA_CONVERTER, test_server_existing_path=test_server_path()
    )
    try:
        await ensure_search_attributes(env.client, env.client.namespace)
        harness = Harness(env, f"bench-{uuid.uuid4().hex}", GatedActivities())
        async with harness.worker():
            started = time.perf_counter()
            handle = (await typical(harness))["typical"]
            (_, typical_events, typical_json, typical_proto), = await run_sizes(handle)
            print(f"typical lifecycle: {typical_events} events, {typical_json:,} B JSON, "
                  f"{typical_proto:,} B protobuf ({time.perf_counter() - started:.1f} s)")
            started = time.perf_counter()
            handle = await rounds_case(harness, rounds)
            sizes = await run_sizes(handle)
            print(f"{rounds} reply rounds ({time.perf_counter() - started:.1f} s): {len(sizes)} runs")
            for i, (run_id, events, size_json, size_proto) in enumerate(sizes, 1):
                print(f"  run {i}: {events:5d} events, {size_json:>10,} B JSON, {size_proto:>9,} B protobuf")
        max_events = max(s[1] for s in sizes)
        max_proto = max(s[3] for s in sizes)
        print(f"largest run: {max_events / LIMIT_EVENTS:.1%} of the {LIMIT_EVENTS:,}-event limit, "
              f"{max_proto / LIMIT_BYTES:.2%} of the 50 MiB limit")
        return {
            "typical_events": typical_events,
            "typical_bytes": typical_proto,
            "typical_json_bytes": typical_json,
            "rounds": rounds,
            "runs": len(sizes),
            "max_run_events": max_events,
            "max_run_bytes": max_proto,
            "total_events": sum(s[1] for s in sizes),
        }
    finally:
        await env.shutdown()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench history")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.rounds))
    print(" ".join(f"{k}={v}" for k, v in result.items()))
    return 0
