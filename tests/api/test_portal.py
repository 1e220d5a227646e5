"""The web portal over HTTP (forms, cookies, redirects) against the real worker: what a person
with a browser gets. The same story in a real Chromium is tests/browser/."""

from __future__ import annotations

import io
import re
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from html.parser import HTMLParser
import pytest
from PIL import Image

from tests.api.conftest import WIB_AGENCY, ApiHarness

ADMIN_EMAIL, ADMIN_PASSWORD = "admin@lapor.test", "admin-password-123"
PORTAL = pytest.mark.api_settings(
    sp4n_admin_email=ADMIN_EMAIL, sp4n_admin_password=ADMIN_PASSWORD, attachment_dir=tempfile.mkdtemp(prefix="sp4n-portal-")
)
pytestmark = PORTAL


@asynccontextmanager
async def browser(api: ApiHarness) -> AsyncIterator[httpx.AsyncClient]:
    """A separate browser: its own cookies (browser id, session, language)."""
    async with httpx.AsyncClient(transport=api.http._transport, base_url="http://sp4n.test") as client:
        yield client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def photo_with_gps() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0110] = "Kamera Pelapor X100"  # camera model
    exif[0x8825] = {1: "S", 2: (2.0, 12.0, 34.0), 3: "E", 4: (113.0, 54.0, 48.0)}  # GPSInfo
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    assert b"Exif" in out.getvalue()
    return out.getvalue()


REPORT = {
    "title": "Lampu jalan padam di Jl. Tjilik Riwut",
    "description": "Sudah dua minggu lampu jalan padam, rawan kecelakaan pada malam hari.",
    "report_type": "pengaduan",
    "category": "infrastruktur",
    "province": "62",
    "regency": "62.71",
    "name": "Siti Rahma",
    "email": "siti@example.id",
}


async def submit_form(client: httpx.AsyncClient, fields: dict, files: list | None = None) -> httpx.Response:
    form = await client.get("/lapor")
    assert form.status_code == 200
    data = {"csrf_token": csrf_of(form.text), **fields}
    return await client.post("/lapor", data=data, files=files or [], follow_redirects=False)


async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    page = await client.get("/masuk")
    return await client.post("/masuk", data={"csrf_token": csrf_of(page.text), "email": email, "password": password},
                             follow_redirects=False)


async def post_form(client: httpx.AsyncClient, page_url: str, action: str, fields: dict, files=None) -> httpx.Response:
    page = await client.get(page_url)
    assert page.status_code == 200, page.text
    return await client.post(action, data={"csrf_token": csrf_of(page.text), **fields}, files=files or [],
                             follow_redirects=False)


async def report(api: ApiHarness, client: httpx.AsyncClient, **overrides) -> tuple[str, str]:
    """Submit through the form: (tracking id, private link path)."""
    response = await submit_form(client, REPORT | overrides, [("attachments", ("foto.jpg", photo_with_gps(), "image/jpeg"))])
    assert response.status_code == 303, response.text
    receipt = await client.get(response.headers["location"])
    tracking_id = re.search(r'data-testid="tracking-id">([^<]+)<', receipt.text).group(1)
    link = re.search(r'data-testid="private-link"[^>]*>([^<]+)<', receipt.text) or re.search(
        r'href="([^"]+)" data-testid="private-link"', receipt.text)
    private = link.group(1).replace("http://sp4n.test", "").replace("&amp;", "&")
    await api.settle()
    return tracking_id, private


async def published_report(api: ApiHarness, client: httpx.AsyncClient, **overrides) -> tuple[str, str]:
    """A report verified and forwarded: only then is it public (issue 24)."""
    tracking_id, private = await report(api, client, **overrides)
    await api.accept(tracking_id)
    await api.wait_listed({tracking_id}, status="awaiting_agency")
    return tracking_id, private


async def test_a_citizen_reports_with_a_photo_and_follows_the_case_by_private_link(api: ApiHarness) -> None:
    async with browser(api) as citizen:
        tracking_id, private = await report(api, citizen, anonymous="on")
        assert private.startswith(f"/kasus/{tracking_id}?token=rt_")

        case = await citizen.get(private)
        assert case.status_code == 200
        assert REPORT["title"] in case.text
        assert "Anda melihat laporan ini sebagai pelapor" in case.text
        assert 'data-testid="deadline"' in case.text  # the verification clock, as countdown and date
        assert "Siti Rahma" in case.text  # the reporter sees their own identity

        photo_url = re.search(r'<img src="([^"]+)"', case.text).group(1).replace("&amp;", "&")
        photo = await citizen.get(photo_url)
        assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
        assert b"Exif" not in photo.content and b"Kamera Pelapor" not in photo.content
        assert not Image.open(io.BytesIO(photo.content)).getexif()

    admin_view = await api.case(tracking_id)
    assert admin_view["channel"] == "web" and admin_view["region_code"] == "62.71"
    assert admin_view["anonymous"] is True and admin_view["reporter"]["name"] == "Siti Rahma"


async def test_a_wrong_form_comes_back_with_the_reasons_and_nothing_is_created(api: ApiHarness) -> None:
    async with browser(api) as citizen:
        missing = await submit_form(citizen, REPORT | {"title": ""})
        assert missing.status_code == 422
        assert 'data-testid="form-errors"' in missing.text
        assert REPORT["description"] in missing.text  # what was typed is kept

        not_a_photo = await submit_form(citizen, REPORT, [("attachments", ("foto.jpg", b"bukan gambar", "image/jpeg"))])
        assert not_a_photo.status_code == 422
        assert "Jenis berkas tidak didukung" in not_a_photo.text

        too_big = b"\xff\xd8\xff" + b"0" * (10 * 1024 * 1024)
        oversize = await submit_form(citizen, REPORT, [("attachments", ("besar.jpg", too_big, "image/jpeg"))])
        assert oversize.status_code == 422
        assert "melebihi 10 MB" in oversize.text
    assert (await api.listing(api.admin))["items"] == []


async def test_forms_without_our_csrf_token_are_refused(api: ApiHarness) -> None:
    async with browser(api) as citizen, browser(api) as other:
        await citizen.get("/lapor")
        no_token = await citizen.post("/lapor", data=REPORT, follow_redirects=False)
        assert no_token.status_code == 403 and "Formulir kedaluwarsa" in no_token.text

        someone_elses = csrf_of((await other.get("/lapor")).text)  # valid for another browser only
        forged = await citizen.post("/lapor", data=REPORT | {"csrf_token": someone_elses}, follow_redirects=False)
        assert forged.status_code == 403

        token = csrf_of((await citizen.get("/lapor")).text)
        cross_site = await citizen.post("/lapor", data=REPORT | {"csrf_token": token},
                                        headers={"Origin": "https://evil.example"}, follow_redirects=False)
        assert cross_site.status_code == 403

        sign_in_forged = await citizen.post("/masuk", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert sign_in_forged.status_code == 403
    assert (await api.listing(api.admin))["items"] == []


async def test_user_text_is_shown_as_text_never_as_markup(api: ApiHarness) -> None:
    payload = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'
    async with browser(api) as citizen:
        tracking_id, private = await published_report(api, citizen, title=f"Judul {payload}", description=f"Isi {payload}")
        for page in (await citizen.get(private), await citizen.get(f"/kasus/{tracking_id}"), await citizen.get("/publik")):
            assert "<script>window.__xss" not in page.text and "<img src=x" not in page.text
            assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in page.text


async def test_staff_walk_the_case_from_verification_to_follow_up(api: ApiHarness) -> None:
    async with browser(api) as citizen, browser(api) as admin, browser(api) as officer, browser(api) as stranger:
        tracking_id, private = await report(api, citizen, anonymous="on")

        signed_in = await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/admin/verifikasi"
        cookie = signed_in.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
        queue = await admin.get("/admin/verifikasi")
        assert tracking_id in queue.text

        created = await post_form(admin, "/admin/staf", "/admin/staf", {
            "name": "Budi PUPR", "email": "budi@palangkaraya.go.id", "role": "officer", "agency_id": WIB_AGENCY,
            "password": "officer-password-1"})
        assert created.status_code == 303
        weak = await post_form(admin, "/admin/staf", "/admin/staf", {
            "name": "Lemah", "email": "lemah@example.id", "role": "officer", "agency_id": WIB_AGENCY, "password": "123"})
        assert weak.status_code == 422 and "minimal 10 karakter" in weak.text

        forwarded = await post_form(admin, "/admin/verifikasi", f"/kasus/{tracking_id}/verifikasi?next=/admin/verifikasi",
                                    {"decision": "accept", "agency_other": WIB_AGENCY})
        assert forwarded.status_code == 303 and forwarded.headers["location"].startswith("/admin/verifikasi?done=forwarded")
        await api.settle()
        assert (await api.case(tracking_id))["status"] == "awaiting_agency"

        assert (await sign_in(officer, "budi@palangkaraya.go.id", "officer-password-1")).status_code == 303
        inbox = await officer.get("/staf")
        assert tracking_id in inbox.text
        case_page = await officer.get(f"/kasus/{tracking_id}")
        assert "Siti Rahma" not in case_page.text and "siti@example.id" not in case_page.text  # anonymous
        assert 'data-testid="follow-up-form"' in case_page.text
        evidence = [("attachments", ("bukti.jpg", photo_with_gps(), "image/jpeg"))]
        followed = await post_form(officer, f"/kasus/{tracking_id}", f"/kasus/{tracking_id}/tindak-lanjut",
                                   {"message": "Lampu sudah diganti oleh Dinas PUPR."}, evidence)
        assert followed.status_code == 303, followed.text
        await api.settle()
        assert (await api.case(tracking_id))["status"] == "awaiting_reporter"

        # Another agency's officer: the case does not exist for them.
        await post_form(admin, "/admin/staf", "/admin/staf", {
            "name": "Ani Bali", "email": "ani@baliprov.go.id", "role": "officer", "agency_id": "pemprov-51",
            "password": "officer-password-2"})
        await sign_in(stranger, "ani@baliprov.go.id", "officer-password-2")
        assert (await stranger.get(f"/kasus/{tracking_id}")).status_code == 404
        assert tracking_id not in (await stranger.get("/staf")).text

        replied = await post_form(citizen, private, f"/kasus/{tracking_id}/balas",
                                  {"message": "Terima kasih, sudah menyala.", "token": private.split("token=")[1]})
        assert replied.status_code == 303
        await api.settle()
        timeline = (await citizen.get(private)).text
        assert "Terima kasih, sudah menyala." in timeline and "Lampu sudah diganti" in timeline

        assert (await stranger.get(f"/kasus/{tracking_id}")).status_code == 404  # another agency's officer
        async with browser(api) as public:  # nobody signed in, no private link
            case_page = await public.get(f"/kasus/{tracking_id}")
            feed = await public.get("/publik", params={"q": "Lampu jalan padam"})
        assert case_page.status_code == 200 and "Lampu sudah diganti" in case_page.text
        for page in (case_page.text, feed.text):
            assert tracking_id in page
            assert "Siti Rahma" not in page and "siti@example.id" not in page and "token=" not in page


async def test_sign_in_refusals_and_sign_out(api: ApiHarness) -> None:
    async with browser(api) as person:
        wrong = await sign_in(person, ADMIN_EMAIL, "not-the-password")
        assert wrong.status_code == 401 and 'data-testid="sign-in-error"' in wrong.text
        unknown = await sign_in(person, "nobody@example.id", ADMIN_PASSWORD)
        assert unknown.status_code == 401

        assert (await person.get("/admin/verifikasi", follow_redirects=False)).status_code == 303  # to /masuk
        assert (await sign_in(person, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 303
        session_cookie = person.cookies.get("sp4n_session")
        assert (await person.get("/admin/verifikasi")).status_code == 200
        out = await post_form(person, "/admin/verifikasi", "/keluar", {})
        assert out.status_code == 303
    async with browser(api) as replay:  # the old session cookie opens nothing after sign-out
        replay.cookies.set("sp4n_session", session_cookie)
        assert (await replay.get("/admin/verifikasi", follow_redirects=False)).status_code == 303


async def test_support_counts_once_per_browser_and_never_for_confidential_cases(api: ApiHarness) -> None:
    async with browser(api) as citizen, browser(api) as neighbour:
        tracking_id, _ = await published_report(api, citizen)
        for _ in range(2):
            supported = await post_form(neighbour, f"/kasus/{tracking_id}", f"/kasus/{tracking_id}/dukung", {})
            assert supported.status_code == 303
        await post_form(citizen, f"/kasus/{tracking_id}", f"/kasus/{tracking_id}/dukung", {})
        page = await neighbour.get(f"/kasus/{tracking_id}")
        assert re.search(r'data-testid="support-count">2<', page.text)

        secret_id, secret_link = await report(api, citizen, confidential="on", title="Pungutan liar di kantor kelurahan")
        assert (await neighbour.get(f"/kasus/{secret_id}")).status_code == 404
        forged = await post_form(neighbour, "/publik", f"/kasus/{secret_id}/dukung", {})
        assert forged.status_code == 404
        feed = await neighbour.get("/publik")
        assert tracking_id in feed.text and secret_id not in feed.text
        assert (await citizen.get(secret_link)).status_code == 200  # the reporter still sees it


async def test_pages_speak_indonesian_by_default_and_english_on_request(api: ApiHarness) -> None:
    async with browser(api) as person:
        home = await person.get("/")
        assert '<html lang="id">' in home.text and "Sampaikan laporan Anda" in home.text
        english = await person.get("/?lang=en")
        assert '<html lang="en">' in english.text and "Make a report" in english.text
        remembered = await person.get("/lapor")  # the choice is kept in a cookie
        assert '<html lang="en">' in remembered.text and "Send report" in remembered.text


async def test_the_verifier_reads_why_a_body_is_suggested_in_the_pages_language(api: ApiHarness) -> None:
    """Issue 23, item 8: the routing's reasons (stored in Indonesian) are read in English too."""
    async with browser(api) as citizen, browser(api) as admin:
        tracking_id, _ = await report(api, citizen)
        assert (await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 303

        def reasons(page: str) -> str:
            found = re.search(r'data-testid="suggestion-reasons">(.*?)</ul>', page, re.S)
            assert found, "the queue lists the suggestions' reasons"
            return found.group(1)

        indonesian = reasons((await admin.get("/admin/verifikasi")).text)
        assert "wilayah Kota Palangkaraya" in indonesian
        english = reasons((await admin.get("/admin/verifikasi?lang=en")).text)
        assert "region Kota Palangkaraya" in english and "sector: " in english and "wilayah" not in english


def test_every_text_exists_in_both_languages() -> None:
    from portal.i18n import TEXTS

    assert set(TEXTS["id"]) == set(TEXTS["en"])
    assert all(TEXTS["en"][key].strip() for key in TEXTS["en"])


def test_a_count_of_one_reads_in_the_singular() -> None:
    from portal.i18n import translator

    english = translator("en")
    assert english("facts.days", count=1) == "1 day" and english("facts.days", count=3) == "3 days"
    assert translator("id")("facts.days", count=1) == "1 hari"
    assert english("facts.voices.value", reporters=1, supporters=0, followers=2) == \
        "reporters: 1 · supporters: 0 · followers: 2"


async def test_the_dashboard_is_for_administrators_and_counts_todays_cases(api: ApiHarness) -> None:
    async with browser(api) as citizen, browser(api) as admin, browser(api) as officer:
        await report(api, citizen)
        await report(api, citizen, title="Sampah menumpuk di pasar")
        await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        page = await admin.get("/admin/dasbor", params={"days": 7})
        assert page.status_code == 200
        assert page.text.count('role="img"') >= 4  # status over time, on-time rate, first response, overdue
        status_table = page.text.split('data-testid="dashboard"')[1].split("</table>")[0]
        today = re.findall(r"<tr>(.*?)</tr>", status_table, re.S)[-1]
        counts = re.findall(r'<td class="num">(\d+)</td>', today)
        assert counts[0] == "2" and counts[-1] == "2"  # today: two awaiting verification, two in all

        await post_form(admin, "/admin/staf", "/admin/staf", {
            "name": "Budi", "email": "budi@palangkaraya.go.id", "role": "officer", "agency_id": WIB_AGENCY,
            "password": "officer-password-1"})
        await sign_in(officer, "budi@palangkaraya.go.id", "officer-password-1")
        assert (await officer.get("/admin/dasbor")).status_code == 403


class _FormAudit(HTMLParser):
    """What an accessibility checker would flag first: unlabeled fields, images without alt text,
    a page without a language or a main heading."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[str] = []
        self.labels: set[str] = set()
        self.images_without_alt = 0
        self.h1 = 0
        self.lang: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        elif tag == "h1":
            self.h1 += 1
        elif tag == "label" and a.get("for"):
            self.labels.add(a["for"] or "")
        elif tag == "img" and not a.get("alt"):
            self.images_without_alt += 1
        elif tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit", "radio"):
            self.fields.append(a.get("id") or f"<{tag} name={a.get('name')}> without id")


async def test_every_page_labels_its_fields_and_names_its_language(api: ApiHarness) -> None:
    async with browser(api) as citizen, browser(api) as admin:
        tracking_id, private = await published_report(api, citizen)
        await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        pages = {citizen: ["/", "/lapor", "/publik", "/masuk", private, f"/kasus/{tracking_id}"],
                 admin: ["/admin/verifikasi", "/admin/eskalasi", "/admin/staf", "/admin/instansi?q=palangka",
                         "/admin/dasbor", f"/kasus/{tracking_id}", "/staf"]}
        for client, paths in pages.items():
            for path in paths:
                response = await client.get(path)
                assert response.status_code == 200, path
                audit = _FormAudit()
                audit.feed(response.text)
                unlabeled = [field for field in audit.fields if field not in audit.labels]
                assert not unlabeled, f"{path}: fields without a label: {unlabeled}"
                assert audit.images_without_alt == 0, path
                assert audit.lang == "id" and audit.h1 == 1, path


async def test_a_password_reset_or_deactivation_ends_the_staff_members_sessions(api: ApiHarness) -> None:
    async with browser(api) as admin, browser(api) as officer:
        await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        await post_form(admin, "/admin/staf", "/admin/staf", {
            "name": "Budi", "email": "budi@palangkaraya.go.id", "role": "officer", "agency_id": WIB_AGENCY,
            "password": "officer-password-1"})
        await sign_in(officer, "budi@palangkaraya.go.id", "officer-password-1")
        assert (await officer.get("/staf")).status_code == 200
        staff_page = (await admin.get("/admin/staf")).text
        budis_row = next(row for row in staff_page.split("<tr>") if "budi@palangkaraya.go.id" in row)
        budi = re.search(r'action="/admin/staf/([0-9a-f]+)/sandi"', budis_row).group(1)

        reset = await post_form(admin, "/admin/staf", f"/admin/staf/{budi}/sandi", {"password": "new-password-123"})
        assert reset.status_code == 303
        assert (await officer.get("/staf", follow_redirects=False)).status_code == 303  # signed out
        assert (await sign_in(officer, "budi@palangkaraya.go.id", "officer-password-1")).status_code == 401
        assert (await sign_in(officer, "budi@palangkaraya.go.id", "new-password-123")).status_code == 303

        await post_form(admin, "/admin/staf", f"/admin/staf/{budi}/aktif", {"active": "0", "confirmed": "1"})
        assert (await officer.get("/staf", follow_redirects=False)).status_code == 303
        assert (await sign_in(officer, "budi@palangkaraya.go.id", "new-password-123")).status_code == 401


async def test_guessing_a_password_is_throttled(api: ApiHarness) -> None:
    async with browser(api) as guesser:
        statuses = [(await sign_in(guesser, ADMIN_EMAIL, f"guess-{n}")).status_code for n in range(6)]
        assert statuses[:5] == [401] * 5 and statuses[5] == 429
        assert (await sign_in(guesser, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 429  # even the right one, for now


async def test_an_unknown_address_gets_a_page_in_a_browser_and_problem_json_in_the_api(api: ApiHarness) -> None:
    async with browser(api) as person:
        page = await person.get("/tidak-ada", headers={"Accept": "text/html,application/xhtml+xml"})
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        assert "Halaman yang Anda cari tidak ada." in page.text
        api_answer = await person.get("/v1/tidak-ada", headers={"Accept": "text/html"})
        assert api_answer.status_code == 404 and api_answer.headers["content-type"] == "application/problem+json"


async def test_an_expired_report_form_comes_back_with_the_text_and_a_cross_site_post_spoils_nothing(
    api: ApiHarness,
) -> None:
    async with browser(api) as citizen:
        form = await citizen.get("/lapor")
        token, cookie = csrf_of(form.text), citizen.cookies.get("sp4n_browser")
        # A page of another site posts here: the browser withholds the SameSite=Lax cookie.
        async with browser(api) as cross_site:
            refused = await cross_site.post("/kasus/LAP-X/dukung", data={}, follow_redirects=False)
            assert refused.status_code == 403 and "sp4n_browser" not in refused.headers.get("set-cookie", "")
        stale = await citizen.post("/lapor", data=REPORT | {"csrf_token": "kedaluwarsa"}, follow_redirects=False)
        assert stale.status_code == 403
        assert REPORT["description"] in stale.text and "Formulir kedaluwarsa" in stale.text
        assert citizen.cookies.get("sp4n_browser") == cookie
        sent = await citizen.post("/lapor", data=REPORT | {"csrf_token": csrf_of(stale.text)}, follow_redirects=False)
        assert sent.status_code == 303 and csrf_of(stale.text) == token


async def test_an_anonymous_reporters_address_stays_with_the_administrators(api: ApiHarness) -> None:
    home = "Jl. Melati No. 7, rumah saya"
    async with browser(api) as citizen, browser(api) as stranger:
        tracking_id, private = await report(api, citizen, anonymous="on", address=home)
        assert home in (await citizen.get(private)).text  # the reporter sees what they sent
        assert home not in (await stranger.get(f"/kasus/{tracking_id}")).text
        assert tracking_id not in (await stranger.get("/publik", params={"q": "Melati"})).text
    assert (await api.case(tracking_id))["location"]["address"] == home


async def test_tokens_with_characters_we_never_issue_are_simply_wrong(api: ApiHarness) -> None:
    async with browser(api) as person:
        await person.get("/lapor")
        assert (await person.post("/lapor", data=REPORT | {"csrf_token": "é"})).status_code == 403
        assert (await person.get("/kasus/LAP-X?token=%C3%A9")).status_code == 404
        assert (await person.get("/lapor/terkirim/LAP-X", params={"token": "rt_é"})).status_code == 404
    response = await api.http.get("/v1/complaints/LAP-X", headers={"Authorization": "Bearer rt_\xe9".encode("latin-1")})
    assert response.status_code == 401


async def test_evidence_beyond_the_five_files_leaves_the_case_untouched(api: ApiHarness) -> None:
    async with browser(api) as citizen, browser(api) as admin, browser(api) as officer:
        photos = [("attachments", (f"foto{n}.jpg", photo_with_gps(), "image/jpeg")) for n in range(3)]
        response = await submit_form(citizen, REPORT, photos)
        tracking_id = response.headers["location"].split("/")[-1].split("?")[0]
        await api.settle()
        await api.accept(tracking_id)
        await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        await post_form(admin, "/admin/staf", "/admin/staf", {
            "name": "Budi", "email": "budi@palangkaraya.go.id", "role": "officer", "agency_id": WIB_AGENCY,
            "password": "officer-password-1"})
        await sign_in(officer, "budi@palangkaraya.go.id", "officer-password-1")
        evidence = [("attachments", (f"bukti{n}.jpg", photo_with_gps(), "image/jpeg")) for n in range(3)]
        refused = await post_form(officer, f"/kasus/{tracking_id}", f"/kasus/{tracking_id}/tindak-lanjut",
                                  {"message": "Sudah diperbaiki."}, evidence)
        assert refused.status_code == 422 and "batasnya 5" in refused.text
        await api.settle()
        assert (await api.case(tracking_id))["status"] == "awaiting_agency"  # no follow-up recorded


async def test_a_regency_outside_the_chosen_province_is_refused(api: ApiHarness) -> None:
    async with browser(api) as citizen:
        wrong = await submit_form(citizen, REPORT | {"province": "62", "regency": "11.01"})
        assert wrong.status_code == 422 and "tidak berada di" in wrong.text


@pytest.mark.api_settings(submission_rate_limit_per_minute=1)
async def test_a_refused_submission_keeps_the_typed_report(api: ApiHarness) -> None:
    async with browser(api) as citizen:
        assert (await submit_form(citizen, REPORT)).status_code == 303
        again = await submit_form(citizen, REPORT | {"title": "Laporan kedua yang sudah diketik"})
        assert again.status_code == 429 and "Laporan kedua yang sudah diketik" in again.text
