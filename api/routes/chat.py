"""The chat doors' webhooks (issue 30): WhatsApp Business Cloud API and Telegram Bot API.

Each door's own contract, answered at once: every message is handed to its chat's conversation
workflow (api/chat.py, workflows/chat.py) and the door gets 200 as soon as Temporal has it; a
message the door delivers again (its message id, Telegram's update_id) is handled once. What the
citizen reads comes back as messages from the conversation, never in this answer.

- `GET /v1/channels/whatsapp`: Meta's verification handshake (`hub.mode=subscribe`,
  `hub.verify_token` = WHATSAPP_VERIFY_TOKEN → `hub.challenge` as plain text; 403 otherwise).
- `POST /v1/channels/whatsapp`: refused (401) unless `X-Hub-Signature-256` is
  `sha256=<HMAC-SHA256 of the raw body under WHATSAPP_APP_SECRET>`.
- `POST /v1/channels/telegram`: refused (401) unless `X-Telegram-Bot-Api-Secret-Token` is
  TELEGRAM_WEBHOOK_SECRET. Private chats only (a group would show one citizen's report to others).
A door that is not enabled answers 404.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timezone
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from api.chat import ChatDoors
from api.deps import ServicesDep
from api.problems import Problem, problem_responses
from domain.chat import MAX_TEXT_CHARS, ChatDoor, ChatMessage, chat_address
from domain.contacts import ContactRefused, normalise_phone
from domain.text import MachineTextRepairs, repair_machine_text
from domain.tokens import constant_time_equal

log = structlog.get_logger("sp4n.chat")

router = APIRouter(prefix="/v1/channels", tags=["channels"])

ACKNOWLEDGED = {"ok": True}


def _plain(text: Any) -> str:
    """A message's text repaired as at every machine door (domain/text.py): a door resends what it
    gets a 4xx for, so nothing here is refused for its characters."""
    if not isinstance(text, str):
        return ""
    return repair_machine_text(text, MachineTextRepairs())[:MAX_TEXT_CHARS]


def _instant(seconds: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(seconds), timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _object(value: Any) -> dict:
    """A field the contract says is an object, or {}: a door resends what it got a 500 for, for days."""
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _number(value: Any) -> int:
    return value if isinstance(value, int) else 0


async def _json(request: Request) -> dict:
    try:
        body = json.loads(await request.body())
    except ValueError as error:
        raise Problem(400, "Isi permintaan bukan JSON.") from error
    if not isinstance(body, dict):
        raise Problem(400, "Isi permintaan bukan objek JSON.")
    return body


# --- WhatsApp ----------------------------------------------------------------------------------


def _whatsapp_on(svc) -> None:
    if not svc.settings.whatsapp_enabled:
        raise Problem(404, "Pintu WhatsApp tidak diaktifkan.")


@router.get("/whatsapp", summary="WhatsApp: jabat tangan verifikasi webhook (hub.challenge)",
            response_class=PlainTextResponse, responses=problem_responses(403, 404))
async def whatsapp_verification(
    svc: ServicesDep,
    mode: Annotated[str, Query(alias="hub.mode", max_length=50)] = "",
    token: Annotated[str, Query(alias="hub.verify_token", max_length=300)] = "",
    challenge: Annotated[str, Query(alias="hub.challenge", max_length=300)] = "",
) -> PlainTextResponse:
    _whatsapp_on(svc)
    expected = svc.settings.whatsapp_verify_token or ""
    if mode != "subscribe" or not expected or not constant_time_equal(expected, token):
        raise Problem(403, "Token verifikasi webhook WhatsApp tidak cocok.")
    return PlainTextResponse(challenge)


def whatsapp_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _whatsapp_message(raw: dict, settings) -> tuple[str, ChatMessage] | None:
    """(chat address, message) of one entry of `messages`, or None for what is not handled."""
    message_id, sender = raw.get("id"), raw.get("from")
    if not isinstance(message_id, str) or not message_id or not isinstance(sender, str):
        return None
    try:  # the numbers we answer, as for SMS: no premium lines, no country outside the setting
        number = normalise_phone("+" + sender.lstrip("+"), settings.phone_country_codes)
    except ContactRefused:
        log.info("whatsapp sender not answered", reason="number refused")
        return None
    kind, text, media_id = raw.get("type"), "", None
    if kind == "text":
        text = _plain(_object(raw.get("text")).get("body"))
    elif kind == "image":
        image = _object(raw.get("image"))
        kind, media_id, text = "photo", image.get("id") if isinstance(image.get("id"), str) else None, _plain(
            image.get("caption"))
    elif kind == "button":
        kind, text = "text", _plain(_object(raw.get("button")).get("text"))
    elif kind != "sticker":
        kind = "other"
    return chat_address(ChatDoor.WHATSAPP, number), ChatMessage(
        message_id=message_id[:200], kind=kind, text=text, media_id=media_id,
        received_at=_instant(raw.get("timestamp")))


@router.post("/whatsapp", summary="WhatsApp: pesan masuk (webhook Cloud API, X-Hub-Signature-256)",
             responses=problem_responses(400, 401, 404, 503))
async def whatsapp_inbound(request: Request, svc: ServicesDep) -> dict:
    _whatsapp_on(svc)
    body = await request.body()
    given = request.headers.get("x-hub-signature-256", "")
    secret = svc.settings.whatsapp_app_secret
    if not secret or not constant_time_equal(whatsapp_signature(secret, body), given):
        log.warning("whatsapp webhook refused", reason="signature")
        raise Problem(401, "Tanda tangan X-Hub-Signature-256 tidak ada atau tidak cocok.")
    payload = await _json(request)
    doors = ChatDoors(svc)
    for entry in _list(payload.get("entry")):
        for change in _list(_object(entry).get("changes")):
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict):
                continue
            ours = _object(value.get("metadata")).get("phone_number_id")
            if ours is not None and str(ours) != svc.settings.whatsapp_phone_number_id:
                continue  # another number of the same Meta app
            for raw in _list(value.get("messages")):  # `statuses` (sent, read) need nothing
                found = _whatsapp_message(raw, svc.settings) if isinstance(raw, dict) else None
                if found is not None:
                    await doors.hand_on(*found)
    return ACKNOWLEDGED


# --- Telegram ----------------------------------------------------------------------------------


def _telegram_message(update: dict) -> tuple[str, ChatMessage] | None:
    update_id, message = update.get("update_id"), update.get("message")
    if not isinstance(update_id, int) or not isinstance(message, dict):
        return None  # edited messages, channel posts, callbacks: nothing to answer
    chat, sender = _object(message.get("chat")), _object(message.get("from"))
    if chat.get("type") != "private" or sender.get("is_bot") or not isinstance(chat.get("id"), int):
        return None
    text, kind, media_id = _plain(message.get("text")), "text", None
    if isinstance(message.get("photo"), list):
        sizes = [p for p in message["photo"] if isinstance(p, dict) and isinstance(p.get("file_id"), str)]
        if sizes:
            largest = max(sizes, key=lambda p: _number(p.get("width")) * _number(p.get("height")))
            kind, media_id, text = "photo", largest["file_id"], _plain(message.get("caption"))
    elif message.get("sticker"):
        kind = "sticker"
    elif "text" not in message:
        kind = "other"
    language = sender.get("language_code")
    return chat_address(ChatDoor.TELEGRAM, str(chat["id"])), ChatMessage(
        message_id=str(update_id), kind=kind, text=text, media_id=media_id, received_at=_instant(message.get("date")),
        language="en" if isinstance(language, str) and language.startswith("en") else None)


@router.post("/telegram", summary="Telegram: pembaruan masuk (webhook Bot API, secret token)",
             responses=problem_responses(400, 401, 404, 503))
async def telegram_inbound(request: Request, svc: ServicesDep) -> dict:
    if not svc.settings.telegram_enabled:
        raise Problem(404, "Pintu Telegram tidak diaktifkan.")
    given = request.headers.get("x-telegram-bot-api-secret-token", "")
    expected = svc.settings.telegram_webhook_secret or ""
    if not expected or not constant_time_equal(expected, given):
        log.warning("telegram webhook refused", reason="secret token")
        raise Problem(401, "X-Telegram-Bot-Api-Secret-Token tidak ada atau tidak cocok.")
    found = _telegram_message(await _json(request))
    if found is not None:
        await ChatDoors(svc).hand_on(*found)
    return ACKNOWLEDGED
