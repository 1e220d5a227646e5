"""History size of a complaint (issue 7, ARCHITECTURE.md §4 "History").

    python -m bench history                 # typical lifecycle + 200 reply rounds
    python -m bench history --rounds 50     # fewer rounds

Runs the real ComplaintWorkflow on a time-skipping test server with the stand-in activities of
tests/workflows/conftest.py (the same harness that records tests/histories/), then reads back
every run's history: events and bytes (the JSON history, as `WorkflowHistory.to_json()` writes it,
and the protobuf size the server stores). Two cases:

- `typical`: submit -> accept -> dispose -> follow-up -> completion by silence -> rating 5, with
  each notification an email delivery that the case's workflow sends (as `project_case` plans
  them, issue 25). Reported summed over every workflow the lifecycle starts: the case's, which
  starts no other (before issue 25 each outbox row started a DeliveryWorkflow of 11-17 events);
  the budget is 100 events and 15 workflow tasks (tests/workflows/test_footprint.py);
- `rounds`: accept, then N rounds of (officer follow-up, reporter reply) with the production
  `history_event_limit` (2,000): continue-as-new keeps each run small.

Last line: `typical_workflows=… typical_events=… typical_tasks=… typical_deliveries=… typical_bytes=…
rounds=… runs=… max_run_events=… max_run_bytes=… total_events=…`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

from temporalio.api.enums.v1 import EventType
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
        activities = GatedActivities(deliver=True)
        harness = Harness(env, f"bench-{uuid.uuid4().hex}", activities)
        async with harness.worker():
            started = time.perf_counter()
            handle = (await typical(harness))["typical"]
            (_, typical_events, typical_json, typical_proto), = await run_sizes(handle)
            events = (await handle.fetch_history()).events
            typical_tasks = sum(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED for e in events)
            children = sum(e.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
                           for e in events)
            deliveries = len(activities.sent)
            print(f"typical lifecycle: {1 + children} workflow(s), {typical_events} events, {typical_tasks} workflow "
                  f"tasks, {deliveries} deliveries sent, {typical_json:,} B JSON, {typical_proto:,} B protobuf "
                  f"({time.perf_counter() - started:.1f} s); budget 100 events, 15 tasks")
            activities.deliver = False
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
            "typical_workflows": 1 + children,
            "typical_events": typical_events,
            "typical_tasks": typical_tasks,
            "typical_deliveries": deliveries,
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
