"""The region rule in the verifier's portal (issue 22): the "or another body" field offers the
case's region first, another region's government needs a confirmation, and a returned case says
who returned it; its next suggestions stay in the region or go to national bodies."""

from __future__ import annotations

import html
import re

from tests.api.conftest import WIB_AGENCY, ApiHarness
from tests.api.test_portal import ADMIN_EMAIL, ADMIN_PASSWORD, PORTAL, browser, post_form, sign_in

pytestmark = PORTAL

RIVER = {"title": "Sampah menumpuk di sungai Kahayan",
         "description": "Sampah rumah tangga menumpuk di bantaran sungai dekat dermaga, bau busuk dan banjir.",
         "region_code": "62.71"}


async def test_another_regions_government_needs_confirming_and_a_return_is_shown(api: ApiHarness) -> None:
    tracking_id = (await api.submit(**RIVER))["tracking_id"]
    await api.settle()
    async with browser(api) as admin:
        assert (await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 303
        queue = (await admin.get("/admin/verifikasi")).text
        assert 'data-near-region="62.71"' in queue  # the field looks bodies up near the case's region
        found = (await api.http.get("/v1/agencies", params={"q": "pemerintah kota", "near_region": "62.71",
                                                             "limit": 200})).json()["items"]
        ids = [a["id"] for a in found]
        assert ids[0] == WIB_AGENCY and "pemkot-33.74" in ids
        outside = {a["id"]: a["outside_region"] for a in found}
        assert outside["pemkot-33.74"] is True and outside[WIB_AGENCY] is False
        province = (await api.http.get("/v1/agencies", params={"q": "provinsi", "near_region": "62.71"})).json()["items"]
        assert province[0]["id"] == "pemprov-62" and province[0]["outside_region"] is False
        national = (await api.http.get("/v1/agencies", params={"q": "sosial", "near_region": "62.71"})).json()["items"]
        assert next(a for a in national if a["id"] == "kemensos")["outside_region"] is False

        action = f"/kasus/{tracking_id}/verifikasi?next=/admin/verifikasi"
        refused = await post_form(admin, "/admin/verifikasi", action, {"decision": "accept", "agency_other": "pemkot-33.74"})
        assert refused.status_code == 422 and "di luar wilayah laporan ini" in refused.text
        assert (await api.case(tracking_id))["status"] == "awaiting_verification"

        forwarded = await post_form(admin, "/admin/verifikasi", action, {"decision": "accept", "agency_other": WIB_AGENCY})
        assert forwarded.status_code == 303
        await api.settle()
        await api.act_ok(tracking_id, "reroute", {"reason": "Sungai Kahayan kewenangan provinsi dan BWS."},
                         await api.headers("agency_admin", WIB_AGENCY))
        await api.settle()

        queue = (await admin.get("/admin/verifikasi")).text
        card = html.unescape(queue[queue.index(f'data-tracking-id="{tracking_id}"'):])
        assert "Sungai Kahayan kewenangan provinsi" in card  # who returned it and why (issue 23's card)
        assert "menyatakan bukan wewenang" in card  # the next suggestion's reason
        suggested = re.findall(r'<select id="agency-' + tracking_id + r'" name="agency_id">(.*?)</select>', card, re.S)
        offered = re.findall(r'<option value="([^"]+)"', suggested[0]) if suggested else []
        assert offered and WIB_AGENCY not in offered
        assert not [a for a in offered if a.startswith(("pemkot-", "pemkab-", "pemprov-")) and a != "pemprov-62"]

        confirmed = await post_form(admin, "/admin/verifikasi", action, {
            "decision": "accept", "agency_other": "pemkot-33.74", "confirm_other_region": "1"})
        assert confirmed.status_code == 303
        await api.settle()
        assert (await api.case(tracking_id))["agency_id"] == "pemkot-33.74"


async def test_an_agency_admin_sees_which_aliases_route_to_their_body(api: ApiHarness) -> None:
    mine = await api.headers("agency_admin", "kemensos")
    terms = await api.http.get("/v1/agencies/kemensos/routing-terms", headers=mine)
    assert terms.status_code == 200, terms.text
    body = terms.json()
    assert {"Kementerian Sosial", "BPNT", "PKH", "Program Keluarga Harapan"} <= set(body["routes"])
    assert isinstance(body["ignored"], list)
    assert (await api.http.get("/v1/agencies/pemkot-62.71/routing-terms", headers=mine)).status_code == 403
    assert (await api.http.get("/v1/agencies/kemensos/routing-terms")).status_code == 401
