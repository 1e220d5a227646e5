"""GET /v1/complaints: keyset pagination that holds still while cases arrive, and the filters."""

from __future__ import annotations

from datetime import timedelta

from tests.api.conftest import OTHER_AGENCY, WIB_AGENCY, ApiHarness
from tests.api.deadlines import instant


async def test_pages_never_repeat_or_skip_while_new_cases_arrive(api: ApiHarness) -> None:
    original = [(await api.submit(title=f"Laporan nomor {n}"))["tracking_id"] for n in range(10)]
    await api.wait_listed(set(original))

    pages: list[list[str]] = []
    arrived: list[str] = []
    accepted: set[str] = set()
    cursor = None
    while True:
        page = await api.listing(limit=3, **({"cursor": cursor} if cursor else {}))
        pages.append([item["tracking_id"] for item in page["items"]])
        cursor = page["next_cursor"]
        if not cursor:
            break
        # Between pages: new cases arrive (and are in the read model before the next page)...
        new = [(await api.submit(title="Laporan baru di tengah"))["tracking_id"] for _ in range(2)]
        arrived += new
        await api.wait_listed(set(new))
        # ...and a case further down changes status.
        unseen = [t for t in original if all(t not in p for p in pages) and t not in accepted]
        if unseen:
            await api.accept(unseen[0])
            accepted.add(unseen[0])

    seen = [t for page in pages for t in page]
    assert [len(p) for p in pages] == [3, 3, 3, 1]
    assert len(seen) == len(set(seen)), "an item repeated across pages"
    assert seen == list(reversed(original)), "newest first, none skipped, none of the newcomers"

    # A new walk starts with the newcomers.
    fresh = await api.listing(limit=3)
    assert [i["tracking_id"] for i in fresh["items"]] == list(reversed(arrived))[:3]
    assert set(await api.listed_ids()) == set(original) | set(arrived)


async def test_filters(api: ApiHarness) -> None:
    lamp = (await api.submit(title="Lampu jalan padam", description="Gelap total di Jl. Diponegoro.",
                             report_type="aspirasi"))["tracking_id"]
    bali = (await api.submit(title="Antrian e-KTP", description="Antrian sangat panjang.",
                             region_code="51.71"))["tracking_id"]
    waste = (await api.submit(title="Sampah menumpuk", description="Tidak diangkut seminggu."))
    late = (await api.submit(title="Air PDAM mati", description="Sudah tiga hari."))["tracking_id"]
    await api.accept(lamp, WIB_AGENCY)
    await api.accept(bali, OTHER_AGENCY)

    # Run out the verification clocks of the two not yet verified (the agencies' 5-day clocks
    # started just now and are still running).
    await api.sleep_until(instant(waste["deadlines"]["verification_due"]) + timedelta(seconds=2))
    waste = waste["tracking_id"]
    newest = await api.submit(title="Trotoar rusak", description="Trotoar ambles di depan sekolah.")
    everyone = {lamp, bali, waste, late, newest["tracking_id"]}
    await api.eventually(lambda: api.listed_ids(overdue="true"), lambda ids: set(ids) == {waste, late})
    await api.wait_listed(everyone)

    async def ids(headers=None, **params) -> set[str]:
        return set(await api.listed_ids(headers, **params))

    assert await ids() == everyone
    assert await ids(status="awaiting_agency") == {lamp, bali}
    assert await ids(status="awaiting_verification") == {waste, late, newest["tracking_id"]}
    assert await ids(status="completed") == set()
    assert await ids(agency_id=WIB_AGENCY) == {lamp}
    assert await ids(agency_id=OTHER_AGENCY) == {bali}
    assert await ids(overdue="true") == {waste, late}
    assert await ids(overdue="false") == {lamp, bali, newest["tracking_id"]}
    assert await ids(q="lampu") == {lamp}
    assert await ids(q="LAMPU gelap") == {lamp}  # every word, in title or description, any case
    assert await ids(q="lampu sampah") == set()
    assert await ids(q="50%") == set()  # wildcards are text
    assert await ids(report_type="aspirasi") == {lamp}
    assert await ids(status="awaiting_verification", overdue="true", q="air") == {late}
    assert await ids(submitted_from=newest["submitted_at"]) == {newest["tracking_id"]}
    assert await ids(submitted_to=newest["submitted_at"]) == everyone - {newest["tracking_id"]}

    # Agency staff see their agency's cases only, whatever they ask for.
    officer = await api.headers("officer", WIB_AGENCY)
    assert await ids(officer) == {lamp}
    assert await ids(officer, agency_id=OTHER_AGENCY) == set()
    assert await ids(await api.headers("agency_admin", OTHER_AGENCY)) == {bali}
    assert await ids(await api.headers("observer")) == everyone

    # List items show what GET shows, deadlines included (to the second, with their offset).
    [item] = (await api.listing(q="lampu"))["items"]
    case = await api.case(lamp)
    assert item["deadlines"] == case["deadlines"]
    assert item["deadlines"]["response_due"].endswith("T23:59:59+07:00")
    assert "timeline" not in item and "description" not in item
