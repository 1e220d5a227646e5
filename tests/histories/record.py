"""Record the stored ComplaintWorkflow histories that tests/workflows/test_replay.py replays.

    python -m tests.histories.record               # every scenario
    python -m tests.histories.record typical ...   # only these

Each scenario runs the real ComplaintWorkflow with the stand-in activities of
tests/workflows/conftest.py on its own time-skipping test server, then writes the history of the
run(s) it names to tests/histories/<name>.json (`WorkflowHistory.to_json()`). Regenerate only when
a change to the workflow's commands is intentionally gated with `workflow.patched` (or when adding
a scenario): see README.md next to this file.

Every action is followed by a few seconds of (skipped) time, so its projection has finished before
the next action arrives and each history has one shape, the same on every recording. The one
scenario that needs an action to arrive while a projection is in flight (`action_while_recording`)
holds the `record_case` stand-in on a gate to make that happen every time.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.calendar import DayAmendment, HolidayCalendar, amendments_issued_at, effective_calendar
from domain.enums import Action, ArchiveReason, ClockKind, ReportType, Status
from domain.models import (
    Actor,
    AgencyRef,
    CalendarAmendment,
    CaseRecord,
    CaseState,
    DispositionInput,
    FollowUpInput,
    Location,
    PersonalData,
    PersonalDataChange,
    PinConfirmation,
    RatingInput,
    SatisfiedInput,
    Reporter,
    ReplyInput,
    RerouteInput,
    SupplementInput,
    VerificationInput,
)
from domain.sealing import new_case_key, seal
from tests.conftest import test_server_path
from tests.crypto import TEST_DATA_CONVERTER
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
from workflows.delivery import DeliveryPlan

HISTORIES_DIR = Path(__file__).resolve().parent
ONE_SECOND = timedelta(seconds=1)
SETTLE = timedelta(seconds=5)  # the projection after an action finishes within this
GATE_TIMEOUT_SECONDS = 10.0

# A scenario drives one case (or a few) and returns the runs to store: file stem -> handle.
Scenario = Callable[[Harness], Awaitable[dict[str, WorkflowHandle]]]


@dataclass
class GatedActivities(StandInActivities):
    """The stand-ins, with `record_case` held while `gate` is closed (open by default)."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    held: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.gate.set()

    @activity.defn(name="record_case")
    async def record_case(self, record: CaseRecord) -> None:
        await self._pass_gate()
        self.records.append(record)

    @activity.defn(name="project_case")
    async def project_case(self, record: CaseRecord) -> DeliveryPlan | None:
        await self._pass_gate()
        return await super().project_case(record)

    async def _pass_gate(self) -> None:
        if not self.gate.is_set():
            self.held.set()
            await self.gate.wait()


@dataclass
class Case:
    """One case under a scenario's control: every action waits for its projection."""

    harness: Harness
    handle: WorkflowHandle

    async def settle(self) -> None:
        await self.harness.sleep_until(await self.harness.now() + SETTLE)

    async def state(self) -> CaseState:
        return await self.handle.query(ComplaintWorkflow.state)

    async def update(self, update, data, *, settle: bool = True) -> CaseState:
        state = await self.handle.execute_update(update, data)
        if settle:
            await self.settle()
        return state

    async def accept(self, agency: AgencyRef = KALTENG) -> CaseState:
        decision = VerificationInput(actor=ADMIN, decision=Action.ACCEPT, agency=agency)
        return await self.update(ComplaintWorkflow.verify, decision)

    async def hold(self) -> CaseState:
        note = "Lampirkan foto lokasi."
        decision = VerificationInput(actor=ADMIN, decision=Action.HOLD, note=note)
        return await self.update(ComplaintWorkflow.verify, decision)

    async def follow_up(self, actor: Actor = KALTENG_OFFICER, *, settle: bool = True) -> CaseState:
        message = FollowUpInput(actor=actor, message="Sudah ditangani.")
        return await self.update(ComplaintWorkflow.follow_up, message, settle=settle)

    async def reply(self, actor: Actor = REPORTER, *, settle: bool = True) -> CaseState:
        message = ReplyInput(actor=actor, message="Belum selesai.")
        return await self.update(ComplaintWorkflow.reply, message, settle=settle)

    async def rate(self, score: int) -> CaseState:
        return await self.update(ComplaintWorkflow.rate, RatingInput(actor=REPORTER, score=score))

    async def wait(self, duration: timedelta) -> None:
        await self.harness.sleep_until(await self.harness.now() + duration)

    async def past(self, state: CaseState, kind: ClockKind) -> CaseState:
        """Move the clock just past `kind`'s breach instant (as `state` had it)."""
        await self.harness.sleep_until(state.clocks[kind].breach_at + ONE_SECOND)
        return await self.state()

    async def complete_by_silence(self, state: CaseState) -> CaseState:
        state = await self.past(state, ClockKind.SILENCE)
        assert state.status == Status.COMPLETED, state.status
        return state

    async def result(self) -> CaseState:
        return await self.handle.result()


async def open_case(harness: Harness, **options) -> Case:
    case = Case(harness, await harness.submit(**options))
    await case.settle()  # routing suggestions, then the first projection
    return case


# --- scenarios -------------------------------------------------------------------------------


async def typical(harness: Harness) -> dict[str, WorkflowHandle]:
    """submit -> accept -> dispose -> follow-up -> completion by silence -> rating 5 (ends)."""
    case = await open_case(harness, region_code="62.71")
    await case.accept()
    await case.update(
        ComplaintWorkflow.dispose,
        DispositionInput(
            actor=KALTENG_ADMIN, unit_id=f"{KALTENG.id}/pupr", note="Mohon ditindaklanjuti"
        ),
    )
    await case.wait(timedelta(days=1))
    state = await case.follow_up()
    await case.complete_by_silence(state)
    await case.rate(5)
    final = await case.result()
    assert final.status == Status.COMPLETED and final.clocks == {}
    return {"typical": case.handle}


async def hold_supplement(harness: Harness) -> dict[str, WorkflowHandle]:
    """hold -> supplement -> accept -> follow-up -> reply -> follow-up -> completion; the reopen
    window then lapses and the run ends."""
    case = await open_case(harness)
    await case.hold()
    await case.wait(timedelta(days=2))
    await case.update(
        ComplaintWorkflow.supplement, SupplementInput(actor=REPORTER, text="Foto terlampir.")
    )
    await case.accept()
    await case.follow_up()
    await case.wait(timedelta(days=3))
    await case.reply()
    state = await case.follow_up()
    state = await case.complete_by_silence(state)
    await case.past(state, ClockKind.REOPEN_WINDOW)
    final = await case.result()
    assert final.status == Status.COMPLETED and final.clocks == {}
    return {"hold_supplement": case.handle}


async def hold_expired(harness: Harness) -> dict[str, WorkflowHandle]:
    """hold, then the reporter stays silent: archived as withdrawn (ends)."""
    case = await open_case(harness)
    state = await case.hold()
    await case.past(state, ClockKind.HOLD)
    final = await case.result()
    assert final.status == Status.ARCHIVED and final.archive_reason == ArchiveReason.WITHDRAWN
    return {"hold_expired": case.handle}


async def rejected_duplicate(harness: Harness) -> dict[str, WorkflowHandle]:
    """rejected as a duplicate of another case (ends); only the duplicate's history is kept."""
    original = await open_case(harness)
    case = await open_case(harness)
    await case.update(
        ComplaintWorkflow.verify,
        VerificationInput(
            actor=ADMIN,
            decision=Action.REJECT,
            reason=ArchiveReason.DUPLICATE,
            duplicate_of=original.handle.id,
        ),
    )
    final = await case.result()
    assert final.status == Status.ARCHIVED and final.duplicate_of == original.handle.id
    return {"rejected_duplicate": case.handle}


async def reroute_reopen(harness: Harness) -> dict[str, WorkflowHandle]:
    """accept -> not our authority -> accept another agency -> follow-up -> completion -> rating 1
    reopens -> follow-up -> completion; the reopen window then lapses and the run ends."""
    case = await open_case(harness)
    await case.accept()
    await case.wait(timedelta(days=2))
    await case.update(
        ComplaintWorkflow.reroute,
        RerouteInput(
            actor=KALTENG_ADMIN, reason="Bukan wewenang provinsi", suggested_agency_id=BALI.id
        ),
    )
    await case.accept(agency=BALI)
    state = await case.follow_up(actor=BALI_OFFICER)
    await case.complete_by_silence(state)
    state = await case.rate(1)
    assert state.status == Status.AWAITING_AGENCY and state.reopen_count == 1
    state = await case.follow_up(actor=BALI_OFFICER)
    state = await case.complete_by_silence(state)
    await case.past(state, ClockKind.REOPEN_WINDOW)
    final = await case.result()
    assert final.status == Status.COMPLETED and final.reopen_count == 1
    return {"reroute_reopen": case.handle}


async def overdue_ombudsman(harness: Harness) -> dict[str, WorkflowHandle]:
    """aspirasi accepted and disposed; a newly declared holiday moves the deadlines; the response
    and resolution clocks then breach (overdue to the agency admin, flag to the Ombudsman). Still
    running when stored."""
    case = await open_case(harness, report_type=ReportType.ASPIRASI, region_code="51.71")
    await case.accept(agency=BALI)
    state = await case.update(
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
    await case.handle.signal(ComplaintWorkflow.amend_calendar, CalendarAmendment(calendar=amended))
    await case.settle()
    state = await case.state()
    assert state.calendar.version == amended.version
    response, resolution = state.clocks[ClockKind.RESPONSE], state.clocks[ClockKind.RESOLUTION]
    await harness.sleep_until(max(response.breach_at, resolution.breach_at) + ONE_SECOND)
    await case.settle()
    state = await case.state()
    assert state.overdue and state.ombudsman_flagged and state.status == Status.AWAITING_AGENCY
    return {"overdue_ombudsman": case.handle}


async def continue_as_new(harness: Harness) -> dict[str, WorkflowHandle]:
    """A small history_event_limit and reply rounds until the case continues as new. Stores the
    first run (ends in continue-as-new) and the second run (starts from the carried state,
    completes by silence, the reopen window lapses)."""
    case = await open_case(harness, history_event_limit=60)
    first_run = (await case.handle.describe()).run_id
    await case.accept()
    for _ in range(40):
        await case.follow_up()
        await case.reply()
        if (await case.handle.describe()).run_id != first_run:
            break
    else:
        raise AssertionError("the case never continued as new")
    client = harness.client
    latest = Case(harness, client.get_workflow_handle(case.handle.id, result_type=CaseState))
    second_run = (await latest.handle.describe()).run_id
    state = await latest.follow_up()
    state = await latest.complete_by_silence(state)
    await latest.past(state, ClockKind.REOPEN_WINDOW)
    final = await latest.result()
    assert final.status == Status.COMPLETED
    return {
        "continue_as_new": client.get_workflow_handle(case.handle.id, run_id=first_run),
        "continue_as_new_second_run": client.get_workflow_handle(case.handle.id, run_id=second_run),
    }


async def action_while_recording(harness: Harness) -> dict[str, WorkflowHandle]:
    """A reply and a calendar amendment arrive while the follow-up's projection is in flight:
    the workflow records them before sleeping again. Then follow-up, completion, rating 4 (ends).
    Needs GatedActivities (see `record`)."""
    activities = harness.activities
    assert isinstance(activities, GatedActivities)
    case = await open_case(harness)
    state = await case.accept()
    activities.gate.clear()
    activities.held.clear()
    await case.follow_up(settle=False)
    await asyncio.wait_for(activities.held.wait(), GATE_TIMEOUT_SECONDS)
    await case.reply(settle=False)
    amended = HolidayCalendar(
        version=state.calendar.version + "+amendment-1",
        holidays=state.calendar.holidays,
        names=state.calendar.names,
    )
    await case.handle.signal(ComplaintWorkflow.amend_calendar, CalendarAmendment(calendar=amended))
    for _ in range(100):  # the signal is applied (not just delivered) before the gate opens
        if (await case.state()).calendar.version == amended.version:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the calendar amendment was not applied")
    activities.gate.set()
    await case.settle()
    projected = [(r.seq, [e.action for e in r.new_events]) for r in activities.records]
    assert projected[-2:] == [
        (3, [Action.FOLLOW_UP]),
        (5, [Action.REPLY, Action.CALENDAR_AMENDED]),
    ], projected
    state = await case.follow_up()
    await case.complete_by_silence(state)
    await case.rate(4)
    final = await case.result()
    assert final.status == Status.COMPLETED and final.clocks == {}
    return {"action_while_recording": case.handle}


async def calendar_amendments(harness: Harness) -> dict[str, WorkflowHandle]:
    """Cumulative amendments (issue 17): the effective calendar with one declared day, then with a
    second one too; the second sent again and the first arriving late are ignored; the first day is
    taken back (its deadline moves back). Then follow-up, completion, rating 5 (ends)."""
    case = await open_case(harness)
    state = await case.accept()
    response_due = state.clocks[ClockKind.RESPONSE].due_at
    first_day = response_due.date() - timedelta(days=1)
    while not state.calendar.is_working_day(first_day):
        first_day -= timedelta(days=1)
    second_day = first_day - timedelta(days=1)
    while not state.calendar.is_working_day(second_day):
        second_day -= timedelta(days=1)
    issued = await harness.env.get_current_time()

    def day(on, kind: str, minute: int) -> DayAmendment:
        return DayAmendment(day=on, kind=kind, name=f"{kind} {on}", decree="SKB (rekaman)", declared_by="admin",
                            declared_at=issued + timedelta(minutes=minute))

    history = [day(first_day, "cuti_bersama", 1)]
    broadcasts = []
    for change in (None, day(second_day, "holiday", 2), day(first_day, "cancelled", 3)):
        history += [change] if change else []
        broadcasts.append(CalendarAmendment(calendar=effective_calendar(issued.year - 1, 6, history),
                                            issued_at=amendments_issued_at(history)))
    first, second, removal = broadcasts
    for broadcast in (first, second, second, first):  # the second sent again, the first arriving late
        await case.handle.signal(ComplaintWorkflow.amend_calendar, broadcast)
    await case.settle()
    state = await case.state()
    assert state.calendar.version == second.calendar.version
    assert {first_day, second_day} <= state.calendar.holidays
    assert [e.action for e in state.timeline].count(Action.CALENDAR_AMENDED) == 2
    moved = state.clocks[ClockKind.RESPONSE].due_at
    await case.handle.signal(ComplaintWorkflow.amend_calendar, removal)
    await case.settle()
    state = await case.state()
    assert first_day not in state.calendar.holidays and second_day in state.calendar.holidays
    assert response_due < state.clocks[ClockKind.RESPONSE].due_at < moved
    state = await case.follow_up()
    await case.complete_by_silence(state)
    await case.rate(5)
    final = await case.result()
    assert final.status == Status.COMPLETED and [e.action for e in final.timeline].count(Action.CALENDAR_AMENDED) == 3
    return {"calendar_amendments": case.handle}
async def typical_encrypted(h: Harness) -> dict[str, WorkflowHandle]:
    """The typical lifecycle once more, recorded after payload encryption came (every recording
    since is encrypted with tests/crypto.py's key; the clear files above are from before)."""
    [handle] = (await typical(h)).values()
    return {"typical_encrypted": handle}


async def typical_bound(h: Harness) -> dict[str, WorkflowHandle]:
    """The typical lifecycle recorded after payloads were bound to their workflow (each names
    its case in `encryption-workflow-id`, sealed into the ciphertext)."""
    [handle] = (await typical(h)).values()
    return {"typical_bound": handle}


async def satisfied(harness: Harness) -> dict[str, WorkflowHandle]:
    """submit -> accept -> follow-up -> "Saya puas" (the satisfied update, patch
    `reporter-satisfied`, issue 23) -> rating 5 at once, which closes the reopen window (ends)."""
    case = await open_case(harness, region_code="62.71")
    await case.accept()
    await case.follow_up()
    state = await case.update(ComplaintWorkflow.satisfied, SatisfiedInput(actor=REPORTER))
    assert state.status == Status.COMPLETED, state.status
    await case.rate(5)
    final = await case.result()
    assert final.status == Status.COMPLETED and final.clocks == {}
    return {"satisfied": case.handle}


async def typical_deliveries(h: Harness) -> dict[str, WorkflowHandle]:
    """The typical lifecycle after deliveries moved into the case's workflow (issue 25, patch
    `deliveries-in-case`): each projection returns its deliveries (one email per notification
    here) and the workflow sends them, one `send_email_batch` activity per projection."""
    h.activities.deliver = True
    [handle] = (await typical(h)).values()
    return {"typical_deliveries": handle}


async def personal_data_erased(harness: Harness) -> dict[str, WorkflowHandle]:
    """Issue 26: a case whose identity travels sealed under its own key; the reporter corrects it
    (a new sealed blob), then erases it (the blob dropped, "data pribadi dihapus"); the case goes
    on: follow-up, completion by silence, the reopen window lapses (ends)."""
    key = new_case_key()
    sealed = {name: seal(key, "recorded", PersonalData(reporter=Reporter(name=name, email="pelapor@contoh.id")))
              for name in ("Pelapor Rekaman", "Pelapor Rekaman Baru")}
    case = await open_case(harness, region_code="62.71", sealed=sealed["Pelapor Rekaman"])
    await case.accept()
    await case.update(ComplaintWorkflow.change_personal_data,
                      PersonalDataChange(actor=REPORTER, sealed=sealed["Pelapor Rekaman Baru"]))
    state = await case.update(ComplaintWorkflow.change_personal_data, PersonalDataChange(actor=REPORTER))
    assert state.details.sealed is None and state.status == Status.AWAITING_AGENCY
    state = await case.follow_up()
    state = await case.complete_by_silence(state)
    await case.past(state, ClockKind.REOPEN_WINDOW)
    final = await case.result()
    assert [e.action for e in final.timeline].count(Action.PERSONAL_DATA_ERASED) == 1
    return {"personal_data_erased": case.handle}


async def pin_confirmed(harness: Harness) -> dict[str, WorkflowHandle]:
    """Issue 22: a Palangkaraya case pinned in Sulawesi; accept, the verifier confirms the pin (the
    `confirm_pin` update, gated `workflow.patched("pin-confirmed")`: "pin_confirmed" on the
    timeline, the status unchanged), follow-up, completion by silence; the window lapses (ends)."""
    case = await open_case(harness, region_code="62.71", location=Location(lat=-5.1477, lon=119.4327))
    await case.accept()
    state = await case.update(ComplaintWorkflow.confirm_pin, PinConfirmation(actor=ADMIN))
    assert state.timeline[-1].action == Action.PIN_CONFIRMED and state.status == Status.AWAITING_AGENCY
    state = await case.follow_up()
    state = await case.complete_by_silence(state)
    await case.past(state, ClockKind.REOPEN_WINDOW)
    final = await case.result()
    assert [e.action for e in final.timeline].count(Action.PIN_CONFIRMED) == 1
    return {"pin_confirmed": case.handle}


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
        action_while_recording,
        calendar_amendments,
        typical_encrypted,
        typical_bound,
        satisfied,
        typical_deliveries,
        personal_data_erased,
        pin_confirmed,
    )
}


# --- recording -------------------------------------------------------------------------------


async def record(scenario: Scenario, directory: Path = HISTORIES_DIR) -> dict[str, int]:
    """Run one scenario on a fresh time-skipping server; write its runs' histories. Returns the
    number of events per file written."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=TEST_DATA_CONVERTER, test_server_existing_path=test_server_path()
    )
    try:
        await ensure_search_attributes(env.client, env.client.namespace)
        harness = Harness(env, f"tq-{uuid.uuid4().hex}", GatedActivities())
        # No workflow cache: every task replays the whole history, so the recording itself
        # already proves the run replays (and a stopped worker leaves no sticky queue behind).
        async with harness.worker(max_cached_workflows=0):
            runs = await scenario(harness)
            lengths = {}
            for stem, handle in runs.items():
                history = await handle.fetch_history()
                text = history.to_json() + "\n"
                (directory / f"{stem}.json").write_text(text, encoding="utf-8")
                lengths[stem] = len(history.events)
        return lengths
    finally:
        await env.shutdown()


async def main(names: list[str]) -> None:
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        known = ", ".join(SCENARIOS)
        raise SystemExit(f"unknown scenario(s) {', '.join(unknown)}; known: {known}")
    for name in names or list(SCENARIOS):
        for stem, events in (await record(SCENARIOS[name])).items():
            print(f"{stem}.json: {events} events")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
