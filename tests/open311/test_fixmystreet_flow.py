"""A FixMyStreet-like client against the real stack (API, worker, read model), XML first, as
mySociety's perllib/Open311.pm drives a GeoReport server: service list, metadata, a request with
attributes, several media_url and files (its `upload_files` mode), updates polled through the whole
lifecycle the way Open311/GetServiceRequestUpdates.pm reads them, a citizen's comment posted back.
Every XML answer is parsed by a strict parser (defusedxml); the status mapping table is asserted
against the code and docs/open311.md."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from defusedxml.ElementTree import fromstring
from PIL import Image
from sqlalchemy import select, update

from db.directory import gazetteer
from db.models import Complaint, TimelineEventRow
from db.open311_models import Open311ClientUpdate, Open311MediaLink
from domain.enums import Action, ArchiveReason, Status
from domain.open311 import DESCRIPTION_SHOWN_MAX, Extended, extended_status, resolve_region
from tests.api.conftest import WIB_AGENCY, ApiHarness
from tests.api.deadlines import instant
from tests.open311.georeport import assert_valid, xml_to_value

BASE = "/open311/v2"
OPEN311_DOC = Path(__file__).resolve().parents[2] / "docs" / "open311.md"


@pytest.fixture(autouse=True)
def attachment_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "attachments"
    monkeypatch.setenv("ATTACHMENT_DIR", str(directory))
    return directory


def xml(response: httpx.Response, root: str) -> Any:
    """The answer as XML::Simple would hand it over, after a strict parse."""
    assert response.headers["content-type"].startswith("text/xml"), response.headers["content-type"]
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    element = fromstring(response.content)  # raises on anything XML 1.0 forbids
    assert element.tag == root, response.text
    return xml_to_value(element)


def png(color: str = "green") -> bytes:
    out = BytesIO()
    Image.new("RGB", (16, 12), color).save(out, "PNG")
    return out.getvalue()


def jpeg() -> bytes:
    out = BytesIO()
    Image.new("RGB", (20, 10), "red").save(out, "JPEG")
    return out.getvalue()


async def client_key(api: ApiHarness, name: str = "FixMyStreet Indonesia") -> str:
    return (await api.issue("client", name=name))["token"]


def report_form(api_key: str, **fields: Any) -> dict[str, Any]:
    """What Open311.pm's send_service_request posts (extended_description: title, detail, URL)."""
    return {
        "api_key": api_key, "service_code": "jalan-jembatan", "lat": "-2.2096", "long": "113.9213",
        "description": "Jalan berlubang besar di depan pasar\n\nSudah dua motor jatuh minggu ini.\n\n"
                       "https://fixmystreet.example.id/report/42\n",
        "first_name": "Siti", "last_name": "Rahma", "email": "siti@example.id",
        "attribute[region]": "Palangkaraya",
    } | fields


async def updates(api: ApiHarness, key: str, start: datetime, end: datetime, **params: str) -> list[dict]:
    """GET servicerequestupdates.xml as GetServiceRequestUpdates.pm asks for it (its api_key, a window)."""
    response = await api.http.get(f"{BASE}/servicerequestupdates.xml", params={
        "api_key": key, "start_date": start.isoformat(), "end_date": end.isoformat(), **params})
    assert response.status_code == 200, response.text
    return xml(response, "service_request_updates")


async def one(api: ApiHarness, tracking_id: str) -> dict:
    response = await api.http.get(f"{BASE}/requests/{tracking_id}.xml")
    assert response.status_code == 200, response.text
    [request] = xml(response, "service_requests")
    return request


async def comment(api: ApiHarness, key: str, tracking_id: str, update_id: str, text: str,
                  **sender: str) -> httpx.Response:
    """Open311.pm's post_service_request_update, by default from the reporter of report_form."""
    return await api.http.post(f"{BASE}/servicerequestupdates.xml", data={
        "api_key": key, "service_request_id": tracking_id, "update_id": update_id, "status": "OPEN",
        "updated_datetime": (await api.now()).isoformat(), "description": text,
        **(sender or {"first_name": "Siti", "last_name": "Rahma", "email": "siti@example.id"}),
    })


# --- the mapping table ------------------------------------------------------------------------------

TABLE = [
    (Status.AWAITING_VERIFICATION, None, Action.SUBMIT, Extended.OPEN),
    (Status.AWAITING_VERIFICATION, None, Action.SUPPLEMENT, Extended.OPEN),
    (Status.AWAITING_VERIFICATION, None, Action.REROUTE, Extended.INTERNAL_REFERRAL),
    (Status.ON_HOLD, None, Action.HOLD, Extended.INVESTIGATING),
    (Status.AWAITING_AGENCY, None, Action.ACCEPT, Extended.IN_PROGRESS),
    (Status.AWAITING_AGENCY, None, Action.DISPOSE, Extended.IN_PROGRESS),
    (Status.AWAITING_AGENCY, None, Action.REPLY, Extended.IN_PROGRESS),
    (Status.AWAITING_AGENCY, None, Action.REOPEN, Extended.IN_PROGRESS),
    (Status.AWAITING_REPORTER, None, Action.FOLLOW_UP, Extended.ACTION_SCHEDULED),
    (Status.COMPLETED, None, Action.SILENCE_COMPLETED, Extended.FIXED),
    (Status.COMPLETED, None, Action.RATE, Extended.FIXED),
    (Status.ARCHIVED, ArchiveReason.DUPLICATE, Action.REJECT, Extended.DUPLICATE),
    (Status.ARCHIVED, ArchiveReason.OUT_OF_SCOPE, Action.REJECT, Extended.NOT_COUNCILS_RESPONSIBILITY),
    (Status.ARCHIVED, ArchiveReason.NOT_A_COMPLAINT, Action.REJECT, Extended.NO_FURTHER_ACTION),
    (Status.ARCHIVED, ArchiveReason.INCOMPLETE, Action.REJECT, Extended.NO_FURTHER_ACTION),
    (Status.ARCHIVED, ArchiveReason.ABUSIVE, Action.REJECT, Extended.NO_FURTHER_ACTION),
    (Status.ARCHIVED, ArchiveReason.WITHDRAWN, Action.HOLD_EXPIRED, Extended.NO_FURTHER_ACTION),
]


def test_the_mapping_table_is_the_code_and_the_docs() -> None:
    for status, reason, action, expected in TABLE:
        assert extended_status(status, archive_reason=reason, action=action) == expected, (status, reason, action)
    # Every status and every archive reason has its row in the table of docs/open311.md, with this code.
    readme = OPEN311_DOC.read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)`([^|]*)\| (open|closed) \| `(\w+)` \|", readme, re.MULTILINE)
    assert rows, "docs/open311.md has the table"
    by_status: dict[str, set[str]] = {}
    for status, detail, open_closed, code in rows:
        assert open_closed == ("closed" if status in ("completed", "archived") else "open"), status
        by_status.setdefault(status, set()).add(code)
        for reason in ArchiveReason:
            if status == "archived" and f"`{reason.value}`" in detail:
                assert extended_status(status, archive_reason=reason) == code, (reason, code)
    assert set(by_status) == {s.value for s in Status}
    assert by_status["awaiting_verification"] == {"OPEN", "INTERNAL_REFERRAL"}
    for status in Status:
        if status != Status.ARCHIVED:
            assert extended_status(status) in by_status[status.value]
    assert by_status["archived"] == {extended_status(Status.ARCHIVED, archive_reason=r) for r in ArchiveReason}


def test_region_names_and_codes_resolve() -> None:
    from api.routes.open311 import region_choices

    choices, places = region_choices(), gazetteer()
    assert len(choices) == 38 + 514
    for value, code in [("62.71", "62.71"), ("62", "62"), ("62.71.01", "62.71.01"), ("Palangkaraya", "62.71"),
                        ("Kota Palangka Raya", "62.71"), ("palangka raya", "62.71"), ("Jaksel", "31.74"),
                        ("Kalimantan Tengah", "62"), ("Kab. Kapuas", "62.03"), ("KOTA SEMARANG", "33.74")]:
        assert resolve_region(value, choices, places) == code, value
    for value in ("Atlantis", "99.99", "62.99", "-", ""):
        assert resolve_region(value, choices, places) is None, value


# --- the client's flow -----------------------------------------------------------------------------


async def test_a_fixmystreet_client_through_the_whole_lifecycle(api: ApiHarness) -> None:
    key = await client_key(api)
    started = await api.now() - timedelta(minutes=1)

    # Service list and metadata, as PopulateServiceList.pm reads them.
    services = xml(await api.http.get(f"{BASE}/services.xml"), "services")
    assert {"jalan-jembatan", "lainnya"} <= {s["service_code"] for s in services}
    assert all(s["metadata"] == "true" for s in services)
    definition = xml(await api.http.get(f"{BASE}/services/jalan-jembatan.xml"), "service_definition")
    attributes = {a["code"]: a for a in definition["attributes"]}
    region = attributes["region"]
    assert region["datatype"] == "singlevaluelist" and region["variable"] == "true"
    assert {"key": "62.71", "name": "Kota Palangkaraya"} in region["values"]
    rules = attributes["ketentuan"]
    assert rules["variable"] == "false"
    for stated in ("20.000", "4.000", "media_url", "10 MB", "5 berkas", "JPEG", "email", "+62", "kendali", "megapiksel", "halaman"):
        assert stated in rules["description"], stated

    # A long report (over GeoReport's 4,000 characters) with three photos as links and two as files.
    detail = "Lubang makin lebar setiap hujan. " * 200
    description = f"Jalan berlubang besar di depan pasar\n\n{detail}\n\nhttps://fixmystreet.example.id/report/42\n"
    links = [f"https://fixmystreet.example.id/photo/42.{i}.full.jpeg" for i in range(3)]
    response = await api.http.post(
        f"{BASE}/requests.xml",
        data=report_form(key, description=description, media_url=links, **{"attribute[report_type]": "pengaduan"}),
        files=[("photo1", ("42.0.full.png", png(), "image/png")), ("photo2", ("42.1.full.jpeg", jpeg(), "image/jpeg"))],
    )
    assert response.status_code == 200, response.text
    [created] = xml(response, "service_requests")
    tracking_id, token = created["service_request_id"], created["token"]
    assert tracking_id.startswith("LAP-") and token
    assert "requests/" in created["service_notice"]

    # Right away: by id, in a list asked for by id, and from the token without an api_key.
    request = await one(api, tracking_id)
    assert request["status"] == "open" and request["external_status_code"] == "OPEN"
    assert request["extended_attributes"]["sp4n_status"] == "awaiting_verification"
    # Not verified yet: the public (and so the client) reads its title and status, no text, pin or photo.
    assert request["description"] == "Jalan berlubang besar di depan pasar", request["description"]
    assert request["media_url"] is None and request["lat"] is None
    listed = xml(await api.http.get(f"{BASE}/requests.xml", params={"service_request_id": tracking_id}),
                 "service_requests")
    assert [r["service_request_id"] for r in listed] == [tracking_id]
    found = xml(await api.http.get(f"{BASE}/tokens/{token}.xml"), "service_requests")
    assert found == [{"service_request_id": tracking_id, "token": token}]
    json_request = (await api.http.get(f"{BASE}/requests/{tracking_id}.json")).json()
    assert_valid("requests", json_request)

    # The case keeps everything: the whole text, the region named by name, the links, the files.
    case = await api.case(tracking_id)
    assert case["description"] == description.strip() and case["region_code"] == "62.71"
    assert links[0] not in case["description"]
    with api.sessions() as session:
        kept = session.scalars(select(Open311MediaLink.url).where(Open311MediaLink.tracking_id == tracking_id)
                               .order_by(Open311MediaLink.position)).all()
    assert kept == links
    files = (await api.http.get(f"/v1/complaints/{tracking_id}/attachments", headers=api.admin)).json()
    assert sorted(f["content_type"] for f in files) == ["image/jpeg", "image/png"]
    assert {f["purpose"] for f in files} == {"report"}

    # On hold; the citizen's comment completes it (a supplement), once however often it is sent.
    await api.act_ok(tracking_id, "verification", {"decision": "hold", "note": "Sebutkan patokan terdekat."}, api.admin)
    first = await comment(api, key, tracking_id, "fms-501", "Di depan toko emas, seberang masjid.")
    assert first.status_code == 200, first.text
    [posted] = xml(first, "service_request_updates")
    again = await comment(api, key, tracking_id, "fms-501", "Di depan toko emas, seberang masjid.")
    assert xml(again, "service_request_updates") == [posted]
    case = await api.case(tracking_id)
    assert case["status"] == "awaiting_verification"
    assert [e["action"] for e in case["timeline"]].count("supplement") == 1
    assert posted["update_id"] == f"{tracking_id}-{case['timeline'][-1]['seq']}"
    reused = await comment(api, key, tracking_id, "fms-501", "Teks lain.")
    assert reused.status_code == 422 and xml(reused, "errors")[0]["code"] == "422"

    # Forwarded, sent back by the agency ("not our authority"), forwarded again, answered.
    await api.accept(tracking_id)
    request = await one(api, tracking_id)  # public now: the text (cut at GeoReport's limit), the first photo
    assert request["media_url"] == links[0]
    assert len(request["description"]) == DESCRIPTION_SHOWN_MAX and request["description"].endswith("…")
    agency_admin = await api.headers("agency_admin", WIB_AGENCY)
    await api.act_ok(tracking_id, "reroute", {"reason": "Jalan provinsi, bukan kewenangan kota."}, agency_admin)
    assert (await one(api, tracking_id))["external_status_code"] == "INTERNAL_REFERRAL"
    await api.accept(tracking_id)
    assert (await one(api, tracking_id))["external_status_code"] == "IN_PROGRESS"
    await api.follow_up(tracking_id, message="Penambalan dijadwalkan Kamis.")
    request = await one(api, tracking_id)
    assert (request["status"], request["external_status_code"]) == ("open", "ACTION_SCHEDULED")

    # The citizen answers the follow-up from the client with the reporter's own e-mail (its case
    # does not matter): the reporter's reply, back to the agency.
    replied = await comment(api, key, tracking_id, "fms-502", "Kamis sudah lewat, lubang masih ada.",
                            first_name="Siti", last_name="Rahma", email="Siti@Example.ID")
    assert replied.status_code == 200, replied.text
    case = await api.case(tracking_id)
    assert case["status"] == "awaiting_agency" and case["timeline"][-1]["action"] == "reply"
    followed = await api.follow_up(tracking_id, message="Sudah ditambal 5 Desember.")

    # Silence: completed, read as FIXED.
    await api.sleep_until(instant(followed["deadlines"]["silence_ends"]) + timedelta(minutes=5))
    await api.settle()
    request = await one(api, tracking_id)
    assert (request["status"], request["external_status_code"]) == ("closed", "FIXED")

    # Polled as GetServiceRequestUpdates.pm does: every step once, in order, inside the window,
    # with the status FixMyStreet takes (map_state) and the update ids it skips once seen.
    end = await api.now() + timedelta(minutes=1)
    expected = ["INVESTIGATING", "OPEN", "IN_PROGRESS", "INTERNAL_REFERRAL", "IN_PROGRESS", "ACTION_SCHEDULED",
                "IN_PROGRESS", "ACTION_SCHEDULED", "FIXED"]
    polled = await api.eventually(lambda: updates(api, key, started, end, service_request_id=tracking_id),
                                  lambda got: len(got) >= len(expected))
    assert [u["status"] for u in polled] == expected
    assert all(u["external_status_code"] == u["status"] for u in polled)
    assert len({u["update_id"] for u in polled}) == len(polled)
    assert posted["update_id"] in {u["update_id"] for u in polled}  # its own comment: skipped by the client
    for update in polled:
        assert started <= datetime.fromisoformat(update["updated_datetime"]) <= end
    assert "Kamis sudah lewat" in polled[6]["description"]  # a reporter who is not anonymous


async def test_archives_read_as_duplicate_not_responsible_and_no_further_action(api: ApiHarness) -> None:
    key = await client_key(api)
    started = await api.now() - timedelta(minutes=1)
    ids = []
    for _ in range(4):
        response = await api.http.post(f"{BASE}/requests.xml", data=report_form(key))
        ids.append(xml(response, "service_requests")[0]["service_request_id"])
    original, duplicate, elsewhere, abusive = ids
    reject = {"decision": "reject"}
    await api.act_ok(duplicate, "verification", reject | {"reason": "duplicate", "duplicate_of": original}, api.admin)
    await api.act_ok(elsewhere, "verification", reject | {"reason": "out_of_scope"}, api.admin)
    await api.act_ok(abusive, "verification", reject | {"reason": "abusive"}, api.admin)

    expected = {original: ("open", "OPEN"), duplicate: ("closed", "DUPLICATE"),
                elsewhere: ("closed", "NOT_COUNCILS_RESPONSIBILITY"), abusive: ("closed", "NO_FURTHER_ACTION")}
    for tracking_id, (open_closed, code) in expected.items():
        request = await one(api, tracking_id)
        assert (request["status"], request["external_status_code"]) == (open_closed, code), tracking_id
    assert (await one(api, duplicate))["extended_attributes"]["duplicate_of"] == original

    end = await api.now() + timedelta(minutes=1)
    polled = await api.eventually(lambda: updates(api, key, started, end), lambda got: len(got) >= 3)
    assert {u["service_request_id"]: u["status"] for u in polled} == {
        tracking_id: code for tracking_id, (_, code) in expected.items() if tracking_id != original}
    listed = await api.eventually(
        lambda: api.http.get(f"{BASE}/requests.xml", params={"status": "closed"}),
        lambda r: len(xml(r, "service_requests")) == 3)
    assert {r["service_request_id"]: r["external_status_code"] for r in xml(listed, "service_requests")} == {
        tracking_id: code for tracking_id, (_, code) in expected.items() if tracking_id != original}

    # FixMyStreet's requests import (GetServiceRequests.pm) reads `status` through map_state, with
    # no extended statuses: `closed` is "fixed - council" there. Its body's jurisdiction names the
    # dialect that carries the extended status instead (docs/open311.md).
    assert fixmystreet_state((await one(api, duplicate))["status"]) == "fixed - council"  # the plain answer's
    imported = await api.eventually(
        lambda: api.http.get(f"{BASE}/requests.xml", params={"jurisdiction_id": "sp4n-fixmystreet"}),
        lambda r: len(xml(r, "service_requests")) == 4)
    assert {r["service_request_id"]: fixmystreet_state(r["status"]) for r in xml(imported, "service_requests")} == {
        original: "confirmed", duplicate: "duplicate", elsewhere: "not responsible", abusive: "unable to fix"}
    one_imported = await api.http.get(f"{BASE}/requests/{duplicate}.xml", params={"jurisdiction_id": "sp4n-fixmystreet"})
    assert fixmystreet_state(xml(one_imported, "service_requests")[0]["status"]) == "duplicate"


def fixmystreet_state(status: str) -> str:
    """What FixMyStreet's Open311.pm map_state makes of a `status` (read in mysociety/fixmystreet,
    perllib/Open311.pm; the requests import's object has no extended_statuses)."""
    incoming = status.lower().replace("_", " ")
    return {"fixed": "fixed - council", "not councils responsibility": "not responsible",
            "no further action": "unable to fix", "open": "confirmed", "closed": "fixed - council"}.get(incoming, incoming)


async def test_another_users_comment_stays_a_note_for_staff_and_does_not_move_the_case(api: ApiHarness) -> None:
    """The client forwards any of its users' comments: only the reporter's own contact answers for them."""
    key = await client_key(api)
    tracking_id = xml(await api.http.post(f"{BASE}/requests.xml", data=report_form(key, phone="0812-3456-7890")),
                      "service_requests")[0]["service_request_id"]
    await api.accept(tracking_id)
    await api.follow_up(tracking_id, message="Mohon foto terbaru.")
    strangers = [{"first_name": "Budi", "email": "budi@example.id"}, {"first_name": "Budi", "phone": "081299998888"},
                 {"first_name": "Siti", "last_name": "Rahma"}]  # the reporter's name alone proves nothing
    for n, stranger in enumerate(strangers):
        response = await comment(api, key, tracking_id, f"fms-x{n}", "Sudah diperbaiki kok, tutup saja.", **stranger)
        assert response.status_code == 200, response.text
    case = await api.case(tracking_id)
    assert case["status"] == "awaiting_reporter" and case["timeline"][-1]["action"] == "follow_up"
    with api.sessions() as session:
        rows = session.scalars(select(Open311ClientUpdate).where(Open311ClientUpdate.tracking_id == tracking_id)).all()
    assert [(r.recorded_as, r.note) for r in rows] == [("note", "Sudah diperbaiki kok, tutup saja.")] * 3
    text = (await api.http.get(f"{BASE}/servicerequestupdates.xml", params={"service_request_id": tracking_id})).text
    assert "tutup saja" not in text  # never published as the reporter's words
    # The reporter's own phone, written another way, is theirs: the reply.
    response = await comment(api, key, tracking_id, "fms-x9", "Fotonya sudah saya kirim.", phone="+62 812 3456 7890")
    assert response.status_code == 200, response.text
    case = await api.case(tracking_id)
    assert case["status"] == "awaiting_agency" and case["timeline"][-1]["action"] == "reply"


async def test_comments_when_the_case_waits_for_nobody_are_notes_for_staff(api: ApiHarness) -> None:
    key, other = await client_key(api), await client_key(api, "Aplikasi lain")
    tracking_id = xml(await api.http.post(f"{BASE}/requests.xml", data=report_form(key)),
                      "service_requests")[0]["service_request_id"]
    await api.accept(tracking_id)
    response = await comment(api, key, tracking_id, "fms-9", "Tolong dipercepat.")
    [answer] = xml(response, "service_request_updates")
    with api.sessions() as session:
        row = session.scalar(select(Open311ClientUpdate))
        assert (row.recorded_as, row.note, row.update_id) == ("note", "Tolong dipercepat.", answer["update_id"])
    case = await api.case(tracking_id)
    assert case["status"] == "awaiting_agency" and "reply" not in [e["action"] for e in case["timeline"]]
    extras = (await api.http.get(f"/v1/complaints/{tracking_id}/open311",
                                 headers=await api.headers("officer", WIB_AGENCY))).json()
    assert [(n["update_id"], n["text"]) for n in extras["client_notes"]] == [(answer["update_id"], "Tolong dipercepat.")]
    # Not public: the updates feed has no such step.
    text = (await api.http.get(f"{BASE}/servicerequestupdates.xml", params={"service_request_id": tracking_id})).text
    assert "dipercepat" not in text

    for data, status in [
        ({"api_key": other, "update_id": "x1"}, 404),  # another client's request
        ({"api_key": "salah", "update_id": "x2"}, 403),
        ({"update_id": ""}, 400),
        ({"update_id": "x3", "description": " "}, 400),
        ({"update_id": "x4", "service_request_id": "LAP-0000000000"}, 404),
    ]:
        form = {"api_key": key, "service_request_id": tracking_id, "description": "Komentar."} | data
        for fmt in ("xml", "json"):
            response = await api.http.post(f"{BASE}/servicerequestupdates.{fmt}", data=form)
            assert response.status_code == status, (data, response.text)
            errors = xml(response, "errors") if fmt == "xml" else response.json()
            assert str(errors[0]["code"]) == str(status)


async def test_anonymous_reports_keep_address_ids_and_links_from_the_public(api: ApiHarness) -> None:
    key = await client_key(api)
    response = await api.http.post(f"{BASE}/requests.xml", data=report_form(
        key, lat="", long="", address_id="UPRN-7788", media_url="https://foto.example.id/rumah-siti.jpg",
        **{"attribute[anonymous]": "true"}))
    tracking_id = xml(response, "service_requests")[0]["service_request_id"]
    await api.wait_listed({tracking_id})
    for path in (f"requests/{tracking_id}.xml", "requests.xml", f"requests/{tracking_id}.json", "requests.json"):
        text = (await api.http.get(f"{BASE}/{path}")).text
        assert tracking_id in text
        for private in ("UPRN-7788", "rumah-siti", "Rahma", "siti@example.id"):
            assert private not in text, (path, private)
    case = await api.case(tracking_id)  # the administrator sees where it is
    assert "UPRN-7788" in case["location"]["address"] and "UPRN" not in case["description"]
    # The staff who handle it see the link; the public never does.
    await api.accept(tracking_id)
    extras = await api.http.get(f"/v1/complaints/{tracking_id}/open311",
                                headers=await api.headers("officer", WIB_AGENCY))
    assert extras.status_code == 200, extras.text
    assert extras.json()["media_links"] == ["https://foto.example.id/rumah-siti.jpg"]
    assert extras.json()["client"] == "FixMyStreet Indonesia"
    assert (await api.http.get(f"/v1/complaints/{tracking_id}/open311")).status_code == 401


# --- every answer parses, every error is GeoReport's ------------------------------------------------


async def test_stored_control_characters_never_break_the_xml(api: ApiHarness) -> None:
    key = await client_key(api)
    tracking_id = xml(await api.http.post(f"{BASE}/requests.xml", data=report_form(key)),
                      "service_requests")[0]["service_request_id"]
    await api.accept(tracking_id)
    await api.wait_listed({tracking_id}, status="awaiting_agency")
    dirty = "Baris\x0bbaru \x1b[31mmerah\x07\x08\x0c akhir \ufffe"  # NUL: no PostgreSQL text holds it
    with api.sessions() as session:  # whatever reached the store, by any door or none
        session.execute(update(Complaint).where(Complaint.tracking_id == tracking_id).values(description=dirty))
        session.execute(update(TimelineEventRow).where(TimelineEventRow.tracking_id == tracking_id)
                        .values(note=dirty))
        session.commit()
    start = (await api.now() - timedelta(days=1)).isoformat()
    for path, root in [("requests.xml", "service_requests"),
                       (f"requests.xml?service_request_id={tracking_id}", "service_requests"),
                       (f"servicerequestupdates.xml?start_date={start}", "service_request_updates")]:
        response = await api.http.get(f"{BASE}/{path}")
        assert response.status_code == 200, response.text
        body = response.text
        assert "Baris\nbaru" in body and "[31mmerah" in body, path
        xml(response, root)
        json_response = await api.http.get(f"{BASE}/{path.replace('.xml', '.json')}")
        assert json_response.status_code == 200 and json_response.json()


@pytest.mark.api_settings(max_upload_body_bytes=300_000, submission_rate_limit_per_minute=3)
async def test_every_error_is_georeport_in_the_format_of_the_extension(api: ApiHarness, monkeypatch) -> None:
    key = await client_key(api)  # 3 requests a minute each (the rate limit's key is the api_key)

    async def check(response: httpx.Response, fmt: str, status: int) -> str:
        assert response.status_code == status, (fmt, response.status_code, response.text)
        if fmt == "xml":
            [error] = xml(response, "errors")
        else:
            assert response.headers["content-type"].startswith("application/json")
            [error] = response.json()
        assert str(error["code"]) == str(status) and error["description"]
        return error["description"]

    for fmt in ("xml", "json"):
        await check(await api.http.get(f"{BASE}/tidak-ada.{fmt}"), fmt, 404)
        await check(await api.http.get(f"{BASE}/requests/LAP-0000000000.{fmt}"), fmt, 404)
        await check(await api.http.delete(f"{BASE}/requests.{fmt}"), fmt, 405)
        await check(await api.http.put(f"{BASE}/servicerequestupdates.{fmt}"), fmt, 405)
        big = await api.http.post(f"{BASE}/requests.{fmt}", data=report_form(key),
                                  files=[("photo1", ("besar.png", b"\x89PNG\r\n\x1a\n" + b"0" * 400_000, "image/png"))])
        await check(big, fmt, 413)
        fake = await api.http.post(f"{BASE}/requests.{fmt}", data=report_form(await client_key(api)),
                                   files=[("photo1", ("foto.jpg", b"bukan foto", "image/jpeg"))])
        await check(fake, fmt, 415)
    await check(await api.http.get(f"{BASE}/requests/LAP-0000000000"), "xml", 404)  # no extension: XML

    # 422: an Idempotency-Key reused for another report.
    headers = {"Idempotency-Key": "fms-1"}
    assert (await api.http.post(f"{BASE}/requests.xml", data=report_form(key), headers=headers)).status_code == 200
    await check(await api.http.post(f"{BASE}/requests.json", data=report_form(key, description="Lain."),
                                    headers=headers), "json", 422)
    # 429 with Retry-After (3 a minute here; the first went above).
    assert (await api.http.post(f"{BASE}/requests.xml", data=report_form(key))).status_code == 200
    limited = await api.http.post(f"{BASE}/requests.xml", data=report_form(key))
    await check(limited, "xml", 429)
    assert limited.headers["retry-after"]

    # 500: a fault of ours still answers in GeoReport's form, without its details.
    import api.routes.open311.reading as routes

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(routes, "_public_views", broken)
    unsafe = httpx.AsyncClient(transport=httpx.ASGITransport(app=api.app, raise_app_exceptions=False),
                               base_url="http://test")
    async with unsafe:
        for fmt in ("xml", "json"):
            description = await check(await unsafe.get(f"{BASE}/requests.{fmt}"), fmt, 500)
            assert "secret" not in description


async def test_a_duplicate_of_a_confidential_case_never_shows_its_tracking_id(api: ApiHarness) -> None:
    key = await client_key(api)
    started = await api.now() - timedelta(minutes=1)
    original = (await api.submit(region_code="62.71", confidential=True))["tracking_id"]
    duplicate = xml(await api.http.post(f"{BASE}/requests.xml", data=report_form(key)),
                    "service_requests")[0]["service_request_id"]
    await api.act_ok(duplicate, "verification",
                     {"decision": "reject", "reason": "duplicate", "duplicate_of": original}, api.admin)
    await api.wait_listed({original, duplicate})

    request = await api.http.get(f"{BASE}/requests/{duplicate}.xml")
    assert request.status_code == 200 and "DUPLICATE" in request.text and original not in request.text
    listed = await api.eventually(lambda: api.http.get(f"{BASE}/requests.json", params={"status": "closed"}),
                                  lambda r: len(r.json()) == 1)
    assert original not in listed.text
    end = await api.now() + timedelta(minutes=1)
    polled = await api.eventually(lambda: updates(api, key, started, end, service_request_id=duplicate),
                                  lambda got: any(u["status"] == "DUPLICATE" for u in got))
    assert original not in repr(polled)
    public = await api.http.get(f"/v1/complaints/{duplicate}")
    assert public.status_code == 200 and original not in public.text and "duplicate_of" not in public.json()
    assert original not in (await api.http.get("/v1/complaints", params={"status": "archived"})).text
    # Who may see the original still sees the link.
    assert (await api.http.get(f"/v1/complaints/{duplicate}", headers=api.admin)).json()["duplicate_of"] == original
