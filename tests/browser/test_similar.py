"""Issue 19 in the browser: "I want to report a broken light → I see it is already reported nearby
→ I support it and get its updates"; the administrator merging a duplicate whose reporter then
hears of the original's next update (over SMTP, aiosmtpd); the map with a local tile stub."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
from playwright.async_api import expect

from tests.browser.portal import (
    ADMIN_EMAIL, ADMIN_PASSWORD, OFFICER_PASSWORD, PROVINCE, REGENCY, accept_by_api, assert_no_case, create_officer,
    fill_report, follow_up, forward, open_from_inbox, reload_until, shoot, sign_in, submit_report,
)
from tests.reliability.stack import ADMIN_TOKEN

LIGHT_DESCRIPTION = "Lampu penerangan jalan di depan SDN 4 mati sejak seminggu, jalan gelap dan rawan."


async def report_light(contexts, word: str, **fields) -> tuple[str, str]:
    page = await (await contexts()).new_page()
    await fill_report(page, title=f"Lampu jalan mati di Jl. Rajawali ({word})", description=LIGHT_DESCRIPTION, **fields)
    await page.locator("#lat").fill("-2.2100")
    await page.locator("#lon").fill("113.9100")
    return await submit_report(page)


async def officer_page(contexts, admin, word: str):
    email = f"officer.{word}@palangkaraya.test"
    await create_officer(admin, name=f"Petugas {word}", email=email, password=OFFICER_PASSWORD)
    officer = await (await contexts()).new_page()
    await sign_in(officer, email, OFFICER_PASSWORD)
    return officer


async def test_a_citizen_sees_it_is_already_reported_supports_it_and_gets_its_updates(contexts, artifacts: Path,
                                                                                     mail, url):
    word = f"lampu{os.urandom(3).hex()}"
    original, _ = await report_light(contexts, word, name="Pelapor Pertama", email=f"pertama.{word}@example.id")
    await accept_by_api(url, original)  # public (and in the panel with its details) once forwarded

    # A neighbour starts a report of the same light: the form shows it while they type.
    neighbour = await (await contexts()).new_page()
    await neighbour.goto("/lapor")
    await neighbour.locator("#province").select_option(PROVINCE)
    await expect(neighbour.locator(f'#regency option[value="{REGENCY}"]')).to_be_attached()
    await neighbour.locator("#regency").select_option(REGENCY)
    item = neighbour.locator(f'[data-testid="similar-item"][data-tracking-id="{original}"]')
    for attempt in range(20):  # the read model has the first report a moment after its receipt
        await neighbour.locator("#title").fill(f"Lampu PJU padam Jl. Rajawali {attempt}")
        await neighbour.locator("#description").press_sequentially(" gelap", delay=20)
        try:
            await item.wait_for(state="visible", timeout=2000)
            break
        except Exception:
            continue
    await expect(item).to_be_visible()
    await expect(item.get_by_test_id("similar-reasons")).to_contain_text("kabupaten/kota sama")
    await expect(neighbour.get_by_test_id("check-similar")).to_be_hidden()  # the script does it
    await shoot(neighbour, artifacts / "01-similar-while-typing.png")
    html = await neighbour.content()
    assert "Pelapor Pertama" not in html and f"pertama.{word}" not in html

    # "This is my problem too", with an email to be told of it: no second case.
    neighbour_email = f"tetangga.{word}@example.id"
    await neighbour.locator("#description").fill(f"{LIGHT_DESCRIPTION} penanda{word}")
    await neighbour.locator("#email").fill(neighbour_email)
    await item.get_by_test_id("support-instead").click()
    await neighbour.wait_for_url(f"**/kasus/{original}?supported=follow")
    await expect(neighbour.get_by_test_id("supported-notice")).to_be_visible()
    await expect(neighbour.get_by_test_id("support-count")).to_have_text("1")
    await shoot(neighbour, artifacts / "02-supported.png")
    await assert_no_case(url, f"penanda{word}")

    # Following is opt-in (issue 24): one confirmation mail, quoting nothing of the case; its link
    # asks, the button confirms.
    confirmation = await mail.wait_for(neighbour_email, f"Konfirmasi: ikuti laporan {original}")
    text = confirmation.get_body(("plain",)).get_content()
    assert word not in text and "Pelapor Pertama" not in text
    link = re.search(r"(http\S+/ikuti/konfirmasi\?\S+)", text).group(1)
    await neighbour.goto(link)
    await neighbour.get_by_test_id("follow-confirm").click()
    await expect(neighbour.get_by_test_id("follow-confirmed")).to_be_visible()

    # The case moves on: the supporter is told, at the address they left.
    admin = await (await contexts()).new_page()
    await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
    officer = await officer_page(contexts, admin, word)
    await open_from_inbox(officer, original)
    await follow_up(officer, "Lampu sudah diganti oleh Dinas Perhubungan.")
    told = await mail.wait_for(neighbour_email, f"Tindak lanjut atas laporan {original} yang Anda ikuti")
    body = told.get_body(("plain",)).get_content()
    assert "Lampu sudah diganti oleh Dinas Perhubungan." in body
    assert "Pelapor Pertama" not in told.as_string() and "token=" not in body


async def test_the_administrator_merges_a_duplicate_and_its_reporter_hears_the_next_update(contexts, artifacts: Path,
                                                                                           mail):
    word = f"ganda{os.urandom(3).hex()}"
    original, _ = await report_light(contexts, word)
    second_email = f"kedua.{word}@example.id"
    duplicate, private_link = await report_light(contexts, word, name="Pelapor Kedua", email=second_email)

    admin = await (await contexts()).new_page()
    await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
    await admin.goto("/admin/verifikasi")
    item = admin.locator(f'[data-testid="queue-item"][data-tracking-id="{duplicate}"]')
    await reload_until(admin, item.locator(f'[data-testid="duplicate-candidate"][data-tracking-id="{original}"]'))
    await expect(item.get_by_test_id("duplicate-score").first).to_contain_text("%")
    await shoot(admin, artifacts / "01-queue-duplicates.png")
    # Side by side, the older one proposed as the original; the merge says what it did.
    await item.locator(f'[data-testid="duplicate-candidate"][data-tracking-id="{original}"]').get_by_test_id(
        "compare").click()
    await admin.wait_for_url("**/admin/gabung?*")
    await expect(admin.get_by_test_id("merge-original")).to_have_attribute("data-tracking-id", original)
    await expect(admin.get_by_test_id("merge-duplicate")).to_have_attribute("data-tracking-id", duplicate)
    await shoot(admin, artifacts / "01b-merge-side-by-side.png")
    await admin.get_by_test_id("merge").click()
    await admin.wait_for_url("**/admin/verifikasi?done=merged*")
    await expect(admin.get_by_test_id("done")).to_contain_text(original)
    await expect(admin.get_by_test_id("done-link")).to_have_attribute("href", f"/kasus/{original}")
    await expect(admin.locator(f'[data-testid="queue-item"][data-tracking-id="{duplicate}"]')).to_have_count(0)

    # The original is forwarded (public from now on); the duplicate's reporter's page points to it.
    await forward(admin, original)
    reporter = await (await contexts()).new_page()
    await reporter.goto(private_link)
    await expect(reporter.get_by_test_id("merged-link")).to_have_attribute("href", f"/kasus/{original}")
    await shoot(reporter, artifacts / "02-merged-reporter-page.png")
    await reporter.get_by_test_id("merged-link").click()
    # As a reader would: reload while the page says the service did not answer in time (503).
    await reload_until(reporter, reporter.get_by_test_id("voices"))
    await expect(reporter.get_by_test_id("voices")).to_contain_text("2 orang melaporkan")
    assert "Pelapor Kedua" not in await reporter.content()

    # The original's next update reaches the duplicate's reporter.
    officer = await officer_page(contexts, admin, word)
    await open_from_inbox(officer, original)
    await follow_up(officer, "Tiang lampu diperbaiki hari ini.")
    told = await mail.wait_for(second_email, f"Tindak lanjut atas laporan {original} yang Anda ikuti")
    assert "Tiang lampu diperbaiki hari ini." in told.get_body(("plain",)).get_content()


async def test_the_public_map_clusters_public_pins_with_the_lists_filters(contexts, artifacts: Path, tiles, url):
    word = f"peta{os.urandom(3).hex()}"
    shown, _ = await report_light(contexts, word)
    hidden, _ = await report_light(contexts, word, anonymous=True)
    async with httpx.AsyncClient(base_url=url) as client:  # both in the read model before looking
        for _ in range(100):
            found = (await client.get("/v1/complaints", params={"q": word},
                                      headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})).json()["items"]
            if len(found) == 2:
                break
    await accept_by_api(url, shown, hidden)  # public once verified and forwarded
    page = await (await contexts()).new_page()
    await page.goto(f"/publik?q={word}")
    await reload_until(page, page.locator(f'[data-testid="feed-item"][data-tracking-id="{hidden}"]'))
    the_map = page.get_by_test_id("map")
    await expect(the_map).to_have_attribute("data-points", "1")  # the anonymous reporter's pin is not there
    await expect(page.locator(".leaflet-tile-loaded").first).to_be_attached()
    assert tiles.requests, "no tile was asked of the configured tile server"
    points = await (await page.request.get(f"/publik/peta.json?q={word}")).json()
    assert [p["id"] for p in points["points"]] == [shown]
    await page.locator(".leaflet-marker-icon").first.click()
    await expect(page.locator(".leaflet-popup-content a")).to_have_attribute("href", f"/kasus/{shown}")
    await shoot(page, artifacts / "01-map.png")

    # The report form's pin picker fills the coordinates.
    form = await (await contexts()).new_page()
    await form.goto("/lapor")
    picker = form.get_by_test_id("pin-picker")
    await picker.click(position={"x": 200, "y": 150})
    assert re.fullmatch(r"-?\d+\.\d{6}", await form.locator("#lat").input_value())
    assert re.fullmatch(r"-?\d+\.\d{6}", await form.locator("#lon").input_value())
    await shoot(form, artifacts / "02-pin-picker.png")


async def test_without_javascript_the_list_and_the_form_still_work(browser, url, artifacts: Path):
    from tests.browser.portal import new_context

    context = await new_context(browser, url, java_script_enabled=False)
    try:
        page = await context.new_page()
        await page.goto("/publik")
        await expect(page.get_by_test_id("map")).to_be_hidden()
        await page.goto("/lapor")
        await expect(page.get_by_test_id("pin-picker")).to_be_hidden()
        await page.locator("#title").fill("Lampu jalan mati di Jl. Rajawali")
        await page.get_by_test_id("check-similar").click()
        await expect(page.get_by_test_id("similar")).to_be_visible()
        await expect(page.locator("#title")).to_have_value("Lampu jalan mati di Jl. Rajawali")
        await shoot(page, artifacts / "01-no-js-similar.png")
    finally:
        await context.close()
