"""One conversation of a chat door (issue 30): a workflow per chat, at most one open at a time.

The webhook (api/routes/chat.py) signals each new message with signal-with-start to the workflow
`chat:<door>:<keyed digest of the chat>` (no number or chat id in a workflow id), so a message is
acknowledged as soon as Temporal has it. The workflow runs the pure conversation
(domain/chat.py) and the side effects a turn asks for:

- the reply, sent by `chat_say` on the chat channel's own task queue (`<queue>-chat`, its own
  rate limit, shared with the case news of activities/notifications.py);
- on KIRIM, `chat_open_case` (api/chat.py): the same `open_case` as every door, then the photos
  fetched from the door and cleaned like every upload; the receipt (tracking id, private link) is
  the reply;
- STATUS LAP-…: `chat_status` reads the case (its reporter's view when this chat reported it,
  else the public one: the chat never tells another person's data);
- the first words of a new conversation from a chat whose case awaits its reporter's reply
  (a greeting before them aside; the webhook says whether one awaits) become that reply
  (`chat_reply_awaited`).

A conversation left unanswered for `timeout_seconds` ends, saying so; one that ends with messages
still waiting continues as new with them, so none is dropped.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from domain.chat import ChatDoor, ChatMessage, Conversation, Draft, GREETINGS, command_of, handle, normal, say

SEND_REFUSED, SEND_UNCERTAIN = "DeliveryRefused", "DeliveryUncertain"  # as workflows/delivery.py
SEND_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=1),
                         maximum_attempts=6, non_retryable_error_types=[SEND_REFUSED, SEND_UNCERTAIN])
SERVICE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30),
                            maximum_attempts=5)
SERVICE_TIMEOUT = timedelta(minutes=3)  # opening a case fetches and cleans up to three photos
REMEMBERED_MESSAGE_IDS = 100
# Patch: a reply is asked for only when the webhook saw a case awaiting one, also after a greeting.
REPLY_AFTER_GREETING = "chat-reply-after-greeting"


class ChatStart(BaseModel):
    """How a conversation is started (by whoever signals its first message)."""

    door: ChatDoor
    address: str  # `whatsapp:<number>` / `telegram:<chat id>` (domain/chat.py chat_address)
    send_task_queue: str
    send_timeout_seconds: float
    timeout_seconds: float
    pending: list[ChatMessage] = []  # messages a previous run had not handled yet
    language: str | None = None


class ChatSay(BaseModel):
    address: str
    text: str


class ChatSubmission(BaseModel):
    address: str
    language: str
    draft: Draft


class ChatReceipt(BaseModel):
    tracking_id: str | None = None  # None: not opened (the text says why)
    text: str


class ChatStatusRequest(BaseModel):
    address: str
    language: str
    tracking_id: str


class ChatReplyRequest(BaseModel):
    address: str
    language: str
    text: str
    message_id: str


@workflow.defn
class ChatWorkflow:
    @workflow.init
    def __init__(self, start: ChatStart) -> None:
        self._start = start
        self._conversation = Conversation(door=start.door, address=start.address)
        if start.language in ("id", "en"):
            self._conversation.language = start.language  # type: ignore[assignment]
        self._inbox: list[ChatMessage] = []
        self._reply_checked = False
        self._seen: list[str] = []
        for message in start.pending:
            self.message(message)

    @workflow.signal
    def message(self, message: ChatMessage) -> None:
        """A new message (a re-delivered one, already seen by this run, is dropped)."""
        if message.message_id in self._seen:
            return
        self._seen = (self._seen + [message.message_id])[-REMEMBERED_MESSAGE_IDS:]
        self._inbox.append(message)

    @workflow.query
    def conversation(self) -> Conversation:
        return self._conversation

    @workflow.run
    async def run(self, start: ChatStart) -> str | None:
        """Returns the tracking id of the case it opened, if any."""
        c = self._conversation
        first = True
        while not c.closed:
            try:
                await workflow.wait_condition(lambda: bool(self._inbox),
                                              timeout=timedelta(seconds=start.timeout_seconds))
            except asyncio.TimeoutError:
                if c.greeted:  # it asked something: say that it stops waiting
                    await self._say(start, say(c.language, "expired"))
                break
            message = self._inbox.pop(0)
            if await self._taken_as_reply(message, first):
                c.closed = True
                break
            first = False
            turn = handle(c, message)
            replies = list(turn.replies)
            if turn.status_of:
                replies.append(await self._service("chat_status", ChatStatusRequest(
                    address=c.address, language=c.language, tracking_id=turn.status_of), str))
            if turn.submit:
                receipt = await self._open_case()
                replies.append(receipt.text)
                if receipt.tracking_id:
                    c.tracking_id, c.closed, c.draft = receipt.tracking_id, True, Draft()
            if replies:
                await self._say(start, "\n\n".join(replies))
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._inbox:  # written while this one ended: a new conversation takes them
            workflow.continue_as_new(start.model_copy(update={"pending": self._inbox, "language": c.language}))
        return c.tracking_id

    async def _taken_as_reply(self, message: ChatMessage, first: bool) -> bool:
        """The first words of a conversation may answer a follow-up of this chat's case."""
        text = message.text.strip()
        if message.kind != "text" or message.slow_down or not text or command_of(text) or normal(text) in GREETINGS:
            return False
        c = self._conversation
        if self._reply_checked:
            return False
        if workflow.patched(REPLY_AFTER_GREETING):
            # Asked only when the webhook saw a case of this chat awaiting its reporter's reply, and
            # until the conversation has a story (a greeting may come first).
            if not message.case_awaits_reply or c.draft.description is not None:
                return False
        elif not first:  # runs from before: the very first message only, always asked
            return False
        self._reply_checked = True
        recorded = await self._service("chat_reply_awaited", ChatReplyRequest(
            address=c.address, language=c.language, text=text, message_id=message.message_id), str)
        if not recorded:
            return False
        await self._say(self._start, say(c.language, "reply_recorded", tracking_id=recorded))
        return True

    async def _open_case(self) -> ChatReceipt:
        c = self._conversation
        try:
            return await workflow.execute_activity(
                "chat_open_case", ChatSubmission(address=c.address, language=c.language, draft=c.draft),
                result_type=ChatReceipt, start_to_close_timeout=SERVICE_TIMEOUT, retry_policy=SERVICE_RETRY)
        except ActivityError:
            workflow.logger.warning("chat case not opened")
            return ChatReceipt(text=say(c.language, "not_opened", reason="-") + "\n" + say(c.language, "confirm"))

    async def _service(self, name: str, request: BaseModel, result_type: type) -> object:
        try:
            return await workflow.execute_activity(name, request, result_type=result_type,
                                                   start_to_close_timeout=SERVICE_TIMEOUT, retry_policy=SERVICE_RETRY)
        except ActivityError:
            workflow.logger.warning("chat service %s failed", name)
            return "" if result_type is str else None

    async def _say(self, start: ChatStart, text: str) -> None:
        try:
            await workflow.execute_activity(
                "chat_say", ChatSay(address=start.address, text=text), task_queue=start.send_task_queue,
                start_to_close_timeout=timedelta(seconds=start.send_timeout_seconds), retry_policy=SEND_RETRY)
        except ActivityError:
            # The door refused or may have it: the conversation goes on (the log says which).
            workflow.logger.warning("chat reply not sent")
