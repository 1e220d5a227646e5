"""A fleet: two API processes and two workers against one Temporal dev server and one PostgreSQL.

- The whole lifecycle runs across them: each step is sent to the other API than the step before
  (submit on one, forward on the other, follow up, reply, follow up again, rate), and either
  worker may run any workflow task or activity.
- The submission limit holds globally: a client's submissions alternate between the two APIs and
  the limit is reached at the configured count, not at twice it.
- Sign-in throttling holds globally: failed passwords for one account, alternating between the
  APIs, start the backoff at the configured number of failures.
- A worker killed (SIGKILL) while cases are being forwarded loses nothing: the other worker takes
  over its workflows and every case reaches its state in the workflows and the read model.

Needs PostgreSQL (DATABASE_URL=postgresql...: the PostgreSQL pass of .ci/run): a scratch database
is made next to DATABASE_URL's and dropped at the end.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from itertools import cycle
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.pool import NullPool

from db.models import Complaint
from db.session import make_engine, make_sessionmaker
from tests.db.conftest import ScratchPostgres, postgres_base_url
from tests.reliability.stack import ADMIN_TOKEN, Stack, as_a_client_would, eventually, running_stack

pytestmark = pytest.mark.skipif(postgres_base_url() is None, reason="needs DATABASE_URL=postgresql://...")

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
AGENCY = "pemkot-62.71"
BODY = {"title": "Lampu jalan mati", "description": "Lampu jalan di depan pasar mati sejak seminggu.",
        "region_code": "62.71"}
SUBMISSION_LIMIT = 4
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@fleet.localhost", "fleet-password-123"


async def read_as_a_client_would(api: httpx.AsyncClient, case: str) -> dict:
    return (await as_a_client_would(lambda: api.get(f"/v1/complaints/{case}", headers=ADMIN))).json()


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Stack]:
    scratch = ScratchPostgres(postgres_base_url() or "")
    url = scratch.new()
    try:
        with running_stack(
            tmp_path, DATABASE_URL=url, SUBMISSION_RATE_LIMIT_PER_MINUTE=str(SUBMISSION_LIMIT),
            SP4N_ADMIN_EMAIL=ADMIN_EMAIL, SP4N_ADMIN_PASSWORD=ADMIN_PASSWORD,
            SIGN_IN_FREE_FAILURES="2", SIGN_IN_BACKOFF_BASE_SECONDS="600", NOTIFICATIONS_ENABLED="false",
        ) as stack:
            stack.start("worker-2")
            stack.start("api-2")
            yield stack
    finally:
        scratch.drop_all()



def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def test_a_fleet_of_two_apis_and_two_workers(fleet: Stack) -> None:
    sessions = make_sessionmaker(make_engine(fleet.env["DATABASE_URL"], poolclass=NullPool))
    clients = [httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) for port in fleet.api_ports.values()]
    assert len(clients) == 2
    one, other = clients
    try:
        async def healthy() -> bool:
            try:
                return all([(await c.get("/healthz")).status_code == 200 for c in clients])
            except httpx.HTTPError:
                return False

        assert await eventually(healthy, timeout=90), "the fleet did not become healthy"

        # --- the lifecycle, each step on the other API --------------------------------------
        apis = cycle(clients)
        response = await next(apis).post("/v1/complaints", json=BODY)
        assert response.status_code == 201, response.text
        receipt = response.json()
        tracking_id, reporter = receipt["tracking_id"], {"Authorization": f"Bearer {receipt['reporter_token']}"}
        response = await next(apis).post("/v1/tokens", headers=ADMIN,
                                         json={"role": "officer", "agency_id": AGENCY, "name": "Petugas armada"})
        assert response.status_code == 201, response.text
        officer = {"Authorization": f"Bearer {response.json()['token']}"}
        steps = [
            ("verification", ADMIN, {"decision": "accept", "agency_id": AGENCY}, "awaiting_agency"),
            ("follow-ups", officer, {"message": "Lampu sudah diganti."}, "awaiting_reporter"),
            ("replies", reporter, {"message": "Baru satu yang menyala."}, "awaiting_agency"),
            ("follow-ups", officer, {"message": "Semua lampu sudah menyala."}, "awaiting_reporter"),
        ]
        for action, headers, body, status in steps:
            response = await next(apis).post(f"/v1/complaints/{tracking_id}/{action}", headers=headers, json=body)
            assert response.status_code == 200, (action, response.text)
            assert response.json()["status"] == status
            seen = await next(apis).get(f"/v1/complaints/{tracking_id}", headers=ADMIN)  # read on the other
            assert seen.json()["status"] == status, seen.text
        response = await next(apis).post(f"/v1/complaints/{tracking_id}/replies", headers=ADMIN,
                                         json={"message": "Dikonfirmasi selesai oleh admin."})
        assert response.status_code == 200, response.text

        async def projected(expected: dict[str, str]) -> bool:
            with sessions() as session:
                rows = dict(session.execute(select(Complaint.tracking_id, Complaint.status)
                                            .where(Complaint.tracking_id.in_(expected))).all())
            return rows == expected

        assert await eventually(lambda: projected({tracking_id: "awaiting_agency"}), timeout=90)
        for client in clients:
            listed = (await client.get("/v1/complaints?status=awaiting_agency", headers=officer)).json()["items"]
            assert [item["tracking_id"] for item in listed] == [tracking_id]

        # --- the submission limit is one limit for the fleet ----------------------------------
        response = await one.post("/v1/tokens", headers=ADMIN, json={"role": "client", "name": "Aplikasi armada"})
        client_token = {"Authorization": f"Bearer {response.json()['token']}"}
        answers = []
        for i, api in zip(range(SUBMISSION_LIMIT + 2), cycle(clients)):
            answers.append((await api.post("/v1/complaints", headers=client_token,
                                           json=BODY | {"title": f"Laporan aplikasi {i}"})).status_code)
        # In-process limiters would have let 2 x SUBMISSION_LIMIT through (each API saw 3).
        assert answers == [201] * SUBMISSION_LIMIT + [429, 429], answers

        # --- sign-in throttling is one throttle for the fleet ---------------------------------
        async def sign_in(api: httpx.AsyncClient, password: str) -> httpx.Response:
            page = await api.get("/masuk")
            return await api.post("/masuk", data={"csrf_token": csrf_of(page.text), "email": ADMIN_EMAIL,
                                                  "password": password}, follow_redirects=False)

        assert (await sign_in(one, "wrong-1")).status_code == 401
        assert (await sign_in(other, "wrong-2")).status_code == 401
        # Two failures in all (one on each API): the backoff starts, on both. Per process, each
        # would have seen one failure and let the next guess through.
        held = await sign_in(one, "wrong-3")
        assert held.status_code == 429, held.text
        assert int(held.headers["Retry-After"]) > 60
        assert (await sign_in(other, ADMIN_PASSWORD)).status_code == 429  # the same pair (account, address)

        # --- a worker killed mid-run: nothing lost --------------------------------------------
        response = await other.post("/v1/tokens", headers=ADMIN, json={"role": "client", "name": "Aplikasi dua"})
        second_client = {"Authorization": f"Bearer {response.json()['token']}"}
        cases = []
        for i, api in zip(range(SUBMISSION_LIMIT), cycle(clients)):
            response = await api.post("/v1/complaints", headers=second_client, json=BODY | {"title": f"Armada {i}"})
            assert response.status_code == 201, response.text
            cases.append(response.json()["tracking_id"])

        async def forward(api: httpx.AsyncClient, case: str) -> int:
            response = await api.post(f"/v1/complaints/{case}/verification", headers=ADMIN,
                                      json={"decision": "accept", "agency_id": AGENCY})
            return response.status_code

        forwarding = [asyncio.create_task(forward(api, case)) for case, api in zip(cases, cycle(clients))]
        await asyncio.sleep(0.3)
        fleet.kill("worker")  # mid-run: forwards in flight, projections and suggestions pending
        answered = await asyncio.gather(*forwarding)
        # An action in flight may time out (503, outcome unknown) while its workflow moves to the
        # surviving worker; re-sent, it is taken once (or refused as no longer possible: 409).
        for case, status, api in zip(cases, answered, cycle(clients)):
            if status != 200:
                assert status == 503, status
                assert await forward(api, case) in (200, 409)
        expected = {case: "awaiting_agency" for case in cases} | {tracking_id: "awaiting_agency"}
        assert await eventually(lambda: projected(expected), timeout=120), "the read model lost a transition"
        for case, api in zip(cases, cycle(clients)):
            view = await read_as_a_client_would(api, case)
            assert view["status"] == "awaiting_agency", view
            assert [event["action"] for event in view["timeline"]].count("accept") == 1, view["timeline"]
    finally:
        for client in clients:
            await client.aclose()
