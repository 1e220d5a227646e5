"""Training the routing model as Temporal's work (issue 22, item 4): `RoutingTrainingWorkflow` runs
the training activity once (activities/routing_learning.py: a new version over every example,
activated unless an administrator pinned one).

Two starters: an import (API, portal, CLI) starts it at once and waits for the version, so what
was imported ranks from the next suggestion; and a Temporal Schedule every ROUTING_RETRAIN_SECONDS
picks up the decisions made since (`ensure_routing_schedule`, created at worker start). Runs never
overlap: the schedule skips while one runs, and two imports' runs store one version (the second
finds nothing new). No argument, like OpenDataWorkflow: a scheduled run's id is not known when the
schedule is made, and payloads are bound to their workflow id.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)
from temporalio.common import RetryPolicy

from workflows.schedules import ensure_schedule

SCHEDULE_ID = "sp4n-routing-retrain"
WORKFLOW_ID = "sp4n-routing-retrain"
TRAINING_TIMEOUT = timedelta(minutes=20)
TRAINING_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=2),
                             maximum_attempts=5)


class TrainedVersion(BaseModel):
    """What a training run made: the new version (None when there was nothing new to learn)."""

    version: int | None = None
    active: bool = False
    n_examples: int = 0


@workflow.defn(name="RoutingTrainingWorkflow")
class RoutingTrainingWorkflow:
    @workflow.run
    async def run(self) -> TrainedVersion:
        return await workflow.execute_activity(
            "train_routing_model", result_type=TrainedVersion,
            start_to_close_timeout=TRAINING_TIMEOUT, retry_policy=TRAINING_RETRY,
        )


def routing_schedule(task_queue: str, every_seconds: float) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(RoutingTrainingWorkflow.run, id=WORKFLOW_ID, task_queue=task_queue),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=every_seconds))]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_routing_schedule(client: Client, task_queue: str, every_seconds: float) -> bool:
    """Create the periodic retrain unless it exists (True when created here); an existing one keeps
    an operator's changes (paused, another interval) but runs on this worker's task queue."""
    if every_seconds <= 0:
        return False
    return await ensure_schedule(client, SCHEDULE_ID, routing_schedule(task_queue, every_seconds),
                                 keep_operator_changes=True)


async def train_now(client: Client, task_queue: str, run_id: str, wait_seconds: float = 120.0) -> TrainedVersion:
    """Start a training run (after an import) and wait for its version."""
    import asyncio

    handle = await client.start_workflow(RoutingTrainingWorkflow.run, id=f"sp4n-routing-train-{run_id}",
                                         task_queue=task_queue, result_type=TrainedVersion)
    return await asyncio.wait_for(handle.result(), wait_seconds)
