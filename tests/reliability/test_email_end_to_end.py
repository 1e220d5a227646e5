"""Issue 5's promise, end to end as a user runs it: the stack of `make run` plus an SMTP sink.
A reporter who gives an email address receives the receipt with the tracking id, then a message
at each later step (forwarded to an agency, the agency's follow-up)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from tests.notifications.conftest import SmtpSink, smtp  # noqa: F401 (the fixture)
from tests.reliability.stack import ADMIN_TOKEN, running_stack


async def wait_for_mail(sink: SmtpSink, to: str, count: int, timeout: float = 30) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mine = [m for m in list(sink.messages) if to in str(m["To"])]
        if len(mine) >= count:
            return mine
        await asyncio.sleep(0.2)
    raise AssertionError(f"{to} got {len(mine)} messages, expected {count}: {[str(m['Subject']) for m in mine]}")


def body_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


async def test_the_reporter_hears_of_every_step_by_email(tmp_path: Path, smtp):  # noqa: F811
    sink, port = smtp
    with running_stack(tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=str(port)) as stack:
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.api_port}", timeout=30) as api:
            receipt = (await api.post("/v1/complaints", json={
                "title": "Lampu jalan mati", "description": "Lampu jalan di Jl. Diponegoro mati sebulan.",
                "region_code": "62.71", "anonymous": True, "reporter": {"name": "Siti Rahma", "email": "siti@example.id"},
            })).json()
            tracking_id = receipt["tracking_id"]
            [first] = await wait_for_mail(sink, "siti@example.id", 1)
            assert tracking_id in body_of(first)

            accepted = await api.post(f"/v1/complaints/{tracking_id}/verification", headers=admin,
                                      json={"decision": "accept", "agency_id": "pemkot-62.71"})
            assert accepted.status_code == 200
            officer = (await api.post("/v1/tokens", headers=admin, json={
                "role": "officer", "agency_id": "pemkot-62.71", "name": "Budi", "email": "budi@palangkaraya.example",
            })).json()["token"]
            followed = await api.post(f"/v1/complaints/{tracking_id}/follow-ups",
                                      headers={"Authorization": f"Bearer {officer}"},
                                      json={"message": "Lampu sudah diganti."})
            assert followed.status_code == 200
            mails = await wait_for_mail(sink, "siti@example.id", 3)
            assert all(tracking_id in body_of(m) for m in mails)
            # The reporter is anonymous: nothing that went to anyone else names or addresses her.
            for message in list(sink.messages):
                if "siti@example.id" not in str(message["To"]):
                    assert "Siti" not in message.as_string() and "siti@example.id" not in message.as_string()
