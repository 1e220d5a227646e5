"""The chat doors' application side (issue 30): handing each message to its conversation
workflow, and the activities that conversation asks for which need the application's services
(they run in the worker, on the conversations' task queue, with a `Services` of their own).

- `ChatDoors.hand_on`: a message the webhook received, once (`chat_inbound` keyed by the door's
  message id), with the chat's last-inbound instant (WhatsApp's 24-hour window) and its pace
  (past CHAT_MESSAGES_PER_MINUTE the sender is told to wait, once, and the rest dropped), signalled
  with signal-with-start to the chat's one conversation.
- `ChatService.open_case`: KIRIM. The same `open_case` as every door (channel `whatsapp` or
  `telegram`, the chat as the reporter's contact), the photos fetched from the door and cleaned
  like every upload, the receipt as the reply.
- `ChatService.status`, `ChatService.reply_awaited`: STATUS LAP-…, and a message that answers a
  follow-up of this chat's case.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import structlog
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.chat import ChatApi, record_inbound
from activities.chat import conversation_id as chat_conversation_id
from activities.notifications import DeliveryError
from api.attachments import store_attachment
from api.auth import reporter_caller
from api.deps import Services
from api.intake import body_hash, open_case, title_from_text
from api.problems import Problem
from api.read_model import get_case_row, view_of_row
from api.temporal import action_update_id
from config import Settings
from db.chat_models import ChatInbound
from db.directory import gazetteer
from db.models import Agency, Complaint
from db.notification_models import NotificationPreference
from domain.attachments import Purpose
from domain.chat import ChatMessage, RegionOption, say, split_address
from domain.enums import Channel, Role, Status
from domain.messages import format_instant
from domain.models import Actor, ComplaintDetails, Reporter, ReplyInput
from domain.open311 import expected_datetime, status_notes
from domain.regions import PROVINCE
from domain.tokens import keyed_digest, private_link
from domain.visibility import PUBLIC, CaseView, Viewer, redact, view_of_state
from workflows.chat import (
    ChatReceipt,
    ChatReplyRequest,
    ChatStart,
    ChatStatusRequest,
    ChatSubmission,
    ChatWorkflow,
)
from workflows.complaint import ComplaintWorkflow
from workflows.delivery_client import attempt_timeout_seconds, channel_task_queue

log = structlog.get_logger("sp4n.chat")


def conversation_task_queue(settings: Settings) -> str:
    """ChatWorkflows and their service activities (the sends go on the chat channel's queue)."""
    return f"{settings.temporal_task_queue}-conversations"


def conversation_id(settings: Settings, address: str) -> str:
    """One conversation per chat (activities/chat.py conversation_id)."""
    return chat_conversation_id(settings.secret_key, address)


def regions_named(text: str) -> tuple[list[RegionOption], RegionOption | None]:
    """What a message's words may mean on the region list: every candidate of a short answer, and
    the place a free text names explicitly (a regency, city or province written as such)."""
    places = gazetteer()
    short = len(text) <= 80
    options = [RegionOption(code=code, name=places.name(code)) for code in places.choices(text)] if short else []
    named = places.resolve(text)
    explicit = RegionOption(code=named.code, name=places.name(named.code)) if named and named.strength >= PROVINCE else None
    return options, explicit


# Meta re-delivers a webhook for up to seven days: its ids are remembered a day longer.
REMEMBER_INBOUND = timedelta(days=8)
CLEANUP_EVERY = 1000  # claims of a process between two deletions of forgotten ids


class ChatDoors:
    """What the webhooks do with a message (api/routes/chat.py), in the API process."""

    _claims = 0

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.settings = svc.settings

    def _remembered_id(self, door: str, message_id: str) -> str:
        """How a message id is remembered: a keyed digest, since WhatsApp's ids (wamid.…) carry the
        sender's number, base64-encoded."""
        return keyed_digest(self.settings.secret_key, "chat-message", f"{door}:{message_id}")[:43]

    def _claim(self, door: str, message_id: str, address: str, now: datetime) -> str | None:
        """Claim a message id (None: handled before) and count the chat's pace; returns `new`,
        `slow_down` (the first message past the limit) or `drop` (later ones)."""
        with self.svc.sessions() as session:
            session.add(ChatInbound(door=door, message_id=self._remembered_id(door, message_id), received_at=now))
            try:
                session.flush()
            except IntegrityError:
                session.rollback()
                return None
            record_inbound(session, self.settings.secret_key, address, now)
            ChatDoors._claims += 1
            if ChatDoors._claims % CLEANUP_EVERY == 0:
                session.execute(delete(ChatInbound).where(ChatInbound.received_at < now - REMEMBER_INBOUND))
            session.commit()
        store = self.svc.rate_limiter.store
        counter = store.count_in_window(store.key("chat", address), 60)
        limit = self.settings.chat_messages_per_minute
        return "new" if counter.count <= limit else "slow_down" if counter.count == limit + 1 else "drop"

    def _prepare(self, address: str, message: ChatMessage, now: datetime) -> tuple[str | None, ChatMessage]:
        """The claim (`_claim`) and the message as the conversation gets it: a note to slow down,
        or with the places its words name."""
        door, _ = split_address(address)
        claimed = self._claim(door.value, message.message_id, address, now)
        if claimed == "slow_down":
            return claimed, ChatMessage(message_id=message.message_id, slow_down=True, received_at=message.received_at)
        if claimed == "new" and message.kind == "text" and message.text.strip():
            regions, named = regions_named(message.text)
            return claimed, message.model_copy(update={"regions": regions, "named_region": named,
                                                       "case_awaits_reply": self._awaits_reply(address)})
        return claimed, message

    def _awaits_reply(self, address: str) -> bool:
        with self.svc.sessions() as session:
            return session.scalar(select(Complaint.tracking_id).where(
                Complaint.reporter_chat == address, Complaint.status == Status.AWAITING_REPORTER.value).limit(1)) is not None

    def _forget(self, door: str, message_id: str) -> None:
        with self.svc.sessions.begin() as session:
            row = session.get(ChatInbound, (door, self._remembered_id(door, message_id)))
            if row is not None:
                session.delete(row)

    async def hand_on(self, address: str, message: ChatMessage) -> bool:
        """Give one message to its chat's conversation; False when it was handled before."""
        door, _ = split_address(address)
        now = message.received_at or datetime.now(timezone.utc)
        claimed, message = await run_in_threadpool(self._prepare, address, message, now)  # one thread hop
        if claimed is None:
            log.info("chat message already handled", door=door.value)
            return False
        if claimed == "drop":
            return True
        start = ChatStart(
            door=door, address=address, send_task_queue=channel_task_queue(self.settings, "chat"),
            send_timeout_seconds=attempt_timeout_seconds(self.settings, "chat"),
            timeout_seconds=self.settings.chat_conversation_timeout_minutes * 60, language=message.language,
        )
        try:
            await self.svc.temporal.signal_with_start(
                ChatWorkflow.run, start, workflow_id=conversation_id(self.settings, address),
                task_queue=conversation_task_queue(self.settings), signal="message", signal_arg=message)
        except BaseException:
            # Not handed on: the door delivers it again (it is not an answered message yet).
            await run_in_threadpool(self._forget, door.value, message.message_id)
            raise
        return True


# --- the activities the conversation asks for (in the worker) ---------------------------------


def _when(instant: datetime | None, language: str) -> str:
    return format_instant(instant.isoformat() if instant else None, language)


class ChatService:
    def __init__(self, svc: Services, api: ChatApi) -> None:
        self.svc, self.api = svc, api

    @activity.defn(name="chat_open_case")
    async def open_case(self, request: ChatSubmission) -> ChatReceipt:
        svc, draft, lang = self.svc, request.draft, request.language
        door, _ = split_address(request.address)
        if not draft.description:
            raise ApplicationError("a chat report without a description", non_retryable=True)
        details = ComplaintDetails(
            title=title_from_text(draft.description), description=draft.description,
            region_code=draft.region.code if draft.region else None, anonymous=bool(draft.anonymous),
            channel=Channel(door.value), reporter=Reporter(chat=request.address),
        )
        # One conversation opens one case, whatever retries: its run's id is the idempotency scope.
        scope = f"chat:{activity.info().workflow_run_id}"
        try:
            await run_in_threadpool(svc.rate_limiter.check, f"chat:{request.address}")
            with svc.sessions() as session:
                receipt = await open_case(svc, session, details, idempotency_scope=scope,
                                          digest=body_hash({"conversation": scope}))
        except Problem as problem:
            if problem.status >= 500:
                raise  # Temporal or the database: the activity is retried
            log.info("chat report refused", status=problem.status)
            return ChatReceipt(text=say(lang, "not_opened", reason=problem.detail) + "\n" + say(lang, "confirm"))
        tracking_id = receipt.tracking_id
        if lang != "id":
            await run_in_threadpool(self._prefer_language, tracking_id, lang)
        lost = 0
        for media_id in draft.photos:
            lost += not await self._attach(request.address, tracking_id, media_id)
        parts = [say(lang, "received", tracking_id=tracking_id, due=_when(receipt.deadlines.verification_due, lang))]
        parts.append(say(lang, "private_link", link=private_link(
            svc.settings.base_url, tracking_id, svc.settings.secret_keyring)))
        if lost:
            parts.append(say(lang, "photo_not_kept", count=lost))
        parts.append(say(lang, "follow", tracking_id=tracking_id))
        return ChatReceipt(tracking_id=tracking_id, text="\n\n".join(parts))

    def _prefer_language(self, tracking_id: str, language: str) -> None:
        with self.svc.sessions.begin() as session:
            subject = f"reporter:{tracking_id}"
            if session.get(NotificationPreference, subject) is None:
                session.add(NotificationPreference(subject=subject, language=language))

    async def _attach(self, address: str, tracking_id: str, media_id: str) -> bool:
        """Fetch one photo from the door, clean it like every upload and attach it to the case."""
        svc = self.svc
        try:
            data = await asyncio.to_thread(self.api.fetch_media, address, media_id)
            cleaned = await svc.uploads.clean(data)
            case = CaseView(tracking_id=tracking_id, status=Status.AWAITING_VERIFICATION.value)
            with svc.sessions() as session:
                await run_in_threadpool(
                    store_attachment, session, svc.storage, svc.uploads.quotas, case=case,
                    added_by=reporter_caller(tracking_id), file=cleaned, submitter=f"chat:{address}",
                    purpose=Purpose.REPORT)
        except (Problem, DeliveryError) as refused:
            log.info("chat photo not attached", tracking_id=tracking_id, reason=str(refused))
            return False
        return True

    async def _view(self, tracking_id: str) -> CaseView | None:
        try:
            return view_of_state(await self.svc.temporal.state(tracking_id))
        except Problem as problem:
            if problem.status != 404:
                raise
        with self.svc.sessions() as session:
            row = await run_in_threadpool(get_case_row, session, tracking_id)
            return view_of_row(row, with_history=False) if row is not None else None

    @activity.defn(name="chat_status")
    async def status(self, request: ChatStatusRequest) -> str:
        """The case's status as this chat may see it: its reporter's view when the case came from
        this chat, the public one otherwise (a confidential case of someone else: not found)."""
        lang, tracking_id = request.language, request.tracking_id
        view = await self._view(tracking_id)
        own = view is not None and view.reporter is not None and view.reporter.chat == request.address
        visible = redact(view, Viewer(reporter_of=tracking_id) if own else PUBLIC) if view else None
        if visible is None:
            return say(lang, "status_unknown", tracking_id=tracking_id)
        agency_name = None
        if visible.agency_id:
            with self.svc.sessions() as session:
                agency = await run_in_threadpool(session.get, Agency, visible.agency_id)
                agency_name = agency.name if agency else None
        note = status_notes(visible.status, agency_name=agency_name, archive_reason=visible.archive_reason,
                            duplicate_of=visible.duplicate_of)
        due = expected_datetime(visible.status, visible.deadlines)
        return f"{tracking_id}: {note}" + (f" ({_when(due, lang)})" if due else "")

    def _awaiting_reply(self, address: str) -> list[str]:
        with self.svc.sessions() as session:
            return list(session.scalars(
                select(Complaint.tracking_id)
                .where(Complaint.reporter_chat == address, Complaint.status == Status.AWAITING_REPORTER.value)
                .order_by(Complaint.updated_at.desc())
            ))

    @activity.defn(name="chat_reply_awaited")
    async def reply_awaited(self, request: ChatReplyRequest) -> str:
        """Record the text as the reporter's reply to this chat's case that awaits one; returns its
        tracking id, or "" when no case of this chat awaits a reply."""
        for tracking_id in await run_in_threadpool(self._awaiting_reply, request.address):
            data = ReplyInput(actor=Actor(role=Role.REPORTER), message=request.text)
            update_id = action_update_id(f"{tracking_id}:chat", "reply", request.message_id, data)
            try:
                await self.svc.temporal.update(tracking_id, ComplaintWorkflow.reply, data, update_id=update_id)
            except Problem as problem:
                if problem.status in (403, 404, 409, 422):
                    continue  # no longer awaiting (the read model was behind)
                raise
            return tracking_id
        return ""
