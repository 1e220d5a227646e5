"""Public after verification (issue 24): until an administrator verifies a report and forwards it,
the public finds nothing of it in the portal (list, map, case page, its files) but its title in the
"maybe already reported" panel, and cannot support it; an archived duplicate's public page points
to its original and takes no support."""

from __future__ import annotations

import re

from tests.api.conftest import ApiHarness
from tests.api.test_portal import PORTAL, browser, csrf_of, post_form, report
from tests.api.test_portal_similar import SAME_LIGHT

pytestmark = PORTAL
PINNED = {"lat": "-2.2096", "lon": "113.9135"}


async def test_a_report_is_public_only_once_verified_and_forwarded(api: ApiHarness) -> None:
    async with browser(api) as reporter, browser(api) as stranger:
        tracking_id, private = await report(api, reporter, **PINNED)
        await api.wait_listed({tracking_id})
        description = (await api.case(tracking_id))["description"]

        assert (await stranger.get(f"/kasus/{tracking_id}")).status_code == 404
        assert tracking_id not in (await stranger.get("/publik")).text
        assert tracking_id not in (await stranger.get("/publik/peta.json")).text
        assert (await reporter.get(private)).status_code == 200  # its reporter still follows it
        refused = await post_form(stranger, "/lapor", f"/kasus/{tracking_id}/dukung", {})
        assert refused.status_code == 404

        # A would-be duplicate reporter sees its title, and nothing else of it.
        form = await stranger.get("/lapor")
        checked = await stranger.post("/lapor", data={"csrf_token": csrf_of(form.text), **SAME_LIGHT,
                                                      "title": "Lampu jalan mati", **PINNED, "similar": "1"})
        assert checked.status_code == 200
        unverified = checked.text.split('data-testid="similar-item-unverified"', 1)[1].split("</li>", 1)[0]
        assert "Lampu" in unverified and "Belum diverifikasi" in unverified
        assert tracking_id not in checked.text and description not in checked.text
        assert f"/lapor/dukung/{tracking_id}" not in checked.text and PINNED["lat"] not in unverified

        await api.accept(tracking_id)
        await api.wait_listed({tracking_id}, status="awaiting_agency")
        page = await stranger.get(f"/kasus/{tracking_id}")
        assert page.status_code == 200 and description in page.text
        assert tracking_id in (await stranger.get("/publik")).text
        assert tracking_id in (await stranger.get("/publik/peta.json")).text
        panel = await stranger.get("/lapor/serupa", params={"title": "Lampu jalan mati", **PINNED})
        assert f'data-tracking-id="{tracking_id}"' in panel.text
        assert (await post_form(stranger, f"/kasus/{tracking_id}", f"/kasus/{tracking_id}/dukung", {})).status_code == 303


async def test_an_archived_duplicate_points_to_its_original_and_takes_no_support(api: ApiHarness) -> None:
    async with browser(api) as first, browser(api) as second, browser(api) as stranger:
        original, _ = await report(api, first)
        duplicate, _ = await report(api, second, title=SAME_LIGHT["title"])
        await api.accept(original)
        await api.act_ok(duplicate, "verification", {"decision": "reject", "reason": "duplicate",
                                                     "duplicate_of": original}, api.admin)
        await api.wait_listed({original}, status="awaiting_agency")
        await api.wait_listed({duplicate}, status="archived")
        page = await stranger.get(f"/kasus/{duplicate}")
        assert page.status_code == 200
        assert re.search(rf'data-testid="merged-link"', page.text) and f'href="/kasus/{original}"' in page.text
        assert SAME_LIGHT["title"] not in page.text and 'data-testid="support"' not in page.text
        refused = await post_form(stranger, "/lapor", f"/kasus/{duplicate}/dukung", {})
        assert refused.status_code == 404
        assert duplicate not in (await stranger.get("/publik")).text
