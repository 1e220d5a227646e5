"""Issue 23 over HTTP: after every action the person lands on a page that exists and says what
happened; the queue card and the inbox carry the facts a verifier and an agency need."""

from __future__ import annotations

import re
import tempfile
import uuid
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import WIB_AGENCY, ApiHarness
from tests.api.test_portal import ADMIN_EMAIL, ADMIN_PASSWORD, PORTAL, browser, post_form, report, sign_in

pytestmark = PORTAL

AGENCY_ADMIN_EMAIL, AGENCY_ADMIN_PASSWORD = "kepala@palangkaraya.go.id", "agency-password-1"


async def signed_in_admin(admin: httpx.AsyncClient) -> None:
    assert (await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 303


async def agency_admin_of(admin: httpx.AsyncClient, client: httpx.AsyncClient, agency_id: str = WIB_AGENCY) -> None:
    created = await post_form(admin, "/admin/staf", "/admin/staf", {
        "name": "Kepala Bagian Pengaduan", "email": AGENCY_ADMIN_EMAIL, "role": "agency_admin",
        "agency_id": agency_id, "password": AGENCY_ADMIN_PASSWORD})
    assert created.status_code == 303, created.text
    assert (await sign_in(client, AGENCY_ADMIN_EMAIL, AGENCY_ADMIN_PASSWORD)).status_code == 303


async def follow(client: httpx.AsyncClient, response: httpx.Response) -> httpx.Response:
    assert response.status_code == 303, response.text
    landing = await client.get(response.headers["location"])
    assert landing.status_code == 200, (response.headers["location"], landing.text)
    return landing


async def test_not_our_authority_lands_on_the_inbox_saying_the_case_went_back(api: ApiHarness) -> None:
    async with browser(api) as citizen, browser(api) as admin, browser(api) as agency:
        tracking_id, _ = await report(api, citizen)
        await signed_in_admin(admin)
        forwarded = await post_form(admin, "/admin/verifikasi", f"/kasus/{tracking_id}/verifikasi?next=/admin/verifikasi",
                                    {"decision": "accept", "agency_other": WIB_AGENCY})
        queue = await follow(admin, forwarded)
        assert 'data-outcome="forwarded"' in queue.text
        assert f"Laporan {tracking_id} diteruskan ke Pemerintah Kota Palangkaraya" in queue.text  # the body's name
        await api.settle()

        await agency_admin_of(admin, agency)
        returned = await post_form(agency, f"/kasus/{tracking_id}", f"/kasus/{tracking_id}/bukan-wewenang",
                                   {"reason": "Jalan provinsi, bukan jalan kota.", "suggested_agency_id": "pemprov-62"})
        assert returned.headers["location"].startswith("/staf?")
        inbox = await follow(agency, returned)
        assert "Dikembalikan ke verifikator" in inbox.text and tracking_id in inbox.text
        assert "Provinsi Kalimantan Tengah" in inbox.text  # the suggested body by name
        english = await agency.get(returned.headers["location"] + "&lang=en")
        assert "Returned to the verifier" in english.text
        # The back button (or an old link) to the case: what became of it, not "not found".
        back = await agency.get(f"/kasus/{tracking_id}", params={"lang": "id"})
        assert back.status_code == 410 and "Laporan tidak ditemukan" not in back.text
        assert f"Laporan {tracking_id} sudah dikembalikan instansi Anda ke verifikator" in back.text
        assert "Lampu jalan padam" not in back.text  # nothing of the case it no longer sees
        await api.settle()
        assert (await api.case(tracking_id))["status"] == "awaiting_verification"


async def test_a_merge_names_the_original_and_a_rejection_its_reason(api: ApiHarness) -> None:
    async with browser(api) as citizen, browser(api) as admin:
        original, _ = await report(api, citizen)
        duplicate, _ = await report(api, citizen)
        other, _ = await report(api, citizen, title="Sampah menumpuk di pasar")
        await signed_in_admin(admin)
        merged = await post_form(admin, "/admin/verifikasi", f"/kasus/{duplicate}/verifikasi?next=/admin/verifikasi",
                                 {"decision": "reject", "reason": "duplicate", "duplicate_other": original,
                                  "confirmed": "1"})
        queue = await follow(admin, merged)
        assert 'data-outcome="merged"' in queue.text and f'href="/kasus/{original}" data-testid="done-link"' in queue.text
        assert f"ke laporan asli {original}" in queue.text
        # Without JavaScript a rejection asks first, on a page of its own; nothing happens until yes.
        asked = await post_form(admin, f"/kasus/{other}", f"/kasus/{other}/verifikasi",
                                {"decision": "reject", "reason": "not_a_complaint"})
        assert asked.status_code == 200 and f"Tolak laporan {other} (bukan pengaduan)?" in asked.text
        await api.settle()
        assert (await api.case(other))["status"] == "awaiting_verification"
        form = asked.text.split('data-testid="confirm-form"', 1)[1].split("</form>", 1)[0]
        fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form))
        assert fields["confirmed"] == "1" and fields["reason"] == "not_a_complaint"
        rejected = await admin.post(f"/kasus/{other}/verifikasi", data=fields, follow_redirects=False)
        case_page = await follow(admin, rejected)
        assert "ditolak (bukan pengaduan)" in case_page.text


async def test_a_crafted_landing_address_names_nothing_it_was_not_given(api: ApiHarness) -> None:
    async with browser(api) as person:
        page = await person.get("/publik", params={"done": "forwarded", "case": "<b>x</b>", "to": "tidak-ada"})
        assert page.status_code == 200 and "<b>x</b>" not in page.text
        plain = await person.get("/publik", params={"done": "something-else"})
        assert 'data-testid="done"' not in plain.text


async def test_the_queue_card_says_who_returned_the_case_why_and_what_else_a_verifier_must_know(api: ApiHarness) -> None:
    async with browser(api) as citizen, browser(api) as admin, browser(api) as agency:
        tracking_id, _ = await report(api, citizen, anonymous="on", confidential="on", district="62.71.01")
        await signed_in_admin(admin)
        card = (await admin.get("/admin/verifikasi")).text
        assert 'data-testid="flag-anonymous"' in card and 'data-testid="flag-confidential"' in card
        assert "Pahandut, Kota Palangkaraya, Kalimantan Tengah" in card  # the region in full
        assert "1 dari pelapor, 0 dari petugas" in card  # the photo of the report
        assert "1 pelapor · 0 dukungan · 0 pengikut" in card
        assert "0 hari" in card
        # Light: the directory is looked up as one types, never inlined into the page.
        assert len(card.encode()) < 30_000 and "<option value=\"pemkot-63.71\"" not in card

        # By name, without JavaScript: the one body that name fits.
        forwarded = await post_form(admin, "/admin/verifikasi", f"/kasus/{tracking_id}/verifikasi?next=/admin/verifikasi",
                                    {"decision": "accept", "agency_other": "Pemerintah Kota Palangkaraya"})
        assert "diteruskan ke Pemerintah Kota Palangkaraya" in (await follow(admin, forwarded)).text
        await api.settle()
        await agency_admin_of(admin, agency)
        inbox = (await agency.get("/staf")).text
        assert tracking_id in inbox and "Kota Palangkaraya, Kalimantan Tengah" in inbox and "Infrastruktur" in inbox
        assert 'data-testid="flag-confidential"' in inbox and "(belum didisposisikan)" in inbox
        assert tracking_id in (await agency.get("/staf", params={"q": "lampu padam"})).text
        missing = (await agency.get("/staf", params={"q": "banjir bandang"})).text
        assert tracking_id not in missing and 'data-testid="inbox-empty"' in missing

        await post_form(agency, f"/kasus/{tracking_id}", f"/kasus/{tracking_id}/bukan-wewenang",
                        {"reason": "Lampu jalan provinsi.", "suggested_agency_id": "Provinsi Kalimantan Tengah"})
        await api.settle()
        card = (await admin.get("/admin/verifikasi")).text
        assert 'data-testid="returned"' in card and "Dikembalikan 1×" in card
        assert "Dikembalikan oleh Pemerintah Kota Palangkaraya" in card and "Kepala Bagian Pengaduan" in card
        assert "<q>Lampu jalan provinsi.</q>" in card
        assert 'data-testid="returned-suggested">Pemerintah Provinsi Kalimantan Tengah<' in card
        assert "sejak dikembalikan" in card


async def test_the_reporter_reads_the_answer_first_and_saying_saya_puas_opens_the_rating(api: ApiHarness) -> None:
    async with browser(api) as citizen:
        tracking_id, private = await report(api, citizen)
    await api.act(tracking_id, "verification", {"decision": "accept", "agency_id": WIB_AGENCY}, api.admin)
    await api.settle()
    officer = await api.headers("officer", WIB_AGENCY)
    answered = await api.act(tracking_id, "follow-ups", {"message": "Lampu sudah diganti tadi pagi."}, officer)
    assert answered.status_code == 200, answered.text
    await api.settle()
    async with browser(api) as citizen:
        page = (await citizen.get(private)).text
        answer, form = page.index('data-testid="latest-answer"'), page.index('data-testid="reply-form"')
        assert answer < form and page.index("Lampu sudah diganti tadi pagi.") < form  # the answer, then the form
        assert "Jawaban terbaru dari Pemerintah Kota Palangkaraya" in page
        rule = page[page.index('data-testid="silence-rule"'):][:300]
        assert "Bila Anda tidak menanggapi sampai" in rule and "WIB" in rule  # one sentence, with the date

        token = private.split("token=")[1]
        done = await post_form(citizen, private, f"/kasus/{tracking_id}/puas", {"token": token})
        landing = await follow(citizen, done)
        assert "Laporan selesai" in landing.text and 'href="#rate"' in landing.text
        assert 'id="rate"' in landing.text and 'data-testid="reply-form"' not in landing.text
    await api.settle()
    case = await api.case(tracking_id)
    assert case["status"] == "completed" and case["timeline"][-1]["action"] == "satisfied"
    async with browser(api) as citizen:
        rated = await post_form(citizen, private, f"/kasus/{tracking_id}/nilai", {"token": token, "score": "5"})
        assert "penilaian Anda tersimpan" in (await follow(citizen, rated)).text
    await api.settle()
    assert (await api.case(tracking_id))["rating"] == 5


async def test_only_the_reporter_may_say_they_are_satisfied(api: ApiHarness) -> None:
    tracking_id = (await api.submit(region_code="62.71"))["tracking_id"]
    await api.settle()
    refused = await api.act(tracking_id, "satisfaction", {}, api.admin)
    assert refused.status_code == 403, refused.text
    reporter = await api.submit(region_code="62.71")
    await api.settle()
    early = await api.act(reporter["tracking_id"], "satisfaction", {},
                          {"Authorization": f"Bearer {reporter['reporter_token']}"})
    assert early.status_code == 409, early.text  # nothing answered yet: nothing to be satisfied with


async def test_deactivating_an_agency_or_an_account_asks_first(api: ApiHarness) -> None:
    # A throwaway body: on PostgreSQL the seeded directory is shared by the session's tests.
    agency_id = f"uji-nonaktif-{uuid.uuid4().hex[:8]}"
    made = await api.http.post("/v1/agencies", headers=api.admin,
                               json={"id": agency_id, "name": "Badan Uji Nonaktif", "kind": "agency"})
    assert made.status_code == 201, made.text
    async with browser(api) as admin:
        await signed_in_admin(admin)
        page = f"/admin/instansi?q={agency_id}"
        asked = await post_form(admin, page, f"/admin/instansi/{agency_id}/nonaktif", {})
        assert asked.status_code == 200 and f"Nonaktifkan instansi {agency_id}?" in asked.text
        assert f'href="{page}" class="button secondary" data-testid="confirm-no"' in asked.text
        listed = (await admin.get("/admin/instansi", params={"q": "Badan Uji Nonaktif"})).text
        assert 'data-testid="deactivate-agency"' in listed and "data-confirm=" in listed
        done = await post_form(admin, page, f"/admin/instansi/{agency_id}/nonaktif", {"confirmed": "1"})
        assert done.status_code == 303
    assert (await api.http.get(f"/v1/agencies/{agency_id}")).status_code == 404  # inactive: gone from the directory


async def test_the_merge_page_proposes_the_case_more_people_back_as_the_original(api: ApiHarness) -> None:
    async with browser(api) as first, browser(api) as second, browser(api) as admin, browser(api) as neighbour:
        older, _ = await report(api, first)
        newer, _ = await report(api, second)
        from db.portal_models import CaseSupport

        with api.sessions.begin() as session:  # two people back the newer one ("this is my problem too")
            session.add_all([CaseSupport(tracking_id=newer, supporter_hash=f"uji-{n}") for n in range(2)])
        await signed_in_admin(admin)
        page = (await admin.get("/admin/gabung", params={"kasus": older, "dengan": newer})).text
        assert re.search(rf'data-testid="merge-original" data-tracking-id="{newer}"', page)
        assert f"Ya, gabungkan {older} ke {newer}" in page and f"Sebaliknya: gabungkan {newer} ke {older}" in page
        assert "2 dukungan" in page


async def test_an_officers_evidence_is_attributed_and_linked_from_its_follow_up(api: ApiHarness) -> None:
    async with browser(api) as citizen, browser(api) as admin, browser(api) as officer:
        tracking_id, private = await report(api, citizen)  # with the reporter's photo
        await api.act(tracking_id, "verification", {"decision": "accept", "agency_id": WIB_AGENCY}, api.admin)
        await api.settle()
        await signed_in_admin(admin)
        await post_form(admin, "/admin/staf", "/admin/staf", {
            "name": "Budi PUPR", "email": "budi@palangkaraya.go.id", "role": "officer", "agency_id": WIB_AGENCY,
            "password": "officer-password-1"})
        assert (await sign_in(officer, "budi@palangkaraya.go.id", "officer-password-1")).status_code == 303
        evidence = [("attachments", ("bukti.png", png(), "image/png"))]
        followed = await post_form(officer, f"/kasus/{tracking_id}", f"/kasus/{tracking_id}/tindak-lanjut",
                                   {"message": "Lampu diganti, foto terlampir."}, evidence)
        await follow(officer, followed)
        await api.settle()
        page = (await citizen.get(private)).text
        reporter_files = page.split('data-testid="reporter-files"', 1)[1].split("</ul>", 1)[0]
        staff_files = page.split('data-testid="evidence-files"', 1)[1].split("</ul>", 1)[0]
        assert "Dari pelapor 1" in reporter_files and "Pemerintah Kota Palangkaraya" not in reporter_files
        assert "Bukti Pejabat penghubung, Pemerintah Kota Palangkaraya 1" in staff_files
        file_id = re.search(r'<li id="file-([0-9a-f]+)">', staff_files).group(1)
        follow_up_entry = page.split('data-action="follow_up"', 1)[1].split("</li>", 1)[0]
        assert f'href="#file-{file_id}"' in follow_up_entry  # the timeline entry links to its evidence


def png() -> bytes:
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.new("RGB", (32, 24), (20, 120, 40)).save(out, "PNG")
    return out.getvalue()


async def test_the_calendar_page_shows_the_year_and_takes_and_takes_back_an_amendment(api: ApiHarness) -> None:
    async with browser(api) as admin:
        await signed_in_admin(admin)
        year = (await admin.get("/admin/kalender", params={"year": 2026})).text
        assert "Kalender hari kerja 2026" in year and 'data-testid="calendar-warning"' not in year
        assert 'data-date="2026-12-25"' in year and "Jumat, 25 Des 2026" in year  # Christmas, from the package
        assert "Cuti bersama" in year
        bare = (await admin.get("/admin/kalender", params={"year": 2028})).text
        assert 'data-testid="calendar-warning"' in bare and "Belum ada cuti bersama untuk tahun 2028" in bare

        added = await post_form(admin, "/admin/kalender?year=2028", "/admin/kalender", {
            "date": "2028-01-03", "kind": "cuti_bersama", "name": "Cuti bersama Tahun Baru 2028",
            "decree": "SKB 3 Menteri cuti bersama 2028"})
        # Stored; this test server cannot list the open cases to tell them (the page says send again).
        assert added.status_code == 503 and "Amandemen disimpan" in added.text
        page = (await admin.get("/admin/kalender", params={"year": 2028})).text
        row = page.split('data-date="2028-01-03"', 1)[1].split("</tr>", 1)[0]
        assert "Cuti bersama Tahun Baru 2028" in row and "SKB 3 Menteri cuti bersama 2028" in row
        assert "Administrator" in row or "admin" in row.lower()  # who declared it
        assert 'data-testid="calendar-warning"' not in page

        asked = await post_form(admin, "/admin/kalender?year=2028", "/admin/kalender", {
            "date": "2028-01-03", "remove": "1", "decree": "SKB perubahan 2028"})
        assert asked.status_code == 200 and "Tarik kembali amandemen tanggal 2028-01-03?" in asked.text
        removed = await post_form(admin, "/admin/kalender?year=2028", "/admin/kalender", {
            "date": "2028-01-03", "remove": "1", "decree": "SKB perubahan 2028", "confirmed": "1"})
        assert removed.status_code == 503
        page = (await admin.get("/admin/kalender", params={"year": 2028})).text
        assert 'data-testid="calendar-warning"' in page  # no cuti bersama in 2028 again
        assert 'data-testid="calendar-cancelled"' in page and "SKB perubahan 2028" in page
        english = (await admin.get("/admin/kalender", params={"year": 2028, "lang": "en"})).text
        assert "Working-day calendar 2028" in english and "No cuti bersama is known for 2028" in english


CATCHER_DIR = tempfile.mkdtemp(prefix="sp4n-mail-")


@pytest.mark.api_settings(**PORTAL.kwargs, environment="development", mail_catcher_dir=CATCHER_DIR)
async def test_in_development_the_administrator_reads_the_caught_mail(api: ApiHarness) -> None:
    from email.message import EmailMessage

    message = EmailMessage()
    message["To"], message["Subject"] = "siti@example.id", "Laporan LAP-UJI diterima"
    message["Date"] = "Mon, 07 Dec 2026 10:00:00 +0700"
    message.set_content("Laporan Anda sudah kami terima. Tautan pribadi: ...")
    (Path(CATCHER_DIR) / "1-000001.eml").write_bytes(bytes(message))
    async with browser(api) as admin, browser(api) as citizen:
        assert (await citizen.get("/admin/surat", follow_redirects=False)).status_code in (302, 303)
        await signed_in_admin(admin)
        page = (await admin.get("/admin/surat")).text
        assert 'data-testid="mail"' in page and "Laporan LAP-UJI diterima" in page and "siti@example.id" in page
        assert "Laporan Anda sudah kami terima." in page and 'href="/admin/surat"' in page  # and in the menu


async def test_outside_development_there_is_no_caught_mail_page(api: ApiHarness) -> None:
    async with browser(api) as admin:
        await signed_in_admin(admin)
        assert (await admin.get("/admin/surat")).status_code == 404
        assert 'href="/admin/surat"' not in (await admin.get("/admin/verifikasi")).text


async def test_internal_values_are_shown_in_words_in_both_languages(api: ApiHarness) -> None:
    async with browser(api) as citizen, browser(api) as admin, browser(api) as agency, browser(api) as public:
        original, _ = await report(api, citizen)
        duplicate, private = await report(api, citizen)
        await signed_in_admin(admin)
        await post_form(admin, "/admin/verifikasi", f"/kasus/{duplicate}/verifikasi?next=/admin/verifikasi",
                        {"decision": "reject", "reason": "duplicate", "duplicate_other": original, "confirmed": "1"})
        await post_form(admin, "/admin/verifikasi", f"/kasus/{original}/verifikasi?next=/admin/verifikasi",
                        {"decision": "accept", "agency_other": WIB_AGENCY})
        await api.settle()
        await agency_admin_of(admin, agency)
        await post_form(agency, f"/kasus/{original}", f"/kasus/{original}/bukan-wewenang",
                        {"reason": "Jalan provinsi.", "suggested_agency_id": "pemprov-62"})
        await api.settle()

        merged = (await admin.get(f"/kasus/{duplicate}")).text
        timeline = merged.split('data-testid="timeline"', 1)[1]
        assert "duplikat" in timeline and ">duplicate<" not in timeline  # the reason in words
        assert "dikirim kepada Anda" not in merged  # said only to the reporter
        assert "dikirim kepada Anda" in (await citizen.get(private)).text
        returned = (await admin.get(f"/kasus/{original}")).text.split('data-testid="timeline"', 1)[1]
        assert "usulan: Pemerintah Provinsi Kalimantan Tengah" in returned and "pemprov-62" not in returned
        english = (await admin.get(f"/kasus/{original}", params={"lang": "en"})).text
        assert "suggested: Pemerintah Provinsi Kalimantan Tengah" in english

        directory = (await admin.get("/admin/instansi", params={"q": "Palangkaraya", "lang": "id"})).text
        assert "Pemerintah kota" in directory and ">city<" not in directory
        assert 'data-testid="escalations"' not in (await admin.get("/admin/eskalasi")).text  # no bare header
