"""The product against itself (issue 27): a national instance and a city's own instance, each with
its Temporal dev server, worker, API and database on free loopback ports. The city is connected
to the national instance by its Open311 endpoint; a case filed nationally and forwarded to the
city appears in the city's instance; the city's officer follows up there; the national case
shows it within one sync; the reporter replies nationally and the city sees it; the city's
instance is killed mid-way and nothing is lost (the reply waits and goes, the sync resumes); the
city answers again and the national case waits for the reporter, then completes by silence.

The national instance runs the drill policy (`latihan.v1`): a working day is WORKING_DAY seconds
of wall-clock time, so the reporter's 10 working days of silence pass in a test
(docs/connected-bodies.md shows how to run the two stacks by hand).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.reliability.stack import ADMIN_TOKEN, Stack, api_healthy, running_stack

CITY = "pemkot-62.71"  # the body that runs its own system
BODY_NAME = "Pemerintah Kota Palangkaraya"
WORKING_DAY = 3  # seconds of wall-clock time per working day on the national instance
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
QUIET = {"ROUTING_RETRAIN_SECONDS": "0", "NOTIFICATIONS_ENABLED": "false", "DEPENDENCY_TIMEOUT_SECONDS": "5"}


async def until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s: {what}")
        await asyncio.sleep(0.5)


@pytest.fixture
def city(tmp_path: Path) -> Iterator[Stack]:
    (tmp_path / "city").mkdir()
    with running_stack(tmp_path / "city", DATABASE_URL=f"sqlite:///{tmp_path / 'city' / 'sp4n.db'}", **QUIET) as stack:
        yield stack


@pytest.fixture
def national(tmp_path: Path) -> Iterator[Stack]:
    (tmp_path / "national").mkdir()
    with running_stack(
        tmp_path / "national", DATABASE_URL=f"sqlite:///{tmp_path / 'national' / 'sp4n.db'}", **QUIET,
        POLICY_VERSION="latihan.v1", POLICY_WORKING_DAY_SECONDS=str(WORKING_DAY),
        CONNECTED_ALLOWED_HOSTS=json.dumps(["127.0.0.1"]), CONNECTED_SYNC_SECONDS="2",
        CONNECTED_RETRY_BASE_SECONDS="1", CONNECTED_RETRY_MAX_SECONDS="2",
    ) as stack:
        yield stack


async def json_of(response: Awaitable[httpx.Response], status: int = 200) -> Any:
    answer = await response
    assert answer.status_code == status, f"{answer.request.method} {answer.request.url}: {answer.status_code} {answer.text}"
    return answer.json()



async def test_a_city_with_its_own_instance_handles_a_national_case_and_the_nation_sees_every_step(
        city: Stack, national: Stack) -> None:
    async with (httpx.AsyncClient(base_url=f"http://127.0.0.1:{city.api_port}", timeout=30) as city_api,
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{national.api_port}", timeout=30) as nat):
        await until(lambda: api_healthy(city_api), "the city's instance answers")
        await until(lambda: api_healthy(nat), "the national instance answers")

        # The city issues the national instance an application token (its Open311 api_key).
        api_key = (await json_of(city_api.post("/v1/tokens", json={"role": "client", "name": "SP4N nasional"},
                                               headers=ADMIN), 201))["token"]
        officer = {"Authorization": "Bearer " + (await json_of(city_api.post("/v1/tokens", json={
            "role": "officer", "agency_id": CITY, "name": "Petugas PUPR kota"}, headers=ADMIN), 201))["token"]}

        # Nationally, the city is connected and its service list read.
        endpoint = f"http://127.0.0.1:{city.api_port}/open311/v2/"
        await json_of(nat.put(f"/v1/connected/{CITY}", headers=ADMIN, json={
            "endpoint": endpoint, "api_key": api_key, "default_service_code": "lainnya", "accepts_updates": True,
            "service_codes": {"jalan-jembatan": "jalan-jembatan"}}))
        tested = await json_of(nat.post(f"/v1/connected/{CITY}/test", headers=ADMIN))
        assert tested["ok"] and "jalan-jembatan" in {s["service_code"] for s in tested["services"]}

        # A case filed nationally and forwarded to the city appears in the city's instance.
        async def file_case() -> dict[str, Any] | None:
            # Until the national worker has registered its search attributes (it may start after
            # the API answers /healthz on a loaded machine); the same key makes a retry the same case.
            answer = await nat.post("/v1/complaints", headers={"Idempotency-Key": "connected-stacks-1"}, json={
                "title": "Jalan berlubang di Jalan Tjilik Riwut", "category": "jalan-jembatan", "region_code": "62.71",
                "description": "Lubang besar di Jalan Tjilik Riwut km 3, membahayakan pengendara motor.",
                "reporter": {"name": "Budi Santoso", "email": "budi@example.id"}})
            return answer.json() if answer.status_code == 201 else None
        filed = await until(file_case, "the national instance takes a case")
        tracking_id = filed["tracking_id"]
        reporter = {"Authorization": f"Bearer {filed['reporter_token']}"}
        await json_of(nat.post(f"/v1/complaints/{tracking_id}/verification", headers=ADMIN,
                               json={"decision": "accept", "agency_id": CITY}))

        async def forwarded() -> str | None:
            label = (await json_of(nat.get(f"/v1/complaints/{tracking_id}", headers=ADMIN))).get("forwarded_to")
            return label if label and "#" in label else None
        label = await until(forwarded, "the city acknowledged the forward")
        remote_id = label.rsplit("#", 1)[1].rstrip(")")
        assert label == f"diteruskan ke sistem {BODY_NAME} (#{remote_id})"
        there = await json_of(city_api.get(f"/v1/complaints/{remote_id}", headers=ADMIN))
        assert tracking_id in there["description"] and there["category"] == "jalan-jembatan"
        assert there["reporter"]["email"] == "budi@example.id"  # not anonymous: the city may know its reporter

        # The city verifies it to its own body and its officer follows up there.
        await json_of(city_api.post(f"/v1/complaints/{remote_id}/verification", headers=ADMIN,
                                    json={"decision": "accept", "agency_id": CITY}))
        await json_of(city_api.post(f"/v1/complaints/{remote_id}/follow-ups", headers=officer,
                                    json={"message": "Tim PUPR menambal lubang hari ini."}))

        # Within a sync (every 2 s), the national case shows the city's follow-up.
        async def national_status(wanted: str) -> dict[str, Any] | None:
            case = await json_of(nat.get(f"/v1/complaints/{tracking_id}", headers=ADMIN))
            return case if case["status"] == wanted else None
        case = await until(lambda: national_status("awaiting_reporter"), "the city's follow-up arrived nationally", 60)
        answer = case["timeline"][-1]
        # The city's Open311 update says what it was ("Tindak lanjut instansi: ..."), and who: its system.
        assert answer["action"] == "follow_up" and answer["note"].endswith(": Tim PUPR menambal lubang hari ini.")
        assert answer["actor_name"] == f"Sistem {BODY_NAME} (Open311)"

        # The city's instance dies. The reporter replies nationally meanwhile: the national case
        # moves on at once (its clocks are its own); the reply waits for the city.
        for name in ("api", "worker", "temporal"):
            city.kill(name)
        await json_of(nat.post(f"/v1/complaints/{tracking_id}/replies", headers=reporter,
                               json={"message": "Di sisi barat jalan masih ada lubang."}))
        assert (await national_status("awaiting_agency")) is not None

        async def failing_sync() -> bool:
            info = await json_of(nat.get(f"/v1/connected/{CITY}", headers=ADMIN))
            return info["consecutive_failures"] >= 1 and info["pending_forwards"] >= 1
        await until(failing_sync, "the national instance notices the city is down")

        # The city comes back on the same ports and databases: nothing was lost there, the reply
        # goes through once and the sync resumes.
        for name in ("temporal", "worker", "api"):
            city.start(name)
        await until(lambda: api_healthy(city_api), "the city's instance is back")

        async def city_saw_reply() -> dict[str, Any] | None:
            case = await json_of(city_api.get(f"/v1/complaints/{remote_id}", headers=ADMIN))
            return case if case["status"] == "awaiting_agency" else None
        there = await until(city_saw_reply, "the reporter's reply reached the city")
        replies = [e for e in there["timeline"] if e["action"] == "reply"]
        assert [e["note"] for e in replies] == ["Tanggapan pelapor: Di sisi barat jalan masih ada lubang."]
        assert [e["action"] for e in there["timeline"]][:4] == ["submit", "accept", "follow_up", "reply"]

        async def sync_recovered() -> bool:
            info = await json_of(nat.get(f"/v1/connected/{CITY}", headers=ADMIN))
            return info["consecutive_failures"] == 0 and info["pending_forwards"] == 0
        await until(sync_recovered, "forward and sync resumed")

        # The city closes it (its answer to the reply): nationally the case waits for the reporter,
        # who stays silent, and it completes after 10 (drill) working days.
        await json_of(city_api.post(f"/v1/complaints/{remote_id}/follow-ups", headers=officer,
                                    json={"message": "Sisi barat sudah ditambal; pekerjaan selesai."}))
        case = await until(lambda: national_status("awaiting_reporter"), "the city's closing answer arrived", 60)
        assert case["timeline"][-1]["note"].endswith(": Sisi barat sudah ditambal; pekerjaan selesai.")
        assert case["deadlines"]["silence_ends"]
        done = await until(lambda: national_status("completed"), "the national case completed by silence",
                           20 * WORKING_DAY + 60)
        actions = [e["action"] for e in done["timeline"]]
        assert actions.count("follow_up") == 2 and actions[-1] == "silence_completed"
        connected = await json_of(nat.get("/v1/connected", headers=ADMIN))
        assert connected[0]["updates_applied"] == 2 and connected[0]["sync_failures"] >= 1
