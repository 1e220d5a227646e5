"""The portal's defences, tried in a real browser: forms without their CSRF token or sent from
another site are refused and create nothing; script in a report stays text; files that are too
large or not what their name says are refused on the form with a message that names the problem."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.browser.portal import (
    ADMIN_EMAIL, ADMIN_PASSWORD, accept_by_api, assert_no_case, fill_report, reload_until, shoot, sign_in,
    submit_report,
)

DESCRIPTION = "Saluran air tersumbat sampah sejak seminggu, air meluap ke jalan."


def marker(prefix: str) -> str:
    """A word no other case has: the read model is searched for it afterwards."""
    return f"{prefix}{os.urandom(4).hex()}"


def is_report_post(response) -> bool:
    return response.request.method == "POST" and response.url.split("?")[0].endswith("/lapor")


# --- CSRF ------------------------------------------------------------------------------------------


async def test_a_form_without_its_csrf_token_is_refused(contexts, url, artifacts: Path):
    word = marker("tanpatoken")
    page = await (await contexts()).new_page()
    await fill_report(page, title=f"Saluran tersumbat {word}", description=DESCRIPTION)
    await page.evaluate("""document.querySelector('[data-testid="report-form"] input[name="csrf_token"]').remove()""")
    async with page.expect_response(is_report_post) as refused:
        await page.get_by_test_id("submit").click()
    assert (await refused.value).status == 403
    # The form comes back with what was typed and a fresh token; nothing was sent.
    await expect(page.get_by_test_id("form-errors")).to_contain_text("Formulir kedaluwarsa")
    await expect(page.locator("#title")).to_have_value(f"Saluran tersumbat {word}")
    assert "/lapor/terkirim/" not in page.url
    await shoot(page, artifacts / "01-no-token-403.png")

    # A token of another browser (or a made-up one) is no better than none.
    await fill_report(page, title=f"Saluran tersumbat {word}", description=DESCRIPTION)
    await page.evaluate("""document.querySelector('[data-testid="report-form"] input[name="csrf_token"]')
                           .value = 'dGhpcyBpcyBub3QgdGhlIHRva2Vu'""")
    async with page.expect_response(is_report_post) as refused:
        await page.get_by_test_id("submit").click()
    assert (await refused.value).status == 403
    await expect(page.get_by_test_id("form-errors")).to_contain_text("Formulir kedaluwarsa")
    await shoot(page, artifacts / "02-wrong-token-403.png")
    await assert_no_case(url, word)


EVIL_ORIGIN = "http://evil.test"


async def test_a_form_sent_from_another_site_is_refused(contexts, url, artifacts: Path):
    """A page of another site cannot read this browser's token; even given one, the browser does
    not send the cookie it is bound to, and a request naming another Origin is refused outright."""
    word = marker("lintassitus")
    evil_email = f"{word}@evil.test"
    context = await contexts()
    page = await context.new_page()
    await sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)  # the administrator is signed in, in this browser
    await page.goto("/lapor")
    token = await page.locator('[data-testid="report-form"] input[name="csrf_token"]').input_value()
    staff_token = await page.locator('form[action="/keluar"] input[name="csrf_token"]').input_value()

    # Requests from this browser's cookie jar with the right token, saying they come from
    # evil.test: the Origin check refuses them although cookie and token match ...
    fields = {"csrf_token": token, "title": f"Saluran tersumbat {word}", "description": DESCRIPTION}
    staff_fields = {"csrf_token": staff_token, "email": evil_email, "name": "Penyusup", "role": "admin",
                    "password": "sandi-penyusup-123"}
    forged = await context.request.post(f"{url}/lapor", multipart=fields, headers={"Origin": EVIL_ORIGIN},
                                        max_redirects=0)
    assert forged.status == 403, await forged.text()
    forged = await context.request.post(f"{url}/admin/staf", form=staff_fields, headers={"Origin": EVIL_ORIGIN},
                                        max_redirects=0)
    assert forged.status == 403, await forged.text()
    # ... while the portal's own origin with the same cookie and token is let through (the control).
    own = await context.request.post(f"{url}/lapor", headers={"Origin": url}, max_redirects=0,
                                     multipart=fields | {"title": f"Saluran tersumbat {marker('asalsendiri')}"})
    assert own.status == 303 and "/lapor/terkirim/" in own.headers["location"]

    # A page of another site with two forms aimed at the portal, carrying this browser's real tokens.
    await context.route(f"{EVIL_ORIGIN}/**", lambda route: route.fulfill(content_type="text/html", body=f"""
        <!doctype html><title>Hadiah!</title>
        <form method="post" action="{url}/lapor" enctype="multipart/form-data">
          <input name="csrf_token" value="{token}"><input name="title" value="{fields['title']}">
          <input name="description" value="{DESCRIPTION}"><button id="send-report">Klaim hadiah</button>
        </form>
        <form method="post" action="{url}/admin/staf">
          {"".join(f'<input name="{k}" value="{v}">' for k, v in staff_fields.items())}
          <button id="send-staff">Klaim hadiah 2</button>
        </form>"""))
    evil = await context.new_page()
    await evil.goto(f"{EVIL_ORIGIN}/hadiah")
    async with evil.expect_response(is_report_post) as refused:
        await evil.locator("#send-report").click()
    assert (await refused.value).status == 403
    await expect(evil.get_by_test_id("form-errors")).to_contain_text("Formulir kedaluwarsa")
    await shoot(evil, artifacts / "01-cross-site-report-403.png")

    await evil.goto(f"{EVIL_ORIGIN}/hadiah")
    async with evil.expect_response(lambda r: r.request.method == "POST" and "/admin/staf" in r.url) as answer:
        await evil.locator("#send-staff").click()
    response = await answer.value
    assert response.status in (303, 401, 403), response.status  # to the sign-in page, or refused
    assert "done=1" not in (response.headers.get("location") or "")
    await shoot(evil, artifacts / "02-cross-site-staff-refused.png")
    await page.goto("/admin/staf")
    await expect(page.get_by_test_id("staff-list")).not_to_contain_text(evil_email)
    await assert_no_case(url, word)


# --- XSS -------------------------------------------------------------------------------------------

PAYLOAD_TITLE = '<script>window.__xss=1</script> Jalan <img src=x onerror="window.__xss=2">'
PAYLOAD_DESCRIPTION = '"><svg onload="window.__xss=3"></svg><script>window.__xss=4</script> \'-alert(5)-\''
PAYLOAD_NAME = '<img src=x onerror="window.__xss=5">'
# Nothing the page did not bring itself: its own scripts (app.js; the maps' Leaflet, clustering and
# map.js where a page has a map), no <img src=x>, no <svg> (but Leaflet's attribution flag), nothing set.
PAGE_SCRIPTS = {"/static/app.js", "/vendor/leaflet/leaflet.js", "/vendor/markercluster/leaflet.markercluster.js",
                "/static/map.js"}
INJECTED = """() => ({
    xss: typeof window.__xss,
    scripts: Array.from(document.scripts).map(s => s.getAttribute('src')),
    imgs: document.querySelectorAll('img[src="x"]').length,
    svgs: document.querySelectorAll('svg:not(.leaflet-control-attribution svg)').length,
    handlers: document.querySelectorAll('[onerror], [onload]').length,
})"""


async def assert_inert(page: Page) -> None:
    found = await page.evaluate(INJECTED)
    scripts = found.pop("scripts")
    assert "/static/app.js" in scripts and set(scripts) <= PAGE_SCRIPTS, scripts
    assert found == {"xss": "undefined", "imgs": 0, "svgs": 0, "handlers": 0}, found


async def test_script_in_a_report_is_shown_as_text_and_never_runs(contexts, url, artifacts: Path):
    """The browsers here ignore the portal's Content-Security-Policy (bypass_csp), so that escaping
    alone has to keep the payloads inert."""
    word = marker("xss")
    title = f"{PAYLOAD_TITLE} {word}"
    citizen = await (await contexts(bypass_csp=True)).new_page()
    await fill_report(citizen, title=title, description=PAYLOAD_DESCRIPTION, name=PAYLOAD_NAME)
    tracking_id, private_link = await submit_report(citizen)
    await assert_inert(citizen)

    # The reporter's page: title, description and the reporter's own name, as typed.
    await citizen.get_by_test_id("private-link").click()
    await citizen.wait_for_url(f"**/kasus/{tracking_id}?token=*")
    await expect(citizen.get_by_test_id("case-title")).to_have_text(title)
    await expect(citizen.get_by_test_id("case-description")).to_have_text(PAYLOAD_DESCRIPTION)
    await expect(citizen.get_by_test_id("reporter")).to_contain_text(PAYLOAD_NAME)
    await assert_inert(citizen)
    await shoot(citizen, artifacts / "01-case-page.png")

    # The administrator's queue shows title and description too.
    admin = await (await contexts(bypass_csp=True)).new_page()
    await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
    await admin.goto("/admin/verifikasi")
    queued = admin.locator(f'[data-testid="queue-item"][data-tracking-id="{tracking_id}"]')
    await reload_until(admin, queued)
    await expect(queued.get_by_role("heading", level=2)).to_have_text(title)
    await assert_inert(admin)
    await shoot(admin, artifacts / "03-verification-queue.png")

    # The public feed and the public case page, once verified and forwarded (issue 24).
    await accept_by_api(url, tracking_id)
    public = await (await contexts(bypass_csp=True)).new_page()
    await public.goto(f"/publik?q={word}")
    item = public.locator(f'[data-testid="feed-item"][data-tracking-id="{tracking_id}"]')
    await reload_until(public, item)
    await expect(item.get_by_role("heading")).to_have_text(title)
    await expect(item).to_contain_text(PAYLOAD_DESCRIPTION)
    await assert_inert(public)
    await shoot(public, artifacts / "02-public-feed.png")
    await public.goto(f"/kasus/{tracking_id}")
    await expect(public.get_by_test_id("case-title")).to_have_text(title)
    await assert_inert(public)

    # Reflected: a search term and an address that carry markup.
    await public.goto("/publik?q=" + '"><script>window.__xss=6</script>')
    await expect(public.locator("#q")).to_have_value('"><script>window.__xss=6</script>')
    await assert_inert(public)
    response = await public.goto("/kasus/%3Cimg%20src=x%20onerror=window.__xss=7%3E")
    assert response is not None and response.status == 404
    await assert_inert(public)
    await shoot(public, artifacts / "04-reflected-404.png")


# --- uploads ---------------------------------------------------------------------------------------

TEN_MB = 10 * 1024 * 1024


@pytest.mark.parametrize(("upload", "message"), [
    pytest.param({"name": "besar.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8\xff\xe0" + b"\0" * TEN_MB},
                 "melebihi 10 MB", id="over-10-MB"),
    pytest.param({"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": b"Bukan foto, hanya teks.\n" * 40},
                 "Jenis berkas tidak didukung", id="text-named-photo.jpg"),
])
async def test_a_refused_upload_is_told_on_the_form_and_creates_nothing(contexts, url, artifacts: Path,
                                                                         upload: dict, message: str):
    word = marker("unggah")
    title = f"Saluran tersumbat {word}"
    page = await (await contexts()).new_page()
    await fill_report(page, title=title, description=DESCRIPTION, files=[upload])
    async with page.expect_response(is_report_post) as answer:
        await page.get_by_test_id("submit").click()
    assert (await answer.value).status == 422
    errors = page.get_by_test_id("form-errors")
    await expect(errors).to_be_visible()
    await expect(errors).to_contain_text("Lampiran 1")
    await expect(errors).to_contain_text(message)
    await expect(page.locator("#title")).to_have_value(title)  # what was typed is kept
    await expect(page.locator("#regency")).to_have_value("62.71")
    await shoot(page, artifacts / "01-refused-upload.png")
    await assert_no_case(url, word)
