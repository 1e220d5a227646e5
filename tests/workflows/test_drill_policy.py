"""A case under the drill policy (`latihan.v1`) runs the same workflow with minute-long working
days: its clocks fire at the ends of drill slots, and a whole lifecycle fits in minutes."""

from __future__ import annotations

from datetime import timedelta

from domain.enums import Action, ClockKind, EscalationKind, Party, Status
from domain.models import FollowUpInput, VerificationInput
from domain.policy import policy_in_force
from tests.workflows.conftest import ADMIN, KALTENG, KALTENG_OFFICER, Harness
from workflows.complaint import ComplaintWorkflow

DRILL = policy_in_force("latihan.v1", 120)
DAY = timedelta(seconds=120)
ONE_SECOND = timedelta(seconds=1)


def slot_end(instant, days: int):
    """The last second of the `days`-th 120 s slot after the one `instant` falls in (by hand)."""
    seconds = int(instant.timestamp()) // 120 * 120 + (days + 1) * 120 - 1
    return type(instant).fromtimestamp(seconds, instant.tzinfo)


async def test_drill_case_escalates_at_the_end_of_its_third_slot(harness: Harness):
    async with harness.worker():
        handle = await harness.submit(policy=DRILL)
        state = await handle.query(ComplaintWorkflow.state)
        assert state.policy.version == "latihan.v1+120s"
        clock = state.clocks[ClockKind.VERIFICATION]
        assert clock.due_at == slot_end(state.submitted_at, 3)
        assert clock.due_at - state.submitted_at <= 4 * DAY

        await harness.sleep_until(clock.reminder_at + ONE_SECOND)
        assert [e.kind for e in (await handle.query(ComplaintWorkflow.state)).escalations] == [EscalationKind.REMINDER]
        await harness.sleep_until(clock.breach_at - ONE_SECOND)
        assert len((await handle.query(ComplaintWorkflow.state)).escalations) == 1
        await harness.sleep_until(clock.breach_at + ONE_SECOND)
        state = await handle.query(ComplaintWorkflow.state)
        overdue = state.escalations[-1]
        assert (overdue.kind, overdue.at, overdue.notified) == (EscalationKind.OVERDUE, clock.breach_at, Party.NATIONAL_ADMIN)
        recorded = [e for r in harness.activities.records for e in r.new_escalations]
        assert [e.kind for e in recorded] == [EscalationKind.REMINDER, EscalationKind.OVERDUE]


async def test_drill_lifecycle_completes_by_silence_in_minutes(harness: Harness):
    async with harness.worker():
        handle = await harness.submit(policy=DRILL)
        await handle.execute_update(
            ComplaintWorkflow.verify, VerificationInput(actor=ADMIN, decision=Action.ACCEPT, agency=KALTENG)
        )
        state = await handle.execute_update(
            ComplaintWorkflow.follow_up, FollowUpInput(actor=KALTENG_OFFICER, message="Sudah diperbaiki.")
        )
        silence = state.clocks[ClockKind.SILENCE]
        assert silence.due_at - silence.started_at <= 11 * DAY
        await harness.sleep_until(silence.breach_at + ONE_SECOND)
        state = await handle.query(ComplaintWorkflow.state)
        assert state.status == Status.COMPLETED
        assert state.completed_at == silence.breach_at
        assert state.completed_at - state.submitted_at <= 12 * DAY
