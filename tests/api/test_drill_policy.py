"""POLICY_VERSION chooses the policy new cases are stamped with; the drill policy (`latihan.v1`)
gives receipts and clocks minute-long working days (POLICY_WORKING_DAY_SECONDS)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.api.conftest import ApiHarness


@pytest.mark.api_settings(policy_version="latihan.v1", policy_working_day_seconds=120)
async def test_drill_receipt_deadline_and_escalation_in_minutes(api: ApiHarness) -> None:
    receipt = await api.submit(region_code="62.71")
    submitted = datetime.fromisoformat(receipt["submitted_at"])
    due = datetime.fromisoformat(receipt["deadlines"]["verification_due"])
    # The end of the third 120 s slot after the submission's (worked out by hand).
    expected = int(submitted.timestamp()) // 120 * 120 + 4 * 120 - 1
    assert due.timestamp() == expected
    assert due.utcoffset() == timedelta(hours=7)  # shown in the national administrator's zone

    await api.sleep_until(due + timedelta(seconds=2))
    await api.settle()
    case = await api.eventually(lambda: api.case(receipt["tracking_id"]),
                                lambda c: any(e["kind"] == "overdue" for e in c["escalations"]))
    assert [e["kind"] for e in case["escalations"]] == ["reminder", "overdue"]
    assert receipt["tracking_id"] in await api.listed_ids(overdue="true")


async def test_default_policy_counts_real_working_days(api: ApiHarness) -> None:
    receipt = await api.submit(region_code="62.71")
    due = datetime.fromisoformat(receipt["deadlines"]["verification_due"])
    assert (due.hour, due.minute, due.second) == (23, 59, 59)
