"""Record stored DeliveryWorkflow histories (tests/histories/delivery/*.json), replayed by
tests/workflows/test_replay.py: the delivery workflows started before deliveries moved into the
case's workflow (issue 25) must still finish on today's code.

    python -m tests.histories.record_delivery

Each scenario runs the real DeliveryWorkflow with stand-in activities on one task queue (its
plan names that queue for every channel and for the database work) on a time-skipping server.
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
from workflows.delivery import REFUSED, ChannelPlan, DeliveryPlan, DeliveryWorkflow, PendingDelivery, SendRequest

DIRECTORY = Path(__file__).resolve().parent / "delivery"
# Each file's workflow id (every payload is bound to it: the replay must run under the same id).
WORKFLOW_IDS = {"outbox_row": "notify:LAP-X:1:reporter:outbox", "resend": "resend:history:1"}
EMAIL, WEBHOOK = PendingDelivery(id="d-email", channel="email"), PendingDelivery(id="d-hook", channel="webhook")


class StandIns:
    @activity.defn(name="expand_outbox")
    async def expand_outbox(self, outbox_key: str) -> list[PendingDelivery]:
        return [EMAIL, WEBHOOK]

    @activity.defn(name="send_email")
    async def send_email(self, request: SendRequest) -> str:
        return "sent"

    @activity.defn(name="send_webhook")
    async def send_webhook(self, request: SendRequest) -> str:
        raise ApplicationError("refused: HTTP 410", type=REFUSED, non_retryable=True)

    @activity.defn(name="conclude_delivery")
    async def conclude_delivery(self, delivery_id: str) -> str:
        return "failed"


def plan(task_queue: str, **fields) -> DeliveryPlan:
    return DeliveryPlan(database_task_queue=task_queue, max_attempts=3, retry_base_seconds=1, retry_max_seconds=5,
                        channels={c: ChannelPlan(task_queue=task_queue, attempt_timeout_seconds=30)
                                  for c in ("email", "sms", "webhook")}, **fields)


async def outbox_row(client: Client, task_queue: str) -> WorkflowHandle:
    """An outbox row expanded into an email (sent) and a webhook (refused, then concluded)."""
    return await client.start_workflow(DeliveryWorkflow.run, plan(task_queue, outbox_key="LAP-X:1:reporter:outbox"),
                                       id=WORKFLOW_IDS["outbox_row"], task_queue=task_queue)


async def resend(client: Client, task_queue: str) -> WorkflowHandle:
    """An administrator's resend of one delivery."""
    return await client.start_workflow(DeliveryWorkflow.run, plan(task_queue, deliveries=[EMAIL]),
                                       id=WORKFLOW_IDS["resend"], task_queue=task_queue)


SCENARIOS: dict[str, Callable[[Client, str], Awaitable[WorkflowHandle]]] = {
    "outbox_row": outbox_row, "resend": resend,
}


async def main() -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=TEST_DATA_CONVERTER, test_server_existing_path=test_server_path()
    )
    try:
        task_queue, stand_ins = f"tq-{uuid.uuid4().hex}", StandIns()
        async with Worker(env.client, task_queue=task_queue, workflows=[DeliveryWorkflow], max_cached_workflows=0,
                          activities=[stand_ins.expand_outbox, stand_ins.send_email, stand_ins.send_webhook,
                                      stand_ins.conclude_delivery]):
            for stem, scenario in SCENARIOS.items():
                handle = await scenario(env.client, task_queue)
                await handle.result()
                history = await handle.fetch_history()
                (DIRECTORY / f"{stem}.json").write_text(history.to_json() + "\n", encoding="utf-8")
                print(f"delivery/{stem}.json: {len(history.events)} events")
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
