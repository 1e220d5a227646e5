"""Fault injection: stop the Temporal dev server mid-run and restart it on the same database file.

While it is down the API answers 503 quickly (no hang) for what needs Temporal; nothing submitted
before the stop is lost; afterwards the same API and worker processes (never restarted) carry on:
the cases accept actions and new submissions start.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from db.models import Complaint
from db.session import make_engine, make_sessionmaker
from tests.reliability.stack import ADMIN_TOKEN, Stack, running_stack

CASES = 30
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
BODY = {"title": "Uji mati listrik server", "description": "Jalan berlubang di depan sekolah.", "region_code": "62.71"}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    # A short dependency timeout keeps "503 quickly" quick; production uses the same code path.
    with running_stack(tmp_path, DEPENDENCY_TIMEOUT_SECONDS="2") as running:
        yield running


def stop_temporal(stack: Stack) -> None:
    process = stack.processes.pop("temporal")
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


async def eventually(check, timeout: float = 45) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s")
        await asyncio.sleep(0.5)


async def test_temporal_restart_loses_nothing_and_the_api_says_503_meanwhile(stack: Stack):
    sessions = make_sessionmaker(make_engine(stack.env["DATABASE_URL"]))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.api_port}", timeout=30) as api:
        await eventually(lambda: _ok(api.get("/healthz")))
        submitted = []
        for i in range(CASES):
            response = await api.post("/v1/complaints", json=BODY | {"title": f"Sebelum berhenti {i}"})
            assert response.status_code == 201, response.text
            submitted.append(response.json()["tracking_id"])

        stop_temporal(stack)
        for method, path, kwargs in (
            ("POST", "/v1/complaints", {"json": BODY}),
            ("GET", f"/v1/complaints/{submitted[0]}", {"headers": ADMIN}),
            ("POST", f"/v1/complaints/{submitted[0]}/verification",
             {"headers": ADMIN, "json": {"decision": "accept", "agency_id": "pemkot-62.71"}}),
            ("GET", "/healthz", {}),
        ):
            started = time.monotonic()
            response = await api.request(method, path, **kwargs)
            elapsed = time.monotonic() - started
            assert response.status_code == 503, (method, path, response.status_code, response.text)
            assert elapsed < 10, (method, path, elapsed)  # the 2 s dependency timeout, not a hang
            if path != "/healthz":
                assert response.headers["content-type"].startswith("application/problem+json")
                assert "retry-after" in response.headers

        stack.start("temporal")  # same port, same --db-filename

        # Nothing submitted before the stop is lost: every case answers from its workflow.
        async def all_back() -> bool:
            for tracking_id in submitted:
                response = await api.get(f"/v1/complaints/{tracking_id}", headers=ADMIN)
                if response.status_code != 200:
                    return False
            return True

        await eventually(all_back)
        # Work resumes: actions on old cases go through the same worker; new cases start.
        for tracking_id in submitted[:5]:
            response = await api.post(f"/v1/complaints/{tracking_id}/verification", headers=ADMIN,
                                      json={"decision": "accept", "agency_id": "pemkot-62.71"})
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "awaiting_agency"
        response = await api.post("/v1/complaints", json=BODY | {"title": "Sesudah mulai lagi"})
        assert response.status_code == 201, response.text
        after = response.json()["tracking_id"]

        expected = {t: "awaiting_agency" for t in submitted[:5]} | {t: "awaiting_verification" for t in submitted[5:]}
        expected[after] = "awaiting_verification"

        async def projected() -> bool:
            with sessions() as session:
                rows = dict(session.execute(select(Complaint.tracking_id, Complaint.status)).all())
            return all(rows.get(t) == s for t, s in expected.items())

        await eventually(projected)


async def _ok(request) -> bool:
    try:
        return (await request).status_code == 200
    except httpx.HTTPError:
        return False
