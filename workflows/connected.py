"""Connected bodies (issue 27) as two small workflows, beside the case's own (which is unchanged:
its history stays as it was; forwarding hangs off its projection like the notifications do).

`ForwardWorkflow` (id `forward:<tracking id>:<event seq>`, started once by the projection that
recorded the accept, reopen, reply or supplement) sends one thing into the body's system: the case
(`POST requests`) or the reporter's words (`POST servicerequestupdates`), as the activity
`forward_to_connected`, retried by Temporal with exponential backoff until the body acknowledges
it. An outage of the body's system delays only this workflow: the case's clocks run in the
case's workflow. After `alert_after_seconds` without acknowledgement the national administrators
are told (`alert_connected_forward`), once; a refusal for good (HTTP 4xx, a target the guard
refuses) is recorded as `failed` and told at once. Either way an administrator can forward by
hand (the row then says `manual` and the next attempt stops). A request answered with a token
only is resolved (`resolve_connected_token`, GET tokens/{token}) until the body gives its id.

`ConnectedSyncWorkflow` (started by the Temporal Schedule `connected-sync:<agency id>`, one per
connected body, overlapping runs skipped) reads the body's updates since the last seen and applies
each to its case as the body's action, once, in order (`sync_connected_body`).
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

REFUSED = "ConnectedRefused"  # another attempt cannot change it
DATABASE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
DATABASE_TIMEOUT = timedelta(seconds=30)


class ForwardPlan(BaseModel):
    key: str  # connected_forwards.key
    task_queue: str  # where the activities that talk to bodies' systems run
    attempt_timeout_seconds: float
    retry_base_seconds: float
    retry_max_seconds: float
    alert_after_seconds: float


class SyncPlan(BaseModel):
    agency_id: str
    task_queue: str
    attempt_timeout_seconds: float


@workflow.defn
class ForwardWorkflow:
    @workflow.run
    async def run(self, plan: ForwardPlan) -> str:
        """Returns the forward's final state: acknowledged, manual or failed."""
        retry = RetryPolicy(
            initial_interval=timedelta(seconds=plan.retry_base_seconds),
            backoff_coefficient=2.0,
            maximum_interval=timedelta(seconds=max(plan.retry_max_seconds, plan.retry_base_seconds)),
            non_retryable_error_types=[REFUSED],
        )
        timeout = timedelta(seconds=plan.attempt_timeout_seconds)
        sending = workflow.start_activity(
            "forward_to_connected", plan.key, result_type=str, task_queue=plan.task_queue,
            start_to_close_timeout=timeout, retry_policy=retry,
        )
        try:
            await workflow.wait_condition(sending.done, timeout=timedelta(seconds=plan.alert_after_seconds))
        except TimeoutError:
            await self._alert(plan)  # still trying; the administrators may forward it by hand
        try:
            state = await sending
        except ActivityError:
            await self._alert(plan, refused=True)
            return "failed"
        if state == "sent":  # a token only: the body's id comes later (GeoReport's tokens/{token})
            state = await workflow.execute_activity(
                "resolve_connected_token", plan.key, result_type=str, task_queue=plan.task_queue,
                start_to_close_timeout=timeout, retry_policy=retry,
            )
        return state

    async def _alert(self, plan: ForwardPlan, refused: bool = False) -> None:
        await workflow.execute_activity(
            "alert_connected_forward", [plan.key, "refused" if refused else "unacknowledged"],
            task_queue=plan.task_queue, start_to_close_timeout=DATABASE_TIMEOUT, retry_policy=DATABASE_RETRY,
        )


SYNC_ID_PREFIX = "connected-sync:"
SYNC_ATTEMPT_TIMEOUT = timedelta(minutes=5)


def sync_workflow_id(agency_id: str) -> str:
    """The id a schedule's action names; each scheduled run adds `-<its time>`."""
    return f"{SYNC_ID_PREFIX}{agency_id}:run"


@workflow.defn
class ConnectedSyncWorkflow:
    @workflow.run
    async def run(self, plan: SyncPlan | None = None) -> dict[str, int]:
        """Counts of what this read did (read, applied, shown, skipped); a failure is recorded by
        the activity for the administrators' page and the next scheduled run tries again.

        A scheduled run gets no argument: payloads are bound to the workflow id that wrote them
        (workflows/codec.py), and a scheduled run's id (`...:run-<time>`) is not the action's. Its
        body comes from its id, its queue is its own."""
        if plan is None:
            info = workflow.info()
            agency_id = info.workflow_id.removeprefix(SYNC_ID_PREFIX).rsplit(":run", 1)[0]
            plan = SyncPlan(agency_id=agency_id, task_queue=info.task_queue,
                            attempt_timeout_seconds=SYNC_ATTEMPT_TIMEOUT.total_seconds())
        try:
            return await workflow.execute_activity(
                "sync_connected_body", plan.agency_id, result_type=dict[str, int], task_queue=plan.task_queue,
                start_to_close_timeout=timedelta(seconds=plan.attempt_timeout_seconds),
                retry_policy=RetryPolicy(maximum_attempts=2, initial_interval=timedelta(seconds=2)),
            )
        except ActivityError:
            return {"failed": 1}
