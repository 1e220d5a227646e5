"""A stub of Meta's Graph API and Telegram's Bot API on loopback, for the chat doors' tests and
bench (bench/chat.py): it keeps every message sent into a chat (with when it came) and serves the
media a chat sent."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.loopback import http_server

APP_SECRET = "whatsapp-app-secret-for-the-tests"
VERIFY_TOKEN = "whatsapp-verify-token-for-the-tests-0123456789"
TELEGRAM_SECRET = "telegram-webhook-secret-for-the-tests-0123"
BOT_TOKEN = "123456:bot-token-for-tests"
PHONE_NUMBER_ID = "106540352242922"
ACCESS_TOKEN = "wa-access-token"


@dataclass
class Sent:
    door: str
    to: str
    text: str
    template: str | None = None
    at: float = field(default_factory=time.monotonic)


@dataclass
class ChatStub:
    """What the doors' APIs were asked to send, and the media they serve."""

    sent: list[Sent] = field(default_factory=list)
    media: dict[str, bytes] = field(default_factory=dict)
    media_fetches: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    base_url: str = ""

    def texts_to(self, address: str) -> list[str]:
        door, _, chat_id = address.partition(":")
        with self.lock:
            return [s.text for s in self.sent if s.door == door and s.to == chat_id.lstrip("+")]


def _handler(stub: ChatStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: Any, content_type: str = "application/json") -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            path = urlsplit(self.path).path
            if path == f"/graph/{PHONE_NUMBER_ID}/messages":
                if self.headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
                    return self._answer(401, {"error": {"message": "bad token"}})
                if body.get("type") == "template":
                    template = body["template"]
                    text = template["components"][0]["parameters"][0]["text"]
                    sent = Sent("whatsapp", body["to"], text, template["name"])
                else:
                    sent = Sent("whatsapp", body["to"], body["text"]["body"])
                with stub.lock:
                    stub.sent.append(sent)
                return self._answer(200, {"messages": [{"id": f"wamid.out.{len(stub.sent)}"}]})
            if path == f"/bot{BOT_TOKEN}/sendMessage":
                with stub.lock:
                    stub.sent.append(Sent("telegram", str(body["chat_id"]), body["text"]))
                return self._answer(200, {"ok": True, "result": {"message_id": len(stub.sent)}})
            self._answer(404, {"error": "unknown"})

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            path = parts.path
            if path.startswith("/graph/") and self.headers.get("Authorization") == f"Bearer {ACCESS_TOKEN}":
                media_id = path.removeprefix("/graph/")
                if media_id in stub.media:
                    return self._answer(200, {"url": f"{stub.base_url}/media/{media_id}", "mime_type": "image/jpeg"})
            if path.startswith("/media/") and path.removeprefix("/media/") in stub.media:
                stub.media_fetches.append(path.removeprefix("/media/"))
                return self._answer(200, stub.media[path.removeprefix("/media/")], "image/jpeg")
            if path == f"/bot{BOT_TOKEN}/getFile":
                file_id = parse_qs(parts.query).get("file_id", [""])[0]
                if file_id in stub.media:
                    return self._answer(200, {"ok": True, "result": {"file_path": f"photos/{file_id}.jpg"}})
            if path.startswith(f"/file/bot{BOT_TOKEN}/photos/"):
                file_id = path.rsplit("/", 1)[1].removesuffix(".jpg")
                if file_id in stub.media:
                    stub.media_fetches.append(file_id)
                    return self._answer(200, stub.media[file_id], "image/jpeg")
            self._answer(404, {"error": "unknown"})

    return Handler


@contextmanager
def serving() -> Iterator[ChatStub]:
    stub = ChatStub()
    with http_server(_handler(stub)) as port:
        stub.base_url = f"http://127.0.0.1:{port}"
        yield stub
