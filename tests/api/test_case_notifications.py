"""Administrators see, on the case itself, which messages each event and escalation produced."""

from __future__ import annotations

from datetime import datetime

from tests.api.conftest import WIB_AGENCY, ApiHarness


async def test_each_event_and_escalation_shows_the_messages_it_queued(api: ApiHarness) -> None:
    receipt = await api.submit(
        title="Pungutan liar", description="Petugas meminta uang.", region_code="62.71", anonymous=True,
        reporter={"name": "Siti Rahma", "email": "siti@example.id"},
    )
    tracking_id = receipt["tracking_id"]
    reminder_at = datetime.fromisoformat(receipt["deadlines"]["verification_due"])
    # Past the verification reminder (end of working day 2) and the deadline itself.
    await api.sleep_until(reminder_at)
    await api.settle()
    case = (await api.get(tracking_id, api.admin)).json()
    by_seq: dict[int, set[str]] = {}
    for entry in case["notifications"]:
        by_seq.setdefault(entry["event_seq"], set()).add(entry["recipient"])
    assert by_seq[1] == {"reporter", "national_admin"}  # the submission
    for escalation in case["escalations"]:
        assert escalation["seq"] in by_seq, escalation  # each escalation's own messages
    assert [e["kind"] for e in case["escalations"]] == ["reminder", "overdue"]
    assert "siti@example.id" not in str(case["notifications"])  # outcomes only, never addresses

    await api.accept(tracking_id, WIB_AGENCY)
    await api.settle()  # the accept is recorded with its messages
    officer = await api.headers("officer", WIB_AGENCY)
    assert "notifications" not in (await api.get(tracking_id, officer)).json()
    assert "notifications" not in (await api.get(tracking_id)).json()
    observer = (await api.get(tracking_id, await api.headers("observer"))).json()
    assert any(entry["event"] == "accept" for entry in observer["notifications"])
