"""POST /v1/complaints with an Idempotency-Key: same key and body → the same case, never two."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from sqlalchemy import func, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus

from db.models import Complaint, IdempotencyKey
from tests.api.conftest import ApiHarness, assert_problem

BODY = {
    "title": "Air PDAM tidak mengalir",
    "description": "Sudah tiga hari air tidak mengalir di Jl. Yos Sudarso.",
    "region_code": "62.71",
}


async def test_concurrent_retries_with_one_key_make_one_case(api: ApiHarness) -> None:
    headers = {"Idempotency-Key": "retry-7f3a"}
    responses = await asyncio.gather(
        *(api.http.post("/v1/complaints", json=BODY, headers=headers) for _ in range(10))
    )
    assert [r.status_code for r in responses] == [201] * 10, [r.text for r in responses]
    receipts = [r.json() for r in responses]
    assert len({r["tracking_id"] for r in receipts}) == 1
    assert len({r["reporter_token"] for r in receipts}) == 1
    assert len({r["submitted_at"] for r in receipts}) == 1
    assert all(r == receipts[0] for r in receipts)
    assert all(r.headers.get("idempotency-key") == "retry-7f3a" for r in responses)
    tracking_id = receipts[0]["tracking_id"]

    # One workflow, started once and never replaced.
    handle = api.env.client.get_workflow_handle(tracking_id)
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.RUNNING
    history = await handle.fetch_history()
    started = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED]
    assert len(started) == 1
    assert not started[0].workflow_execution_started_event_attributes.continued_execution_run_id
    case = await api.case(tracking_id)
    assert [e["action"] for e in case["timeline"]] == ["submit"]

    # One read-model row, and no other case anywhere.
    await api.wait_listed({tracking_id})
    with api.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Complaint)) == 1

    # A retry later still answers with the same case.
    again = await api.http.post("/v1/complaints", json=BODY, headers=headers)
    assert again.status_code == 201 and again.json() == receipts[0]


async def test_same_key_with_another_body_is_refused(api: ApiHarness) -> None:
    headers = {"Idempotency-Key": "retry-9c1d"}
    first = await api.http.post("/v1/complaints", json=BODY, headers=headers)
    assert first.status_code == 201
    changed = await api.http.post("/v1/complaints", json=BODY | {"title": "Air PDAM keruh"}, headers=headers)
    problem = assert_problem(changed, 422)
    assert problem["type"] == "urn:sp4n:idempotency-key-reused"
    # The original is untouched.
    case = await api.case(first.json()["tracking_id"])
    assert case["title"] == BODY["title"]


async def test_keys_are_per_caller_and_bodies_do_not_dedupe(api: ApiHarness) -> None:
    key = {"Idempotency-Key": "1"}
    public = (await api.http.post("/v1/complaints", json=BODY, headers=key)).json()
    client = (await api.http.post("/v1/complaints", json=BODY, headers=key | await api.headers("client"))).json()
    unkeyed = [await api.submit(**BODY) for _ in range(2)]
    ids = [public["tracking_id"], client["tracking_id"]] + [r["tracking_id"] for r in unkeyed]
    assert len(set(ids)) == 4, "another caller's key, or no key, must never land on an existing case"
    assert set(await api.wait_listed(set(ids))) == set(ids)


async def test_another_client_with_the_same_key_and_body_gets_a_case_of_its_own(api: ApiHarness) -> None:
    """A replayed public key must not hand out the first submitter's receipt (its reporter token)."""
    body = {"title": "Pungli di kantor kelurahan", "description": "Petugas meminta uang untuk KTP.",
            "region_code": "62.71", "anonymous": True, "reporter": {"name": "Siti Rahma", "phone": "081234567890"}}
    first = await api.http.post("/v1/complaints", json=body, headers={"Idempotency-Key": "lapor-1"})
    retry = await api.http.post("/v1/complaints", json=body, headers={"Idempotency-Key": "lapor-1"})
    assert first.status_code == retry.status_code == 201
    assert retry.json()["tracking_id"] == first.json()["tracking_id"]  # the same client's retry
    transport = httpx.ASGITransport(app=api.app, client=("203.0.113.9", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://sp4n.test") as stranger:
        replayed = await stranger.post("/v1/complaints", json=body, headers={"Idempotency-Key": "lapor-1"})
    assert replayed.status_code == 201
    assert replayed.json()["tracking_id"] != first.json()["tracking_id"]
    assert replayed.json()["reporter_token"] != first.json()["reporter_token"]


async def test_a_key_expires_after_a_day_and_then_opens_a_new_case(api: ApiHarness) -> None:
    """Idempotency-Key stands for its case for 24 hours (docs/api.md); later the same key and body
    are a new submission, with a new tracking id: an old case's id is never started again."""
    headers = {"Idempotency-Key": "retry-old"}
    first = (await api.http.post("/v1/complaints", json=BODY, headers=headers)).json()
    with api.sessions.begin() as session:
        for claim in session.scalars(select(IdempotencyKey)):
            claim.submitted_at -= timedelta(hours=25)
    later = await api.http.post("/v1/complaints", json=BODY, headers=headers)
    assert later.status_code == 201
    assert later.json()["tracking_id"] != first["tracking_id"]
    assert (await api.http.post("/v1/complaints", json=BODY, headers=headers)).json() == later.json()
