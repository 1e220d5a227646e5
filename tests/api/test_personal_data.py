"""UU 27/2022: a reporter's identity is sealed under a key of its case's own; erasure destroys it
(histories, read model, files), holds defer it; correction, withdrawal and the data page."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from google.protobuf import json_format
from sqlalchemy import select
from temporalio.api.common.v1 import Payload
from temporalio.converter import WorkflowSerializationContext
from temporalio.worker import Worker

import api.privacy as api_privacy
from activities.notifications import DeliveryActivities
from activities.privacy import RetentionActivities

from db.models import Complaint
from db.notification_models import DeliveryStatus, NotificationDelivery
from db.portal_models import Attachment
from db.privacy_models import CasePrivacy
from tests.api.conftest import WIB_AGENCY, ApiHarness, assert_problem, bearer
from tests.api.test_attachments import png_with_text, upload_ok
from tests.crypto import TEST_DATA_CONVERTER
from workflows.codec import ENCRYPTED_ENCODING
from workflows.delivery import SendRequest
from workflows.retention import RetentionRequest, RetentionResult, RetentionWorkflow

IDENTITY = {"name": "Wiryawan Kusumadewanta", "email": "wiryawan.kd@contoh.id", "phone": "+6281299887766"}
LOCATION = {"lat": -2.2101, "lon": 113.9201, "address": "Gang Kenari Ungu 17, rumah Wiryawan"}
SECRETS = [IDENTITY["name"], IDENTITY["email"], IDENTITY["phone"], LOCATION["address"], "Kusumadewanta", "81299887766"]


@pytest.fixture(autouse=True)
def attachment_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "attachments"
    monkeypatch.setenv("ATTACHMENT_DIR", str(directory))
    return directory


async def decoded_history(api: ApiHarness, tracking_id: str) -> str:
    """Every payload of the case's history, decrypted with the service's key (what the codec
    endpoint shows an administrator), as one text."""
    history = await api.env.client.get_workflow_handle(tracking_id).fetch_history()
    raw = history.to_json_dict()
    texts: list[str] = []

    codec = TEST_DATA_CONVERTER.payload_codec.with_context(  # type: ignore[union-attr]
        WorkflowSerializationContext(namespace="default", workflow_id=tracking_id))

    async def walk(node) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("metadata"), dict) and "data" in node:
                payload = json_format.ParseDict(node, Payload())
                if payload.metadata.get("encoding") == ENCRYPTED_ENCODING:
                    [payload] = await codec.decode([payload])
                texts.append(payload.data.decode(errors="replace"))
                return
            for value in node.values():
                await walk(value)
        elif isinstance(node, list):
            for value in node:
                await walk(value)

    await walk(raw)
    return "\n".join(texts)


def found(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


async def reported(api: ApiHarness, **fields) -> tuple[str, dict[str, str]]:
    receipt = await api.submit(region_code="62.71", reporter=IDENTITY, location=LOCATION, **fields)
    return receipt["tracking_id"], bearer(receipt["reporter_token"])


async def test_histories_carry_the_identity_only_sealed_and_erasure_makes_it_unreadable_everywhere(
    api: ApiHarness, attachment_dir: Path
) -> None:
    tracking_id, reporter = await reported(api)
    photo = await upload_ok(api, tracking_id, png_with_text(), reporter, name="rumah-wiryawan.png")
    await api.accept(tracking_id, WIB_AGENCY)
    await api.settle()
    admin_view = await api.case(tracking_id)
    assert admin_view["reporter"] == IDENTITY and admin_view["location"] == LOCATION

    # In Temporal, even decrypted with the service's key, only a sealed blob.
    history = await decoded_history(api, tracking_id)
    assert "sp4n-sealed/v1:" in history
    assert found(history) == []

    response = await api.http.post(f"/v1/complaints/{tracking_id}/personal-data/erasure", headers=reporter)
    assert response.status_code == 200, response.text
    erased_at = response.json()["erased_at"]
    await api.settle()

    case = await api.case(tracking_id)
    assert case.get("reporter") is None and case.get("location") is None
    assert case["status"] == "awaiting_agency" and case["deadlines"]["response_due"]  # goes on, anonymous
    erased = [e for e in case["timeline"] if e["action"] == "personal_data_erased"]
    assert len(erased) == 1 and erased[0]["note"] == "data pribadi dihapus"
    with api.sessions() as session:
        row = session.get(Complaint, tracking_id)
        assert (row.reporter_name, row.reporter_email, row.reporter_phone, row.reporter_chat, row.location_address,
                row.location_lat) == (None, None, None, None, None, None)
        privacy = session.get(CasePrivacy, tracking_id)
        assert privacy.wrapped_key is None and privacy.erased_by == "reporter"
        assert session.scalars(select(Attachment).where(Attachment.tracking_id == tracking_id)).all() == []
    assert not any(p.is_file() for p in attachment_dir.rglob("*")), "the photo is still stored"
    assert (await api.http.get(photo["url"], headers=api.admin)).status_code == 404

    # The history still holds the old blob: no key opens it any more.
    history = await decoded_history(api, tracking_id)
    assert found(history) == []

    # The case keeps working as an anonymous one; a second erasure says it was done already.
    await api.follow_up(tracking_id)
    again = await api.http.post(f"/v1/complaints/{tracking_id}/personal-data/erasure", headers=reporter)
    assert again.status_code == 200 and again.json()["already_erased"] is True
    assert again.json()["erased_at"] == erased_at


async def test_a_hold_set_by_an_administrator_defers_erasure_until_lifted(api: ApiHarness) -> None:
    tracking_id, reporter = await reported(api)
    officer = await api.headers("officer", WIB_AGENCY)
    assert_problem(await api.http.post(f"/v1/complaints/{tracking_id}/privacy-holds",
                                       json={"kind": "legal_hold", "reason": "Permintaan penyidik"}, headers=officer), 403)
    response = await api.http.post(f"/v1/complaints/{tracking_id}/privacy-holds",
                                   json={"kind": "legal_hold", "reason": "Permintaan penyidik Polda"}, headers=api.admin)
    assert response.status_code == 201, response.text
    hold = response.json()

    refused = assert_problem(await api.http.post(f"/v1/complaints/{tracking_id}/personal-data/erasure",
                                                 headers=reporter), 409)
    assert "Permintaan penyidik Polda" in refused["detail"]
    page = (await api.http.get(f"/v1/complaints/{tracking_id}/personal-data", headers=reporter)).json()
    assert [(h["kind"], h["reason"]) for h in page["holds"]] == [("legal_hold", "Permintaan penyidik Polda")]
    assert "set_by" not in page["holds"][0] or page["holds"][0]["set_by"] is None  # who set it: admins only
    assert page["reporter"] == IDENTITY

    lifted = await api.http.post(f"/v1/complaints/{tracking_id}/privacy-holds/{hold['id']}/lift",
                                 json={"reason": "Penyidikan selesai"}, headers=api.admin)
    assert lifted.status_code == 200, lifted.text
    response = await api.http.post(f"/v1/complaints/{tracking_id}/personal-data/erasure", headers=reporter)
    assert response.status_code == 200, response.text


async def test_erasure_of_a_closed_case_is_recorded_on_its_timeline(api: ApiHarness) -> None:
    tracking_id, reporter = await reported(api)
    await api.act_ok(tracking_id, "verification", {"decision": "reject", "reason": "not_a_complaint"}, api.admin)
    await api.settle()
    assert not await api.eventually(lambda: api.app.state.services.temporal.is_running(tracking_id), lambda r: not r)
    stats_before = (await api.http.get("/v1/stats", headers=api.admin)).json()
    response = await api.http.post(f"/v1/complaints/{tracking_id}/personal-data/erasure", headers=api.admin)
    assert response.status_code == 200, response.text
    case = await api.case(tracking_id)
    assert case.get("reporter") is None
    assert [e["action"] for e in case["timeline"]][-1] == "personal_data_erased"
    assert case["status"] == "archived" and case["archive_reason"] == "not_a_complaint"
    assert (await api.http.get("/v1/stats", headers=api.admin)).json() == stats_before


async def test_correction_is_checked_and_leaves_no_old_value_on_the_timeline(api: ApiHarness) -> None:
    tracking_id, reporter = await reported(api)
    url = f"/v1/complaints/{tracking_id}/personal-data"
    assert_problem(await api.http.patch(url, json={"email": "bukan-surel"}, headers=reporter), 422)
    assert_problem(await api.http.patch(url, json={"name": "X"}, headers=api.admin), 403)
    response = await api.http.patch(url, json={"name": "Wiryawan K.", "email": "wk.baru@contoh.id"}, headers=reporter)
    assert response.status_code == 200, response.text
    assert response.json()["reporter"] == {"name": "Wiryawan K.", "email": "wk.baru@contoh.id",
                                           "phone": IDENTITY["phone"]}
    await api.settle()
    case = await api.case(tracking_id)
    assert case["reporter"]["email"] == "wk.baru@contoh.id"
    corrected = [e for e in case["timeline"] if e["action"] == "personal_data_corrected"]
    assert len(corrected) == 1 and not found(json.dumps(corrected)) and "wk.baru" not in json.dumps(corrected)
    with api.sessions() as session:
        assert session.get(Complaint, tracking_id).reporter_email == "wk.baru@contoh.id"
    assert found(await decoded_history(api, tracking_id)) == []


async def test_withdrawal_skips_what_waits_and_the_data_page_lists_what_is_held(api: ApiHarness) -> None:
    tracking_id, reporter = await reported(api)
    await api.settle()
    with api.sessions.begin() as session:  # a delivery to the reporter waiting for its next attempt
        session.add(NotificationDelivery(
            id="d" * 32, key=f"{tracking_id}:1:reporter:email:x", outbox_key=f"{tracking_id}:1:reporter:outbox",
            tracking_id=tracking_id, event_seq=1, event="submit", party="reporter", recipient_ref="reporter",
            channel="email", address=IDENTITY["email"], body_text="Laporan diterima",
            status=DeliveryStatus.PENDING.value))
    response = await api.http.post(f"/v1/complaints/{tracking_id}/personal-data/withdrawal", headers=reporter)
    assert response.status_code == 200, response.text
    with api.sessions() as session:
        assert session.get(NotificationDelivery, "d" * 32).status == DeliveryStatus.SKIPPED.value
    page = (await api.http.get(f"/v1/complaints/{tracking_id}/personal-data", headers=reporter)).json()
    assert page["contact_withdrawn_at"] and page["reporter"] == IDENTITY and page["location"] == LOCATION
    assert page["legal_basis"]["id"] and page["legal_basis"]["en"]
    assert [n["address"] for n in page["notifications"]] == [IDENTITY["email"]]
    other = await api.submit(region_code="62.71")
    assert_problem(await api.http.get(f"/v1/complaints/{tracking_id}/personal-data",
                                      headers=bearer(other["reporter_token"])), 401)
    assert_problem(await api.http.get(f"/v1/complaints/{tracking_id}/personal-data",
                                      headers=await api.headers("officer", WIB_AGENCY)), 403)


class RecordingChannel:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, out) -> None:
        self.sent.append(out.address)


async def test_after_withdrawal_no_resend_and_no_late_delivery_reaches_the_reporter(api: ApiHarness) -> None:
    tracking_id, reporter = await reported(api)
    await api.settle()

    def delivery(suffix: str, status: DeliveryStatus) -> NotificationDelivery:
        return NotificationDelivery(
            id=suffix * 32, key=f"{tracking_id}:1:reporter:email:{suffix}", outbox_key=f"{tracking_id}:1:reporter:outbox",
            tracking_id=tracking_id, event_seq=1, event="submit", party="reporter", recipient_ref="reporter",
            channel="email", address=IDENTITY["email"], body_text="Laporan diterima", status=status.value)

    with api.sessions.begin() as session:  # a message that failed before the reporter withdrew
        session.add(delivery("f", DeliveryStatus.FAILED))
    response = await api.http.post(f"/v1/complaints/{tracking_id}/personal-data/withdrawal", headers=reporter)
    assert response.status_code == 200, response.text
    # An administrator working through the dead letters cannot send it to them after all.
    assert_problem(await api.http.post(f"/v1/notifications/{'f' * 32}/resend", headers=api.admin), 409)
    # A delivery written while the withdrawal was being committed is not sent either.
    with api.sessions.begin() as session:
        session.add(delivery("e", DeliveryStatus.PENDING))
    channel = RecordingChannel()
    activities = DeliveryActivities(api.sessions, api.settings, channels={"email": channel})
    assert activities.send(SendRequest(delivery_id="e" * 32, max_attempts=3), "email") == DeliveryStatus.SKIPPED.value
    assert channel.sent == []
    with api.sessions() as session:
        assert session.get(NotificationDelivery, "f" * 32).status == DeliveryStatus.FAILED.value
        assert session.get(NotificationDelivery, "e" * 32).status == DeliveryStatus.SKIPPED.value


async def test_each_staff_view_of_the_identity_is_logged_and_the_reporter_sees_which_bodies(api: ApiHarness) -> None:
    tracking_id, reporter = await reported(api)
    anonymous_id, _ = await reported(api, anonymous=True)
    for case in (tracking_id, anonymous_id):
        await api.accept(case, WIB_AGENCY)
    officer = await api.headers("officer", WIB_AGENCY)
    await api.get(tracking_id, officer)
    await api.get(anonymous_id, officer)  # the agency never sees an anonymous reporter: nothing to log
    await api.get(tracking_id, reporter)  # the reporter's own look is not staff's
    log = (await api.http.get("/v1/privacy/access-log", params={"tracking_id": tracking_id},
                              headers=api.admin)).json()
    assert [(e["viewer_role"], e["viewer_agency_id"], e["via"]) for e in reversed(log)][-1:] == [
        ("officer", WIB_AGENCY, "case")]
    assert {e["viewer_role"] for e in log} == {"admin", "officer"}  # the administrator's accepts read it too
    anonymous_log = (await api.http.get("/v1/privacy/access-log", params={"tracking_id": anonymous_id},
                                        headers=api.admin)).json()
    assert {e["viewer_role"] for e in anonymous_log} == {"admin"}
    assert_problem(await api.http.get("/v1/privacy/access-log", headers=officer), 403)
    page = (await api.http.get(f"/v1/complaints/{tracking_id}/personal-data", headers=reporter)).json()
    bodies = {entry["body"] for entry in page["identity_viewed_by"]}
    assert "Admin Nasional SP4N" in bodies and any("Palangka" in body for body in bodies), bodies
    assert not any("officer" in body for body in bodies)


async def test_retention_erases_a_closed_case_once_its_period_ends_unless_held(api: ApiHarness) -> None:
    closed, _ = await reported(api)
    held, _ = await reported(api)
    still_open, _ = await reported(api)
    for case in (closed, held):
        await api.act_ok(case, "verification", {"decision": "reject", "reason": "not_a_complaint"}, api.admin)
    await api.http.post(f"/v1/complaints/{held}/privacy-holds", json={"kind": "ombudsman", "reason": "Pemeriksaan ORI"},
                        headers=api.admin)
    await api.settle()
    queue = f"retention-{uuid.uuid4().hex}"
    retention = RetentionActivities(api.sessions, api.app.state.services.storage)

    async def sweep() -> RetentionResult:
        return await api.env.client.execute_workflow(
            RetentionWorkflow.run, RetentionRequest(retention_days=30), id=f"retention-{uuid.uuid4().hex}",
            task_queue=queue, result_type=RetentionResult)

    async with Worker(api.env.client, task_queue=queue, workflows=[RetentionWorkflow],
                      activities=[retention.erase_expired_personal_data]):
        assert (await sweep()).erased == []  # not yet: closed a moment ago
        await api.sleep(timedelta(days=31))
        result = await sweep()
    assert result.erased == [closed] and result.held == [held]
    with api.sessions() as session:
        assert session.get(Complaint, closed).reporter_email is None
        assert session.get(Complaint, held).reporter_email == IDENTITY["email"]
        assert session.get(Complaint, still_open).reporter_email == IDENTITY["email"]
    case = await api.case(closed)
    assert case.get("reporter") is None and case["timeline"][-1]["action"] == "personal_data_erased"
    month = case["timeline"][-1]["at"][:7]
    report = (await api.http.get("/v1/privacy/erasures", params={"month": month}, headers=api.admin)).json()
    assert report["erased"] == 1 and report["by"] == {"retention": 1} and report["tracking_ids"] == [closed]
    printed = subprocess.run([sys.executable, "-m", "ops", "erasure-report", "--month", month], check=True,
                             capture_output=True, text=True, timeout=120,
                             env={**os.environ, "DATABASE_URL": api.settings.database_url})
    assert json.loads(printed.stdout) == report


async def test_breach_report_lists_whom_to_notify_and_drafts_the_notice(api: ApiHarness, tmp_path: Path) -> None:
    named, _ = await reported(api)
    erased, erased_reporter = await reported(api)
    legacy = (await api.submit(region_code="62.71"))["tracking_id"]  # nothing personal held
    await api.settle()
    assert (await api.http.post(f"/v1/complaints/{erased}/personal-data/erasure",
                                headers=erased_reporter)).status_code == 200
    now = await api.now()
    window = ["--from", (now - timedelta(hours=1)).isoformat(), "--to", (now + timedelta(hours=1)).isoformat()]
    output = tmp_path / "breach.json"

    def breach_report(*stores: str) -> dict:
        environment = {**os.environ, "DATABASE_URL": api.settings.database_url}
        subprocess.run([sys.executable, "-m", "ops", "breach-report", *window, "--stores", ",".join(stores),
                        "-o", str(output)], check=True, env=environment, capture_output=True, timeout=120)
        return json.loads(output.read_text())

    report = breach_report("read_model", "attachments")
    by_case = {a["tracking_id"]: a for a in report["affected"]}
    # The case erased after the window began was exposed during it, but nobody can be reached.
    assert by_case[named]["contacts"] == [IDENTITY["email"], IDENTITY["phone"]]
    assert by_case[erased]["erased"] is True and by_case[erased]["contacts"] == []
    assert legacy not in by_case
    assert report["contacts_to_notify"] == sorted([IDENTITY["email"], IDENTITY["phone"]])
    assert "Pasal 46 UU No. 27 Tahun 2022" in report["notice_id"] and "nomor telepon" in report["notice_id"]
    # Temporal's data alone holds sealed identities only; with the service's keys it does not.
    assert breach_report("temporal")["affected"] == []
    assert {a["tracking_id"] for a in breach_report("temporal", "keys")["affected"]} == {named, erased}


async def test_a_one_time_code_opens_every_case_of_one_contact(api: ApiHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[str | None, str]] = []

    class Mailbox:
        def __init__(self, settings) -> None:
            pass

        def send(self, out) -> None:
            sent.append((out.address, out.body_text))

    monkeypatch.setattr(api_privacy, "EmailChannel", Mailbox)
    first, _ = await reported(api)
    second, _ = await reported(api)
    other = (await api.submit(region_code="62.71", reporter={"email": "orang.lain@contoh.id"}))["tracking_id"]
    await api.settle()

    unknown = await api.http.post("/v1/personal-data/codes", json={"contact": "tidak.pernah@contoh.id"})
    assert unknown.status_code == 202 and sent == []  # the same answer, and nothing sent
    assert_problem(await api.http.post("/v1/personal-data/codes", json={"contact": "bukan kontak"}), 422)
    known = await api.http.post("/v1/personal-data/codes", json={"contact": IDENTITY["email"].upper()})
    assert known.status_code == 202 and known.json() == unknown.json()
    [(address, text)] = sent
    code = re.search(r"\b(\d{6})\b", text).group(1)
    assert address == IDENTITY["email"]

    wrong = "000000" if code != "000000" else "111111"
    assert_problem(await api.http.post("/v1/personal-data/access",
                                       json={"contact": IDENTITY["email"], "code": wrong}), 403)
    granted = await api.http.post("/v1/personal-data/access", json={"contact": IDENTITY["email"], "code": code})
    assert granted.status_code == 200, granted.text
    holder = bearer(granted.json()["access_token"])
    assert_problem(await api.http.get("/v1/personal-data"), 401)
    assert_problem(await api.http.get("/v1/personal-data", headers=bearer(granted.json()["access_token"] + "x")), 401)
    data = (await api.http.get("/v1/personal-data", headers=holder)).json()
    assert [c["tracking_id"] for c in data["cases"]] == [first, second]
    assert all(c["data"]["reporter"] == IDENTITY for c in data["cases"])
    # Each case's own token: the private link's rights on that case.
    assert (await api.http.get(f"/v1/complaints/{first}/personal-data",
                               headers=bearer(data["cases"][0]["reporter_token"]))).status_code == 200

    withdrawn = (await api.http.post("/v1/personal-data/withdrawal", headers=holder)).json()
    assert all(c["data"]["contact_withdrawn_at"] for c in withdrawn["cases"])
    await api.http.post(f"/v1/complaints/{second}/privacy-holds", json={"kind": "legal_hold", "reason": "Sengketa"},
                        headers=api.admin)
    erased = (await api.http.post("/v1/personal-data/erasure", headers=holder)).json()
    assert [e["tracking_id"] for e in erased["erased"]] == [first] and erased["held"] == [second]
    with api.sessions() as session:
        assert session.get(Complaint, other).reporter_email == "orang.lain@contoh.id"
