"""Records the stored ChatWorkflow histories (`python -m tests.histories.chat.record`) on the
time-skipping server with stand-in activities, payloads encrypted with the tests' key:

- `reported.json`: greeting, story, an ambiguous place and its choice, a photo, anonymity, KIRIM,
  the case opened (the conversation ends with its tracking id);
- `expired.json`: a story, then silence until the conversation is forgotten (and says so);
- `reply.json`: the first words of a chat whose case awaits its reporter's reply become the reply
  (recorded before the patch `chat-reply-after-greeting`: the first message always asked);
- `reply_after_greeting.json`: after the patch, a greeting and then the reply (the webhook said a
  case awaits one).

Only the scenarios whose file is missing are recorded (or those named on the command line): the
files from before a patch must stay as they were, since running conversations have those histories.

tests/workflows/test_chat_workflow.py replays them on the current code; a change of the
workflow's commands must be gated with `workflow.patched` and keep these replaying.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from pathlib import Path

from temporalio import activity
from temporalio.client import Client, WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.chat import ChatDoor, ChatMessage, RegionOption
from tests.conftest import test_server_path
from tests.crypto import TEST_DATA_CONVERTER
from workflows.chat import (
    ChatReceipt,
    ChatReplyRequest,
    ChatSay,
    ChatStart,
    ChatStatusRequest,
    ChatSubmission,
    ChatWorkflow,
)

HERE = Path(__file__).parent
QUEUE, SEND_QUEUE = "conversations", "chat-send"
ADDRESS = "telegram:5550100"
STORY = "Lampu jalan di Jl. Yos Sudarso depan SDN 3 padam sejak seminggu, gelap dan rawan begal"
WORKFLOW_IDS = {"reported": "chat:telegram:reported", "expired": "chat:telegram:expired",
                "reply": "chat:telegram:reply", "reply_after_greeting": "chat:telegram:reply-after-greeting"}
REPLY = "Baru satu lampu yang diganti, yang di ujung jalan masih padam"


class StandIns:
    """The activities as the worker has them, answering as the real ones would."""

    def __init__(self, awaiting_reply: str = "") -> None:
        self.said: list[str] = []
        self.opened: list[ChatSubmission] = []
        self.awaiting_reply = awaiting_reply

    @activity.defn(name="chat_say")
    async def say(self, request: ChatSay) -> None:
        self.said.append(request.text)

    @activity.defn(name="chat_open_case")
    async def open_case(self, request: ChatSubmission) -> ChatReceipt:
        self.opened.append(request)
        return ChatReceipt(tracking_id="LAP-7K2M9QX4TD", text="Laporan Anda diterima dengan nomor LAP-7K2M9QX4TD.")

    @activity.defn(name="chat_status")
    async def status(self, request: ChatStatusRequest) -> str:
        return f"{request.tracking_id}: menunggu verifikasi."

    @activity.defn(name="chat_reply_awaited")
    async def reply_awaited(self, request: ChatReplyRequest) -> str:
        return self.awaiting_reply

    def activities(self) -> list:
        return [self.say, self.open_case, self.status, self.reply_awaited]


def start(address: str = ADDRESS) -> ChatStart:
    return ChatStart(door=ChatDoor.TELEGRAM, address=address, send_task_queue=SEND_QUEUE, send_timeout_seconds=45,
                     timeout_seconds=1800)


def text(n: int, body: str, **extra) -> ChatMessage:
    return ChatMessage(message_id=str(n), text=body, **extra)


async def converse(client: Client, workflow_id: str, messages: list[ChatMessage], stand_ins: StandIns,
                   env: WorkflowEnvironment, *, then_sleep: timedelta | None = None) -> WorkflowHistory:
    """Each message once the previous turn was answered, on workers of both queues."""
    async with Worker(client, task_queue=QUEUE, workflows=[ChatWorkflow], activities=stand_ins.activities()[1:]), \
            Worker(client, task_queue=SEND_QUEUE, activities=[stand_ins.say]):
        for message in messages:
            told = len(stand_ins.said)
            handle = await client.start_workflow(ChatWorkflow.run, start(), id=workflow_id, task_queue=QUEUE,
                                                 start_signal="message", start_signal_args=[message])
            for _ in range(200):
                if len(stand_ins.said) > told:
                    break
                await asyncio.sleep(0.02)
        if then_sleep is not None:
            await env.sleep(then_sleep)
        await handle.result()
        return await handle.fetch_history()


def reported_messages() -> list[ChatMessage]:
    semarang = [RegionOption(code="33.22", name="Kabupaten Semarang"), RegionOption(code="33.74", name="Kota Semarang")]
    return [text(1, "halo"), text(2, STORY), text(3, "Semarang", regions=semarang), text(4, "2"),
            ChatMessage(message_id="5", kind="photo", media_id="file-1"), text(6, "ya"), text(7, "kirim")]


async def record(name: str, env: WorkflowEnvironment) -> WorkflowHistory:
    client, workflow_id = env.client, WORKFLOW_IDS[name]
    if name == "reported":
        return await converse(client, workflow_id, reported_messages(), StandIns(), env)
    if name == "expired":
        return await converse(client, workflow_id, [text(1, STORY)], StandIns(), env, then_sleep=timedelta(minutes=31))
    if name == "reply":
        return await converse(client, workflow_id, [text(1, REPLY)], StandIns(awaiting_reply="LAP-7K2M9QX4TD"), env)
    return await converse(client, workflow_id, [text(1, "Selamat siang"), text(2, REPLY, case_awaits_reply=True)],
                          StandIns(awaiting_reply="LAP-7K2M9QX4TD"), env)


async def main(names: list[str]) -> None:
    names = names or [name for name in WORKFLOW_IDS if not (HERE / f"{name}.json").exists()]
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=test_server_path(), data_converter=TEST_DATA_CONVERTER
    ) as env:
        histories = {name: await record(name, env) for name in names}
    for name, history in histories.items():
        (HERE / f"{name}.json").write_text(history.to_json(), encoding="utf-8")
        print(name, len(history.events), "events")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
