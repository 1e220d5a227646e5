"""A pin outside its region through the portal (issue 22, item 5): the form takes it, the verifier
sees the flag on the queue card and the case page and confirms it; the public map and page leave
it out until then; the form's map endpoint tells where the region is and whether a pin is inside."""

from __future__ import annotations

import re

from tests.api.conftest import ApiHarness
from tests.api.test_portal import (ADMIN_EMAIL, ADMIN_PASSWORD, PORTAL, REPORT, browser, post_form, report, sign_in,
                                   submit_form)

pytestmark = PORTAL

MAKASSAR = {"lat": "-5.147700", "lon": "119.432700"}


async def test_the_verifier_sees_an_outside_pin_and_confirms_it(api: ApiHarness) -> None:
    async with browser(api) as citizen, browser(api) as admin, browser(api) as public:
        tracking_id, private = await report(api, citizen, **MAKASSAR)
        assert (await api.case(tracking_id))["pin_outside_region"] is True
        # Without the form's script the map never warned: the receipt says it.
        sent = await submit_form(citizen, REPORT | MAKASSAR, [])
        receipt = (await citizen.get(sent.headers["location"])).text
        assert 'data-testid="receipt-pin-outside"' in receipt and "di luar wilayah yang Anda pilih" in receipt
        sent = await submit_form(citizen, REPORT, [])
        assert 'data-testid="receipt-pin-outside"' not in (await citizen.get(sent.headers["location"])).text
        # The reporter still sees their own pin.
        assert "-5.1477" in (await citizen.get(private)).text

        assert (await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 303
        queue = (await admin.get("/admin/verifikasi")).text
        card = re.search(rf'data-tracking-id="{tracking_id}".*?</li>\s*</ol>|data-tracking-id="{tracking_id}".*', queue, re.S).group(0)
        assert 'data-testid="flag-pin-outside"' in card and "Titik di luar wilayah" in card
        page = (await admin.get(f"/kasus/{tracking_id}")).text
        assert 'data-testid="pin-outside"' in page and 'data-testid="confirm-pin"' in page

        # Accepted: public, but not its pin.
        await api.accept(tracking_id)
        await api.settle()
        assert "-5.1477" not in (await public.get(f"/kasus/{tracking_id}")).text
        assert (await public.get("/publik/peta.json")).json()["points"] == []

        confirmed = await post_form(admin, f"/kasus/{tracking_id}", f"/kasus/{tracking_id}/konfirmasi-titik", {})
        assert confirmed.status_code == 303
        page = (await admin.get(f"/kasus/{tracking_id}")).text
        assert 'data-testid="pin-outside"' not in page and 'data-testid="pin-confirmed"' in page
        assert "-5.1477" in (await public.get(f"/kasus/{tracking_id}")).text
        assert [p["id"] for p in (await public.get("/publik/peta.json")).json()["points"]] == [tracking_id]


async def test_the_form_map_endpoint_gives_the_region_and_judges_the_pin(api: ApiHarness) -> None:
    async with browser(api) as citizen:
        city = (await citizen.get("/wilayah/62.71/peta")).json()
        assert city["code"] == "62.71" and city["inside"] is None
        (south, west), (north, east) = city["bounds"]
        assert south < -2.2 < north and west < 113.9 < east
        district = (await citizen.get("/wilayah/62.71.01/peta", params={"lat": "-2.21", "lon": "113.91"})).json()
        assert district["code"] == "62.71" and district["inside"] is True
        outside = (await citizen.get("/wilayah/62.71/peta", params={"lat": "-2.35", "lon": "114.1"})).json()
        assert outside["inside"] is False  # Pulang Pisau, inside the city's box
        assert (await citizen.get("/wilayah/99.99/peta")).status_code == 404
