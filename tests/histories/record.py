"""Record the stored ComplaintWorkflow histories that tests/workflows/test_replay.py replays.

    python -m tests.histories.record               # every scenario
    python -m tests.histories.record typical ...   # only these

Each scenario runs the real ComplaintWorkflow with the stand-in activities of
tests/workflows/conftest.py on its own time-skipping test server, then writes the history of the
run(s) it names to tests/histories/<name>.json (`WorkflowHistory.to_json()`). Regenerate only when
a change to the workflow's commands is intentionally gated with `workflow.patched` (or when adding
a scenario): see README.md next to this file.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from domain.calendar import HolidayCalendar
from domain.enums import Action, ArchiveReason, ClockKind, ReportType, Status
from domain.models import (
    Actor,
    AgencyRef,
    CalendarAmendment,
    CaseState,
    DispositionInput,
    FollowUpInput,
    RatingInput,
    ReplyInput,
    RerouteInput,
    SupplementInput,
    VerificationInput,
)
from tests.conftest import test_server_path
from tests.workflows.conftest import (
    ADMIN,
    BALI,
    BALI_ADMIN,
    BALI_OFFICER,
    KALTENG,
    KALTENG_ADMIN,
    KALTENG_OFFICER,
    REPORTER,
    Harness,
    StandInActivities,
)
from workflows.client import ensure_search_attributes
from workflows.complaint import ComplaintWorkflow

HISTORIES_DIR = Path(__file__).resolve().parent
ONE_SECOND = timedelta(seconds=1)
SETTLE = timedelta(seconds=5)  # lets the projection activity after an action finish

# A scenario drives one case (or a few) and returns the runs to store: file stem -> handle.
Scenario = Callable[[Harness], Awaitable[dict[str, WorkflowHandle]]]


# --- actions ---------------------------------------------------------------------------------


async def state_of(handle: WorkflowHandle) -> CaseState:
    return await handle.query(ComplaintWorkflow.state)


async def accept(handle: WorkflowHandle, agency: AgencyRef = KALTENG) -> CaseState:
    return await handle.execute_update(
        ComplaintWorkflow.verify, VerificationInput(actor=ADMIN, decision=Action.ACCEPT, agency=agency)
    )


async def hold(handle: WorkflowHandle) -> CaseState:
    return await handle.execute_update(
        ComplaintWorkflow.verify,
        VerificationInput(actor=ADMIN, decision=Action.HOLD, note="Lampirkan foto lokasi."),
    )


async def follow_up(handle: WorkflowHandle, actor: Actor = KALTENG_OFFICER) -> CaseState:
    return await handle.execute_update(
        ComplaintWorkflow.follow_up, FollowUpInput(actor=actor, message="Sudah ditangani.")
    )


async def reply(handle: WorkflowHandle, actor: Actor = REPORTER) -> CaseState:
    return await handle.execute_update(ComplaintWorkflow.reply, ReplyInput(actor=actor, message="Belum selesai."))


async def rate(handle: WorkflowHandle, score: int) -> CaseState:
    return await handle.execute_update(ComplaintWorkflow.rate, RatingInput(actor=REPORTER, score=score))


async def settle(harness: Harness) -> None:
    await harness.sleep_until(await harness.now() + SETTLE)


async def past(harness: Harness, state: CaseState, kind: ClockKind) -> None:
    """Move the clock just past `kind`'s breach instant."""
    await harness.sleep_until(state.clocks[kind].breach_at + ONE_SECOND)


async def complete_by_silence(harness: Harness, handle: WorkflowHandle, state: CaseState) -> CaseState:
    await past(harness, state, ClockKind.SILENCE)
    state = await state_of(handle)
    assert state.status == Status.COMPLETED, state.status
    return state


# --- scenarios -------------------------------------------------------------------------------


async def typical(harness: Harness) -> dict[str, WorkflowHandle]:
    """submit -> accept -> dispose -> follow-up -> completion by silence -> rating 5 (ends)."""
    handle = await harness.submit(region_code="62.71")
    await settle(harness)
    await accept(handle)
    await handle.execute_update(
        ComplaintWorkflow.dispose,
        DispositionInput(actor=KALTENG_ADMIN, unit_id=f"{KALTENG.id}/pupr", note="Mohon ditindaklanjuti"),
    )
    await harness.sleep_until(await harness.now() + timedelta(days=1))
    state = await follow_up(handle)
    await complete_by_silence(harness, handle, state)
    await rate(handle, 5)
    final = await handle.result()
    assert final.status == Status.COMPLETED and final.clocks == {}
    return {"typical": handle}


async def hold_supplement(harness: Harness) -> dict[str, WorkflowHandle]:
    """hold -> supplement -> accept -> follow-up -> reply -> follow-up -> completion; the reopen
    window then lapses and the run ends."""
    handle = await harness.submit()
    await settle(harness)
    await hold(handle)
    await harness.sleep_until(await harness.now() + timedelta(days=2))
    await handle.execute_update(ComplaintWorkflow.supplement, SupplementInput(actor=REPORTER, text="Foto terlampir."))
    await accept(handle)
    await follow_up(handle)
    await harness.sleep_until(await harness.now() + timedelta(days=3))
    await reply(handle)
    state = await follow_up(handle)
    state = await complete_by_silence(harness, handle, state)
    await past(harness, state, ClockKind.REOPEN_WINDOW)
    final = await handle.result()
    assert final.status == Status.COMPLETED and final.clocks == {}
    return {"hold_supplement": handle}


async def hold_expired(harness: Harness) -> dict[str, WorkflowHandle]:
    """hold, then the reporter stays silent: archived as withdrawn (ends)."""
    handle = await harness.submit()
    state = await hold(handle)
    await past(harness, state, ClockKind.HOLD)
    final = await handle.result()
    assert final.status == Status.ARCHIVED and final.archive_reason == ArchiveReason.WITHDRAWN
    return {"hold_expired": handle}


async def rejected_duplicate(harness: Harness) -> dict[str, WorkflowHandle]:
    """rejected as a duplicate of another case (ends); only the duplicate's history is kept."""
    original = await harness.submit()
    handle = await harness.submit()
    await settle(harness)
    await handle.execute_update(
        ComplaintWorkflow.verify,
        VerificationInput(actor=ADMIN, decision=Action.REJECT, reason=ArchiveReason.DUPLICATE, duplicate_of=original.id),
    )
    final = await handle.result()
    assert final.status == Status.ARCHIVED and final.duplicate_of == original.id
    return {"rejected_duplicate": handle}


async def reroute_reopen(harness: Harness) -> dict[str, WorkflowHandle]:
    """accept -> not our authority -> accept another agency -> follow-up -> completion -> rating 1
    reopens -> follow-up -> completion; the reopen window then lapses and the run ends."""
    handle = await harness.submit()
    await settle(harness)
    await accept(handle)
    await harness.sleep_until(await harness.now() + timedelta(days=2))
    await handle.execute_update(
        ComplaintWorkflow.reroute,
        RerouteInput(actor=KALTENG_ADMIN, reason="Bukan wewenang provinsi", suggested_agency_id=BALI.id),
    )
    await settle(harness)  # the second routing suggestion
    await accept(handle, agency=BALI)
    state = await follow_up(handle, actor=BALI_OFFICER)
    await complete_by_silence(harness, handle, state)
    state = await rate(handle, 1)
    assert state.status == Status.AWAITING_AGENCY and state.reopen_count == 1
    state = await follow_up(handle, actor=BALI_OFFICER)
    state = await complete_by_silence(harness, handle, state)
    await past(harness, state, ClockKind.REOPEN_WINDOW)
    final = await handle.result()
    assert final.status == Status.COMPLETED and final.reopen_count == 1
    return {"reroute_reopen": handle}


async def overdue_ombudsman(harness: Harness) -> dict[str, WorkflowHandle]:
    """aspirasi accepted and disposed; a newly declared holiday moves the deadlines; the response
    and resolution clocks then breach (overdue to the agency admin, flag to the Ombudsman). Still
    running when stored."""
    handle = await harness.submit(report_type=ReportType.ASPIRASI, region_code="51.71")
    await settle(harness)
    await accept(handle, agency=BALI)
    state = await handle.execute_update(
        ComplaintWorkflow.dispose, DispositionInput(actor=BALI_ADMIN, unit_id=f"{BALI.id}/dinkes")
    )
    # Declare the working day before the response deadline a holiday (cuti bersama).
    declared = state.clocks[ClockKind.RESPONSE].due_at.date() - timedelta(days=1)
    while not state.calendar.is_working_day(declared):
        declared -= timedelta(days=1)
    amended = HolidayCalendar(
        version=state.calendar.version + "+amendment-1",
        holidays=state.calendar.holidays | {declared},
        names=state.calendar.names | {declared: "Cuti bersama (diumumkan)"},
    )
    await handle.signal(ComplaintWorkflow.amend_calendar, CalendarAmendment(calendar=amended))
    await settle(harness)
    state = await state_of(handle)
    assert state.calendar.version == amended.version
    await harness.sleep_until(
        max(state.clocks[ClockKind.RESPONSE].breach_at, state.clocks[ClockKind.RESOLUTION].breach_at) + ONE_SECOND
    )
    await settle(harness)
    state = await state_of(handle)
    assert state.overdue and state.ombudsman_flagged and state.status == Status.AWAITING_AGENCY
    return {"overdue_ombudsman": handle}


async def continue_as_new(harness: Harness) -> dict[str, WorkflowHandle]:
    """A small history_event_limit and reply rounds until the case continues as new. Stores the
    first run (ends in continue-as-new) and the second run (starts from the carried state,
    completes by silence, the reopen window lapses)."""
    handle = await harness.submit(history_event_limit=60)
    first_run = (await handle.describe()).run_id
    await accept(handle)
    for _ in range(40):
        await follow_up(handle)
        await reply(handle)
        await settle(harness)
        if (await handle.describe()).run_id != first_run:
            break
    else:
        raise AssertionError("the case never continued as new")
    latest = harness.client.get_workflow_handle(handle.id, result_type=CaseState)
    second_run = (await latest.describe()).run_id
    state = await follow_up(latest)
    state = await complete_by_silence(harness, latest, state)
    await past(harness, state, ClockKind.REOPEN_WINDOW)
    final = await latest.result()
    assert final.status == Status.COMPLETED
    return {
        "continue_as_new": harness.client.get_workflow_handle(handle.id, run_id=first_run),
        "continue_as_new_second_run": harness.client.get_workflow_handle(handle.id, run_id=second_run),
    }


SCENARIOS: dict[str, Scenario] = {
    scenario.__name__: scenario
    for scenario in (
        typical,
        hold_supplement,
        hold_expired,
        rejected_duplicate,
        reroute_reopen,
        overdue_ombudsman,
        continue_as_new,
    )
}


# --- recording -------------------------------------------------------------------------------


async def record(name: str, scenario: Scenario, directory: Path = HISTORIES_DIR) -> dict[str, int]:
    """Run one scenario on a fresh time-skipping server; write its runs' histories. Returns the
    number of events per file written."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=test_server_path()
    )
    try:
        await ensure_search_attributes(env.client, env.client.namespace)
        harness = Harness(env, f"tq-{uuid.uuid4().hex}", StandInActivities())
        # No workflow cache: every task replays the whole history, so the recording itself
        # already proves the run replays.
        async with harness.worker(max_cached_workflows=0):
            runs = await scenario(harness)
            lengths = {}
            for stem, handle in runs.items():
                history = await handle.fetch_history()
                (directory / f"{stem}.json").write_text(history.to_json() + "\n", encoding="utf-8")
                lengths[stem] = len(history.events)
        return lengths
    finally:
        await env.shutdown()


async def main(names: list[str]) -> None:
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    for name in names or list(SCENARIOS):
        for stem, events in (await record(name, SCENARIOS[name])).items():
            print(f"{stem}.json: {events} events")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
