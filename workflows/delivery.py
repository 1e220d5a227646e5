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

The case's own workflow (workflows/complaint.py) is unchanged: its history stays as it was.
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


class ChannelPlan(BaseModel):
    task_queue: str
    attempt_timeout_seconds: float


class PendingDelivery(BaseModel):
    id: str
    channel: str  # email, sms or webhook


class SendRequest(BaseModel):
    delivery_id: str
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
        channel = plan.channels[delivery.channel]
        retry = RetryPolicy(
            initial_interval=timedelta(seconds=max(plan.retry_base_seconds, 0.01)),
            backoff_coefficient=2.0,
            maximum_interval=timedelta(seconds=max(plan.retry_max_seconds, plan.retry_base_seconds, 0.01)),
            maximum_attempts=plan.max_attempts,
            non_retryable_error_types=[REFUSED, UNCERTAIN],
        )
        try:
            return await workflow.execute_activity(
                f"send_{delivery.channel}",
                SendRequest(delivery_id=delivery.id, max_attempts=plan.max_attempts),
                result_type=str,
                task_queue=channel.task_queue,
                start_to_close_timeout=timedelta(seconds=channel.attempt_timeout_seconds),
                retry_policy=retry,
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
