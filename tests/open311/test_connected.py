"""Connected bodies (issue 27): a body's own Open311 system gets its cases, and its answers come
back. The real app, case worker and read model (tests/api's `api` fixture), the connected queue's
worker, and the body's system faked on loopback (tests/open311/fake_system.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from activities.connected import ConnectedActivities
from db.connected_models import ConnectedBody, ConnectedForward, ConnectedUpdate
from db.models import NotificationRow
from telemetry.metrics import worker_registry
from tests.api.conftest import WIB_AGENCY, ApiHarness, assert_problem
from tests.api.test_metrics import scrape, value
from tests.api.test_portal import ADMIN_EMAIL, ADMIN_PASSWORD, csrf_of, sign_in
from tests.open311.fake_system import FakeSystem
from tests.open311.test_fixmystreet_flow import png
from worker import build_connected_worker
from workflows.connected import ConnectedSyncWorkflow, SyncPlan
from workflows.connected_client import connected_task_queue

CONNECTED = pytest.mark.api_settings(
    connected_allowed_hosts=["127.0.0.1"], connected_retry_base_seconds=30, connected_retry_max_seconds=120,
    connected_alert_after_seconds=600, public_base_url="https://lapor.test",
    sp4n_admin_email=ADMIN_EMAIL, sp4n_admin_password=ADMIN_PASSWORD,  # the portal's pages
    metrics_read_model_cache_seconds=0,
)
pytestmark = CONNECTED


@pytest.fixture
async def system() -> AsyncIterator[FakeSystem]:
    fake = FakeSystem().start()
    yield fake
    fake.stop()


@pytest.fixture
async def connected_worker(api: ApiHarness) -> AsyncIterator[ConnectedActivities]:
    activities = ConnectedActivities(api.sessions, api.settings, api.env.client)
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with build_connected_worker(api.env.client, api.settings, activities, executor):
            yield activities


async def connect(api: ApiHarness, system: FakeSystem, **fields: Any) -> dict[str, Any]:
    body = {"endpoint": system.url, "api_key": system.api_key, "service_codes": {"jalan-jembatan": "jalan"},
            "default_service_code": "lain", "accepts_updates": True} | fields
    response = await api.http.put(f"/v1/connected/{WIB_AGENCY}", json=body, headers=api.admin)
    assert response.status_code == 200, response.text
    return response.json()


def forward_of(api: ApiHarness, tracking_id: str, kind: str = "request") -> ConnectedForward | None:
    with api.sessions() as session:
        return session.scalars(select(ConnectedForward).where(
            ConnectedForward.tracking_id == tracking_id, ConnectedForward.kind == kind)
            .order_by(ConnectedForward.event_seq.desc())).first()


async def wait_forward(api: ApiHarness, tracking_id: str, status: str, kind: str = "request",
                       step: timedelta = timedelta(seconds=40)) -> ConnectedForward:
    """Move the server's clock (retries back off on it) until the forward reaches `status`."""
    for _ in range(60):
        row = forward_of(api, tracking_id, kind)
        if row is not None and row.status == status:
            return row
        await api.sleep(step)
    raise AssertionError(f"forward of {tracking_id} is {row.status if row else None}, not {status}")


# --- the connection record --------------------------------------------------------------------


async def test_a_connection_keeps_its_api_key_sealed_and_never_shows_it(api: ApiHarness, system: FakeSystem) -> None:
    info = await connect(api, system)
    assert info["api_key_set"] is True and "api_key" not in info
    assert info["pending_forwards"] == 0 and info["agency_name"]
    listed = await api.http.get("/v1/connected", headers=api.admin)
    assert system.api_key not in listed.text
    with api.sessions() as session:
        sealed = session.get(ConnectedBody, WIB_AGENCY).api_key_sealed
    assert system.api_key not in sealed
    # Changing the mapping keeps the key; agency staff may not see or change connections.
    again = await connect(api, system, api_key=None, accepts_updates=False)
    assert again["api_key_set"] is True and again["accepts_updates"] is False
    officer = await api.headers("agency_admin", WIB_AGENCY)
    assert_problem(await api.http.get("/v1/connected", headers=officer), 403)
    assert_problem(await api.http.put(f"/v1/connected/{WIB_AGENCY}", json={"endpoint": system.url,
                                      "default_service_code": "x"}, headers=officer), 403)


@pytest.mark.parametrize(("endpoint", "why"), [
    ("http://93.184.215.14/open311/v2/", "only https"),  # plain http to a host nobody allow-listed
    ("https://127.0.0.2/open311/v2/", "loopback"),  # https, but to our own machine
    ("https://10.0.0.7/open311/v2/", "private"),
    ("ftp://93.184.215.14/", "only http and https"),
])
async def test_only_https_to_public_hosts_or_allow_listed_hosts_are_connected(
        api: ApiHarness, endpoint: str, why: str) -> None:
    response = await api.http.put(f"/v1/connected/{WIB_AGENCY}", json={
        "endpoint": endpoint, "api_key": "k", "default_service_code": "lain"}, headers=api.admin)
    assert why in assert_problem(response, 422)["detail"]


async def test_test_connection_reads_the_service_list(api: ApiHarness, system: FakeSystem) -> None:
    await connect(api, system, service_codes={"jalan-jembatan": "jalan", "air-bersih": "pdam"})
    result = (await api.http.post(f"/v1/connected/{WIB_AGENCY}/test", headers=api.admin)).json()
    assert result["ok"] is True and {s["service_code"] for s in result["services"]} == {"jalan", "lain"}
    assert result["unmapped_categories"] == ["pdam"]  # mapped, but the system has no such service


# --- forwarding --------------------------------------------------------------------------------


async def test_a_case_forwarded_to_a_connected_body_goes_into_its_system_without_an_anonymous_reporter(
        api: ApiHarness, system: FakeSystem, connected_worker: ConnectedActivities) -> None:
    await connect(api, system)
    case = await api.submit(title="Jalan berlubang di Jalan Tjilik Riwut", category="jalan-jembatan",
                            anonymous=True, location={"lat": -2.2, "lon": 113.9, "address": "Jl. Tjilik Riwut km 2"},
                            reporter={"name": "Siti Aminah", "email": "siti@example.id", "phone": "+6281234567890"})
    tracking_id = case["tracking_id"]
    await api.accept(tracking_id)
    row = await wait_forward(api, tracking_id, "acknowledged")
    assert row.service_request_id == "CITY-1"
    sent = dict(system.requests[0])
    assert sent["service_code"] == "jalan" and sent["attribute[sp4n_tracking_id]"] == tracking_id
    assert "Jalan berlubang" in sent["description"] and sent["address_string"] == "Jl. Tjilik Riwut km 2"
    text = repr(system.requests[0])
    for identity in ("Siti", "Aminah", "siti@example.id", "81234567890"):
        assert identity not in text
    assert "lat" not in sent and "long" not in sent  # an anonymous reporter's pin stays here
    assert system.headers[0]["Idempotency-Key"] == f"sp4n-{row.key}"  # a retry is one case there
    # The case says where it went; the queue too.
    shown = await api.case(tracking_id)
    assert shown["forwarded_to"] == f"diteruskan ke sistem {shown['forwarded_to_body']} (#CITY-1)"
    listed = await api.listing(agency_id=WIB_AGENCY)
    assert next(i for i in listed["items"] if i["tracking_id"] == tracking_id)["forwarded_to"].endswith("(#CITY-1)")


async def test_an_outage_of_the_bodys_system_retries_tells_the_admins_and_leaves_the_clocks_alone(
        api: ApiHarness, system: FakeSystem, connected_worker: ConnectedActivities) -> None:
    await connect(api, system)
    system.fail_next = 10_000
    tracking_id = (await api.submit())["tracking_id"]
    accepted = await api.accept(tracking_id)
    for _ in range(40):  # past CONNECTED_ALERT_AFTER_SECONDS (600 s) of server time, retrying
        await api.sleep(timedelta(seconds=60))
        with api.sessions() as session:
            alert = session.scalars(select(NotificationRow).where(
                NotificationRow.tracking_id == tracking_id, NotificationRow.event == "connected_unacknowledged")).first()
        if alert is not None:
            break
    assert alert is not None and alert.recipient == "national_admin"
    row = forward_of(api, tracking_id)
    assert row.status == "pending" and row.attempts >= 3 and "503" in (row.last_error or "")
    assert (await api.case(tracking_id))["deadlines"] == accepted["deadlines"]  # the clocks did not move
    info = (await api.http.get(f"/v1/connected/{WIB_AGENCY}", headers=api.admin)).json()
    assert info["pending_forwards"] == 1
    metrics = await scrape(api)  # what an alert watches
    assert value(metrics, "sp4n_connected_pending_forwards", agency=WIB_AGENCY) == 1
    assert value(metrics, "sp4n_connected_sync_age_seconds", agency=WIB_AGENCY) is not None
    assert worker_registry.get_sample_value("sp4n_connected_forwards_total",
                                            {"kind": "request", "outcome": "retried"}) >= 3
    system.fail_next = 0  # the system is back: the next attempt goes through
    assert (await wait_forward(api, tracking_id, "acknowledged", step=timedelta(seconds=120))).service_request_id
    assert len(system.requests) == 1


async def test_a_refused_forward_is_told_and_an_administrator_forwards_it_by_hand(
        api: ApiHarness, system: FakeSystem, connected_worker: ConnectedActivities) -> None:
    await connect(api, system)
    system.refuse = True
    tracking_id = (await api.submit())["tracking_id"]
    await api.accept(tracking_id)
    row = await wait_forward(api, tracking_id, "failed")
    assert "HTTP 400 (service_code unknown)" in (row.last_error or "")
    with api.sessions() as session:
        assert session.scalars(select(NotificationRow).where(
            NotificationRow.tracking_id == tracking_id, NotificationRow.event == "connected_refused")).first()
    response = await api.http.post(f"/v1/connected/forwards/{row.key}/manual", json={}, headers=api.admin)
    assert_problem(response, 422)  # the body's id is needed to read its answers back
    done = await api.http.post(f"/v1/connected/forwards/{row.key}/manual",
                               json={"service_request_id": "CITY-MANUAL-7"}, headers=api.admin)
    assert done.status_code == 200 and done.json()["status"] == "manual"
    assert (await api.case(tracking_id))["forwarded_to"].endswith("(#CITY-MANUAL-7)")


async def test_a_token_answer_is_resolved_to_the_bodys_id(
        api: ApiHarness, system: FakeSystem, connected_worker: ConnectedActivities) -> None:
    await connect(api, system)
    system.token_only, system.tokens_resolved = True, False
    tracking_id = (await api.submit())["tracking_id"]
    await api.accept(tracking_id)
    row = await wait_forward(api, tracking_id, "sent")
    assert row.remote_token == "tok-1" and row.service_request_id is None
    system.tokens_resolved = True
    assert (await wait_forward(api, tracking_id, "acknowledged")).service_request_id == "CITY-T1"


# --- answers coming back, replies going out ------------------------------------------------------


async def sync(api: ApiHarness, agency_id: str = WIB_AGENCY) -> dict[str, int]:
    """One scheduled read (the time-skipping server has no schedules: the run is started here)."""
    return await api.env.client.execute_workflow(
        ConnectedSyncWorkflow.run, SyncPlan(agency_id=agency_id, task_queue=connected_task_queue(api.settings),
                                            attempt_timeout_seconds=60),
        id=f"sync-{uuid.uuid4().hex}", task_queue=connected_task_queue(api.settings))


def update(update_id: str, remote_id: str, status: str, description: str | None, minute: int) -> dict[str, Any]:
    return {"update_id": update_id, "service_request_id": remote_id, "status": status,
            "updated_datetime": f"2026-12-01T10:{minute:02d}:00+07:00", "description": description}


async def forwarded_case(api: ApiHarness, system: FakeSystem, **fields: Any) -> tuple[str, str]:
    await connect(api, system)
    case = await api.submit(**fields)
    await api.accept(case["tracking_id"])
    row = await wait_forward(api, case["tracking_id"], "acknowledged")
    return case["tracking_id"], row.service_request_id or ""


async def test_the_bodys_answer_becomes_its_follow_up_once_in_order(
        api: ApiHarness, system: FakeSystem, connected_worker: ConnectedActivities) -> None:
    tracking_id, remote = await forwarded_case(api, system)
    system.updates = [
        update("U2", remote, "ACTION_SCHEDULED", "Lubang sudah ditambal tim PUPR.", 2),
        update("U1", remote, "IN_PROGRESS", "Diterima dinas PUPR.", 1),
        update("X9", "CITY-OTHER", "FIXED", "Another client's case", 0),  # not ours: not even kept
    ]
    counts = await sync(api)
    assert counts == {"read": 2, "applied": 1, "shown": 1, "skipped": 0}
    case = await api.case(tracking_id)
    assert case["status"] == "awaiting_reporter"
    answer = case["timeline"][-1]
    assert answer["action"] == "follow_up" and answer["note"] == "Lubang sudah ditambal tim PUPR."
    assert answer["actor_role"] == "agency_admin" and answer["actor_name"].startswith("Sistem ")
    assert case["deadlines"]["silence_ends"]  # the reporter's clock runs from the body's answer
    # Read again (the overlap re-reads them): nothing is applied twice.
    assert (await sync(api))["read"] == 0
    # (the time-skipping server may move on meanwhile: the reporter's silence can complete the case)
    assert [e["action"] for e in (await api.case(tracking_id))["timeline"]].count("follow_up") == 1
    with api.sessions() as session:
        outcomes = dict(session.execute(select(ConnectedUpdate.update_id, ConnectedUpdate.outcome)).all())
    assert outcomes == {"U1": "progress", "U2": "follow_up"}
    info = (await api.http.get(f"/v1/connected/{WIB_AGENCY}", headers=api.admin)).json()
    assert info["last_sync_ok_at"] and info["updates_applied"] == 1 and info["consecutive_failures"] == 0


async def test_what_the_body_writes_without_a_step_is_shown_to_the_reporter_and_staff_not_the_public(
        api: ApiHarness, system: FakeSystem, connected_worker: ConnectedActivities) -> None:
    """'Diterima dinas PUPR' (in progress) and a word after the body's answer change nothing on
    our case, but the reporter waiting on it sees them; the public has the timeline only."""
    await connect(api, system)
    case = await api.submit()
    tracking_id = case["tracking_id"]
    await api.accept(tracking_id)
    remote = (await wait_forward(api, tracking_id, "acknowledged")).service_request_id or ""
    system.updates = [
        update("U1", remote, "IN_PROGRESS", "Diterima dinas PUPR, tim survei dijadwalkan.", 1),
        update("U2", remote, "FIXED", "Lubang sudah ditambal.", 2),
        update("U3", remote, "open", "Pengaspalan ulang menyusul bulan depan.", 3),  # after the answer
        update("U4", remote, "open", None, 4),  # says nothing: not shown
    ]
    await sync(api)
    reporter = (await api.get(tracking_id, {"Authorization": f"Bearer {case['reporter_token']}"})).json()
    assert [e["action"] for e in reporter["timeline"]].count("follow_up") == 1
    assert [(n["status"], n["note"]) for n in reporter["body_system_notes"]] == [
        ("IN_PROGRESS", "Diterima dinas PUPR, tim survei dijadwalkan."),
        ("open", "Pengaspalan ulang menyusul bulan depan.")]
    assert reporter["body_system_notes"][0]["body"]
    assert len((await api.case(tracking_id))["body_system_notes"]) == 2  # the staff too
    public = (await api.get(tracking_id)).json()
    assert "body_system_notes" not in public and "tim survei" not in repr(public)
    private = await api.http.get(f"/kasus/{tracking_id}?token={case['reporter_token']}", follow_redirects=True)
    assert private.status_code == 200 and "tim survei dijadwalkan" in private.text
    assert "Pengaspalan ulang" in private.text and 'data-testid="body-system-notes"' in private.text


@pytest.mark.api_settings(**CONNECTED.kwargs, connected_sync_overlap_seconds=60)
async def test_an_answer_listed_before_the_token_resolves_is_applied_once_it_does(
        api: ApiHarness, system: FakeSystem, connected_worker: ConnectedActivities) -> None:
    """The body's system lists its answer to our request, and newer updates of other requests,
    while it has given us only a token: the answer is not ours yet, and must still be read when
    the token resolves (the read window moves on with the newest update, here past the overlap)."""
    await connect(api, system)
    system.token_only, system.tokens_resolved, system.dated_updates = True, False, True
    tracking_id = (await api.submit())["tracking_id"]
    await api.accept(tracking_id)
    await wait_forward(api, tracking_id, "sent")
    now = datetime.now(UTC)  # the connected activities' clock
    system.updates = [
        {"update_id": "A1", "service_request_id": "CITY-T1", "status": "FIXED", "description": "Sudah ditambal.",
         "updated_datetime": (now + timedelta(minutes=1)).isoformat()},
        {"update_id": "X1", "service_request_id": "CITY-OTHER", "status": "FIXED", "description": "Other client's",
         "updated_datetime": (now + timedelta(minutes=4)).isoformat()},
    ]
    assert (await sync(api))["read"] == 0  # CITY-T1 is not known as ours yet
    system.tokens_resolved = True
    await wait_forward(api, tracking_id, "acknowledged")
    assert (await sync(api))["applied"] == 1
    case = await api.case(tracking_id)
    assert case["status"] == "awaiting_reporter" and case["timeline"][-1]["note"] == "Sudah ditambal."


async def test_not_the_bodys_responsibility_returns_the_case_to_verification(
        api: ApiHarness, system: FakeSystem, connected_worker: ConnectedActivities) -> None:
    tracking_id, remote = await forwarded_case(api, system)
    system.updates = [update("R1", remote, "NOT_COUNCILS_RESPONSIBILITY", "Jalan nasional, bukan jalan kota.", 1)]
    await sync(api)
    case = await api.case(tracking_id)
    assert case["status"] == "awaiting_verification" and case["bounce_count"] == 1
    assert case["timeline"][-1]["action"] == "reroute"
    assert "forwarded_to" not in case  # it is with nobody's system now


async def test_the_reporters_reply_goes_to_the_bodys_system_and_is_not_read_back_as_its_answer(
        api: ApiHarness, system: FakeSystem, connected_worker: ConnectedActivities) -> None:
    case = await api.submit(reporter={"name": "Budi", "email": "budi@example.id"})
    tracking_id = case["tracking_id"]
    await connect(api, system)
    await api.accept(tracking_id)
    remote = (await wait_forward(api, tracking_id, "acknowledged")).service_request_id or ""
    system.updates = [update("U1", remote, "ACTION_SCHEDULED", "Sudah ditambal.", 1)]
    await sync(api)
    reply = await api.act(tracking_id, "replies", {"message": "Belum, masih berlubang di sisi barat."},
                          {"Authorization": f"Bearer {case['reporter_token']}"})
    assert reply.status_code == 200, reply.text
    row = await wait_forward(api, tracking_id, "acknowledged", kind="update")
    comment = system.comments[0]
    assert comment["service_request_id"] == remote and comment["update_id"] == f"sp4n-{row.key}"
    assert comment["description"] == "Tanggapan pelapor: Belum, masih berlubang di sisi barat."
    assert comment["email"] == "budi@example.id"  # not anonymous: the body's system knows its reporter
    # The body's system lists our reply among its updates: it is ours, not the body's answer.
    system.updates.append(update(row.remote_update_id or "", remote, "IN_PROGRESS", comment["description"], 3))
    await sync(api)
    assert (await api.case(tracking_id))["status"] == "awaiting_agency"
    with api.sessions() as session:
        assert session.get(ConnectedUpdate, (WIB_AGENCY, "CU-1")).outcome == "own"


async def test_an_anonymous_reporters_reply_goes_without_their_contact(
        api: ApiHarness, system: FakeSystem, connected_worker: ConnectedActivities) -> None:
    case = await api.submit(anonymous=True, reporter={"name": "Budi", "email": "budi@example.id"})
    await connect(api, system)
    await api.accept(case["tracking_id"])
    remote = (await wait_forward(api, case["tracking_id"], "acknowledged")).service_request_id or ""
    system.updates = [update("U1", remote, "FIXED", "Selesai.", 1)]
    await sync(api)
    await api.act(case["tracking_id"], "replies", {"message": "Terima kasih."},
                  {"Authorization": f"Bearer {case['reporter_token']}"})
    await wait_forward(api, case["tracking_id"], "acknowledged", kind="update")
    assert "email" not in system.comments[0] and "budi" not in repr(system.comments).lower()


async def test_a_failed_read_is_counted_and_the_next_one_catches_up(
        api: ApiHarness, system: FakeSystem, connected_worker: ConnectedActivities) -> None:
    tracking_id, remote = await forwarded_case(api, system)
    port = system.server.server_address[1]
    system.stop()
    assert await sync(api) == {"failed": 1}
    info = (await api.http.get(f"/v1/connected/{WIB_AGENCY}", headers=api.admin)).json()
    assert info["consecutive_failures"] == 1 and info["sync_failures"] == 1 and info["last_sync_error"]
    system.updates = [update("U1", remote, "closed", "Ditutup: sudah diperbaiki.", 1)]
    system.start(port)  # the system is back
    assert (await sync(api))["applied"] == 1
    assert (await api.case(tracking_id))["status"] == "awaiting_reporter"
    info = (await api.http.get(f"/v1/connected/{WIB_AGENCY}", headers=api.admin)).json()
    assert info["consecutive_failures"] == 0 and info["sync_failures"] == 1


async def test_the_reports_files_go_as_signed_links_that_expire(
        api: ApiHarness, system: FakeSystem, connected_worker: ConnectedActivities) -> None:
    await connect(api, system)
    case = await api.submit()
    tracking_id = case["tracking_id"]
    added = await api.http.post(f"/v1/complaints/{tracking_id}/attachments", files={"file": ("a.png", png(), "image/png")},
                                headers={"Authorization": f"Bearer {case['reporter_token']}"})
    assert added.status_code == 201, added.text
    await api.accept(tracking_id)
    await wait_forward(api, tracking_id, "acknowledged")
    [link] = [value for name, value in system.requests[0] if name == "media_url"]
    assert link.startswith(f"https://lapor.test/v1/media/{tracking_id}/")
    path = link.removeprefix("https://lapor.test")
    fetched = await api.http.get(path)  # no token: the link is the permission
    assert fetched.status_code == 200 and fetched.headers["content-type"] == "image/png"
    assert_problem(await api.http.get(path.replace("sig=", "sig=x")), 404)
    assert_problem(await api.http.get(path.replace("expires=", "expires=1")), 404)  # a changed expiry breaks it
    await api.sleep(timedelta(seconds=api.settings.connected_media_link_seconds + 60))
    assert_problem(await api.http.get(path), 404)  # expired


async def test_the_administrators_page_lists_connected_bodies_and_resends_a_forward(
        api: ApiHarness, system: FakeSystem, connected_worker: ConnectedActivities) -> None:
    # The portal's cookies are Secure under an https PUBLIC_BASE_URL: the browser is at that address.
    async with httpx.AsyncClient(transport=api.http._transport, base_url=api.settings.public_base_url) as admin:
        assert (await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 303
        await connect(api, system)
        system.refuse = True
        tracking_id = (await api.submit())["tracking_id"]
        await api.accept(tracking_id)
        row = await wait_forward(api, tracking_id, "failed", step=timedelta(seconds=5))
        page = await admin.get("/admin/instansi-terhubung")
        assert page.status_code == 200 and f'data-agency-id="{WIB_AGENCY}"' in page.text
        assert f'data-key="{row.key}"' in page.text and "HTTP 400" in page.text
        assert system.api_key not in page.text
        system.refuse = False  # the body fixed its service list: send it again from the page
        resent = await admin.post(f"/admin/instansi-terhubung/{row.key}/kirim-ulang",
                                  data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
        assert resent.status_code == 303
        await wait_forward(api, tracking_id, "acknowledged")
        assert "diteruskan ke sistem" in (await admin.get(f"/kasus/{tracking_id}")).text
        assert "diteruskan ke sistem" in (await admin.get("/staf")).text  # the queue says it too
        assert f'data-key="{row.key}"' not in (await admin.get("/admin/instansi-terhubung")).text


async def test_an_update_applied_before_a_crash_is_not_applied_again_when_read_again(
        api: ApiHarness, system: FakeSystem, connected_worker: ConnectedActivities) -> None:
    case = await api.submit(reporter={"name": "Budi", "email": "budi@example.id"})
    tracking_id = case["tracking_id"]
    await connect(api, system, accepts_updates=False)
    await api.accept(tracking_id)
    remote = (await wait_forward(api, tracking_id, "acknowledged")).service_request_id or ""
    system.updates = [update("U1", remote, "ACTION_SCHEDULED", "Sudah ditambal.", 1)]
    await sync(api)
    await api.act(tracking_id, "replies", {"message": "Belum."}, {"Authorization": f"Bearer {case['reporter_token']}"})
    assert (await api.case(tracking_id))["status"] == "awaiting_agency"  # waiting for the body again
    # A worker that applied U1 and died before recording it: U1 is pending again.
    with api.sessions.begin() as session:
        session.get(ConnectedUpdate, (WIB_AGENCY, "U1")).outcome = "pending"
    await sync(api)
    after = await api.case(tracking_id)
    assert [e["action"] for e in after["timeline"]].count("follow_up") == 1  # Temporal answered the first outcome
    assert after["status"] == "awaiting_agency"
