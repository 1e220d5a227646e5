"""Issue 23's three stories in Chromium, without a dead end: the agency's "not our authority" lands
on its inbox saying where the case went, and the verifier's card tells who returned it and why;
the reporter reads the answer first, says "Saya puas" and rates at once; a rejection asks first."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.async_api import Dialog, expect

from tests.browser.portal import (
    ADMIN_EMAIL, ADMIN_PASSWORD, OFFICER_PASSWORD, create_officer, fill_report, follow_up, forward,
    open_from_inbox, photo_with_gps, reload_until, shoot, sign_in, submit_report,
)


async def test_a_return_a_satisfied_reporter_and_a_rating_each_land_on_a_page_that_says_so(contexts, artifacts: Path):
    word = f"kembali{os.urandom(3).hex()}"
    citizen = await (await contexts()).new_page()
    await fill_report(citizen, title=f"Lampu jalan provinsi padam ({word})", description="Sudah seminggu gelap.",
                      email=f"warga.{word}@example.id", anonymous=True,
                      files=[{"name": "lampu.jpg", "mimeType": "image/jpeg", "buffer": photo_with_gps()}])
    tracking_id, private_link = await submit_report(citizen)

    admin = await (await contexts()).new_page()
    await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
    chief_email, officer_email = f"kepala.{word}@palangkaraya.test", f"petugas.{word}@palangkaraya.test"
    await create_officer(admin, name="Kepala Pengaduan Kota", email=chief_email, password=OFFICER_PASSWORD,
                         role="agency_admin")
    await create_officer(admin, name="Petugas PUPR", email=officer_email, password=OFFICER_PASSWORD)
    await forward(admin, tracking_id)
    await expect(admin.get_by_test_id("done")).to_contain_text("Pemerintah Kota Palangkaraya")

    # The agency: "Bukan wewenang kami" lands on its inbox, which says the case went back.
    chief = await (await contexts()).new_page()
    await sign_in(chief, chief_email, OFFICER_PASSWORD)
    await open_from_inbox(chief, tracking_id)
    await chief.locator("#reroute-reason").fill("Jalan provinsi: kewenangan pemerintah provinsi.")
    await chief.locator("#suggested_agency_id").fill("Provinsi Kalimantan Tengah")
    await chief.get_by_test_id("reroute").click()
    await chief.wait_for_url("**/staf?done=returned*")
    await expect(chief.get_by_test_id("done")).to_contain_text("Dikembalikan ke verifikator")
    await expect(chief.get_by_test_id("done")).to_contain_text("Pemerintah Provinsi Kalimantan Tengah")
    await shoot(chief, artifacts / "01-agency-returned.png")

    # The verifier's card: returned by whom, why, which body; anonymous; the reporter's photo.
    await admin.goto("/admin/verifikasi")
    card = admin.locator(f'[data-testid="queue-item"][data-tracking-id="{tracking_id}"]')
    await reload_until(admin, card.get_by_test_id("returned"))
    await expect(card.get_by_test_id("returned")).to_contain_text("Pemerintah Kota Palangkaraya")
    await expect(card.get_by_test_id("returned")).to_contain_text("Jalan provinsi: kewenangan pemerintah provinsi.")
    await expect(card.get_by_test_id("returned-suggested")).to_have_text("Pemerintah Provinsi Kalimantan Tengah")
    await expect(card.get_by_test_id("flag-anonymous")).to_be_visible()
    await expect(card.get_by_test_id("attachment-count")).to_contain_text("1 dari pelapor")
    await expect(card.get_by_test_id("case-region")).to_have_text("Kota Palangkaraya, Kalimantan Tengah")
    await shoot(admin, artifacts / "02-queue-card-returned.png")
    await forward(admin, tracking_id)  # the city after all (the admin decides)

    officer = await (await contexts()).new_page()
    await sign_in(officer, officer_email, OFFICER_PASSWORD)
    await open_from_inbox(officer, tracking_id)
    await follow_up(officer, "Lampu sudah diganti oleh Dinas PUPR Kota.")
    await expect(officer.get_by_test_id("done")).to_contain_text("Tindak lanjut terkirim")

    # The reporter: the answer first, then "Saya puas" (asked once), then the rating at once.
    await citizen.goto(private_link)
    await reload_until(citizen, citizen.get_by_test_id("latest-answer"))
    await expect(citizen.get_by_test_id("latest-answer")).to_contain_text("Lampu sudah diganti")
    answer_top = (await citizen.get_by_test_id("latest-answer").bounding_box())["y"]
    form_top = (await citizen.get_by_test_id("reply-form").bounding_box())["y"]
    assert answer_top < form_top
    await expect(citizen.get_by_test_id("silence-rule")).to_contain_text("Bila Anda tidak menanggapi sampai")
    await shoot(citizen, artifacts / "03-reporter-answer-first.png")
    questions: list[str] = []

    async def accept(dialog: Dialog) -> None:
        questions.append(dialog.message)
        await dialog.accept()

    citizen.on("dialog", accept)
    await citizen.get_by_test_id("satisfied").click()
    await citizen.wait_for_url("**done=satisfied*")
    assert questions and "selesaikan laporan ini" in questions[0]
    await expect(citizen.get_by_test_id("case")).to_have_attribute("data-status", "completed")
    await expect(citizen.get_by_test_id("rate-form")).to_be_visible()
    await citizen.get_by_test_id("done-link").click()  # "Beri penilaian sekarang"
    await citizen.locator('input[name="score"][value="5"]').check()
    await citizen.get_by_test_id("rate-form").get_by_role("button").click()
    await citizen.wait_for_url("**done=rated*")
    await expect(citizen.get_by_test_id("done")).to_contain_text("penilaian Anda tersimpan")
    await shoot(citizen, artifacts / "04-rated.png")


async def test_a_rejection_asks_first_and_nothing_happens_on_cancel(contexts, artifacts: Path):
    word = f"tolak{os.urandom(3).hex()}"
    citizen = await (await contexts()).new_page()
    await fill_report(citizen, title=f"Salam kenal ({word})", description="Hanya ingin menyapa admin.")
    tracking_id, _ = await submit_report(citizen)
    admin = await (await contexts()).new_page()
    await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
    await admin.goto("/admin/verifikasi")
    card = admin.locator(f'[data-testid="queue-item"][data-tracking-id="{tracking_id}"]')
    await reload_until(admin, card)
    answers = iter([False, True])

    async def answer(dialog: Dialog) -> None:
        await (dialog.accept() if next(answers) else dialog.dismiss())

    admin.on("dialog", answer)
    await card.get_by_test_id("reject").click()  # cancelled: still in the queue
    await expect(card).to_be_visible()
    assert "done=" not in admin.url
    await card.get_by_test_id("reject").click()
    await admin.wait_for_url("**/admin/verifikasi?done=rejected*")
    await expect(admin.get_by_test_id("done")).to_contain_text(f"Laporan {tracking_id} ditolak (bukan pengaduan)")
    await expect(card).to_have_count(0)
    await shoot(admin, artifacts / "01-rejected.png")
