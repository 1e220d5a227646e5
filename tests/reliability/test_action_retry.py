"""Retry-safe actions against the real processes (issue 17): with the worker stopped an accept
times out (503, Retry-After, outcome unknown); once the worker is back, the retry with the same
Idempotency-Key answers 200 with the applied state, and the case shows the accept once."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.reliability.stack import ADMIN_TOKEN, Stack, running_stack

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ACCEPT = {"decision": "accept", "agency_id": "pemkot-62.71"}
PORTAL_ADMIN, PORTAL_PASSWORD = "admin@sp4n.test", "portal-admin-password"


def field(html: str, name: str, before: str = "") -> str:
    found = re.search(rf'name="{name}" value="([^"]+)">{before}', html)
    assert found, f"no {name} on the page"
    return found.group(1)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with running_stack(tmp_path, DEPENDENCY_TIMEOUT_SECONDS="3", SP4N_ADMIN_EMAIL=PORTAL_ADMIN,
                       SP4N_ADMIN_PASSWORD=PORTAL_PASSWORD) as running:
        yield running


async def until(probe, accept, what: str, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what} (last: {value})")
        await asyncio.sleep(0.5)


async def test_an_accept_that_timed_out_is_retried_with_its_key_and_applies_once(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.api_port}", timeout=60) as api:
        tracking_ids = []
        for title in ("Lampu jalan padam", "Trotoar rusak", "Drainase tersumbat"):
            submitted = await api.post("/v1/complaints", json={
                "title": title, "description": "Sudah sebulan belum diperbaiki.", "region_code": "62.71"})
            assert submitted.status_code == 201, submitted.text
            tracking_ids.append(submitted.json()["tracking_id"])
        tracking_id, other, in_portal = tracking_ids
        for case_id in tracking_ids:
            await until(lambda: api.get(f"/v1/complaints/{case_id}", headers=ADMIN),
                        lambda r: r.status_code == 200 and r.json()["timeline"], "the case is open")
        await asyncio.sleep(2)  # the first projections written: the read model knows the cases

        # The administrator's portal page, rendered while the worker runs: its accept form's key.
        page = await api.get("/masuk")
        signed_in = await api.post("/masuk", data={"csrf_token": field(page.text, "csrf_token"),
                                                   "email": PORTAL_ADMIN, "password": PORTAL_PASSWORD})
        assert signed_in.status_code in (200, 303), signed_in.text
        case_page = (await api.get(f"/kasus/{in_portal}")).text
        form = {"csrf_token": field(case_page, "csrf_token"), "decision": "accept", "agency_other": "pemkot-62.71",
                "idempotency_key": field(case_page, "idempotency_key", r'\s*<input type="hidden" name="decision" '
                                         r'value="accept"')}

        stack.kill("worker")
        slow = await api.post(f"/kasus/{in_portal}/verifikasi", data=form)
        assert slow.status_code == 503 and "kirim formulir yang sama" in slow.text, slow.text
        keyed = ADMIN | {"Idempotency-Key": "terima-LAP-1"}
        timed_out = await api.post(f"/v1/complaints/{tracking_id}/verification", json=ACCEPT, headers=keyed)
        assert timed_out.status_code == 503, timed_out.text
        assert int(timed_out.headers["Retry-After"]) > 0
        problem = timed_out.json()
        assert problem["outcome"] == "unknown" and problem["idempotent_retry"] is True
        assert "Idempotency-Key" in problem["detail"]
        # Without a key the client is told the action may still apply (and it does, below).
        unkeyed = await api.post(f"/v1/complaints/{other}/verification", json=ACCEPT, headers=ADMIN)
        assert unkeyed.status_code == 503 and "mungkin tetap diterapkan" in unkeyed.json()["detail"]

        stack.start("worker")
        retried = await until(
            lambda: api.post(f"/v1/complaints/{tracking_id}/verification", json=ACCEPT, headers=keyed),
            lambda r: r.status_code != 503, "the retry is answered",
        )
        assert retried.status_code == 200, retried.text
        assert retried.json()["status"] == "awaiting_agency" and retried.json()["agency_id"] == "pemkot-62.71"
        case = (await api.get(f"/v1/complaints/{tracking_id}", headers=ADMIN)).json()
        assert [e["action"] for e in case["timeline"]].count("accept") == 1, case["timeline"]
        await until(lambda: api.get(f"/v1/complaints/{other}", headers=ADMIN),
                    lambda r: r.json()["status"] == "awaiting_agency", "the unkeyed accept applied after all")
        # The person sends the same form again: the case page, accepted once.
        resent = await api.post(f"/kasus/{in_portal}/verifikasi", data=form)
        assert resent.status_code == 303 and resent.headers["location"] == (
            f"/kasus/{in_portal}?done=forwarded&to=pemkot-62.71"), resent.text
        case = (await api.get(f"/v1/complaints/{in_portal}", headers=ADMIN)).json()
        assert case["status"] == "awaiting_agency"
        assert [e["action"] for e in case["timeline"]].count("accept") == 1, case["timeline"]
