"""A closed case stays closed and its record stays whole (issue 24), on the real processes of
`make run` (Temporal dev server with its SQLite file, worker, API), with a worker killed on the way.

- A case rejected as abusive is re-sent with its Idempotency-Key: the stored receipt answers, with
  its status now (`archived`), and no new run starts under its id.
- Every action on the closed case is refused; none starts a run.
- A run that an older API started under a closed case's id (Temporal's default id-reuse policy
  allowed it) writes nothing into that case's record, and reconciliation reports the mismatch and
  keeps every event (it used to delete the rejection).
- The closed run's history replays on the current workflow code.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.pool import NullPool
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDReusePolicy
from temporalio.worker import Replayer

from db.models import Complaint, TimelineEventRow
from db.session import make_engine, make_sessionmaker
from domain.calendar import calendar_for
from domain.models import ComplaintDetails, ComplaintInput
from domain.policy import current_policy
from tests.crypto import TEST_DATA_CONVERTER, TEST_PAYLOAD_KEYS
from tests.reliability.stack import ADMIN_TOKEN, Stack, as_a_client_would, eventually, running_stack
from workflows.client import connect
from workflows.complaint import ComplaintWorkflow

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
BODY = {"title": "SELAMAT Anda dapat bantuan Rp10 juta", "description": "Klaim di tautan ini sekarang juga.",
        "region_code": "62.71"}
KEY = {"Idempotency-Key": "abuse-7f3a"}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    # A read model of its own (the test looks into it), whatever DATABASE_URL says.
    with running_stack(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'sp4n.db'}") as running:
        yield running


async def runs_of(client: Client, tracking_id: str) -> list[str]:
    return [e.run_id async for e in client.list_workflows(f"WorkflowId = '{tracking_id}'")]


async def test_a_closed_case_cannot_be_revived_or_rewritten(stack: Stack) -> None:
    sessions = make_sessionmaker(make_engine(stack.env["DATABASE_URL"], poolclass=NullPool))
    client = await connect(f"127.0.0.1:{stack.temporal_port}", "default", TEST_PAYLOAD_KEYS)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.api_port}", timeout=60) as api:
        async def healthy() -> bool:
            try:
                return (await api.get("/healthz")).status_code == 200
            except httpx.HTTPError:
                return False

        assert await eventually(healthy, timeout=90)
        first = await api.post("/v1/complaints", json=BODY, headers=KEY)
        assert first.status_code == 201, first.text
        receipt = first.json()
        tracking_id = receipt["tracking_id"]
        reporter = {"Authorization": f"Bearer {receipt['reporter_token']}"}
        rejected = await api.post(f"/v1/complaints/{tracking_id}/verification", headers=ADMIN,
                                  json={"decision": "reject", "reason": "abusive"})
        assert rejected.status_code == 200, rejected.text
        assert rejected.json()["status"] == "archived"

        async def closed() -> bool:
            description = await client.get_workflow_handle(tracking_id).describe()
            return description.status == WorkflowExecutionStatus.COMPLETED

        assert await eventually(closed)
        first_run = (await runs_of(client, tracking_id))[0]

        def recorded() -> list[tuple[int, str]]:
            with sessions() as session:
                return [(e.seq, e.action) for e in session.scalars(
                    select(TimelineEventRow).where(TimelineEventRow.tracking_id == tracking_id)
                    .order_by(TimelineEventRow.seq))]

        async def rejection_recorded() -> list[tuple[int, str]]:
            events = recorded()
            return events if [a for _, a in events] == ["submit", "reject"] else []

        timeline = await eventually(rejection_recorded)
        assert timeline, recorded()

        # The worker dies and comes back; the stored histories are what it runs from.
        stack.kill("worker")
        stack.start("worker")

        # The same submission with the same key: its receipt, as it stands now; nothing starts.
        for _ in range(2):
            again = await as_a_client_would(lambda: api.post("/v1/complaints", json=BODY, headers=KEY))
            assert again.status_code == 201, again.text
            assert again.json()["tracking_id"] == tracking_id
            assert again.json()["reporter_token"] == receipt["reporter_token"]
            assert again.json()["submitted_at"] == receipt["submitted_at"]
            assert again.json()["status"] == "archived"
            assert again.json()["deadlines"]["verification_due"] is None

        # Every action on the closed case is refused, whoever sends it.
        officer = (await api.post("/v1/tokens", headers=ADMIN, json={
            "role": "agency_admin", "agency_id": "pemkot-62.71", "name": "admin kota"})).json()["token"]
        agency = {"Authorization": f"Bearer {officer}"}
        actions = [
            ("verification", ADMIN, {"decision": "accept", "agency_id": "pemkot-62.71"}),
            ("verification", ADMIN, {"decision": "hold", "note": "lengkapi"}),
            ("supplements", reporter, {"text": "Ini tambahan keterangan."}),
            ("replies", reporter, {"message": "Belum selesai."}),
            ("replies", ADMIN, {"message": "Dibuka lagi."}),
            ("rating", reporter, {"score": 1}),
            ("follow-ups", agency, {"message": "Sudah ditangani."}),
            ("reroute", agency, {"reason": "Bukan wewenang kami."}),
        ]
        for path, headers, body in actions:
            response = await api.post(f"/v1/complaints/{tracking_id}/{path}", headers=headers, json=body)
            assert response.status_code in (403, 404, 409), (path, response.status_code, response.text)
            keyed = await api.post(f"/v1/complaints/{tracking_id}/{path}", json=body,
                                   headers=headers | {"Idempotency-Key": f"{path}-1"})
            assert keyed.status_code in (403, 404, 409), (path, keyed.status_code, keyed.text)
        assert await runs_of(client, tracking_id) == [first_run]
        history = await client.get_workflow_handle(tracking_id).fetch_history()
        started = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED]
        assert len(started) == 1

        # The closed run replays on the code deployed now.
        await Replayer(workflows=[ComplaintWorkflow], data_converter=TEST_DATA_CONVERTER).replay_workflow(history)

        # What an older API did: a new run under the closed id (Temporal's default reuse policy).
        now = datetime.now(UTC)
        revived = await client.start_workflow(
            ComplaintWorkflow.run,
            ComplaintInput(tracking_id=tracking_id, details=ComplaintDetails(**BODY), submitted_at=now,
                           policy=current_policy(), calendar=calendar_for(now)),
            id=tracking_id, task_queue=stack.env["TEMPORAL_TASK_QUEUE"],
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )
        assert revived.first_execution_run_id != first_run

        async def refused_by_the_read_model() -> bool:
            return "record from another run refused" in (stack.workdir / "worker.log").read_text()

        assert await eventually(refused_by_the_read_model)
        report = await api.post("/v1/operations/reconcile", headers=ADMIN)
        assert report.status_code == 200, report.text
        found = report.json()
        assert found["run_mismatches"] == 1 and found["repaired"] == 0, found
        assert found["differences"][tracking_id] == ["run"]
        assert recorded() == timeline  # the rejection is still there, nothing added or rewritten
        with sessions() as session:
            row = session.get(Complaint, tracking_id)
            assert row is not None and row.status == "archived" and row.archive_reason == "abusive"
            assert row.run_id == first_run
        await revived.terminate("test: the revival is over")
