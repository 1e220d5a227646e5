"""The portal in a real browser: one stack of `make run` (subprocesses on loopback) and one Debian
Chromium for this package's tests (stopped after its last one, so they do not idle through the
rest of the suite); a fresh browser context (cookies, storage) per person.

Without /usr/bin/chromium the tests are skipped, unless SP4N_REQUIRE_BROWSER=1 (CI sets it in
.ci/run after installing Chromium), which makes them fail instead. Screenshots of every step go to
$SP4N_TEST_ARTIFACTS/browser, else tests/browser/artifacts (gitignored), one folder per test.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Playwright, async_playwright

from tests.browser.portal import (MailSink, TileStub, base_url, chromium_missing, launch_chromium, mail_sink,
                                  new_context, portal_stack, tile_stub)
from tests.reliability.stack import Stack

HERE = Path(__file__).parent
ARTIFACTS = (Path(os.environ["SP4N_TEST_ARTIFACTS"]) / "browser" if os.environ.get("SP4N_TEST_ARTIFACTS")
             else HERE / "artifacts")
_used_artifacts: set[Path] = set()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)  # the contexts fixture screenshots a failure
    return report


def pytest_terminal_summary(terminalreporter) -> None:
    if _used_artifacts:
        terminalreporter.write_line(f"browser screenshots: {ARTIFACTS} ({len(_used_artifacts)} tests)")


@pytest.fixture(scope="package")
def chromium() -> None:
    reason = chromium_missing()
    if reason is None:
        return
    if os.environ.get("SP4N_REQUIRE_BROWSER") == "1":
        pytest.fail(f"SP4N_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="package")
def mail() -> Iterator[MailSink]:
    """An SMTP server on loopback (aiosmtpd) that keeps what the stack's worker sends."""
    with mail_sink() as sink:
        yield sink


@pytest.fixture(scope="package")
def tiles() -> Iterator[TileStub]:
    """A map tile server on loopback: one small PNG for every tile (MAP_TILE_URL points here)."""
    with tile_stub() as stub:
        yield stub


@pytest.fixture(scope="package")
def stack(chromium, tmp_path_factory, mail: MailSink, tiles: TileStub) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("browser-stack")
    try:
        with portal_stack(workdir, NOTIFICATIONS_ENABLED="true", SMTP_HOST="127.0.0.1", SMTP_PORT=str(mail.port),
                          NOTIFICATION_POLL_SECONDS="0.5", MAP_TILE_URL=tiles.url_template) as running:
            yield running
    finally:  # the processes' logs beside the screenshots, for a failure in CI
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for log in workdir.glob("*.log"):
            shutil.copy(log, ARTIFACTS / f"stack-{log.name}")


@pytest.fixture(scope="package")
def url(stack: Stack) -> str:
    return base_url(stack)


@pytest.fixture(scope="package")
async def playwright(chromium) -> AsyncIterator[Playwright]:
    async with async_playwright() as running:
        yield running


@pytest.fixture(scope="package")
async def browser(playwright: Playwright) -> AsyncIterator[Browser]:
    launched = await launch_chromium(playwright)
    yield launched
    await launched.close()


@pytest.fixture
def artifacts(request) -> Path:
    """This test's screenshot folder, emptied first."""
    folder = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    _used_artifacts.add(folder)
    return folder


@pytest.fixture
async def contexts(request, browser: Browser, url: str,
                   artifacts: Path) -> AsyncIterator[Callable[..., Awaitable[BrowserContext]]]:
    """`await contexts()` opens a new browser context on the stack (one per person); all are
    closed after the test, with a screenshot of each open page when the test failed."""
    opened: list[BrowserContext] = []

    async def open_context(**options) -> BrowserContext:
        context = await new_context(browser, url, **options)
        opened.append(context)
        return context

    yield open_context
    report = getattr(request.node, "report_call", None)
    for number, context in enumerate(opened, start=1):
        if report is not None and report.failed:
            for index, page in enumerate(context.pages, start=1):
                try:
                    await page.screenshot(path=str(artifacts / f"failure-context{number}-page{index}.png"),
                                          full_page=True)
                except Exception as error:  # a crashed page: the report says what failed
                    print(f"no failure screenshot of context {number} page {index}: {error}")
        await context.close()
