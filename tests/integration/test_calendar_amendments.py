"""Calendar amendments on the real stack (issue 17): the API in process on a Temporal dev server
(the broadcast lists running workflows, which the time-skipping server cannot), the real worker
stopped and started again, and the real read model.

Two successive amendments are both in force for an open case and for a case opened after them;
the broadcast sent while no worker runs is applied once the worker is back, each change once; a
re-sent amendment changes nothing; a cancellation takes a day back and moves deadlines back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from server import create_app
from domain.models import CaseState
from tests.api.conftest import ADMIN_TOKEN, WIB_AGENCY, settings_for
from tests.integration.conftest import DevServer
from worker import build_worker
from workflows.complaint import ComplaintWorkflow

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
async def stack(dev_server: DevServer, read_model_url: str, sessions: sessionmaker[Session]):
    settings = settings_for(read_model_url)
    app = create_app(settings, temporal_client=dev_server.client)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://sp4n.test", timeout=60) as http:
            yield http, settings.temporal_task_queue


@asynccontextmanager
async def worker_running(dev_server: DevServer, task_queue: str, sessions) -> AsyncIterator[None]:
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with build_worker(dev_server.client, task_queue, sessions, executor):
            yield


async def state_of(dev_server: DevServer, tracking_id: str) -> CaseState:
    return await dev_server.client.get_workflow_handle(tracking_id).query(ComplaintWorkflow.state)


async def until(probe, accept, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what} (last: {value})")
        await asyncio.sleep(0.2)


def working_day_before(state: CaseState, instant: datetime) -> date:
    day = instant.date() - timedelta(days=1)
    while not state.calendar.is_working_day(day):
        day -= timedelta(days=1)
    return day


async def amend(http: httpx.AsyncClient, *days: dict) -> dict:
    """POST the amendment until the broadcast has reached every open case (visibility lags a little)."""
    body = {"holidays": list(days), "decree": "SKB 3 Menteri (uji)"}
    response = await http.post("/v1/calendar/amendments", json=body, headers=ADMIN)
    assert response.status_code == 202, response.text
    return response.json()


def amended_events(state: CaseState) -> int:
    return sum(1 for e in state.timeline if e.action.value == "calendar_amended")


async def test_amendments_are_cumulative_survive_a_worker_restart_and_can_be_taken_back(
    dev_server: DevServer, stack, sessions
) -> None:
    http, task_queue = stack
    async with worker_running(dev_server, task_queue, sessions):
        submitted = await http.post("/v1/complaints", json={
            "title": "Lampu jalan padam", "description": "Sudah sebulan.", "region_code": "62.71"})
        assert submitted.status_code == 201, submitted.text
        old = submitted.json()["tracking_id"]
        accepted = await http.post(f"/v1/complaints/{old}/verification", headers=ADMIN,
                                   json={"decision": "accept", "agency_id": WIB_AGENCY})
        assert accepted.status_code == 200, accepted.text
        before = await state_of(dev_server, old)
        response_due = before.clocks["response"].due_at
        first_day = working_day_before(before, response_due)

        first = await amend(http, {"date": first_day.isoformat(), "kind": "cuti_bersama", "name": "Cuti bersama A"})
        assert [d["date"] for d in first["stored"]] == [first_day.isoformat()]
        await until(lambda: state_of(dev_server, old), lambda s: s.calendar.version == first["version"],
                    "the first amendment reached the open case")

    # No worker: the second amendment is signalled to the case and waits in Temporal.
    second_day = first_day - timedelta(days=1)
    while second_day.weekday() >= 5 or second_day in before.calendar.holidays:
        second_day -= timedelta(days=1)
    second = await amend(http, {"date": second_day.isoformat(), "kind": "holiday", "name": "Libur B"})
    assert second["signalled_cases"] >= 1 and second["version"] != first["version"]

    async with worker_running(dev_server, task_queue, sessions):
        after = await until(lambda: state_of(dev_server, old), lambda s: s.calendar.version == second["version"],
                            "the second amendment applied after the worker came back")
        assert {first_day, second_day} <= after.calendar.holidays  # both in force: the second kept the first
        assert after.clocks["response"].due_at > response_due
        assert amended_events(after) == 2

        # A case opened now gets both at intake.
        submitted = await http.post("/v1/complaints", json={"title": "Trotoar", "description": "Rusak.",
                                                            "region_code": "62.71"})
        new = submitted.json()["tracking_id"]
        opened = await until(lambda: state_of(dev_server, new), lambda s: s is not None, "the new case answers")
        assert {first_day, second_day} <= opened.calendar.holidays
        assert opened.calendar.version == second["version"] and amended_events(opened) == 0

        # Sending the second amendment again stores nothing and changes no case.
        again = await amend(http, {"date": second_day.isoformat(), "kind": "holiday", "name": "Libur B"})
        assert again["stored"] == [] and again["unchanged"] == [second_day.isoformat()]
        assert again["version"] == second["version"]
        await asyncio.sleep(2)  # the re-broadcast has been delivered (and ignored)
        for tracking_id, events in ((old, 2), (new, 0)):
            assert amended_events(await state_of(dev_server, tracking_id)) == events

        # Taking the first day back moves the deadline back, for both cases.
        removed = await amend(http, {"date": first_day.isoformat(), "kind": "cancelled"})
        for tracking_id in (old, new):
            state = await until(lambda: state_of(dev_server, tracking_id),
                                lambda s: s.calendar.version == removed["version"], "the removal reached the case")
            assert first_day not in state.calendar.holidays and second_day in state.calendar.holidays
        restored = await state_of(dev_server, old)
        assert response_due < restored.clocks["response"].due_at < after.clocks["response"].due_at
        assert amended_events(restored) == 3

        listed = (await http.get("/v1/calendar", params={"year": second_day.year})).json()
        by_date = {d["date"]: d for d in listed["non_working_days"]}
        assert by_date[second_day.isoformat()]["source"] == "amendment"
        assert by_date[second_day.isoformat()]["amendment"]["decree"] == "SKB 3 Menteri (uji)"
        assert "declared_by" not in by_date[second_day.isoformat()]["amendment"]  # the public view
        assert first_day.isoformat() not in by_date
        assert [c["date"] for c in listed["cancelled"]] == [first_day.isoformat()]
        assert listed["version"] == removed["version"]
