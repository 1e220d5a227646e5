"""WCAG 2.1 AA in the browser (issue 19): axe-core (npm `axe-core`, injected by Playwright) on every
page of the citizen's, the officer's and the administrator's stories fails the test on any
violation; the report form and the verification queue are walked with the keyboard alone."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.async_api import Page, expect

from tests.browser.portal import (
    ADMIN_EMAIL, ADMIN_PASSWORD, OFFICER_PASSWORD, REGENCY, TileStub, axe_violations, create_officer, fill_report,
    follow_up, forward, open_from_inbox, reload_until, sign_in, submit_report,
)


async def check(page: Page, name: str, found: dict[str, list[str]]) -> None:
    await page.wait_for_load_state("load")
    violations = await axe_violations(page)
    if violations:
        found[name] = violations


async def test_every_page_of_the_three_stories_meets_wcag_21_aa(contexts, artifacts: Path):
    word = f"axe{os.urandom(3).hex()}"
    found: dict[str, list[str]] = {}

    citizen = await (await contexts(bypass_csp=True)).new_page()  # axe is a script added to the page
    # The check bites: a picture without a text alternative is a violation.
    await citizen.goto("/")
    await citizen.evaluate("() => document.querySelector('main').appendChild(document.createElement('img')).src = '/static/favicon.svg'")
    assert any(line.startswith("image-alt") for line in await axe_violations(citizen))
    for path in ("/", "/lapor", "/masuk", "/publik", "/kasus/LAP-TIDAK-ADA"):
        await citizen.goto(path)
        await check(citizen, path, found)
    await fill_report(citizen, title=f"Lampu jalan mati di Jl. Rajawali ({word})",
                      description="Lampu penerangan jalan mati sejak seminggu.", email=f"warga.{word}@example.id")
    await citizen.locator("#lat").fill("-2.2100")
    await citizen.locator("#lon").fill("113.9100")
    tracking_id, private_link = await submit_report(citizen)
    await check(citizen, "receipt", found)
    await citizen.goto(private_link)
    await check(citizen, "the reporter's case page", found)
    await fill_report(citizen, title="Lampu jalan mati di Jl. Rajawali", description="Gelap sekali.")
    # Not verified yet: the panel shows its title only (issue 24).
    await reload_until(citizen, citizen.get_by_test_id("similar-item-unverified").first)
    await check(citizen, "the report form with similar reports", found)

    admin = await (await contexts(bypass_csp=True)).new_page()
    await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
    for path in ("/admin/verifikasi", "/admin/eskalasi", "/admin/dasbor", "/admin/staf", "/admin/instansi",
                 "/admin/perutean", "/staf/unit/pemkot-62.71", "/admin/notifikasi",
                 f"/kasus/{tracking_id}"):
        await admin.goto(path)
        await check(admin, f"admin {path}", found)
    officer_email = f"petugas.{word}@palangkaraya.test"
    await create_officer(admin, name="Petugas Uji", email=officer_email, password=OFFICER_PASSWORD)
    await forward(admin, tracking_id)

    officer = await (await contexts(bypass_csp=True)).new_page()
    await sign_in(officer, officer_email, OFFICER_PASSWORD)
    for path in ("/staf", f"/kasus/{tracking_id}"):
        await officer.goto(path)
        await check(officer, f"officer {path}", found)

    public = await (await contexts(bypass_csp=True)).new_page()
    await public.goto(f"/publik?q={word}")
    await reload_until(public, public.locator(f'[data-testid="feed-item"][data-tracking-id="{tracking_id}"]'))
    await expect(public.get_by_test_id("map")).to_have_attribute("data-points", "1")
    await check(public, "the public list with its map", found)
    await public.goto(f"/kasus/{tracking_id}")
    await check(public, "the public case page", found)
    await public.goto("/publik?lang=en")
    await check(public, "the public list in English", found)

    assert not found, "WCAG 2.1 AA violations:\n" + "\n".join(
        f"{page}:\n  " + "\n  ".join(lines) for page, lines in found.items())


async def test_the_map_pages_meet_wcag_21_aa_with_tiles_and_without(contexts, tiles: TileStub):
    """Tiles that do not load (a closed network, a tile server down) leave the map's attribution
    over the bare map: its link must still be told from the text around it (issue 23)."""
    found: dict[str, list[str]] = {}
    for condition in ("tiles", "no tiles"):
        context = await contexts(bypass_csp=True)
        if condition == "no tiles":
            await context.route(f"http://127.0.0.1:{tiles.port}/**", lambda route: route.abort())
        page = await context.new_page()
        for path in ("/lapor", "/publik"):
            await page.goto(path)
            await expect(page.locator(".leaflet-control-attribution").first).to_be_visible()
            await check(page, f"{path} ({condition})", found)
    assert not found, "WCAG 2.1 AA violations:\n" + "\n".join(
        f"{page}:\n  " + "\n  ".join(lines) for page, lines in found.items())


async def test_the_pages_issue_23_added_meet_wcag_21_aa(contexts):
    """The return, the merge, the confirmation without JavaScript, the calendar, the reporter's
    answer-first page with "Saya puas", the rating form."""
    word = f"axe23{os.urandom(3).hex()}"
    found: dict[str, list[str]] = {}
    citizen = await (await contexts(bypass_csp=True)).new_page()
    tracking_ids = []
    for n in range(2):
        await fill_report(citizen, title=f"Trotoar rusak di Jl. Ahmad Yani ({word})",
                          description="Trotoar berlubang di depan sekolah.", email=f"warga{n}.{word}@example.id")
        tracking_ids.append(await submit_report(citizen))
    (first, private_link), (second, _) = tracking_ids
    admin = await (await contexts(bypass_csp=True)).new_page()
    await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
    await admin.goto(f"/admin/gabung?kasus={second}&dengan={first}")
    await check(admin, "the merge page", found)
    for path in ("/admin/kalender", "/admin/kalender?year=2028"):
        await admin.goto(path)
        await check(admin, f"admin {path}", found)
    # The confirmation page a browser without JavaScript gets (the script's question taken away).
    no_js = admin
    await no_js.goto(f"/kasus/{second}")
    await no_js.evaluate("() => document.querySelectorAll('[data-confirm]').forEach(f => f.removeAttribute('data-confirm'))")
    await no_js.get_by_test_id("reject").click()
    await expect(no_js.get_by_test_id("confirm-question")).to_be_visible()
    await check(no_js, "the confirmation page (no JavaScript)", found)

    officer_email = f"petugas.{word}@palangkaraya.test"
    await create_officer(admin, name="Petugas Uji", email=officer_email, password=OFFICER_PASSWORD)
    await forward(admin, first)
    await check(admin, "the queue after a forward", found)
    officer = await (await contexts(bypass_csp=True)).new_page()
    await sign_in(officer, officer_email, OFFICER_PASSWORD)
    await open_from_inbox(officer, first)
    await follow_up(officer, "Trotoar sudah diperbaiki.")
    await check(officer, "the case after a follow-up", found)
    await officer.goto("/staf")
    await check(officer, "the inbox with its facts", found)
    await citizen.goto(private_link)
    await reload_until(citizen, citizen.get_by_test_id("latest-answer"))
    await check(citizen, "the reporter's page, answer first", found)
    citizen.on("dialog", lambda dialog: dialog.accept())
    await citizen.get_by_test_id("satisfied").click()
    await expect(citizen.get_by_test_id("rate-form")).to_be_visible()
    await check(citizen, "the rating form after Saya puas", found)
    assert not found, "WCAG 2.1 AA violations:\n" + "\n".join(
        f"{page}:\n  " + "\n  ".join(lines) for page, lines in found.items())


async def tab_to(page: Page, selector: str, limit: int = 80) -> list[str]:
    """Press Tab until `selector` has the focus; the ids (or names) focused on the way."""
    target = page.locator(selector)
    visited = []
    for _ in range(limit):
        await page.keyboard.press("Tab")
        visited.append(await page.evaluate("() => document.activeElement.id || document.activeElement.name || "
                                           "document.activeElement.getAttribute('data-testid') || document.activeElement.tagName"))
        if await target.evaluate("element => element === document.activeElement"):
            return visited
    raise AssertionError(f"{selector} never got the focus; focused: {visited}")


async def test_the_report_form_and_the_queue_work_with_the_keyboard_alone(contexts):
    word = f"tombol{os.urandom(3).hex()}"
    citizen = await (await contexts()).new_page()
    await citizen.goto("/lapor")
    await tab_to(citizen, "#title")
    await citizen.keyboard.type(f"Lampu taman mati ({word})")
    await citizen.keyboard.press("Tab")
    await citizen.keyboard.type("Lampu taman kota mati sejak tiga hari.")
    visited = await tab_to(citizen, "#province")
    await citizen.keyboard.type("Kalimantan Tengah")
    await expect(citizen.locator("#province")).to_have_value("62")
    await tab_to(citizen, "#regency")
    await expect(citizen.locator(f'#regency option[value="{REGENCY}"]')).to_be_attached()
    await citizen.keyboard.type("Kota Palangkaraya")
    await expect(citizen.locator("#regency")).to_have_value(REGENCY)
    visited += await tab_to(citizen, '[data-testid="submit"]')
    # Every field of the form is reached in the order it is read.
    for field in ("report_type", "category", "address", "lat", "lon", "anonymous", "confidential", "name",
                  "email", "phone", "attachments"):
        assert field in visited, (field, visited)
    assert visited.index("lat") < visited.index("anonymous") < visited.index("email")
    await citizen.keyboard.press("Enter")
    await citizen.wait_for_url("**/lapor/terkirim/**")
    tracking_id = (await citizen.get_by_test_id("tracking-id").inner_text()).strip()

    admin = await (await contexts()).new_page()
    await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
    await admin.goto("/admin/verifikasi")
    item = f'[data-testid="queue-item"][data-tracking-id="{tracking_id}"]'
    await reload_until(admin, admin.locator(item))
    await tab_to(admin, f'{item} [data-testid="agency-input"]', limit=400)
    await admin.keyboard.type("pemkot-62.71")
    await tab_to(admin, f'{item} [data-testid="accept"]', limit=3)
    await admin.keyboard.press("Enter")
    await admin.wait_for_url("**/admin/verifikasi?done=forwarded*")
    await expect(admin.locator(item)).to_have_count(0)
