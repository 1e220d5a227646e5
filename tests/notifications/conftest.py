"""Real servers on loopback for notification delivery: a Temporal dev server with the delivery
workers (DeliveryWorkflow and the channel queues, as `worker.py` builds them), an aiosmtpd SMTP
sink and an HTTP sink (SMS gateway and webhooks), a migrated read model, staff tokens, and cases
driven through the pure CaseMachine and recorded by the real `project_case` (so the outbox and
its deliveries are exactly what the case workflow's projection makes), whose plan is then sent
by the case workflow's own sending code (`CaseSends`: workflows.delivery.send_planned)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import secrets
import socket
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message as EmailMsg
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from temporalio import workflow
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from activities.notifications import DeliveryActivities
from activities.records import RecordActivities
from config import Settings
from tests.integration.conftest import dev_server_path
from tests.loopback import http_server
from worker import build_delivery_workers, build_worker
from workflows.client import connect
from workflows.delivery import DeliveryPlan, send_planned
from workflows.delivery_client import DeliveryStarter
from db.models import Agency, ApiToken, NotificationRow
from db.notification_models import NotificationDelivery, NotificationPreference, Webhook
from domain.lifecycle import CaseMachine
from domain.models import AgencyRef, CaseRecord

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
        self.refuse_next = 0  # refuse this many more messages, then accept
        self.refused = 0
        self.hang: threading.Event | None = None  # keep the message, never answer DATA until set
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse or self.refuse_next > 0:
            self.refuse_next = max(self.refuse_next - 1, 0)
            self.refused += 1
            return "451 4.3.0 mailbox temporarily unavailable"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)
        while self.hang is not None and not self.hang.is_set():
            await asyncio.sleep(0.05)
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
    answer: bytes = b"{}"
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
            if 300 <= sink.status < 400:
                self.send_header("Location", sink.url("/elsewhere"))
            self.send_header("Content-Length", str(len(sink.answer)))
            self.end_headers()
            self.wfile.write(sink.answer)

        def log_message(self, *args: Any) -> None:
            pass

    with http_server(Handler) as sink.port:
        yield sink


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
        notification_retry_base_seconds=0.1, notification_retry_max_seconds=0.5,
        notification_max_attempts=3, webhook_failure_limit=3,
        webhook_connect_timeout_seconds=5, webhook_read_timeout_seconds=5, sp4n_admin_token="test-admin",
        # Receivers in these tests listen on loopback: allow-listed, as an administrator would.
        webhook_allowed_hosts=["127.0.0.1"],
        # A queue of its own per test: nothing of an earlier test's deliveries is polled here.
        temporal_task_queue=f"notify-test-{uuid.uuid4().hex[:8]}",
    )
    values.update(overrides)
    return Settings(_env_file=None, **values)


def agency_ref(sessions: sessionmaker[Session], agency_id: str = AGENCY) -> AgencyRef:  # noqa: F811
    with sessions() as session:
        agency = session.get(Agency, agency_id)
        assert agency is not None
        return AgencyRef(id=agency.id, name=agency.name, timezone=agency.timezone)


def record(machine: CaseMachine, recorder: RecordActivities, projected: list[int]) -> None:
    """What ComplaintWorkflow._project does: the new events, escalations and notifications."""
    recorder.record_case(machine.record_since(projected[0]))
    projected[0] = machine.state.seq


# --- Temporal: a dev server and the delivery workers ---------------------------------------------


class LoopThread:
    """An event loop in a thread, so the (synchronous) tests can drive async Temporal work."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="temporal-loop", daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, Any], timeout: float = 120) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@dataclass
class TemporalServer:
    loop: LoopThread
    env: WorkflowEnvironment
    address: str
    client: Client


@pytest.fixture(scope="module")
def temporal_server() -> Iterator[TemporalServer]:
    loop = LoopThread()

    async def start() -> TemporalServer:
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=dev_server_path(), data_converter=pydantic_data_converter,
            dev_server_log_level="error",
        )
        address = env.client.service_client.config.target_host
        return TemporalServer(loop, env, address, await connect(address, env.client.namespace))

    server = loop.run(start())
    try:
        yield server
    finally:
        loop.run(server.env.shutdown())
        loop.stop()


class TrackingStarter(DeliveryStarter):
    """The worker's starter, remembering which delivery workflows it started (to wait for them)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.started: list[str] = []

    async def start(self, plan: Any, workflow_id: str) -> bool:
        started = await super().start(plan, workflow_id)
        if started:
            self.started.append(workflow_id)
        return started


@workflow.defn(sandboxed=False)
class CaseSends:
    """What ComplaintWorkflow does with a projection's plan (workflows.delivery.send_planned),
    without the case around it: these tests drive the case's rules directly, not its workflow."""

    @workflow.run
    async def run(self, plan: DeliveryPlan) -> dict[str, str]:
        return await send_planned(plan)


class CaseProjection:
    """ComplaintWorkflow._project for the tests: `project_case` (the projection, its outbox rows
    expanded into deliveries in the same transaction), then the sending of its plan."""

    def __init__(self, stack: DeliveryStack, records: RecordActivities) -> None:
        self.stack, self.records = stack, records

    def record_case(self, record: CaseRecord) -> None:
        plan = self.records.project_case(record)
        if plan is None:
            return
        workflow_id = f"sends:{record.tracking_id}:{record.seq}:{uuid.uuid4().hex[:6]}"

        async def start() -> None:
            await self.stack.server.client.start_workflow(CaseSends.run, plan, id=workflow_id,
                                                          task_queue=self.stack.sends_queue)
        self.stack.server.loop.run(start())
        self.stack.starter.started.append(workflow_id)


class DeliveryStack:
    """What `python worker.py` runs for deliveries, in this process, on the test's own queues."""

    def __init__(self, server: TemporalServer, sessions: sessionmaker[Session], settings: Settings) -> None:
        self.server, self.settings = server, settings
        self.starter = TrackingStarter(server.client, settings, server.loop.loop)
        self.activities = DeliveryActivities(sessions, settings, self.starter)
        # What the case queue runs: the projection expands its outbox, the case sends the plan.
        self.recorder = CaseProjection(self, RecordActivities(sessions, deliveries=self.starter,
                                                              expand=self.activities.expand_rows))
        self.sessions = sessions
        self.workers: list[Worker] = []
        self.tasks: list[asyncio.Future[Any]] = []
        self.executors = ExitStack()
        # The case's part of sending (its workflow code; the activities run on the channel queues,
        # polled by whichever worker runs): always on, like the cases' own workflows.
        self.sends_queue = f"{settings.temporal_task_queue}-case-sends"

        async def start_sends() -> tuple[Worker, asyncio.Future[Any]]:
            worker = Worker(server.client, task_queue=self.sends_queue, workflows=[CaseSends])
            return worker, asyncio.ensure_future(worker.run())

        self.sends_worker, self.sends_task = server.loop.run(start_sends())

    def start_workers(self) -> None:
        async def start() -> None:
            executor = self.executors.enter_context(ThreadPoolExecutor(max_workers=8))
            self.workers = [build_worker(self.server.client, self.settings.temporal_task_queue, self.sessions,
                                         executor, deliveries=self.starter, expand=self.activities)]
            self.workers += build_delivery_workers(self.server.client, self.settings, self.activities, self.executors)
            self.tasks = [asyncio.ensure_future(worker.run()) for worker in self.workers]

        self.server.loop.run(start())

    def stop_workers(self) -> None:
        async def stop() -> None:
            await asyncio.gather(*(worker.shutdown() for worker in self.workers))
            await asyncio.gather(*self.tasks, return_exceptions=True)

        if self.workers:
            self.server.loop.run(stop())
            self.workers, self.tasks = [], []
        self.executors.close()

    def start_outbox(self, *keys: str) -> None:
        self.starter.start_outbox(keys)

    def settle(self, *workflow_ids: str, timeout: float = 90) -> dict[str, dict[str, str]]:
        """Wait until every delivery workflow started so far (and `workflow_ids`) has finished,
        including those their activities started meanwhile; returns each one's result."""
        async def wait() -> dict[str, dict[str, str]]:
            results: dict[str, dict[str, str]] = {}
            while True:
                todo = [i for i in [*workflow_ids, *self.starter.started] if i not in results]
                if not todo:
                    return results
                for workflow_id in todo:
                    results[workflow_id] = await self.server.client.get_workflow_handle(workflow_id).result()

        return self.server.loop.run(asyncio.wait_for(wait(), timeout), timeout + 5)

    def history_length(self, workflow_id: str) -> int:
        async def fetch() -> int:
            history = await self.server.client.get_workflow_handle(workflow_id).fetch_history()
            return len(history.events)

        return self.server.loop.run(fetch())

    def close(self) -> None:
        self.stop_workers()

        async def stop_sends() -> None:
            await self.sends_worker.shutdown()
            await asyncio.gather(self.sends_task, return_exceptions=True)

        self.server.loop.run(stop_sends())
        self.activities.close()


@pytest.fixture
def delivering(temporal_server: TemporalServer, sessions: sessionmaker[Session]) -> Iterator[Callable[..., DeliveryStack]]:  # noqa: F811
    """`delivering(settings)`: the delivery workers for these settings, running (unless
    `workers=False`), stopped after the test."""
    stacks: list[DeliveryStack] = []

    def make(settings: Settings, workers: bool = True) -> DeliveryStack:
        stack = DeliveryStack(temporal_server, sessions, settings)
        stacks.append(stack)
        if workers:
            stack.start_workers()
        return stack

    yield make
    for stack in stacks:
        stack.close()


def api_settings(settings: Settings, server: TemporalServer) -> Settings:
    """The same settings, for an API that reaches the test's Temporal server."""
    return settings.model_copy(update={"temporal_address": server.address})
