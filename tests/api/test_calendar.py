"""Calendar over HTTP (issue 17), on the time-skipping server: a year without a cuti bersama
decree is flagged to administrators (API and portal) until an amendment gives one; a stored
amendment is in the calendar of every case opened after it; GET /v1/calendar shows the source.

The broadcast to open cases needs workflow listing, which this server lacks (the POST answers 503
after storing): tests/integration/test_calendar_amendments.py runs it on a dev server."""

from __future__ import annotations

from datetime import datetime, timezone

from tests.api.conftest import ApiHarness, assert_problem
from tests.api.test_portal import ADMIN_EMAIL, ADMIN_PASSWORD, PORTAL, browser, sign_in

# Thursday 30 December 2027, 10:00 WIB: the verification clock (3 working days) ends in 2028, a
# year for which the holidays package (0.108) has no cuti bersama yet.
LATE_2027 = datetime(2027, 12, 30, 3, 0, tzinfo=timezone.utc)
JOINT_LEAVE_2028 = {"date": "2028-01-03", "kind": "cuti_bersama", "name": "Cuti bersama Tahun Baru 2028"}


@PORTAL
async def test_a_year_without_cuti_bersama_is_flagged_until_an_amendment_gives_one(api: ApiHarness) -> None:
    await api.sleep_until(LATE_2027)
    first = await api.submit(region_code="62.71")
    assert first["deadlines"]["verification_due"].startswith("2028-")

    case = await api.case(first["tracking_id"])
    assert len(case["calendar_warnings"]) == 1 and "2028" in case["calendar_warnings"][0]
    assert "calendar_warnings" not in (await api.get(first["tracking_id"])).json()  # administrators only
    year = (await api.http.get("/v1/calendar", params={"year": 2028})).json()
    assert year["cuti_bersama"] is False and "2028" in year["warning"]
    assert (await api.http.get("/v1/calendar", params={"year": 2027})).json()["cuti_bersama"] is True
    async with browser(api) as admin:
        assert (await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 303
        page = (await admin.get(f"/kasus/{first['tracking_id']}")).text
        assert 'data-testid="calendar-warning"' in page and "2028" in page
        await api.settle()  # the queue reads the read model
        queue = (await admin.get("/admin/verifikasi")).text
        assert first["tracking_id"] in queue and 'data-testid="calendar-warning"' in queue and "2028" in queue
    async with browser(api) as public:
        assert 'data-testid="calendar-warning"' not in (await public.get(f"/kasus/{first['tracking_id']}")).text

    body = {"holidays": [JOINT_LEAVE_2028], "decree": "SKB 3 Menteri cuti bersama 2028"}
    stored = await api.http.post("/v1/calendar/amendments", json=body, headers=api.admin)
    problem = assert_problem(stored, 503)  # stored; the broadcast needs a server that lists workflows
    assert problem["stored"] == ["2028-01-03"] and "Kirim ulang" in problem["detail"]

    assert "calendar_warnings" not in await api.case(first["tracking_id"])
    async with browser(api) as admin:
        assert (await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 303
        assert 'data-testid="calendar-warning"' not in (await admin.get("/admin/verifikasi")).text
    year = (await api.http.get("/v1/calendar", params={"year": 2028})).json()
    assert year["cuti_bersama"] is True and "warning" not in year
    [declared] = [d for d in year["non_working_days"] if d["date"] == "2028-01-03"]
    assert declared["source"] == "amendment" and declared["kind"] == "cuti_bersama"
    assert declared["amendment"]["decree"] == "SKB 3 Menteri cuti bersama 2028"
    as_admin = (await api.http.get("/v1/calendar", params={"year": 2028}, headers=api.admin)).json()
    assert [d["amendment"]["declared_by"] for d in as_admin["non_working_days"] if d["source"] == "amendment"]

    # A case opened after the amendment counts Monday 3 January 2028 as a day off.
    second = await api.submit(region_code="62.71")
    assert second["deadlines"]["verification_due"] > first["deadlines"]["verification_due"]
    again = assert_problem(await api.http.post("/v1/calendar/amendments", json=body, headers=api.admin), 503)
    assert again["stored"] == []  # sent again: nothing stored twice


async def test_amendments_refuse_what_cannot_be_a_change(api: ApiHarness) -> None:
    post = lambda body: api.http.post("/v1/calendar/amendments", json=body, headers=api.admin)  # noqa: E731
    assert_problem(await post({"holidays": [JOINT_LEAVE_2028]}), 422)  # no decree
    assert_problem(await post({"holidays": [{"date": "2028-01-03", "kind": "holiday"}], "decree": "x"}), 422)
    assert_problem(await post({"holidays": [{"date": "2028-01-01", "name": "Sabtu"}], "decree": "x"}), 422)
    assert_problem(await post({"holidays": [JOINT_LEAVE_2028, JOINT_LEAVE_2028], "decree": "x"}), 422)
    assert_problem(await api.http.get("/v1/calendar", params={"year": "dua ribu"}), 422)
