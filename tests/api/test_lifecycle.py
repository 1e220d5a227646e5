"""One case's whole life over HTTP, with every deadline checked to the second.

The server's clock is first moved to 23:30 WIB (00:30 WITA the next day) two days before the
next weekday holiday, so each clock's window crosses a holiday and the WIB and WITA parties count
from different local days. Expected deadlines come from tests/api/deadlines.py (the holiday
list only), never from the code under test.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import pytest

from tests.api.conftest import WIB_AGENCY, WITA_AGENCY, ApiHarness, assert_problem, bearer
from tests.api.deadlines import deadline, holidays_between, instant, local_day, next_weekday_holiday

WIB, WITA = "Asia/Jakarta", "Asia/Makassar"


async def move_to_late_evening_before_a_holiday(api: ApiHarness) -> None:
    """23:30 WIB on a weekday two days before the next weekday holiday (if the list has one)."""
    today = local_day(await api.now(), WIB)
    holiday = next_weekday_holiday(today + timedelta(days=6))
    if holiday is None:
        return
    day = holiday - timedelta(days=2)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    await api.sleep_until(datetime.combine(day, time(16, 30), timezone.utc))  # 23:30 WIB, 00:30 WITA


def last_event(case: dict, action: str) -> dict:
    events = [e for e in case["timeline"] if e["action"] == action]
    assert events, f"no {action} in the timeline: {[e['action'] for e in case['timeline']]}"
    return events[-1]


@pytest.mark.parametrize(
    ("region_code", "agency_id", "agency_zone", "reporter_zone"),
    [
        pytest.param("62.71", WIB_AGENCY, WIB, WIB, id="wib-palangkaraya"),
        pytest.param("63.71", WITA_AGENCY, WITA, WITA, id="wita-banjarmasin"),
        pytest.param("62.71", "pemprov-51", WITA, WIB, id="wib-reporter-wita-agency"),
    ],
)
async def test_whole_lifecycle_over_http(
    api: ApiHarness, region_code: str, agency_id: str, agency_zone: str, reporter_zone: str
) -> None:
    await move_to_late_evening_before_a_holiday(api)
    officer = await api.headers("officer", agency_id)
    agency_admin = await api.headers("agency_admin", agency_id)

    # Submit: a receipt with the reporter's token and the verification deadline (national admin: WIB).
    response = await api.http.post(
        "/v1/complaints",
        json={
            "title": "Jalan berlubang di depan pasar",
            "description": "Lubang besar sejak dua bulan, sudah dua motor jatuh.",
            "region_code": region_code,
            "reporter": {"name": "Siti Rahma", "email": "siti@example.id"},
        },
    )
    assert response.status_code == 201, response.text
    receipt = response.json()
    tracking_id, reporter = receipt["tracking_id"], bearer(receipt["reporter_token"])
    assert tracking_id.startswith("LAP-")
    assert receipt["reporter_token"].startswith("rt_")
    assert receipt["status"] == "awaiting_verification"
    assert abs(instant(receipt["submitted_at"]) - await api.now()) < timedelta(minutes=1), (
        "the API's clock is not on the test server's (tests/api/conftest.py, ServerClock)"
    )
    assert receipt["deadlines"]["verification_due"] == deadline(receipt["submitted_at"], 3, WIB)
    assert receipt["deadlines"]["response_due"] is None
    case = await api.case(tracking_id)
    assert case["deadlines"]["verification_due"] == receipt["deadlines"]["verification_due"]

    # Accept: the agency's response (5) and resolution (14, pengaduan) clocks, in its zone.
    accepted = await api.accept(tracking_id, agency_id)
    accept_at = last_event(accepted, "accept")["at"]
    assert accepted["status"] == "awaiting_agency"
    assert accepted["agency_id"] == agency_id
    response_due = accepted["deadlines"]["response_due"]
    assert response_due == deadline(accept_at, 5, agency_zone)
    assert response_due.endswith("T23:59:59" + ("+07:00" if agency_zone == WIB else "+08:00"))
    assert accepted["deadlines"]["resolution_due"] == deadline(accept_at, 14, agency_zone)
    assert accepted["deadlines"]["verification_due"] is None
    window = holidays_between(local_day(instant(accept_at), agency_zone), instant(response_due).date())
    assert window, "the response window should cross a holiday (the clock was moved before one)"
    resolution_due = accepted["deadlines"]["resolution_due"]

    # Dispose to a unit: still awaiting the agency, same deadline.
    disposed = await api.act_ok(tracking_id, "dispositions", {"unit_id": f"{agency_id}/pupr"}, agency_admin)
    assert disposed["status"] == "awaiting_agency"
    assert disposed["unit_id"] == f"{agency_id}/pupr"
    assert disposed["deadlines"]["response_due"] == response_due

    # Follow-up: the reporter's silence clock (10) in the reporter's zone.
    followed = await api.act_ok(tracking_id, "follow-ups", {"message": "Sudah ditambal sebagian."}, officer)
    follow_up_at = last_event(followed, "follow_up")["at"]
    assert followed["status"] == "awaiting_reporter"
    assert followed["deadlines"]["silence_ends"] == deadline(follow_up_at, 10, reporter_zone)
    assert followed["deadlines"]["response_due"] is None
    assert followed["deadlines"]["resolution_due"] == resolution_due
    assert instant(followed["first_response_at"]) == instant(follow_up_at)

    # The reporter replies: a new response clock for the agency.
    replied = await api.act_ok(tracking_id, "replies", {"message": "Baru sebagian yang ditambal."}, reporter)
    reply_at = last_event(replied, "reply")["at"]
    assert replied["status"] == "awaiting_agency"
    assert replied["deadlines"]["response_due"] == deadline(reply_at, 5, agency_zone)
    assert replied["deadlines"]["silence_ends"] is None
    assert replied["reporter"] == {"name": "Siti Rahma", "email": "siti@example.id", "phone": None}

    # Second follow-up: a new silence clock.
    followed = await api.act_ok(tracking_id, "follow-ups", {"message": "Seluruh lubang sudah ditambal."}, officer)
    silence_ends = followed["deadlines"]["silence_ends"]
    assert silence_ends == deadline(last_event(followed, "follow_up")["at"], 10, reporter_zone)
    assert instant(followed["first_response_at"]) == instant(follow_up_at)  # the first one stays

    # Silence: still awaiting the reporter through the deadline's last second, completed right after.
    end = instant(silence_ends)
    await api.sleep_until(end - timedelta(seconds=1))
    assert (await api.get(tracking_id, reporter)).json()["status"] == "awaiting_reporter"
    await api.sleep_until(end)
    assert (await api.get(tracking_id, reporter)).json()["status"] == "awaiting_reporter"
    await api.sleep_until(end + timedelta(seconds=1))
    completed = await api.eventually(
        lambda: api.case(tracking_id), lambda case: case["status"] == "completed", timeout=10
    )
    assert completed["status"] == "completed"
    assert instant(completed["completed_at"]) == end + timedelta(seconds=1)
    assert last_event(completed, "silence_completed")["at"] == completed["timeline"][-1]["at"]
    assert completed["deadlines"]["silence_ends"] is None
    assert completed["deadlines"]["resolution_due"] is None  # met: the case is resolved

    # The reporter rates it; a second rating of the same completion is a conflict.
    rated = await api.act_ok(tracking_id, "rating", {"score": 5, "comment": "Terima kasih."}, reporter)
    assert rated["status"] == "completed"
    assert rated["rating"] == 5
    assert_problem(await api.act(tracking_id, "rating", {"score": 4}, reporter), 409)

    assert [e["action"] for e in rated["timeline"]] == [
        "submit", "accept", "dispose", "follow_up", "reply", "follow_up", "silence_completed", "rate",
    ]
    # The public sees the same life (without names).
    public = (await api.get(tracking_id)).json()
    assert [e["action"] for e in public["timeline"]] == [e["action"] for e in rated["timeline"]]
    assert public["rating"] == 5

    # The read model catches up: the list shows the completed, rated case.
    items = await api.eventually(
        lambda: api.listing(), lambda page: page["items"] and page["items"][0]["rating"] == 5
    )
    assert [(i["tracking_id"], i["status"], i["rating"]) for i in items["items"]] == [
        (tracking_id, "completed", 5)
    ]
