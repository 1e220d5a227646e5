"""Temporal Schedules made at start-up or on a change, the same way for every schedule (routing
retraining, open data, retention, connected bodies' sync)."""

from __future__ import annotations

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleUpdate,
    ScheduleUpdateInput,
)


async def ensure_schedule(client: Client, schedule_id: str, wanted: Schedule, *, keep_operator_changes: bool) -> bool:
    """Create `wanted` under `schedule_id`; True when created here. An existing one is brought to
    `wanted`, or, with `keep_operator_changes`, keeps its spec and state (an operator paused it or
    changed its interval) and only takes `wanted`'s task queue, so its runs reach this worker."""
    try:
        await client.create_schedule(schedule_id, wanted)
        return True
    except ScheduleAlreadyRunningError:
        pass
    handle = client.get_schedule_handle(schedule_id)
    if not keep_operator_changes:
        await handle.update(lambda _: ScheduleUpdate(schedule=wanted))
        return False
    assert isinstance(wanted.action, ScheduleActionStartWorkflow)
    task_queue = wanted.action.task_queue
    action = (await handle.describe()).schedule.action
    if isinstance(action, ScheduleActionStartWorkflow) and action.task_queue != task_queue:
        await handle.update(lambda update: _on_queue(update, task_queue))
    return False


def _on_queue(update: ScheduleUpdateInput, task_queue: str) -> ScheduleUpdate:
    found = update.description.schedule
    assert isinstance(found.action, ScheduleActionStartWorkflow)
    found.action.task_queue = task_queue
    return ScheduleUpdate(schedule=found)
