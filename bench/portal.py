"""Portal pages on a cheap phone: bytes sent and load time under Lighthouse's mobile throttling.

    python -m bench portal                 # starts the stack (tests/reliability/stack.py)
    python -m bench portal --url http://localhost:8000   # against a running `make run`

Debian's Chromium (/usr/bin/chromium) driven by Playwright, with the Chrome DevTools Protocol
emulating Lighthouse's mobile profile: 4× CPU slowdown, 150 ms round trip, 1.6 Mbit/s down,
750 kbit/s up, a 360×740 viewport, no cache. Each page is loaded `--runs` times; the median of
`load` (all subresources done) and the bytes on the wire are reported.

Last line: `<page>_kb=… <page>_load_ms=…` for home, form, feed, case.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from contextlib import ExitStack
from pathlib import Path

import httpx

from tests.reliability.stack import running_stack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
MOBILE = {"latency": 150, "downloadThroughput": 1.6e6 / 8, "uploadThroughput": 750e3 / 8, "offline": False}


async def measure(url: str, runs: int) -> dict[str, tuple[float, float]]:
    from playwright.async_api import async_playwright

    async with httpx.AsyncClient(base_url=url) as client:
        created = (await client.post("/v1/complaints", json={
            "title": "Lampu jalan padam di Jl. Tjilik Riwut", "region_code": "62.71",
            "description": "Sudah dua minggu lampu jalan padam, rawan kecelakaan pada malam hari."})).json()
    pages = {"home": "/", "form": "/lapor", "feed": "/publik", "case": f"/kasus/{created['tracking_id']}"}
    results: dict[str, tuple[float, float]] = {}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name, path in pages.items():
            loads, sizes = [], []
            for _ in range(runs):
                context = await browser.new_context(viewport={"width": 360, "height": 740})
                page = await context.new_page()
                cdp = await context.new_cdp_session(page)
                await cdp.send("Network.enable")
                await cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
                await cdp.send("Network.emulateNetworkConditions", MOBILE)
                await cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
                received = []
                cdp.on("Network.loadingFinished", lambda event: received.append(event["encodedDataLength"]))
                await page.goto(url + path, wait_until="load")
                timing = await page.evaluate(
                    "() => { const t = performance.getEntriesByType('navigation')[0]; return t.loadEventEnd; }")
                loads.append(timing)
                sizes.append(sum(received) / 1024)
                await context.close()
            results[name] = (statistics.median(sizes), statistics.median(loads))
            print(f"{name:5} {path:28} {results[name][0]:7.1f} KB  load {results[name][1]:7.0f} ms (median of {runs})")
        await browser.close()
    return results


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench portal")
    parser.add_argument("--url", help="a running portal (default: start the stack)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print("bench portal: needs Debian's chromium (apt-get install chromium)")
        return 2
    with ExitStack() as stack:
        url = args.url
        if url is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sp4n-bench-portal-")))
            running = stack.enter_context(running_stack(workdir))
            url = f"http://127.0.0.1:{running.api_port}"
        print(f"Portal on a cheap phone (4x CPU, 150 ms RTT, 1.6 Mbit/s): {url}")
        results = asyncio.run(measure(url.rstrip("/"), args.runs))
    print(" ".join(f"{name}_kb={kb:.1f} {name}_load_ms={ms:.0f}" for name, (kb, ms) in results.items()))
    return 0
