"""Starting DeliveryWorkflows (workflows/delivery.py) from the worker, the API and the tests.

Never imported by workflow code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from config import Settings
from workflows.delivery import ChannelPlan, DeliveryPlan, DeliveryWorkflow, PendingDelivery

CHANNELS = ("email", "sms", "webhook", "chat")


def delivery_task_queue(settings: Settings) -> str:
    """DeliveryWorkflows and their database activities: beside the case queue, not on it, so
    a burst of deliveries never slows a case's own workflow tasks."""
    return f"{settings.temporal_task_queue}-deliveries"


def channel_task_queue(settings: Settings, channel: str) -> str:
    """Each channel has its own task queue, so a slow receiver holds up only its own channel."""
    return f"{settings.temporal_task_queue}-{channel}"


def attempt_timeout_seconds(settings: Settings, channel: str) -> float:
    """How long one send may take before Temporal counts the attempt as timed out (an outcome
    nobody knows: the delivery becomes `uncertain`). Above the channel's own timeouts, so that the
    channel says what happened first."""
    if channel == "email":  # connect, greeting, EHLO, MAIL, RCPT, DATA: each bounded by the timeout
        return 3 * settings.smtp_timeout_seconds + 5
    if channel == "sms":
        return settings.sms_connect_timeout_seconds + 2 * settings.sms_read_timeout_seconds + 5
    if channel == "chat":
        return settings.chat_connect_timeout_seconds + 2 * settings.chat_read_timeout_seconds + 5
    return settings.webhook_connect_timeout_seconds + 2 * settings.webhook_read_timeout_seconds + 5


def delivery_plan(settings: Settings, *, outbox_key: str | None = None,
                  deliveries: Iterable[PendingDelivery] = ()) -> DeliveryPlan:
    return DeliveryPlan(
        outbox_key=outbox_key,
        deliveries=list(deliveries),
        database_task_queue=delivery_task_queue(settings),
        channels={
            channel: ChannelPlan(task_queue=channel_task_queue(settings, channel),
                                 attempt_timeout_seconds=attempt_timeout_seconds(settings, channel))
            for channel in CHANNELS
        },
        max_attempts=settings.notification_max_attempts,
        retry_base_seconds=settings.notification_retry_base_seconds,
        retry_max_seconds=settings.notification_retry_max_seconds,
    )


def outbox_workflow_id(outbox_key: str) -> str:
    return f"notify:{outbox_key}"


async def start_delivery(client: Client, settings: Settings, plan: DeliveryPlan, workflow_id: str) -> bool:
    """Start one DeliveryWorkflow, once: an id already used (running or closed) starts nothing.
    Returns whether it started."""
    try:
        await client.start_workflow(
            DeliveryWorkflow.run,
            plan,
            id=workflow_id,
            task_queue=delivery_task_queue(settings),
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


class DeliveryStarter:
    """Starts the delivery of outbox rows once they are committed; usable from the activity
    threads (`start_outbox`) and from the event loop (`start_outbox_async`)."""

    TIMEOUT_SECONDS = 30.0

    def __init__(self, client: Client, settings: Settings, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.client, self.settings = client, settings
        self.loop = loop or asyncio.get_running_loop()

    async def start(self, plan: DeliveryPlan, workflow_id: str) -> bool:
        return await start_delivery(self.client, self.settings, plan, workflow_id)

    async def start_outbox_async(self, outbox_keys: Iterable[str]) -> None:
        await asyncio.gather(*(
            self.start(delivery_plan(self.settings, outbox_key=key), outbox_workflow_id(key))
            for key in dict.fromkeys(outbox_keys)
        ))

    def start_outbox(self, outbox_keys: Iterable[str]) -> None:
        """From a thread other than the loop's: blocks until every workflow is started (or was)."""
        keys = list(outbox_keys)
        if not keys:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            raise RuntimeError("start_outbox blocks: call start_outbox_async on the event loop")
        asyncio.run_coroutine_threadsafe(self.start_outbox_async(keys), self.loop).result(self.TIMEOUT_SECONDS)
