"""Issue 13: a hostile citizen at every door (v1 API, portal, Open311, SMS), over HTTP on the
real app, worker and read model (SQLite here, PostgreSQL in CI's second pass).

Text: NUL and the other control characters are refused with the field named, never acknowledged
and then lost (PostgreSQL refuses NUL: a 201 used to be followed by a case retried for ever);
line breaks however written are stored as line feeds, and the Open311 XML of a list holding such
a case still parses. Identity: e-mail addresses and phone numbers are checked and normalised
(E.164) at every door, only Indonesian numbers unless PHONE_COUNTRY_CODES allows others.
"""

from __future__ import annotations

import io
import json
import tempfile

import pytest
from defusedxml import ElementTree
from PIL import Image

from tests.api.conftest import WIB_AGENCY, ApiHarness, assert_problem, bearer
from tests.api.test_portal import REPORT, browser, csrf_of

GATEWAY = "gateway-secret-for-hostile-tests"
pytestmark = pytest.mark.api_settings(sms_gateway_inbound_token=GATEWAY,
                                      attachment_dir=tempfile.mkdtemp(prefix="sp4n-hostile-"))

CONTROLS = ["\x00", "\x01", "\x08", "\x1b", "\x7f", "\x9b", "\ud800", "\uffff"]


def named(problem: dict, *loc: str) -> bool:
    return any(list(error["loc"]) == ["body", *loc] for error in problem.get("errors", []))


async def client_key(api: ApiHarness) -> str:
    return (await api.issue("client", name="Aplikasi Lapor Warga"))["token"]


def open311_form(api_key: str, **fields: str) -> dict[str, str]:
    return {"api_key": api_key, "service_code": "jalan-jembatan", "attribute[region]": "62.71",
            "description": "Jalan berlubang besar di depan pasar, sudah dua motor jatuh."} | fields


async def sms(api: ApiHarness, text: str, sender: str = "+6281234567890"):
    return await api.http.post("/v1/channels/sms", json={"from": sender, "text": text}, headers=bearer(GATEWAY))


# --- control characters ---------------------------------------------------------------------------


@pytest.mark.parametrize("character", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
async def test_a_control_character_in_any_field_of_a_submission_is_refused_naming_the_field(
    api: ApiHarness, character: str,
) -> None:
    base = {"title": "Jalan berlubang", "description": "Jalan di depan pasar berlubang besar."}
    cases = {
        ("title",): base | {"title": f"Jalan{character}berlubang"},
        ("description",): base | {"description": f"Lubang{character}besar"},
        ("reporter", "name"): base | {"reporter": {"name": f"Siti{character}"}},
        ("location", "address"): base | {"location": {"address": f"Jl. Pasar{character}"}},
        ("category",): base | {"category": f"jalan{character}"},
    }
    for loc, body in cases.items():
        # Sent as JSON escapes (\u0000, \ud800): a lone surrogate cannot be sent as UTF-8 at all.
        response = await api.http.post("/v1/complaints", content=json.dumps(body),
                                       headers={"Content-Type": "application/json"})
        problem = assert_problem(response, 422)
        assert named(problem, *loc), (loc, problem)
    assert await api.listed_ids() == []  # nothing was opened


async def test_line_breaks_however_written_are_stored_as_line_feeds_and_the_case_is_recorded(
    api: ApiHarness,
) -> None:
    # Word's line break (vertical tab), CR LF, CR, form feed, NEL, LINE/PARAGRAPH SEPARATOR, tab.
    description = "Baris satu\x0bbaris dua\r\nbaris tiga\rbaris empat\x0cbaris lima\x85enam\u2028tujuh\u2029delapan\tsembilan"
    receipt = await api.submit(title="Lampu\r\njalan padam", description=description)
    await api.wait_listed({receipt["tracking_id"]})  # recorded in the read model, not retried for ever
    case = await api.case(receipt["tracking_id"])
    assert case["title"] == "Lampu\njalan padam"
    assert case["description"] == ("Baris satu\nbaris dua\nbaris tiga\nbaris empat\nbaris lima\nenam\ntujuh"
                                   "\ndelapan\tsembilan")
    # The public Open311 list holding it parses as XML (nothing XML 1.0 forbids was stored).
    xml = await api.http.get("/open311/v2/requests.xml")
    assert xml.status_code == 200
    ids = [element.text for element in ElementTree.fromstring(xml.content).iter("service_request_id")]
    assert receipt["tracking_id"] in ids


async def test_actions_refuse_control_characters_in_their_text(api: ApiHarness) -> None:
    receipt = await api.submit()
    tracking_id, reporter = receipt["tracking_id"], bearer(receipt["reporter_token"])
    held = await api.act(tracking_id, "verification", {"decision": "hold", "note": "Mohon\x00lengkapi"}, api.admin)
    assert named(assert_problem(held, 422), "note")
    await api.act_ok(tracking_id, "verification", {"decision": "hold", "note": "Mohon lengkapi"}, api.admin)
    supplement = await api.act(tracking_id, "supplements", {"text": "Alamat\x1b[31m lengkap"}, reporter)
    assert named(assert_problem(supplement, 422), "text")
    await api.act_ok(tracking_id, "supplements", {"text": "Alamat lengkap: Jl. Pasar 1"}, reporter)
    await api.accept(tracking_id)
    officer = await api.headers("officer", WIB_AGENCY)
    follow_up = await api.act(tracking_id, "follow-ups", {"message": "Sudah\x00"}, officer)
    assert named(assert_problem(follow_up, 422), "message")
    reroute = await api.act(tracking_id, "reroute", {"reason": "Bukan\x07kami"}, await api.headers("agency_admin", WIB_AGENCY))
    assert named(assert_problem(reroute, 422), "reason")
    await api.follow_up(tracking_id)
    reply = await api.act(tracking_id, "replies", {"message": "Belum\x00"}, reporter)
    assert named(assert_problem(reply, 422), "message")
    token = await api.http.post("/v1/tokens", json={"role": "observer", "name": "Ombudsman\x00"}, headers=api.admin)
    assert named(assert_problem(token, 422), "name")


async def test_a_control_character_in_an_address_or_header_is_refused(api: ApiHarness) -> None:
    assert_problem(await api.http.get("/v1/complaints", params={"q": "jalan\x00"}, headers=api.admin), 422)
    assert_problem(await api.http.get("/v1/complaints/LAP-%00"), 422)
    assert_problem(await api.http.post("/v1/complaints", json={"title": "Jalan", "description": "Lubang besar"},
                                       headers={"Idempotency-Key": "kunci\x1b"}), 422)


async def test_the_portal_form_refuses_control_characters_and_keeps_the_typed_text(api: ApiHarness) -> None:
    async with browser(api) as citizen:
        form = await citizen.get("/lapor")
        sent = await citizen.post("/lapor", data=REPORT | {"title": "Jalan\x00rusak", "csrf_token": csrf_of(form.text)},
                                  follow_redirects=False)
        assert sent.status_code == 422
        assert "title" in sent.text and REPORT["description"] in sent.text
    assert await api.listed_ids() == []


async def test_machine_doors_repair_mojibake_and_control_characters_and_say_so(api: ApiHarness) -> None:
    """Open311 and SMS clients resend the same bytes forever (FixMyStreet's apostrophe arrives as
    U+0092, a Windows-1252 byte read as Latin-1): the text is repaired, never refused, and the
    case's submission says so. The human doors above keep their 422 (issue 24)."""
    key = await client_key(api)
    sent = await api.http.post("/open311/v2/requests.json", data=open311_form(
        key, description="Jalan di depan rumah Pak Budi\x92s berlubang\x1b[31m besar\x85 sekali",
        first_name="Sit\x00i", address_string="Jl. Yos Sudarso\x07 No. 3"))
    assert sent.status_code == 200, sent.text
    tracking_id = sent.json()[0]["service_request_id"]
    case = await api.case(tracking_id)
    assert case["description"] == "Jalan di depan rumah Pak Budi’s berlubang[31m besar… sekali"
    note = case["timeline"][0]["note"]
    assert "U+0092 → ’" in note and "U+0085 → …" in note and "U+001B" in note and "U+0000" in note
    assert "Open311" in note and "text repaired" in note

    replied = await sms(api, "Lampu jalan padam\x00 sejak seminggu di depan SDN 3, kata Pak RT\x92")
    assert replied.status_code == 200, replied.text
    sms_case = await api.case(replied.json()["tracking_id"])
    assert sms_case["description"] == "Lampu jalan padam sejak seminggu di depan SDN 3, kata Pak RT’"
    assert "SMS" in sms_case["timeline"][0]["note"] and "U+0000" in sms_case["timeline"][0]["note"]

    clean = await sms(api, "Sampah menumpuk di pasar sejak seminggu", sender="+6281234567891")
    assert (await api.case(clean.json()["tracking_id"]))["timeline"][0].get("note") is None
    # A media link is a link: never altered, still refused with the field named.
    refused = await api.http.post("/open311/v2/requests.xml", data=open311_form(
        key, description="Jalan berlubang besar sekali", media_url="https://foto.example/a\x1b.jpg"))
    assert refused.status_code == 400 and "media_url" in refused.text


# --- identity fields ------------------------------------------------------------------------------

BAD_EMAILS = ["siti", "siti@", "@example.id", "siti@localhost", "siti@example", "a@b@example.id",
              "siti@exa mple.id", "siti@example.id\nBcc: korban@example.id"]
BAD_PHONES = ["+1 900 555 0100",  # premium rate abroad: the toll fraud of the review
              "+44 909 879 0000", "0809 1234 567",  # a premium-rate line at home
              "12", "abc", "+62 812"]


async def test_the_v1_api_checks_and_normalises_the_reporters_contact(api: ApiHarness) -> None:
    for email in BAD_EMAILS:
        response = await api.http.post("/v1/complaints", json={
            "title": "Jalan", "description": "Lubang besar", "reporter": {"email": email}})
        assert named(assert_problem(response, 422), "reporter", "email"), email
    for phone in BAD_PHONES:
        response = await api.http.post("/v1/complaints", json={
            "title": "Jalan", "description": "Lubang besar", "reporter": {"phone": phone}})
        assert named(assert_problem(response, 422), "reporter", "phone"), phone
    receipt = await api.submit(reporter={"name": "Siti", "email": "Siti@EXAMPLE.id", "phone": "0812-3456-7890"})
    assert (await api.case(receipt["tracking_id"]))["reporter"] == {
        "name": "Siti", "email": "Siti@example.id", "phone": "+6281234567890"}
    # Preferences: the same check for a reporter's SMS number.
    refused = await api.http.put(f"/v1/complaints/{receipt['tracking_id']}/notification-preferences",
                                 json={"channels": ["sms"], "phone": "+1 900 555 0100"},
                                 headers=bearer(receipt["reporter_token"]))
    assert named(assert_problem(refused, 422), "phone")
    token = await api.http.post("/v1/tokens", json={"role": "observer", "name": "Ombudsman", "email": "ombudsman"},
                                headers=api.admin)
    assert named(assert_problem(token, 422), "email")


@pytest.mark.api_settings(sms_gateway_inbound_token=GATEWAY, phone_country_codes=[62, 65],
                          attachment_dir=tempfile.mkdtemp(prefix="sp4n-hostile-"))
async def test_an_administrator_may_allow_other_countries(api: ApiHarness) -> None:
    receipt = await api.submit(reporter={"phone": "+65 8123 4567"})
    assert (await api.case(receipt["tracking_id"]))["reporter"]["phone"] == "+6581234567"
    response = await api.http.post("/v1/complaints", json={
        "title": "Jalan", "description": "Lubang besar", "reporter": {"phone": "+1 900 555 0100"}})
    assert_problem(response, 422)


async def test_open311_sms_and_the_portal_check_the_contact_too(api: ApiHarness) -> None:
    key = await client_key(api)
    for field, value in (("email", "siti@localhost"), ("phone", "+1 900 555 0100")):
        response = await api.http.post("/open311/v2/requests.json", data=open311_form(key, **{field: value}))
        assert response.status_code == 400, response.text
        assert response.json()[0]["description"].startswith(f"{field}:")
    refused = await sms(api, "Lampu jalan padam sejak seminggu di depan SDN 3", sender="+1 900 555 0100")
    assert named(assert_problem(refused, 422), "from")
    async with browser(api) as citizen:
        form = await citizen.get("/lapor")
        sent = await citizen.post("/lapor", data=REPORT | {"email": "siti@", "csrf_token": csrf_of(form.text)},
                                  follow_redirects=False)
        assert sent.status_code == 422 and "reporter.email" in sent.text
    assert await api.listed_ids() == []


# --- anonymity extends to what the reporter adds ------------------------------------------------------


def small_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 12), "red").save(out, "PNG")
    return out.getvalue()


async def test_an_anonymous_reporters_supplements_replies_and_their_files_are_for_the_staff_only(
    api: ApiHarness,
) -> None:
    receipt = await api.submit(anonymous=True, reporter={"name": "Siti Rahma", "email": "siti@example.id"})
    tracking_id, reporter = receipt["tracking_id"], bearer(receipt["reporter_token"])
    await api.act_ok(tracking_id, "verification", {"decision": "hold", "note": "Alamat?"}, api.admin)
    identifying = "Rumah saya, Siti, di Jl. Mawar 5, persis di depan lubang itu"
    await api.act_ok(tracking_id, "supplements", {"text": identifying}, reporter)
    upload = await api.http.post(f"/v1/complaints/{tracking_id}/attachments", headers=reporter,
                                 files={"file": ("rumah.png", small_png(), "image/png")}, data={"purpose": "supplement"})
    assert upload.status_code == 201, upload.text
    file_id = upload.json()["id"]
    await api.accept(tracking_id)
    await api.follow_up(tracking_id)
    await api.act_ok(tracking_id, "replies", {"message": "Saya Siti, belum ditambal"}, reporter)

    def notes(case: dict) -> str:
        return " ".join(entry.get("note") or "" for entry in case["timeline"])

    public = (await api.get(tracking_id)).json()
    assert "Mawar" not in notes(public) and "Siti" not in notes(public)
    assert {"supplement", "reply"} <= {entry["action"] for entry in public["timeline"]}  # that it happened
    assert file_id not in (await api.http.get(f"/v1/complaints/{tracking_id}/attachments")).text
    assert_problem(await api.http.get(f"/v1/complaints/{tracking_id}/attachments/{file_id}"), 404)
    page = await api.http.get(f"/kasus/{tracking_id}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "Mawar" not in page.text and file_id not in page.text
    open311 = await api.http.get("/open311/v2/servicerequestupdates.json", params={"service_request_id": tracking_id})
    assert "Mawar" not in open311.text and "Siti" not in open311.text

    for staff in (api.admin, await api.headers("officer", WIB_AGENCY)):  # those who handle the case
        case = (await api.get(tracking_id, staff)).json()
        assert identifying in notes(case) and "Saya Siti" in notes(case)
        assert file_id in (await api.http.get(f"/v1/complaints/{tracking_id}/attachments", headers=staff)).text
        assert (await api.http.get(f"/v1/complaints/{tracking_id}/attachments/{file_id}", headers=staff)).status_code == 200
    assert identifying in notes((await api.get(tracking_id, reporter)).json())

    # A reporter who is not anonymous talks in public, as before.
    named_case = await api.submit()
    await api.act_ok(named_case["tracking_id"], "verification", {"decision": "hold"}, api.admin)
    await api.act_ok(named_case["tracking_id"], "supplements", {"text": "Di Jl. Melati 7"},
                     bearer(named_case["reporter_token"]))
    await api.accept(named_case["tracking_id"])  # public once verified and forwarded
    assert "Melati" in notes((await api.get(named_case["tracking_id"])).json())
