"""Issue 8's story in a browser, each person in their own browser context: a citizen reports with
a photo carrying GPS EXIF and gets a tracking id; an administrator signs in, creates an officer's
account and forwards the case; the officer signs in, finds it in the inbox and follows up; the
citizen replies from the private link; the public sees the case without the reporter's identity,
and the photo it is served has no EXIF."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.async_api import expect

from tests.browser.portal import (
    ADMIN_EMAIL, ADMIN_PASSWORD, OFFICER_PASSWORD, create_officer, fill_report, follow_up,
    forward, open_from_inbox, photo_metadata, photo_with_gps, reload_until, reply, shoot, sign_in, submit_report,
)

REPORTER_NAME = "Siti Rahmawati Uji"
REPORTER_EMAIL = "siti.rahma.uji@example.id"


async def test_citizen_admin_officer_and_public_walk_the_whole_story(contexts, artifacts: Path):
    word = f"kisah{os.urandom(4).hex()}"  # finds this run's case in the public feed
    title = f"Jalan berlubang di Jl. Tjilik Riwut km 5 ({word})"
    photo = photo_with_gps()

    # 1. The citizen reports anonymously, with name and email and a photo that says where it was taken.
    citizen = await (await contexts()).new_page()
    await citizen.goto("/")
    await shoot(citizen, artifacts / "01-home.png")
    await citizen.get_by_test_id("start-report").click()
    await citizen.wait_for_url("**/lapor")
    await fill_report(citizen, title=title, description="Lubang besar sejak dua bulan, dua motor sudah jatuh.",
                      name=REPORTER_NAME, email=REPORTER_EMAIL, anonymous=True,
                      files=[{"name": "lubang.jpg", "mimeType": "image/jpeg", "buffer": photo}])
    await shoot(citizen, artifacts / "02-report-form.png")
    tracking_id, private_link = await submit_report(citizen)
    await expect(citizen.get_by_test_id("attachments-saved")).to_have_text("1")
    assert f"/kasus/{tracking_id}?token=" in private_link
    await shoot(citizen, artifacts / "03-receipt.png")

    # 2. The administrator signs in, creates the officer's account and forwards the case.
    admin = await (await contexts()).new_page()
    await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
    await admin.wait_for_url("**/admin/verifikasi")
    officer_email = f"budi.{word}@palangkaraya.test"
    await create_officer(admin, name="Budi Santoso, PUPR Kota Palangkaraya", email=officer_email,
                         password=OFFICER_PASSWORD)
    await shoot(admin, artifacts / "04-admin-staff-accounts.png")
    await admin.goto("/admin/verifikasi")
    await reload_until(admin, admin.locator(f'[data-testid="queue-item"][data-tracking-id="{tracking_id}"]'))
    await shoot(admin, artifacts / "05-verification-queue.png")
    await forward(admin, tracking_id)
    await admin.goto(f"/kasus/{tracking_id}")
    await expect(admin.get_by_test_id("case")).to_have_attribute("data-status", "awaiting_agency")
    await expect(admin.get_by_test_id("case-agency")).to_contain_text("Palangkaraya")
    await shoot(admin, artifacts / "06-forwarded.png")

    # 3. The officer signs in, finds it in the inbox and follows up; the reporter is anonymous to them.
    officer = await (await contexts()).new_page()
    await sign_in(officer, officer_email, OFFICER_PASSWORD)
    await officer.wait_for_url("**/staf")
    await open_from_inbox(officer, tracking_id)
    await shoot(officer, artifacts / "07-officer-inbox-case.png")
    await expect(officer.get_by_test_id("case")).to_have_attribute("data-status", "awaiting_agency")
    officer_html = await officer.content()
    assert REPORTER_NAME not in officer_html and REPORTER_EMAIL not in officer_html
    await follow_up(officer, "Tim PUPR telah menambal lubang pada 29 November.")
    await expect(officer.get_by_test_id("case")).to_have_attribute("data-status", "awaiting_reporter")
    await shoot(officer, artifacts / "08-followed-up.png")

    # 4. The citizen opens the private link from the receipt and replies.
    await citizen.get_by_test_id("private-link").click()
    await citizen.wait_for_url(f"**/kasus/{tracking_id}?token=*")
    await expect(citizen.get_by_test_id("case")).to_have_attribute("data-status", "awaiting_reporter")
    await expect(citizen.get_by_test_id("timeline")).to_contain_text("Tim PUPR telah menambal lubang")
    await shoot(citizen, artifacts / "09-reporter-private-link.png")
    await reply(citizen, "Baru sebagian yang ditambal.")
    await expect(citizen.get_by_test_id("case")).to_have_attribute("data-status", "awaiting_agency")
    await expect(citizen.get_by_test_id("timeline")).to_contain_text("Baru sebagian yang ditambal.")
    await expect(citizen.get_by_test_id("deadline")).to_be_visible()
    await shoot(citizen, artifacts / "10-replied.png")

    # 5. Anyone: the public feed finds it by a word of its title; nothing names the reporter.
    public_context = await contexts()
    public = await public_context.new_page()
    await public.goto(f"/publik?q={word}")
    item = public.locator(f'[data-testid="feed-item"][data-tracking-id="{tracking_id}"]')
    await reload_until(public, item)
    await expect(public.get_by_test_id("feed-item")).to_have_count(1)
    await expect(item).to_contain_text(word)
    await shoot(public, artifacts / "11-public-feed.png")
    feed_html = await public.content()
    assert REPORTER_NAME not in feed_html and REPORTER_EMAIL not in feed_html
    await item.get_by_role("link", name=title).click()
    await public.wait_for_url(f"**/kasus/{tracking_id}")
    await expect(public.get_by_test_id("case-title")).to_have_text(title)
    await expect(public.get_by_test_id("case-agency")).to_contain_text("Palangkaraya")
    # The agency's follow-up is public; the anonymous reporter's own reply is not (it is theirs
    # and the handling staff's: docs/policies.md, what an anonymous reporter adds).
    await expect(public.get_by_test_id("timeline")).to_contain_text("Tim PUPR")
    await expect(public.get_by_test_id("timeline")).not_to_contain_text("Baru sebagian yang ditambal.")
    await expect(public.get_by_test_id("reporter")).to_have_count(0)
    case_html = await public.content()
    assert REPORTER_NAME not in case_html and REPORTER_EMAIL not in case_html
    assert "token=" not in case_html  # no private link leaks into the public page
    image = public.get_by_test_id("attachment-image")
    await expect(image).to_have_count(1)
    await expect(image).to_have_js_property("complete", True)
    assert await image.evaluate("img => img.naturalWidth") == 640  # the browser shows the picture
    await shoot(public, artifacts / "12-public-case.png")

    # 6. The photo as anyone gets it (no cookies at all): a JPEG with no EXIF, GPS or camera left.
    photo_url = await image.get_attribute("src")
    assert photo_url and photo_url.startswith(f"/kasus/{tracking_id}/lampiran/")
    anonymous = await contexts()
    served = await anonymous.request.get(photo_url)
    assert served.status == 200, await served.text()
    assert served.headers["content-type"] == "image/jpeg"
    data = await served.body()
    (artifacts / "served-photo.jpg").write_bytes(data)
    metadata = photo_metadata(data)
    assert metadata["format"] == "JPEG"
    assert metadata["exif_tags"] == {} and metadata["gps"] == {} and metadata["model"] is None
    assert not metadata["exif_bytes"] and not metadata["info"], metadata
