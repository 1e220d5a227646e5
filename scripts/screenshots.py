#!/usr/bin/env python3
"""Screenshots of the portal's main pages for the docs, from the real stack in a real browser.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Starts the stack of `make run` on free loopback ports in a temporary folder (as the browser tests
do, tests/browser/portal.py), walks the story in Debian's Chromium (/usr/bin/chromium; never
`playwright install`) and writes 1000-pixel-wide PNGs, reduced to 256 colours: home, report form,
receipt, case page (timeline and countdown), public feed, staff inbox, verification queue and the
administrators' dashboard.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from PIL import Image  # noqa: E402
from playwright.async_api import Page, async_playwright, expect  # noqa: E402

from tests.browser.portal import (  # noqa: E402
    ADMIN_EMAIL, ADMIN_PASSWORD, AGENCY_ID, IMAGES_LOADED, OFFICER_PASSWORD, REGENCY, base_url, cases_matching,
    chromium_missing, create_officer, fill_report, follow_up, forward, launch_chromium, new_context,
    open_from_inbox, photo_with_gps, portal_stack, reload_until, sign_in, submit_report,
)
from tests.reliability.stack import ADMIN_TOKEN  # noqa: E402

# Other reports in Kota Palangkaraya, so that the feed, the queue and the inbox are not empty:
# (title, description, region, forwarded to).
OTHERS = [
    ("Lampu jalan padam di Jl. Yos Sudarso", "Lampu jalan di depan SDN 3 padam sejak seminggu; malam gelap sekali.",
     REGENCY, AGENCY_ID),
    ("Antrean BPJS Kesehatan sangat panjang", "Antre dari pukul 6 pagi dan baru dilayani pukul 12 siang.",
     REGENCY, None),
    ("Sampah menumpuk di pasar Kahayan", "Sampah tidak diangkut lima hari, baunya sampai ke permukiman.",
     REGENCY, AGENCY_ID),
    ("KTP elektronik belum jadi setelah tiga bulan", "Sudah rekam data bulan Agustus, sampai kini belum dicetak.",
     REGENCY, None),
]


async def shoot(page: Page, path: Path) -> None:
    """The page down to its footer, without a focus ring, 256 colours, optimised."""
    await page.evaluate("() => document.activeElement && document.activeElement.blur()")
    await page.evaluate(IMAGES_LOADED)
    bottom = await page.evaluate("() => Math.ceil(document.querySelector('footer').getBoundingClientRect().bottom"
                                 " + window.scrollY + 8)")
    png = await page.screenshot(full_page=True)
    with Image.open(BytesIO(png)) as image:
        cropped = image.crop((0, 0, image.width, min(image.height, bottom))).convert("RGB")
        cropped.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            path, "PNG", optimize=True)
    print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {path.stat().st_size // 1024} KB")


async def seed(url: str) -> None:
    """The other reports through the API (an administrator forwards some of them)."""
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=url, timeout=30) as api:
        for title, description, region, agency in OTHERS:
            receipt = (await api.post("/v1/complaints", json={
                "title": title, "description": description, "region_code": region, "report_type": "pengaduan",
            })).raise_for_status().json()
            if agency:
                (await api.post(f"/v1/complaints/{receipt['tracking_id']}/verification", headers=admin,
                                json={"decision": "accept", "agency_id": agency})).raise_for_status()
    deadline = time.monotonic() + 30
    while len(await cases_matching(url, "")) < len(OTHERS):  # recorded by the worker, just after
        if time.monotonic() > deadline:
            raise RuntimeError("the seeded reports never reached the read model")
        await asyncio.sleep(0.2)


async def walk(url: str, out: Path) -> None:
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            citizen = await (await new_context(browser, url)).new_page()
            await citizen.goto("/")
            await shoot(citizen, out / "home.png")
            await seed(url)

            title = "Jalan berlubang di Jl. Tjilik Riwut km 5"
            await fill_report(citizen, title=title, description="Lubang besar sejak dua bulan, dua motor sudah jatuh. "
                              "Letaknya di lajur kiri arah ke bandara, dekat halte.",
                              name="Siti Rahma", email="siti@example.id", anonymous=True,
                              files=[{"name": "lubang.jpg", "mimeType": "image/jpeg", "buffer": photo_with_gps()}])
            await citizen.locator("#address").fill("Jl. Tjilik Riwut km 5, depan halte")
            await shoot(citizen, out / "report-form.png")
            tracking_id, _ = await submit_report(citizen)
            await shoot(citizen, out / "receipt.png")

            admin = await (await new_context(browser, url)).new_page()
            await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
            await create_officer(admin, name="Budi Santoso (PUPR Kota Palangkaraya)", email="budi@palangkaraya.example",
                                 password=OFFICER_PASSWORD)
            await admin.goto("/admin/verifikasi")
            await reload_until(admin, admin.locator(f'[data-testid="queue-item"][data-tracking-id="{tracking_id}"]'))
            await shoot(admin, out / "verification-queue.png")
            await forward(admin, tracking_id)

            officer = await (await new_context(browser, url)).new_page()
            await sign_in(officer, "budi@palangkaraya.example", OFFICER_PASSWORD)
            await open_from_inbox(officer, tracking_id)  # waits until the inbox lists it
            await officer.goto("/staf")
            await shoot(officer, out / "staff-inbox.png")
            await open_from_inbox(officer, tracking_id)
            await follow_up(officer, "Tim PUPR menambal lubang pada 29 November; mohon dicek.")

            await citizen.get_by_test_id("private-link").click()
            await expect(citizen.get_by_test_id("case")).to_have_attribute("data-status", "awaiting_reporter")
            await shoot(citizen, out / "case.png")

            public = await (await new_context(browser, url)).new_page()
            await public.goto("/publik")
            await reload_until(public, public.locator(f'[data-testid="feed-item"][data-tracking-id="{tracking_id}"]'))
            await shoot(public, out / "public-feed.png")

            answer = await admin.goto("/admin/dasbor")
            if answer is not None and answer.status == 200 and admin.url.endswith("/admin/dasbor"):
                await shoot(admin, out / "dashboard.png")
            else:
                print(f"  no dashboard: /admin/dasbor answered {answer.status if answer else '-'} at {admin.url}")
        finally:
            await browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    if reason := chromium_missing():
        sys.exit(f"screenshots: {reason}")
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sp4n-screenshots-") as workdir, portal_stack(Path(workdir)) as stack:
        url = base_url(stack)
        print(f"stack at {url}; writing to {out}")
        asyncio.run(walk(url, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
