"""Sending one outbox row's messages, as a small Temporal workflow (issue 14).

`record_case` writes the outbox rows in the projection's transaction and then starts one
`DeliveryWorkflow` per row, with the row's key as workflow id (`notify:<outbox key>`, started
once: a retried projection finds it started). The workflow

1. expands the row into deliveries (activity `expand_outbox`, on the case queue): one per address
   and channel, plus the webhooks that subscribe to the event, each keyed by (case, event, party,
   channel, address) so a second expansion adds nothing;
2. sends each delivery as an activity on its channel's own task queue (`<queue>-email`,
   `-sms`, `-webhook`), retried by Temporal with exponential backoff up to a maximum of attempts;
   a refusal for good (an address the webhook guard refuses, SMTP 5xx, HTTP 4xx) is not retried;
3. settles a delivery whose attempts ran out without an answer (`conclude_delivery`): `sending`
   becomes `uncertain` (the channel may have it), `pending` becomes `failed`.

The rows in `notification_deliveries` stay the audit record and carry each delivery's state;
the activities' inputs and results carry ids and statuses only, so no address and no message
reaches a Temporal history. An administrator's resend starts another run of this workflow for the
one delivery (`resend:<keyed digest of the delivery id>:<n>`, activities/notifications.py
`resend_workflow_id`: a workflow id is plain text, and a delivery id derives from the address
without a secret).

Since issue 25 a case's deliveries no longer take a workflow per outbox row: the case's own
projection (`project_case`, workflows/complaint.py) expands its rows into deliveries in the same
transaction, and the case's workflow sends them itself with `send_planned` below: one activity per
channel for email and SMS (that channel's deliveries of the projection together), one per
webhook (each receiver on its own, as before), on the same channel task queues with the same
retries; a projection with deliveries adds six events and one workflow task to the case's history.
This workflow stays for an administrator's resend, for outbox rows without a case (a disabled
webhook's notice), for cases still running on the older code (a run that started before the
change keeps projecting with `record_case`), and for the DeliveryWorkflows already running; those
drain by themselves (each ends after its sends; `WorkflowType='DeliveryWorkflow' AND
ExecutionStatus='Running'` counts what is left).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

# Expanding and settling are short database work: retried until the database answers.
DATABASE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
DATABASE_TIMEOUT = timedelta(seconds=30)
# Errors a send activity raises for a refusal that another attempt cannot change.
REFUSED = "DeliveryRefused"
NOT_ACCEPTED = "DeliveryNotAccepted"
UNCERTAIN = "DeliveryUncertain"  # the channel may have it: never again without an administrator
# A batch's sends run side by side, this many at once (the activity's time allows for the rounds).
BATCH_PARALLEL = 8


class ChannelPlan(BaseModel):
    task_queue: str
    attempt_timeout_seconds: float


class PendingDelivery(BaseModel):
    id: str
    channel: str  # email, sms or webhook


class SendRequest(BaseModel):
    delivery_id: str
    max_attempts: int


class SendBatch(BaseModel):
    """A projection's deliveries over one channel, sent by one activity."""

    delivery_ids: list[str]
    max_attempts: int


class DeliveryPlan(BaseModel):
    """What to send and how; built from the settings by whoever starts the workflow."""

    outbox_key: str | None = None  # expand this outbox row, then send what it yields
    deliveries: list[PendingDelivery] = []  # or send these (an administrator's resend)
    database_task_queue: str
    channels: dict[str, ChannelPlan]
    max_attempts: int
    retry_base_seconds: float
    retry_max_seconds: float


@workflow.defn
class DeliveryWorkflow:
    @workflow.run
    async def run(self, plan: DeliveryPlan) -> dict[str, str]:
        """Returns each delivery's final status (sent, failed, uncertain, skipped) by id."""
        deliveries = list(plan.deliveries)
        if plan.outbox_key is not None:
            deliveries += await workflow.execute_activity(
                "expand_outbox",
                plan.outbox_key,
                result_type=list[PendingDelivery],
                task_queue=plan.database_task_queue,
                start_to_close_timeout=DATABASE_TIMEOUT,
                retry_policy=DATABASE_RETRY,
            )
        statuses = await asyncio.gather(*(self._send(plan, delivery) for delivery in deliveries))
        return {delivery.id: status for delivery, status in zip(deliveries, statuses)}

    async def _send(self, plan: DeliveryPlan, delivery: PendingDelivery) -> str:
        return await send_one(plan, delivery)


def send_retry_policy(plan: DeliveryPlan) -> RetryPolicy:
    return RetryPolicy(
        initial_interval=timedelta(seconds=max(plan.retry_base_seconds, 0.01)),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=max(plan.retry_max_seconds, plan.retry_base_seconds, 0.01)),
        maximum_attempts=plan.max_attempts,
        non_retryable_error_types=[REFUSED, UNCERTAIN],
    )


async def send_one(plan: DeliveryPlan, delivery: PendingDelivery) -> str:
    """One delivery, one activity on its channel's queue; settled when its attempts run out."""
    channel = plan.channels[delivery.channel]
    try:
        return await workflow.execute_activity(
            f"send_{delivery.channel}",
            SendRequest(delivery_id=delivery.id, max_attempts=plan.max_attempts),
            result_type=str,
            task_queue=channel.task_queue,
            start_to_close_timeout=timedelta(seconds=channel.attempt_timeout_seconds),
            retry_policy=send_retry_policy(plan),
        )
    except ActivityError:
        # Out of attempts (refused, or no answer in time): record what is known.
        return await workflow.execute_activity(
            "conclude_delivery",
            delivery.id,
            result_type=str,
            task_queue=plan.database_task_queue,
            start_to_close_timeout=DATABASE_TIMEOUT,
            retry_policy=DATABASE_RETRY,
        )


async def send_batch(plan: DeliveryPlan, channel_name: str, deliveries: list[PendingDelivery]) -> dict[str, str]:
    """A channel's deliveries in one activity (sent side by side within it). The activity records
    each outcome and is retried while one of them may still go out; an attempt never sends a
    delivery that an earlier one sent, refused or left uncertain (the rows say which)."""
    channel = plan.channels[channel_name]
    ids = [delivery.id for delivery in deliveries]
    try:
        return await workflow.execute_activity(
            f"send_{channel_name}_batch",
            SendBatch(delivery_ids=ids, max_attempts=plan.max_attempts),
            result_type=dict[str, str],
            task_queue=channel.task_queue,
            start_to_close_timeout=timedelta(seconds=channel.attempt_timeout_seconds * -(-len(ids) // BATCH_PARALLEL)),
            retry_policy=send_retry_policy(plan),
        )
    except ActivityError:
        return await workflow.execute_activity(
            "conclude_deliveries",
            ids,
            result_type=dict[str, str],
            task_queue=plan.database_task_queue,
            start_to_close_timeout=DATABASE_TIMEOUT,
            retry_policy=DATABASE_RETRY,
        )


async def send_planned(plan: DeliveryPlan) -> dict[str, str]:
    """A projection's deliveries, as the case's workflow sends them: email and SMS one activity per
    channel, webhooks one activity each (a dead receiver holds up only its own). Returns each
    delivery's final status by id."""
    by_channel: dict[str, list[PendingDelivery]] = {}
    for delivery in plan.deliveries:
        by_channel.setdefault(delivery.channel, []).append(delivery)
    sends = []
    for channel_name, deliveries in by_channel.items():
        if channel_name == "webhook":
            sends += [_keyed(delivery.id, send_one(plan, delivery)) for delivery in deliveries]
        else:
            sends.append(send_batch(plan, channel_name, deliveries))
    statuses: dict[str, str] = {}
    for result in await asyncio.gather(*sends):
        statuses |= result
    return statuses


async def _keyed(delivery_id: str, status) -> dict[str, str]:
    return {delivery_id: await status}
