"""Similar reports in the portal without JavaScript (issue 19): the form's "check for similar
reports" button, "this is my problem too" instead of a new report, the queue's likely duplicates
and its one-action merge, and the merged reporter's page pointing to the original."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from db.portal_models import CaseFollower
from tests.api.conftest import ApiHarness
from tests.api.test_portal import (ADMIN_EMAIL, ADMIN_PASSWORD, PORTAL, REPORT, browser, csrf_of, post_form,
                                  published_report, report, sign_in)

pytestmark = PORTAL

SAME_LIGHT = REPORT | {"title": "Lampu PJU mati di Jl. Tjilik Riwut", "name": "", "email": "",
                       "description": "Lampu penerangan jalan mati dua minggu, gelap dan rawan kecelakaan."}


async def test_the_form_offers_similar_open_reports_and_supporting_one_follows_it(api: ApiHarness) -> None:
    async with browser(api) as first, browser(api) as second:
        original, _ = await published_report(api, first)
        form = await second.get("/lapor")
        checked = await second.post("/lapor", data={"csrf_token": csrf_of(form.text), **SAME_LIGHT, "similar": "1"})
        assert checked.status_code == 200
        assert re.search(rf'data-testid="similar-item" data-tracking-id="{original}"', checked.text)
        assert "Ini masalah saya juga" in checked.text and 'data-testid="similar-reasons"' in checked.text
        assert "Siti Rahma" not in checked.text and "siti@example.id" not in checked.text
        assert SAME_LIGHT["description"] in checked.text  # the typed report is kept

        # The script's panel is the same, from the query string.
        panel = await second.get("/lapor/serupa", params={"title": SAME_LIGHT["title"], "province": "62",
                                                          "regency": "62.71"})
        assert f'data-tracking-id="{original}"' in panel.text

        supported = await second.post(f"/lapor/dukung/{original}", data={
            "csrf_token": csrf_of(checked.text), **SAME_LIGHT, "email": "tetangga@warga.example"},
            follow_redirects=False)
        assert supported.status_code == 303 and supported.headers["location"].startswith(f"/kasus/{original}")
        page = await second.get(supported.headers["location"])
        assert 'data-testid="supported-notice"' in page.text and "email Anda" in page.text
        assert re.search(r'data-testid="support-count">1<', page.text)
        assert "tetangga@warga.example" not in page.text
        with api.sessions() as session:
            followers = session.scalars(select(CaseFollower).where(CaseFollower.tracking_id == original)).all()
        assert [f.email for f in followers] == ["tetangga@warga.example"]
        listed = await api.listing()
        assert len(listed["items"]) == 1  # no second case was opened

        wrong = await second.post(f"/lapor/dukung/{original}", data={
            "csrf_token": csrf_of(checked.text), **SAME_LIGHT, "email": "bukan-email"}, follow_redirects=False)
        assert wrong.status_code == 422


async def test_the_administrator_merges_a_duplicate_from_the_queue(api: ApiHarness) -> None:
    async with browser(api) as first, browser(api) as second, browser(api) as admin:
        original, original_private = await report(api, first)
        duplicate, private = await report(api, second, **{k: SAME_LIGHT[k] for k in ("title", "description")},
                                          email="kedua@warga.example", name="Warga Kedua")
        await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        queue = await admin.get("/admin/verifikasi")
        item = queue.text.split(f'data-tracking-id="{duplicate}"', 1)[1]
        assert re.search(rf'data-testid="duplicate-candidate" data-tracking-id="{original}"', item)
        assert 'data-testid="duplicate-score"' in item

        case_page = await admin.get(f"/kasus/{duplicate}")  # the case page offers the same merge
        assert re.search(rf'data-testid="duplicate-candidate" data-tracking-id="{original}"', case_page.text)

        # Rejecting as a duplicate opens the merge page first: both side by side, the older proposed
        # as the original (the newer one is the duplicate), and nothing merged until confirmed there.
        asked = await admin.post(f"/kasus/{original}/verifikasi?next=/admin/verifikasi", data={
            "csrf_token": csrf_of(queue.text), "decision": "reject", "reason": "duplicate",
            "duplicate_of": duplicate, "duplicate_other": ""}, follow_redirects=False)
        assert asked.status_code == 303 and asked.headers["location"].startswith("/admin/gabung?"), asked.text
        merge_page = await admin.get(asked.headers["location"])
        assert merge_page.status_code == 200, merge_page.text
        assert re.search(rf'data-testid="merge-original" data-tracking-id="{original}"', merge_page.text)
        assert re.search(rf'data-testid="merge-duplicate" data-tracking-id="{duplicate}"', merge_page.text)
        assert (await api.case(original))["status"] == "awaiting_verification"  # nothing happened yet
        form = merge_page.text.split(f'action="/kasus/{duplicate}/verifikasi?next=/admin/verifikasi"', 1)[1]
        fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form.split("</form>", 1)[0]))
        assert fields["duplicate_of"] == original and fields["confirmed"] == "1"
        merged = await admin.post(f"/kasus/{duplicate}/verifikasi?next=/admin/verifikasi", data=fields,
                                  follow_redirects=False)
        assert merged.status_code == 303, merged.text
        assert merged.headers["location"].startswith("/admin/verifikasi?done=merged")
        await api.settle()
        case = await api.case(duplicate)
        assert case["archive_reason"] == "duplicate" and case["duplicate_of"] == original

        own_page = await second.get(private)
        assert 'data-testid="merged"' in own_page.text and f'href="/kasus/{original}"' in own_page.text
        original_page = await first.get(original_private)  # not public yet: its reporter's page
        assert re.search(r'data-testid="voices">2 orang melaporkan', original_page.text)
        assert "Warga Kedua" not in original_page.text and "kedua@warga.example" not in original_page.text

        typo = await admin.get("/admin/gabung", params={"kasus": original, "dengan": "LAP-TIDAKADA"})
        assert typo.status_code == 404 and "LAP-TIDAKADA" in typo.text
        typo = await post_form(admin, "/admin/verifikasi", f"/kasus/{original}/verifikasi", {
            "decision": "reject", "reason": "duplicate", "duplicate_other": "LAP-TIDAKADA", "confirmed": "1"})
        assert typo.status_code == 422 and "LAP-TIDAKADA" in typo.text


@pytest.mark.api_settings(similar_search_per_minute=2)
async def test_searching_for_similar_reports_is_limited_per_client(api: ApiHarness) -> None:
    # Each search reads a few hundred open cases, and a stream of them probes where cases are.
    async with browser(api) as visitor:
        query = {"title": SAME_LIGHT["title"], "lat": "-2.2", "lon": "113.9"}
        for _ in range(2):
            assert (await visitor.get("/lapor/serupa", params=query)).status_code == 200
        refused = await visitor.get("/lapor/serupa", params=query)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
