"""Writing into chats and fetching what they sent (issue 30): the WhatsApp Cloud API (Graph API
`/<phone number id>/messages`, media by id) and the Telegram Bot API (`sendMessage`, `getFile`),
their base URLs settings (tests point them at stubs on loopback).

`chat_say` (a conversation's reply) and `ChatChannel` (a case's news, a delivery channel of
activities/notifications.py) both run on the chat channel's own task queue. WhatsApp lets a
business write freely only within 24 hours of the person's last message (the customer-service
window, known from `chat_threads`); outside it the news go as the approved template
WHATSAPP_TEMPLATE_NAME with the message as its one parameter. Errors say what happened, never
the address, the bot token (part of Telegram's URLs) or the door's answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
import structlog
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.exceptions import ApplicationError

from activities.notifications import HttpChannel, NotAccepted, Outgoing, Refused, Uncertain
from config import Settings
from db.chat_models import ChatThread
from db.models import utc_now
from domain.chat import ChatDoor, split_address
from domain.tokens import keyed_digest
from workflows.chat import ChatSay
from workflows.delivery import NOT_ACCEPTED, REFUSED, UNCERTAIN

log = structlog.get_logger("sp4n.chat")

WHATSAPP_WINDOW = timedelta(hours=24)
MAX_TEXT = 4096  # both doors' limit for one text message
MAX_TEMPLATE_PARAMETER = 1024
MAX_MEDIA_BYTES = 10 * 1024 * 1024  # an upload's own limit (domain/attachments.py)
# Where WhatsApp's media URLs may point (besides the Graph API's own host): Meta's media CDN.
MEDIA_HOST_SUFFIXES = (".fbsbx.com", ".whatsapp.net", ".facebook.com")


def address_key(secret_key: str, address: str) -> str:
    """The keyed digest a chat is known by where its address must not be written in clear."""
    return keyed_digest(secret_key, "chat", address)[:43]


def conversation_id(secret_key: str, address: str) -> str:
    """One conversation per chat; a workflow id is plain text in Temporal, so a keyed digest."""
    door, _ = split_address(address)
    return f"chat:{door.value}:{address_key(secret_key, address)[:32]}"


async def forget_conversations(client: Client, secret_key: str, address: str) -> int:
    """Delete every run of a chat's conversation from Temporal: each history holds the chat's
    address (under the service's key only) beside what was typed and the tracking ids it was
    told, so an erased reporter's chat would still lead to their case. An open conversation ends
    with it (the next message starts a new one). Returns how many runs were deleted."""
    workflow_id = conversation_id(secret_key, address)
    try:
        runs = [run.run_id async for run in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
    except RPCError as error:
        if error.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        # Only the time-skipping test server has no visibility: it keeps no history beyond a test.
        log.warning("chat conversations not listed: this Temporal has no visibility")
        return 0
    for run_id in [*runs, ""]:  # "": the latest run, in case visibility has not listed it yet
        try:
            await client.workflow_service.delete_workflow_execution(DeleteWorkflowExecutionRequest(
                namespace=client.namespace, workflow_execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id)))
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
    return len(runs)


def record_inbound(session: Session, secret_key: str, address: str, at: datetime) -> None:
    """The chat wrote to us now (it opens WhatsApp's 24-hour window)."""
    key = address_key(secret_key, address)
    thread = session.get(ChatThread, key)
    if thread is None:
        session.add(ChatThread(address_key=key, door=split_address(address)[0].value, last_inbound_at=at))
    elif thread.last_inbound_at < at:
        thread.last_inbound_at = at


class ChatApi:
    """The doors' HTTP APIs, blocking (run on threads)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.http = HttpChannel(settings.chat_connect_timeout_seconds, settings.chat_read_timeout_seconds)

    def close(self) -> None:
        self.http.close()

    # --- sending --------------------------------------------------------------------------------

    def send_text(self, address: str, text: str) -> None:
        door, chat_id = split_address(address)
        text = text[:MAX_TEXT]
        if door == ChatDoor.WHATSAPP:
            self._whatsapp({"to": chat_id.lstrip("+"), "type": "text", "text": {"preview_url": False, "body": text}})
        else:
            self._telegram("sendMessage", {"chat_id": chat_id, "text": text, "disable_web_page_preview": True})

    def send_template(self, address: str, text: str, language: str) -> None:
        """WhatsApp outside the 24-hour window: the approved template, the message its parameter."""
        _, number = split_address(address)
        s = self.settings
        code = s.whatsapp_template_language if language == "id" else language
        self._whatsapp({"to": number.lstrip("+"), "type": "template", "template": {
            "name": s.whatsapp_template_name, "language": {"code": code},
            "components": [{"type": "body", "parameters": [
                {"type": "text", "text": " ".join(text.split())[:MAX_TEMPLATE_PARAMETER]}]}],
        }})

    def _whatsapp(self, message: dict) -> None:
        s = self.settings
        if not s.whatsapp_enabled:
            raise Refused("failed: WhatsApp is not configured (WHATSAPP_ENABLED)")
        body = json.dumps({"messaging_product": "whatsapp", "recipient_type": "individual", **message}).encode()
        url = f"{s.whatsapp_api_base_url.rstrip('/')}/{s.whatsapp_phone_number_id}/messages"
        self.http.post(url, body, {"Authorization": f"Bearer {s.whatsapp_access_token}"})

    def _telegram(self, method: str, payload: dict) -> None:
        s = self.settings
        if not s.telegram_enabled:
            raise Refused("failed: Telegram is not configured (TELEGRAM_ENABLED)")
        try:  # the bot token is in the URL: errors name the kind of failure only
            self.http.post(f"{s.telegram_api_base_url.rstrip('/')}/bot{s.telegram_bot_token}/{method}",
                           json.dumps(payload).encode(), {})
        except (Refused, NotAccepted, Uncertain) as error:
            raise type(error)(error.reason) from None

    # --- fetching media -------------------------------------------------------------------------

    def fetch_media(self, address: str, media_id: str) -> bytes:
        """The bytes of a photo the chat sent (raises NotAccepted when they cannot be had)."""
        door, _ = split_address(address)
        s = self.settings
        if door == ChatDoor.WHATSAPP:
            headers = {"Authorization": f"Bearer {s.whatsapp_access_token}"}
            base = s.whatsapp_api_base_url.rstrip("/")
            meta = self._get_json(f"{base}/{media_id}", headers)
            url = str(meta.get("url") or "")
            if not self._media_url_allowed(url, base):
                raise Refused("refused: the media URL is not Meta's")
            return self._get_bytes(url, headers)
        base = f"{s.telegram_api_base_url.rstrip('/')}"
        meta = self._get_json(f"{base}/bot{s.telegram_bot_token}/getFile", {}, params={"file_id": media_id})
        path = str((meta.get("result") or {}).get("file_path") or "")
        if not path or ".." in path or path.startswith("/"):
            raise Refused("refused: Telegram gave no usable file path")
        return self._get_bytes(f"{base}/file/bot{s.telegram_bot_token}/{path}", {})

    @staticmethod
    def _media_url_allowed(url: str, base: str) -> bool:
        parts, own = urlsplit(url), urlsplit(base)
        if parts.hostname == own.hostname and parts.scheme == own.scheme:
            return True
        return parts.scheme == "https" and bool(parts.hostname) and parts.hostname.endswith(MEDIA_HOST_SUFFIXES)

    def _get(self, url: str, headers: dict[str, str], params: dict | None = None) -> httpx.Response:
        try:
            with self.http.client.stream("GET", url, headers=headers, params=params) as response:
                if response.status_code != 200:
                    raise NotAccepted(f"failed: HTTP {response.status_code} fetching media")
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > MAX_MEDIA_BYTES:
                        raise Refused("refused: the media is larger than an upload may be")
                    chunks.append(chunk)
                return httpx.Response(200, content=b"".join(chunks))
        except httpx.HTTPError as error:
            raise NotAccepted(f"failed: {type(error).__name__} fetching media") from None

    def _get_json(self, url: str, headers: dict[str, str], params: dict | None = None) -> dict:
        try:
            data = self._get(url, headers, params).json()
        except ValueError:
            raise NotAccepted("failed: the media description is not JSON") from None
        return data if isinstance(data, dict) else {}

    def _get_bytes(self, url: str, headers: dict[str, str]) -> bytes:
        return self._get(url, headers).content


def in_window(sessions: sessionmaker[Session], secret_key: str, address: str, now: datetime) -> bool:
    with sessions() as session:
        thread = session.get(ChatThread, address_key(secret_key, address))
        return thread is not None and now - thread.last_inbound_at < WHATSAPP_WINDOW


class ChatChannel:
    """The delivery channel `chat` of activities/notifications.py: a case's news in its chat."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session], api: ChatApi | None = None,
                 now: Callable[[], datetime] = utc_now) -> None:
        self.settings, self.sessions, self.now = settings, sessions, now
        self.api = api or ChatApi(settings)

    def send(self, out: Outgoing) -> None:
        assert out.address
        door, _ = split_address(out.address)
        if door == ChatDoor.WHATSAPP and not in_window(self.sessions, self.settings.secret_key, out.address,
                                                         self.now()):
            self.api.send_template(out.address, out.body_text, "id")
        else:
            self.api.send_text(out.address, out.body_text)

    def close(self) -> None:
        self.api.close()


class ChatSender:
    """`chat_say`: a conversation's reply (always inside the window: it answers a message)."""

    def __init__(self, api: ChatApi) -> None:
        self.api = api

    @activity.defn(name="chat_say")
    def say(self, request: ChatSay) -> None:
        try:
            self.api.send_text(request.address, request.text)
        except Refused as error:
            raise ApplicationError(str(error), type=REFUSED, non_retryable=True) from None
        except NotAccepted as error:
            raise ApplicationError(str(error), type=NOT_ACCEPTED) from None
        except Uncertain as error:
            raise ApplicationError(str(error), type=UNCERTAIN, non_retryable=True) from None
