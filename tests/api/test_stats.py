"""GET /v1/stats: counts per status and per agency, on-time rate, median time to first response."""

from __future__ import annotations

import statistics
from datetime import timedelta

import pytest

from tests.api.conftest import OTHER_AGENCY, WIB_AGENCY, ApiHarness
from tests.api.deadlines import instant


def hours_to_first_response(case: dict) -> float:
    accepted = next(e for e in case["timeline"] if e["action"] == "accept")
    followed = next(e for e in case["timeline"] if e["action"] == "follow_up")
    return (instant(followed["at"]) - instant(accepted["at"])).total_seconds() / 3600


async def test_stats_match_the_cases(api: ApiHarness) -> None:
    # Agency X: one answered at once, one never answered, one answered after its deadline.
    on_time = (await api.submit(title="Lampu padam"))["tracking_id"]
    silent = (await api.submit(title="Trotoar rusak"))["tracking_id"]
    late = (await api.submit(title="Drainase mampet"))["tracking_id"]
    # Agency Y: one answered at once. Plus one rejected and one the admin never verifies.
    elsewhere = (await api.submit(title="Antrian e-KTP", region_code="51.71"))["tracking_id"]
    rejected = (await api.submit(title="Bukan pengaduan"))["tracking_id"]
    unverified = (await api.submit(title="Belum diverifikasi"))["tracking_id"]
    for tracking_id in (on_time, silent, late):
        await api.accept(tracking_id, WIB_AGENCY)
    await api.accept(elsewhere, OTHER_AGENCY)
    await api.act_ok(rejected, "verification", {"decision": "reject", "reason": "not_a_complaint"}, api.admin)
    await api.follow_up(on_time, WIB_AGENCY)
    await api.follow_up(elsewhere, OTHER_AGENCY)

    # Past X's response deadline (and the unverified case's verification deadline).
    response_due = instant((await api.case(late))["deadlines"]["response_due"])
    await api.sleep_until(response_due + timedelta(hours=5))
    await api.follow_up(late, WIB_AGENCY, "Maaf terlambat, drainase sudah dibersihkan.")
    await api.settle()
    # Arrives after the sleep: open, not overdue.
    fresh = (await api.submit(title="Baru masuk"))["tracking_id"]

    cases = {t: await api.case(t) for t in (on_time, silent, late, elsewhere, rejected, unverified, fresh)}
    assert cases[silent]["overdue"] is True and cases[unverified]["overdue"] is True
    assert cases[late]["overdue"] is False  # answered: its response clock stopped
    await api.eventually(lambda: api.listed_ids(overdue="true"), lambda ids: set(ids) == {silent, unverified})
    await api.eventually(lambda: api.listed_ids(status="awaiting_reporter"),
                         lambda ids: set(ids) == {on_time, late, elsewhere})
    await api.wait_listed({fresh})

    observer = await api.headers("observer")
    stats = (await api.http.get("/v1/stats", headers=observer)).json()
    assert {s["status"]: s["count"] for s in stats["by_status"]} == {
        "awaiting_verification": 2, "awaiting_agency": 1, "awaiting_reporter": 3, "archived": 1,
    }
    assert stats["open"] == 6
    assert stats["overdue"] == 2, "every overdue open case counts, the unverified one included"
    by_agency = {a["agency_id"]: a for a in stats["by_agency"]}
    assert set(by_agency) == {WIB_AGENCY, OTHER_AGENCY}
    x, y = by_agency[WIB_AGENCY], by_agency[OTHER_AGENCY]
    assert (x["open"], x["overdue"]) == (3, 1)
    assert (y["open"], y["overdue"]) == (1, 0)
    assert x["on_time_rate"] == pytest.approx(0.5)
    assert y["on_time_rate"] == pytest.approx(1.0)
    expected_x = statistics.median([hours_to_first_response(cases[on_time]), hours_to_first_response(cases[late])])
    assert x["median_first_response_hours"] == pytest.approx(expected_x, abs=0.01)
    assert hours_to_first_response(cases[late]) > 24 * 5  # after a working week (and a bit)
    assert hours_to_first_response(cases[on_time]) < 0.01
    assert y["median_first_response_hours"] == pytest.approx(hours_to_first_response(cases[elsewhere]), abs=0.01)
    assert y["median_first_response_hours"] < 0.01

    # The administrator sees the same; agency staff see only their agency.
    assert (await api.http.get("/v1/stats", headers=api.admin)).json() == stats
    for role in ("officer", "agency_admin"):
        own = (await api.http.get("/v1/stats", headers=await api.headers(role, WIB_AGENCY))).json()
        assert {s["status"]: s["count"] for s in own["by_status"]} == {"awaiting_agency": 1, "awaiting_reporter": 2}
        assert [a["agency_id"] for a in own["by_agency"]] == [WIB_AGENCY]
        assert own["by_agency"][0] == x
        assert (own["open"], own["overdue"]) == (3, 1)
    other = (await api.http.get("/v1/stats", headers=await api.headers("officer", OTHER_AGENCY))).json()
    assert [a["agency_id"] for a in other["by_agency"]] == [OTHER_AGENCY]
    assert (other["open"], other["overdue"]) == (1, 0)


async def test_stats_of_an_empty_system(api: ApiHarness) -> None:
    stats = (await api.http.get("/v1/stats", headers=api.admin)).json()
    assert stats == {"by_status": [], "by_agency": [], "by_channel": [], "open": 0, "overdue": 0}
