"""Workflow tests: a fresh task queue per test and same-named stand-ins for the activities."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.calendar import calendar_for
from domain.enums import Role
from domain.models import (
    Actor,
    AgencyRef,
    CaseRecord,
    ComplaintDetails,
    ComplaintInput,
    RoutingSuggestion,
    SuggestionRequest,
)
from domain.policy import Policy, current_policy
from workflows.complaint import ComplaintWorkflow
from workflows.delivery import ChannelPlan, DeliveryPlan, PendingDelivery, SendBatch

ADMIN = Actor(role=Role.ADMIN, name="admin nasional")
REPORTER = Actor(role=Role.REPORTER)
KALTENG = AgencyRef(id="pemprov-62", name="Pemerintah Provinsi Kalimantan Tengah", timezone="Asia/Jakarta")
BALI = AgencyRef(id="pemprov-51", name="Pemerintah Provinsi Bali", timezone="Asia/Makassar")
KALTENG_ADMIN = Actor(role=Role.AGENCY_ADMIN, agency_id=KALTENG.id)
KALTENG_OFFICER = Actor(role=Role.OFFICER, agency_id=KALTENG.id)
BALI_ADMIN = Actor(role=Role.AGENCY_ADMIN, agency_id=BALI.id)
BALI_OFFICER = Actor(role=Role.OFFICER, agency_id=BALI.id)


@dataclass
class StandInActivities:
    """Same-named stand-ins: they keep what the workflow asked to record. With `deliver`, each
    projection's notifications come back as one email delivery each (a plan on the test's own
    task queue), which the workflow sends through the `send_email_batch` stand-in."""

    records: list[CaseRecord] = field(default_factory=list)
    suggestion_requests: list[SuggestionRequest] = field(default_factory=list)
    deliver: bool = False
    sent: list[str] = field(default_factory=list)

    @activity.defn(name="record_case")
    async def record_case(self, record: CaseRecord) -> None:
        self.records.append(record)

    @activity.defn(name="project_case")
    async def project_case(self, record: CaseRecord) -> DeliveryPlan | None:
        self.records.append(record)
        if not self.deliver or not record.notifications:
            return None
        queue = activity.info().task_queue
        return DeliveryPlan(
            deliveries=[PendingDelivery(id=n.key, channel="email") for n in record.notifications],
            database_task_queue=queue, max_attempts=3, retry_base_seconds=1, retry_max_seconds=5,
            channels={c: ChannelPlan(task_queue=queue, attempt_timeout_seconds=30) for c in ("email", "sms", "webhook")},
        )

    @activity.defn(name="send_email_batch")
    async def send_email_batch(self, batch: SendBatch) -> dict[str, str]:
        self.sent += batch.delivery_ids
        return {delivery_id: "sent" for delivery_id in batch.delivery_ids}

    def all(self) -> list:
        return [self.record_case, self.project_case, self.send_email_batch, self.suggest_agencies]

    @activity.defn(name="suggest_agencies")
    async def suggest_agencies(self, request: SuggestionRequest) -> list[RoutingSuggestion]:
        self.suggestion_requests.append(request)
        return [
            RoutingSuggestion(
                agency_id=KALTENG.id, score=0.8, reason="wilayah Kalimantan Tengah", agency_name=KALTENG.name,
                timezone=KALTENG.timezone,
            )
        ]

    def notification_keys(self) -> list[str]:
        return [n.key for record in self.records for n in record.notifications]

    def escalation_keys(self) -> list[tuple[str, int]]:
        return [(record.tracking_id, e.seq) for record in self.records for e in record.new_escalations]


@dataclass
class Harness:
    env: WorkflowEnvironment
    task_queue: str
    activities: StandInActivities

    @property
    def client(self) -> Client:
        return self.env.client

    def worker(self, **options) -> Worker:
        return Worker(
            self.client,
            task_queue=self.task_queue,
            workflows=[ComplaintWorkflow],
            activities=self.activities.all(),
            **options,
        )

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def submit(self, history_event_limit: int = 2_000, policy: Policy | None = None, **details) -> WorkflowHandle:
        submitted_at = await self.now()
        fields = {"title": "Jalan rusak", "description": "Jalan di depan pasar berlubang besar."} | details
        tracking_id = f"LAP-{uuid.uuid4().hex[:10]}"
        handle = await self.client.start_workflow(
            ComplaintWorkflow.run,
            ComplaintInput(
                tracking_id=tracking_id,
                details=ComplaintDetails(**fields),
                submitted_at=submitted_at,
                policy=policy or current_policy(),
                calendar=calendar_for(submitted_at),
                history_event_limit=history_event_limit,
            ),
            id=tracking_id,
            task_queue=self.task_queue,
        )
        return handle

    async def sleep_until(self, instant: datetime) -> None:
        """Move the test server's clock to `instant` (never backwards)."""
        delta = instant - await self.now()
        if delta > timedelta(0):
            await self.env.sleep(delta)


@pytest.fixture
async def harness(time_skipping_env: WorkflowEnvironment) -> AsyncIterator[Harness]:
    yield Harness(time_skipping_env, f"tq-{uuid.uuid4().hex}", StandInActivities())
