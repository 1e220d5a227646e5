"""Starting connected bodies' workflows (workflows/connected.py) and keeping one Temporal Schedule
per connected body. Used by the worker, the API and the tests; never imported by workflow code."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import timedelta

import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from config import Settings
from workflows.connected import ForwardPlan, ForwardWorkflow, sync_workflow_id
from workflows.schedules import ensure_schedule

log = structlog.get_logger("sp4n.connected")


def connected_task_queue(settings: Settings) -> str:
    """Beside the case queue: a slow body's system holds up only its own forwards and reads."""
    return f"{settings.temporal_task_queue}-connected"


def attempt_timeout_seconds(settings: Settings) -> float:
    return settings.connected_connect_timeout_seconds + 2 * settings.connected_read_timeout_seconds + 5


def forward_plan(settings: Settings, key: str) -> ForwardPlan:
    return ForwardPlan(
        key=key, task_queue=connected_task_queue(settings), attempt_timeout_seconds=attempt_timeout_seconds(settings),
        retry_base_seconds=settings.connected_retry_base_seconds,
        retry_max_seconds=settings.connected_retry_max_seconds,
        alert_after_seconds=settings.connected_alert_after_seconds,
    )


def forward_workflow_id(key: str, attempt: int = 0) -> str:
    return f"forward:{key}" + (f":again:{attempt}" if attempt else "")


async def start_forward(client: Client, settings: Settings, key: str, attempt: int = 0) -> bool:
    """Start one ForwardWorkflow, once per id; False when that id already ran or runs."""
    try:
        await client.start_workflow(
            ForwardWorkflow.run, forward_plan(settings, key), id=forward_workflow_id(key, attempt),
            task_queue=connected_task_queue(settings), id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


def schedule_id(agency_id: str) -> str:
    return f"connected-sync:{agency_id}"


def _schedule(settings: Settings, agency_id: str, paused: bool) -> Schedule:
    return Schedule(
        # No argument: a scheduled run finds its body from its id (workflows/connected.py).
        action=ScheduleActionStartWorkflow(
            "ConnectedSyncWorkflow", id=sync_workflow_id(agency_id), task_queue=connected_task_queue(settings),
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=settings.connected_sync_seconds))]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        state=ScheduleState(paused=paused, note="connected body inactive" if paused else None),
    )


async def ensure_sync_schedule(client: Client, settings: Settings, agency_id: str, *, active: bool = True) -> bool:
    """Create the body's schedule, or bring it to the settings and the body's state. False on a
    server without schedules (the time-skipping test server: its tests start the sync themselves)."""
    wanted = _schedule(settings, agency_id, paused=not active)
    try:
        await ensure_schedule(client, schedule_id(agency_id), wanted, keep_operator_changes=False)
    except RPCError as error:
        if error.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        log.warning("this Temporal server has no schedules: connected bodies are not read back", agency_id=agency_id)
        return False
    return True


async def trigger_sync(client: Client, agency_id: str) -> None:
    """Read the body's system now (an administrator's "sync now"; the tests)."""
    await client.get_schedule_handle(schedule_id(agency_id)).trigger(overlap=ScheduleOverlapPolicy.SKIP)


async def delete_sync_schedule(client: Client, agency_id: str) -> None:
    try:
        await client.get_schedule_handle(schedule_id(agency_id)).delete()
    except RPCError as error:
        if error.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.UNIMPLEMENTED):
            raise


class ForwardStarter:
    """Starts the ForwardWorkflows of forwards once they are committed; from the activity threads
    (`start_forwards`, blocking until started) or the event loop (`start_forwards_async`)."""

    TIMEOUT_SECONDS = 30.0

    def __init__(self, client: Client, settings: Settings, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.client, self.settings = client, settings
        self.loop = loop or asyncio.get_running_loop()

    async def start_forwards_async(self, keys: Iterable[str]) -> None:
        await asyncio.gather(*(start_forward(self.client, self.settings, key) for key in dict.fromkeys(keys)))

    def start_forwards(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if keys:
            asyncio.run_coroutine_threadsafe(self.start_forwards_async(keys), self.loop).result(self.TIMEOUT_SECONDS)
