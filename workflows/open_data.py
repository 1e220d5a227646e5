"""Regenerating the open data package daily (issue 28): a Temporal Schedule starts
`OpenDataWorkflow`, which runs the generation activity (activities/open_data.py) once.

The schedule is created at worker start when it does not exist (`ensure_open_data_schedule`); an
existing one is left as an operator may have changed it (paused it, moved its hour). Overlapping
runs are skipped: a generation still running when the next is due is enough. One short workflow
a day: nothing per case.

The workflow takes no argument: a scheduled run's workflow id is the schedule's action id plus a
timestamp, so an argument encoded at schedule creation would be bound (workflows/codec.py) to
another workflow id than the one that reads it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)
from temporalio.common import RetryPolicy

from workflows.schedules import ensure_schedule

SCHEDULE_ID = "sp4n-open-data"
WORKFLOW_ID = "sp4n-open-data"
# Daily at 02:00 WIB, after the day's last working hours in every zone.
CRON = "0 2 * * *"
TIME_ZONE = "Asia/Jakarta"
GENERATION_TIMEOUT = timedelta(minutes=30)
GENERATION_RETRY = RetryPolicy(initial_interval=timedelta(seconds=10), maximum_interval=timedelta(minutes=5),
                               maximum_attempts=10)


class GenerateOpenData(BaseModel):
    """The activity's request; `now` is when the generation counts as made."""

    now: datetime | None = None


class OpenDataGenerated(BaseModel):
    version: int
    created: bool  # False when nothing changed since the latest version
    rows: dict[str, int]


@workflow.defn(name="OpenDataWorkflow")
class OpenDataWorkflow:
    @workflow.run
    async def run(self) -> OpenDataGenerated:
        return await workflow.execute_activity(
            "generate_open_data", GenerateOpenData(now=workflow.now()), result_type=OpenDataGenerated,
            start_to_close_timeout=GENERATION_TIMEOUT, retry_policy=GENERATION_RETRY,
        )


def open_data_schedule(task_queue: str) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(OpenDataWorkflow.run, id=WORKFLOW_ID, task_queue=task_queue),
        spec=ScheduleSpec(cron_expressions=[CRON], time_zone_name=TIME_ZONE),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_open_data_schedule(client: Client, task_queue: str) -> bool:
    """Create the daily schedule unless it exists; True when created here. An existing one keeps
    its spec and state (an operator's), but starts its runs on this worker's task queue."""
    return await ensure_schedule(client, SCHEDULE_ID, open_data_schedule(task_queue), keep_operator_changes=True)
