"""The reporter's own page of their personal data in the portal (issue 26): reached from the
private link; shows what is held and why, downloads it as JSON, corrects, stops contact, erases."""

from __future__ import annotations

import html
import re

import api.privacy as api_privacy
from tests.api.conftest import ApiHarness, bearer
from tests.api.test_portal import (ADMIN_EMAIL, ADMIN_PASSWORD, PORTAL, _FormAudit, browser, csrf_of, post_form, report,
                                   sign_in)

pytestmark = PORTAL


async def test_a_reporter_sees_downloads_corrects_stops_and_erases_from_their_page(api: ApiHarness) -> None:
    async with browser(api) as citizen, browser(api) as stranger:
        tracking_id, private = await report(api, citizen, phone="081255550101")
        token = private.split("token=")[1]
        case = (await citizen.get(private)).text
        assert f"/kasus/{tracking_id}/data-pribadi?token={token}" in html.unescape(case)
        url = f"/kasus/{tracking_id}/data-pribadi?token={token}"
        page = await citizen.get(url)
        assert page.status_code == 200
        assert "Siti Rahma" in page.text and "siti@example.id" in page.text and "+6281255550101" in page.text
        assert "UU 27/2022" in page.text  # the legal basis, in Indonesian by default
        audit = _FormAudit()
        audit.feed(page.text)
        assert [f for f in audit.fields if f not in audit.labels] == [] and audit.h1 == 1
        assert (await citizen.get(url + "&lang=en")).text.count("Law 27/2022") == 1
        download = await citizen.get(f"/kasus/{tracking_id}/data-pribadi.json?token={token}")
        assert download.headers["content-disposition"].startswith("attachment")
        data = download.json()
        assert data["reporter"]["name"] == "Siti Rahma" and len(data["files"]) == 1
        assert (await stranger.get(f"/kasus/{tracking_id}/data-pribadi")).status_code == 403
        assert (await stranger.get(f"/kasus/{tracking_id}/data-pribadi.json?token=rt_salah")).status_code == 403

        corrected = await post_form(citizen, url, f"/kasus/{tracking_id}/data-pribadi/perbaiki",
                                    {"token": token, "name": "Siti R.", "email": "bukan-surel", "phone": ""})
        assert corrected.status_code == 303
        refused = await citizen.get(corrected.headers["location"])
        assert 'data-testid="privacy-error"' in refused.text and "Siti Rahma" in refused.text  # unchanged
        corrected = await post_form(citizen, url, f"/kasus/{tracking_id}/data-pribadi/perbaiki",
                                    {"token": token, "name": "Siti R.", "email": "siti.r@example.id", "phone": ""})
        shown = (await citizen.get(corrected.headers["location"])).text
        assert "siti.r@example.id" in shown and "privacy-done" in shown

        withdrawn = await post_form(citizen, url, f"/kasus/{tracking_id}/data-pribadi/tarik-persetujuan",
                                    {"token": token})
        assert 'data-testid="withdraw-form"' not in (await citizen.get(withdrawn.headers["location"])).text

        unconfirmed = await post_form(citizen, url, f"/kasus/{tracking_id}/data-pribadi/hapus", {"token": token})
        assert "privacy-error" in (await citizen.get(unconfirmed.headers["location"])).text
        erased = await post_form(citizen, url, f"/kasus/{tracking_id}/data-pribadi/hapus",
                                 {"token": token, "confirm": "yes"})
        after = (await citizen.get(erased.headers["location"])).text
        assert 'data-testid="erased"' in after and "siti.r@example.id" not in after and "Siti R." not in after
        await api.settle()
        timeline = (await api.case(tracking_id))["timeline"]
        assert [e["action"] for e in timeline][-1] == "personal_data_erased"
        assert "Data pribadi dihapus" in (await citizen.get(private + "&lang=id")).text


async def test_a_reporter_opens_every_case_of_their_contact_with_a_code(api: ApiHarness, monkeypatch) -> None:
    sent: list[str] = []

    class Mailbox:
        def __init__(self, settings) -> None:
            pass

        def send(self, out) -> None:
            sent.append(out.body_text)

    monkeypatch.setattr(api_privacy, "EmailChannel", Mailbox)
    async with browser(api) as citizen:
        first, _ = await report(api, citizen)
        second, _ = await report(api, citizen)
        home = (await citizen.get("/")).text
        assert 'href="/data-pribadi"' in home
        asked = await post_form(citizen, "/data-pribadi", "/data-pribadi/kode", {"contact": "Siti@Example.id"})
        assert asked.status_code == 200 and 'data-testid="code-form"' in asked.text
        audit = _FormAudit()
        audit.feed(asked.text)
        assert [f for f in audit.fields if f not in audit.labels] == []
        code = re.search(r"\b(\d{6})\b", sent[0]).group(1)
        wrong = await citizen.post("/data-pribadi/masuk", data={"csrf_token": csrf_of(asked.text),
                                                                "contact": "siti@example.id",
                                                                "code": "000000" if code != "000000" else "111111"})
        assert wrong.status_code == 403 and "privacy-error" in wrong.text
        opened = await citizen.post("/data-pribadi/masuk", data={"csrf_token": csrf_of(asked.text),
                                                                 "contact": "siti@example.id", "code": code},
                                    follow_redirects=False)
        assert opened.status_code == 303
        listing = (await citizen.get(opened.headers["location"])).text
        links = re.findall(r'href="(/kasus/[^"]+/data-pribadi\?token=[^"]+)"', listing)
        assert [link.split("/")[2] for link in links] == [first, second]
        assert "Siti Rahma" in (await citizen.get(html.unescape(links[0]))).text
        expired = await citizen.get("/data-pribadi?akses=pd_bukan.1.token")
        assert expired.status_code == 200 and "privacy-error" in expired.text


async def test_an_administrator_holds_lifts_and_audits_in_the_portal(api: ApiHarness) -> None:
    async with browser(api) as citizen, browser(api) as admin, browser(api) as officer_browser:
        tracking_id, private = await report(api, citizen)
        await api.accept(tracking_id)
        officer = await api.headers("officer", "pemkot-62.71")
        assert "Siti Rahma" in (await api.get(tracking_id, officer)).text  # a staff view of the identity
        assert (await officer_browser.get("/admin/data-pribadi", follow_redirects=False)).status_code in (303, 401)
        await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        url = f"/admin/data-pribadi?tracking_id={tracking_id}"
        page = await admin.get(url)
        assert page.status_code == 200 and 'data-testid="access-log"' in page.text
        audit = _FormAudit()
        audit.feed(page.text)
        assert [f for f in audit.fields if f not in audit.labels] == [] and audit.h1 == 1
        assert "officer" in page.text.lower() or "Pejabat penghubung" in page.text
        held = await post_form(admin, url, "/admin/data-pribadi/tahan",
                               {"tracking_id": tracking_id, "kind": "ombudsman", "reason": "Pemeriksaan ORI 12/2026"})
        assert held.status_code == 303
        token = private.split("token=")[1]
        refused = await api.http.post(f"/v1/complaints/{tracking_id}/personal-data/erasure", headers=bearer(token))
        assert refused.status_code == 409 and "Pemeriksaan ORI 12/2026" in refused.text
        shown = (await citizen.get(f"/kasus/{tracking_id}/data-pribadi?token={token}")).text
        assert "Pemeriksaan ORI 12/2026" in shown  # the reporter sees the exception and its reason
        page = (await admin.get(url)).text
        hold_id = re.search(r'name="hold_id" value="(\d+)"', page).group(1)
        lifted = await post_form(admin, url, "/admin/data-pribadi/cabut",
                                 {"tracking_id": tracking_id, "hold_id": hold_id, "reason": "Pemeriksaan selesai"})
        assert "privacy-done" in (await admin.get(lifted.headers["location"])).text
        assert (await api.http.post(f"/v1/complaints/{tracking_id}/personal-data/erasure",
                                    headers=bearer(token))).status_code == 200
