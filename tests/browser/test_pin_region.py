"""Issue 22, item 5 in the browser: the report form's map goes to the region chosen and follows
each change; a pin outside it is warned about and, kept, flagged on the verifier's queue card."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.async_api import expect

from tests.browser.portal import ADMIN_EMAIL, ADMIN_PASSWORD, PROVINCE, REGENCY, fill_report, shoot, sign_in, submit_report


async def view_when(page, picker, accept) -> tuple[float, float, int]:
    """The map's centre and zoom once `accept` holds (Leaflet may animate the move)."""
    found = None
    for _ in range(50):
        attribute = await picker.get_attribute("data-view")
        if attribute:
            lat, lon, zoom = attribute.split(",")
            found = float(lat), float(lon), int(zoom)
            if accept(found):
                return found
        await page.wait_for_timeout(100)
    raise AssertionError(f"the map stayed at {found}")


async def test_the_map_follows_the_region_and_an_outside_pin_is_warned_and_flagged(contexts, artifacts: Path):
    page = await (await contexts()).new_page()
    word = os.urandom(3).hex()
    await fill_report(page, title=f"Sampah menumpuk di tepi Sungai Kahayan {word}",
                      description="Sampah menumpuk di tepi sungai dekat dermaga, baunya menyengat.")
    picker = page.get_by_test_id("pin-picker")
    await expect(picker).to_have_attribute("data-region", REGENCY)
    # On Kota Palangka Raya, not on all of Indonesia.
    await view_when(page, picker, lambda v: -2.45 < v[0] < -1.55 and 113.45 < v[1] < 114.15 and v[2] >= 8)
    await shoot(page, artifacts / "01-map-on-the-city.png")

    # Another regency: the map follows.
    await page.locator("#regency").select_option("62.11")  # Kabupaten Pulang Pisau
    await expect(picker).to_have_attribute("data-region", "62.11")
    await view_when(page, picker, lambda v: v[0] < -2.45)  # Pulang Pisau reaches the Java Sea
    await page.locator("#regency").select_option(REGENCY)
    await expect(picker).to_have_attribute("data-region", REGENCY)

    # A pin in Sulawesi for a Palangka Raya case: warned, in the form's language.
    warning = page.get_by_test_id("pin-outside-warning")
    await expect(warning).to_be_hidden()
    await page.locator("#lat").fill("-5.1477")
    await page.locator("#lon").fill("119.4327")
    await page.locator("#lon").dispatch_event("change")
    await expect(warning).to_be_visible()
    await expect(warning).to_contain_text("di luar wilayah")
    await shoot(page, artifacts / "02-pin-outside-warned.png")
    # Back inside: no warning.
    await page.locator("#lat").fill("-2.2096")
    await page.locator("#lon").fill("113.9108")
    await page.locator("#lon").dispatch_event("change")
    await expect(warning).to_be_hidden()

    # Kept anyway: stored with a flag the verifier sees.
    await page.locator("#lat").fill("-5.1477")
    await page.locator("#lon").fill("119.4327")
    await page.locator("#lon").dispatch_event("change")
    await expect(warning).to_be_visible()
    tracking_id, _ = await submit_report(page)

    admin = await (await contexts()).new_page()
    await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
    await admin.goto("/admin/verifikasi")
    card = admin.locator(f'[data-testid="queue-item"][data-tracking-id="{tracking_id}"]')
    for _ in range(20):  # the read model has the case a moment after its receipt
        if await card.count():
            break
        await admin.wait_for_timeout(500)
        await admin.reload()
    await expect(card.get_by_test_id("flag-pin-outside")).to_be_visible()
    await shoot(admin, artifacts / "03-queue-flag.png")
