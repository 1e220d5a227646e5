"""The public open data page (issue 28) in a real browser: the datasets with their links, each
body's chart with its table, in Indonesian and English, WCAG 2.1 AA clean (axe-core)."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.async_api import expect

from activities.open_data import generate
from db.session import make_engine, make_sessionmaker
from tests.browser.portal import axe_violations
from tests.open_data_seed import seed_open_data


async def test_the_data_page_is_usable_and_accessible(stack, contexts):
    engine = make_engine(stack.env["DATABASE_URL"])
    try:
        with make_sessionmaker(engine)() as session:
            seed_open_data(session)
            generate(session, datetime.now(UTC))
    finally:
        engine.dispose()
    page = await (await contexts(bypass_csp=True)).new_page()  # axe is a script added to the page
    for path, heading, chart in (("/data", "Data terbuka", "Ketepatan waktu: "),
                                 ("/data?lang=en", "Open data", "On time: ")):
        await page.goto(path)
        await expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        bodies = page.get_by_test_id("open-data-bodies")
        await expect(bodies.get_by_role("img", name=chart).first).to_be_visible()
        await expect(bodies.locator("table").first).to_be_visible()
        await expect(page.get_by_test_id("datasets").get_by_role("link", name="CSV")).to_have_count(3)
        assert await axe_violations(page) == [], path
    csv = await page.request.get("/v1/open-data/bodies.csv")
    assert csv.ok and (await csv.text()).startswith("agency_id,agency_name,month,received")
