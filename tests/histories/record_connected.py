"""Record stored histories of the connected bodies' workflows (tests/histories/connected/*.json),
replayed by tests/workflows/test_connected_replay.py: a forward or a sync running when new code is
deployed must finish on it, so a change of their commands is gated like the case's.

    python -m tests.histories.record_connected

Each scenario runs the real workflow with stand-in activities on a time-skipping server, under a
fixed workflow id (every payload is bound to it: the replay runs under the same id).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.conftest import test_server_path
from tests.crypto import TEST_DATA_CONVERTER
from workflows.connected import REFUSED, ConnectedSyncWorkflow, ForwardPlan, ForwardWorkflow

DIRECTORY = Path(__file__).resolve().parent / "connected"
WORKFLOW_IDS = {
    "forward_outage_token": "forward:LAP-HIST0001:2",
    "forward_refused": "forward:LAP-HIST0002:2",
    # A scheduled run: its id is the action's plus the time it was started.
    "sync_scheduled": "connected-sync:pemkot-62.71:run-2026-12-01T03:00:00Z",
}


class StandIns:
    def __init__(self) -> None:
        self.attempts: dict[str, int] = {}

    @activity.defn(name="forward_to_connected")
    async def forward_to_connected(self, key: str) -> str:
        if key.startswith("LAP-HIST0002"):
            raise ApplicationError("refused: HTTP 400", type=REFUSED, non_retryable=True)
        self.attempts[key] = self.attempts.get(key, 0) + 1
        if self.attempts[key] < 4:  # the body's system is down for three attempts
            raise ApplicationError("failed: HTTP 503", type="ConnectedNotYet")
        return "sent"  # a token only

    @activity.defn(name="resolve_connected_token")
    async def resolve_connected_token(self, key: str) -> str:
        return "acknowledged"

    @activity.defn(name="alert_connected_forward")
    async def alert_connected_forward(self, args: list[str]) -> None:
        return None

    @activity.defn(name="sync_connected_body")
    async def sync_connected_body(self, agency_id: str) -> dict[str, int]:
        return {"read": 2, "applied": 1, "shown": 1, "skipped": 0}


def plan(key: str, task_queue: str) -> ForwardPlan:
    return ForwardPlan(key=key, task_queue=task_queue, attempt_timeout_seconds=30, retry_base_seconds=10,
                       retry_max_seconds=60, alert_after_seconds=25)


def forward(stem: str, key: str) -> Callable[[Client, str], Awaitable[WorkflowHandle]]:
    async def start(client: Client, task_queue: str) -> WorkflowHandle:
        return await client.start_workflow(ForwardWorkflow.run, plan(key, task_queue), id=WORKFLOW_IDS[stem],
                                           task_queue=task_queue)
    return start


async def sync_scheduled(client: Client, task_queue: str) -> WorkflowHandle:
    """As the schedule starts it: no argument; the body comes from the id."""
    return await client.start_workflow("ConnectedSyncWorkflow", id=WORKFLOW_IDS["sync_scheduled"],
                                       task_queue=task_queue)


SCENARIOS: dict[str, Callable[[Client, str], Awaitable[WorkflowHandle]]] = {
    "forward_outage_token": forward("forward_outage_token", "LAP-HIST0001:2"),  # retried, alert, token, resolved
    "forward_refused": forward("forward_refused", "LAP-HIST0002:2"),  # refused: alert, failed
    "sync_scheduled": sync_scheduled,
}


async def main() -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=TEST_DATA_CONVERTER, test_server_existing_path=test_server_path()
    )
    try:
        task_queue, stand_ins = f"tq-{uuid.uuid4().hex}", StandIns()
        async with Worker(env.client, task_queue=task_queue, workflows=[ForwardWorkflow, ConnectedSyncWorkflow],
                          max_cached_workflows=0,
                          activities=[stand_ins.forward_to_connected, stand_ins.resolve_connected_token,
                                      stand_ins.alert_connected_forward, stand_ins.sync_connected_body]):
            for stem, scenario in SCENARIOS.items():
                handle = await scenario(env.client, task_queue)
                print(stem, await handle.result())
                history = await handle.fetch_history()
                (DIRECTORY / f"{stem}.json").write_text(history.to_json() + "\n", encoding="utf-8")
                print(f"connected/{stem}.json: {len(history.events)} events")
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
