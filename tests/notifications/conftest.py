"""Real servers on loopback for notification delivery: an aiosmtpd SMTP sink and an HTTP sink
(SMS gateway and webhooks), a migrated read model, staff tokens, and cases driven through the
pure CaseMachine and recorded by the real `record_case` (so the outbox is exactly what the
workflow writes)."""

from __future__ import annotations

import email
import email.policy
import json
import secrets
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message as EmailMsg
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from activities.notifications import Dispatcher
from activities.records import RecordActivities
from config import Settings
from db.models import Agency, ApiToken, NotificationRow
from db.notification_models import NotificationDelivery, NotificationPreference, Webhook
from domain.lifecycle import CaseMachine
from domain.models import AgencyRef

from tests.db.conftest import database_url, engine, new_database_url, sessions  # noqa: F401

AGENCY = "pemkot-63.71"  # Kota Banjarmasin (WITA)
OTHER_AGENCY = "pemprov-51"  # Provinsi Bali
UNIT = "pemkot-63.71/dinas-pupr"
OTHER_UNIT = "pemkot-63.71/dinas-kesehatan"


# --- SMTP sink -----------------------------------------------------------------------------------


class SmtpSink:
    """Keeps every message it accepts; `refuse` makes DATA answer 451 (not accepted)."""

    def __init__(self) -> None:
        self.messages: list[EmailMsg] = []
        self.refuse = False
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "451 4.3.0 mailbox temporarily unavailable"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)
        return "250 OK"

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpSink, int]]:
    sink = SmtpSink()
    with socket.socket() as probe:  # aiosmtpd's start() connects to its port: it cannot be 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


# --- HTTP sink -----------------------------------------------------------------------------------


@dataclass
class HttpSink:
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    status: int = 200
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [json.loads(body) for p, _, body in self.requests if p == path]


@pytest.fixture
def http_sink() -> Iterator[HttpSink]:
    sink = HttpSink()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            sink.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(sink.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sink.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()


# --- the read model, people, settings ---------------------------------------------------------------


@pytest.fixture
def clean(sessions: sessionmaker[Session]) -> sessionmaker[Session]:  # noqa: F811
    """The module's database without tokens, preferences, webhooks or deliveries of earlier tests."""
    with sessions.begin() as session:
        for model in (NotificationDelivery, NotificationPreference, Webhook, NotificationRow, ApiToken):
            session.execute(delete(model))
    return sessions


@dataclass
class People:
    """Staff with emails; `address[name]` is their email."""

    tokens: dict[str, str] = field(default_factory=dict)  # name → token id
    address: dict[str, str] = field(default_factory=dict)


STAFF = {
    "admin": ("admin", None),
    "bjm_admin": ("agency_admin", AGENCY),
    "bjm_officer_pupr": ("officer", AGENCY),
    "bjm_officer_dinkes": ("officer", AGENCY),
    "bali_admin": ("agency_admin", OTHER_AGENCY),
    "bali_officer": ("officer", OTHER_AGENCY),
    "ombudsman": ("observer", None),
}


@pytest.fixture
def people(clean: sessionmaker[Session]) -> People:
    result = People()
    with clean.begin() as session:
        for name, (role, agency) in STAFF.items():
            token_id = secrets.token_hex(8)
            address = f"{name}@staff.example"
            session.add(ApiToken(id=token_id, token_hash=secrets.token_hex(32), role=role, agency_id=agency,
                                 name=name, email=address))
            result.tokens[name], result.address[name] = token_id, address
        session.flush()
        session.add(NotificationPreference(subject=f"token:{result.tokens['bjm_officer_pupr']}", unit_id=UNIT))
        session.add(NotificationPreference(subject=f"token:{result.tokens['bjm_officer_dinkes']}", unit_id=OTHER_UNIT))
    return result


def make_settings(database_url: str, smtp_port: int, http: HttpSink | None = None, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        database_url=database_url, smtp_host="127.0.0.1", smtp_port=smtp_port,
        smtp_from="SP4N-LAPOR! <no-reply@lapor.test>", smtp_timeout_seconds=5,
        sms_gateway_url=http.url("/sms") if http else None, sms_gateway_token="sms-token",
        notification_retry_base_seconds=0.0, notification_max_attempts=3, webhook_failure_limit=3,
        webhook_timeout_seconds=5, sp4n_admin_token="test-admin",
    )
    values.update(overrides)
    return Settings(**values)


def agency_ref(sessions: sessionmaker[Session], agency_id: str = AGENCY) -> AgencyRef:  # noqa: F811
    with sessions() as session:
        agency = session.get(Agency, agency_id)
        assert agency is not None
        return AgencyRef(id=agency.id, name=agency.name, timezone=agency.timezone)


def record(machine: CaseMachine, recorder: RecordActivities, projected: list[int]) -> None:
    """What ComplaintWorkflow._project does: the new events, escalations and notifications."""
    recorder.record_case(machine.record_since(projected[0]))
    projected[0] = machine.state.seq


class FrozenClock:
    def __init__(self) -> None:
        self.value = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.value

    def advance(self, **delta: float) -> None:
        self.value += timedelta(**delta)


def dispatcher(sessions: sessionmaker[Session], settings: Settings, clock: FrozenClock | None = None) -> Dispatcher:  # noqa: F811
    return Dispatcher(sessions, settings, now=clock) if clock else Dispatcher(sessions, settings)
