"""ComplaintWorkflow on the time-skipping test server: every path of the transition table, each
clock firing at its exact instant, and the guarantees around them (once-only escalations,
validators that leave no trace, continue-as-new)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain.calendar import WIB, WITA, HolidayCalendar
from domain.enums import Action, ArchiveReason, ClockKind, EscalationKind, Party, ReportType, Role, Status
from domain.models import (
    Actor,
    CalendarAmendment,
    CaseState,
    DispositionInput,
    FollowUpInput,
    PersonalDataChange,
    RatingInput,
    ReplyInput,
    RerouteInput,
    SupplementInput,
    VerificationInput,
)
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
)
from workflows import AGENCY_ATTRIBUTE, OVERDUE_ATTRIBUTE, STATUS_ATTRIBUTE
from domain.policy import current_policy
from workflows.complaint import ComplaintWorkflow

ONE_SECOND = timedelta(seconds=1)


async def state_of(handle: WorkflowHandle) -> CaseState:
    return await handle.query(ComplaintWorkflow.state)


async def accept(handle: WorkflowHandle, agency=KALTENG) -> CaseState:
    return await handle.execute_update(
        ComplaintWorkflow.verify, VerificationInput(actor=ADMIN, decision=Action.ACCEPT, agency=agency)
    )


async def follow_up(handle: WorkflowHandle, actor: Actor = KALTENG_OFFICER, message="Sudah ditangani.") -> CaseState:
    return await handle.execute_update(ComplaintWorkflow.follow_up, FollowUpInput(actor=actor, message=message))


async def reply(handle: WorkflowHandle, actor: Actor = REPORTER) -> CaseState:
    return await handle.execute_update(ComplaintWorkflow.reply, ReplyInput(actor=actor, message="Belum selesai."))


async def rejection_of(update) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as raised:
        await update
    assert isinstance(raised.value.cause, ApplicationError)
    return raised.value.cause


def only(items):
    assert len(items) == 1, items
    return items[0]


async def complete_by_silence(harness: Harness, handle: WorkflowHandle) -> CaseState:
    state = await follow_up(handle)
    await harness.sleep_until(state.clocks[ClockKind.SILENCE].breach_at + ONE_SECOND)
    state = await state_of(handle)
    assert state.status == Status.COMPLETED
    return state


async def test_submission_runs_verification_clock_and_is_recorded(harness: Harness):
    async with harness.worker():
        handle = await harness.submit(region_code="62.71")
        state = await state_of(handle)
        submitted = state.submitted_at
        clock = state.clocks[ClockKind.VERIFICATION]
        assert state.status == Status.AWAITING_VERIFICATION
        # 3 working days counted from the day after submission, ending 23:59:59 in Jakarta.
        due = clock.due_at.astimezone(state.calendar.deadline(submitted, 0, WIB).tzinfo)
        assert (due.hour, due.minute, due.second) == (23, 59, 59)
        assert due.utcoffset() == timedelta(hours=7)
        days = [submitted.astimezone(due.tzinfo).date() + timedelta(days=i) for i in range(1, 15)]
        working = [d for d in days if d.weekday() < 5 and d not in state.calendar.holidays]
        assert due.date() == working[2]
        await harness.sleep_until(submitted + timedelta(seconds=5))
        first = harness.activities.records[0]
        assert first.status == Status.AWAITING_VERIFICATION and first.new_events[0].action == Action.SUBMIT
        assert {n.recipient for n in first.notifications} == {Party.REPORTER, Party.NATIONAL_ADMIN}
        assert (await state_of(handle)).suggestions[0].agency_id == KALTENG.id
        attributes = (await handle.describe()).typed_search_attributes
        assert attributes.get(STATUS_ATTRIBUTE) == "awaiting_verification"
        assert attributes.get(OVERDUE_ATTRIBUTE) is False


async def test_verification_reminder_and_overdue_fire_at_their_exact_instants(harness: Harness):
    async with harness.worker():
        handle = await harness.submit()
        clock = (await state_of(handle)).clocks[ClockKind.VERIFICATION]
        # The reminder comes when one working day is left: at the end of the second working day.
        assert clock.reminder_at == (await state_of(handle)).calendar.deadline(clock.started_at, 2, WIB)

        await harness.sleep_until(clock.reminder_at - ONE_SECOND)
        assert (await state_of(handle)).escalations == []
        await harness.sleep_until(clock.reminder_at + ONE_SECOND)
        reminder = only((await state_of(handle)).escalations)
        assert (reminder.kind, reminder.at, reminder.notified) == (
            EscalationKind.REMINDER,
            clock.reminder_at,
            Party.NATIONAL_ADMIN,
        )

        await harness.sleep_until(clock.breach_at - ONE_SECOND)
        assert len((await state_of(handle)).escalations) == 1
        await harness.sleep_until(clock.breach_at + ONE_SECOND)
        state = await state_of(handle)
        overdue = state.escalations[1]
        assert (overdue.kind, overdue.clock, overdue.at) == (EscalationKind.OVERDUE, ClockKind.VERIFICATION, clock.breach_at)
        assert overdue.notified == Party.NATIONAL_ADMIN
        assert state.overdue

        await harness.sleep_until(clock.breach_at + timedelta(days=20))
        assert [e.kind for e in (await state_of(handle)).escalations] == [EscalationKind.REMINDER, EscalationKind.OVERDUE]
        attributes = (await handle.describe()).typed_search_attributes
        assert attributes.get(OVERDUE_ATTRIBUTE) is True
        # Late acceptance still works and meets (late) the verification deadline.
        state = await accept(handle)
        assert state.status == Status.AWAITING_AGENCY and not state.overdue
        assert state.timeline[-1].deadline_met == clock.due_at


async def test_accept_sets_response_and_resolution_clocks_in_the_agency_zone(harness: Harness):
    async with harness.worker():
        handle = await harness.submit(report_type=ReportType.ASPIRASI, region_code="51.71")
        state = await accept(handle, agency=BALI)
        now = state.timeline[-1].at
        response, resolution = state.clocks[ClockKind.RESPONSE], state.clocks[ClockKind.RESOLUTION]
        assert state.status == Status.AWAITING_AGENCY and state.agency == BALI
        assert response.zone == WITA and response.due_at.utcoffset() == timedelta(hours=8)
        assert response.due_at == state.calendar.deadline(now, 5, WITA)
        assert resolution.due_at == state.calendar.deadline(now, 5, WITA)  # aspirasi: 5 working days
        assert ClockKind.VERIFICATION not in state.clocks
        assert state.deadlines().response_due == response.due_at
        await harness.sleep_until(now + timedelta(seconds=5))  # the workflow upserts after the update
        attributes = (await handle.describe()).typed_search_attributes
        assert attributes.get(AGENCY_ATTRIBUTE) == BALI.id
        assert attributes.get(STATUS_ATTRIBUTE) == "awaiting_agency"


async def test_hold_pauses_the_verification_clock_and_supplement_resumes_it(harness: Harness):
    async with harness.worker():
        handle = await harness.submit()
        state = await state_of(handle)
        original = state.clocks[ClockKind.VERIFICATION]
        calendar = state.calendar
        # Hold at 10:00 on the first working day: the hold day counts like the submission day
        # (clocks count from the day after an event), so the second and third days are left.
        first_day = calendar.deadline(state.submitted_at, 1, WIB)
        await harness.sleep_until(first_day.replace(hour=10, minute=0, second=0))
        state = await handle.execute_update(
            ComplaintWorkflow.verify,
            VerificationInput(actor=ADMIN, decision=Action.HOLD, note="Lampirkan foto lokasi."),
        )
        held_at = state.timeline[-1].at
        assert state.status == Status.ON_HOLD
        assert ClockKind.VERIFICATION not in state.clocks
        assert state.paused_verification_days == calendar.remaining_working_days(held_at, original.due_at, WIB) == 2
        assert state.clocks[ClockKind.HOLD].due_at == calendar.deadline(held_at, 10, WIB)

        # Past the original verification deadline while on hold: no escalation, the clock is paused.
        await harness.sleep_until(original.breach_at + timedelta(days=2))
        assert (await state_of(handle)).escalations == []
        state = await handle.execute_update(
            ComplaintWorkflow.supplement, SupplementInput(actor=REPORTER, text="Foto terlampir.")
        )
        resumed_at = state.timeline[-1].at
        assert state.status == Status.AWAITING_VERIFICATION
        assert state.clocks[ClockKind.VERIFICATION].due_at == calendar.deadline(resumed_at, 2, WIB)
        assert state.clocks[ClockKind.VERIFICATION].due_at != calendar.deadline(resumed_at, 3, WIB)
        assert ClockKind.HOLD not in state.clocks


async def test_hold_expiry_archives_the_case_as_withdrawn(harness: Harness):
    async with harness.worker():
        handle = await harness.submit()
        state = await handle.execute_update(
            ComplaintWorkflow.verify, VerificationInput(actor=ADMIN, decision=Action.HOLD)
        )
        hold = state.clocks[ClockKind.HOLD]
        await harness.sleep_until(hold.breach_at - ONE_SECOND)
        assert (await state_of(handle)).status == Status.ON_HOLD
        await harness.sleep_until(hold.breach_at + ONE_SECOND)
        final = await handle.result()
        assert final.status == Status.ARCHIVED and final.archive_reason == ArchiveReason.WITHDRAWN
        assert final.timeline[-1].action == Action.HOLD_EXPIRED and final.timeline[-1].at == hold.breach_at
        assert final.clocks == {}


async def test_reject_archives_with_its_reason_and_ends_the_case(harness: Harness):
    async with harness.worker():
        original = await harness.submit()
        handle = await harness.submit()
        error = await rejection_of(
            handle.execute_update(
                ComplaintWorkflow.verify,
                VerificationInput(actor=ADMIN, decision=Action.REJECT, reason=ArchiveReason.DUPLICATE),
            )
        )
        assert error.type == "invalid"
        state = await handle.execute_update(
            ComplaintWorkflow.verify,
            VerificationInput(
                actor=ADMIN, decision=Action.REJECT, reason=ArchiveReason.DUPLICATE, duplicate_of=original.id
            ),
        )
        assert state.status == Status.ARCHIVED and state.duplicate_of == original.id
        final = await handle.result()
        assert final.archive_reason == ArchiveReason.DUPLICATE
        mine = [r for r in harness.activities.records if r.tracking_id == handle.id]
        assert mine[-1].status == Status.ARCHIVED


async def test_disposition_follow_up_reply_rounds_then_completion_after_silence(harness: Harness):
    async with harness.worker():
        handle = await harness.submit(region_code="62.71")
        await accept(handle)
        state = await handle.execute_update(
            ComplaintWorkflow.dispose,
            DispositionInput(actor=KALTENG_ADMIN, unit_id=f"{KALTENG.id}/pupr", note="Mohon ditindaklanjuti"),
        )
        assert state.unit_id == f"{KALTENG.id}/pupr" and state.status == Status.AWAITING_AGENCY
        assert state.clocks[ClockKind.RESPONSE].responsible == Party.OFFICER

        await harness.sleep_until((await harness.now()) + timedelta(days=1))
        state = await follow_up(handle)
        followed_at = state.timeline[-1].at
        assert state.status == Status.AWAITING_REPORTER and state.first_response_at == followed_at
        assert state.clocks[ClockKind.SILENCE].due_at == state.calendar.deadline(followed_at, 10, WIB)
        assert ClockKind.RESPONSE not in state.clocks

        await harness.sleep_until(followed_at + timedelta(days=3))
        state = await reply(handle)
        replied_at = state.timeline[-1].at
        assert state.status == Status.AWAITING_AGENCY
        assert state.clocks[ClockKind.RESPONSE].due_at == state.calendar.deadline(replied_at, 5, WIB)

        state = await follow_up(handle, message="Perbaikan selesai.")
        assert state.first_response_at == followed_at  # the first response stays the first
        state = await reply(handle, actor=ADMIN)
        assert state.status == Status.AWAITING_AGENCY and state.timeline[-1].actor.role == Role.ADMIN

        state = await follow_up(handle)
        silence = state.clocks[ClockKind.SILENCE]
        await harness.sleep_until(silence.breach_at - ONE_SECOND)
        assert (await state_of(handle)).status == Status.AWAITING_REPORTER
        await harness.sleep_until(silence.breach_at + ONE_SECOND)
        state = await state_of(handle)
        assert state.status == Status.COMPLETED and state.completed_at == silence.breach_at
        assert state.timeline[-1].action == Action.SILENCE_COMPLETED
        assert ClockKind.RESOLUTION not in state.clocks

        state = await handle.execute_update(ComplaintWorkflow.rate, RatingInput(actor=REPORTER, score=4))
        assert state.rating.score == 4 and state.status == Status.COMPLETED
        final = await handle.result()
        assert final.status == Status.COMPLETED and final.reopen_count == 0


async def test_low_rating_reopens_the_case_once(harness: Harness):
    async with harness.worker():
        handle = await harness.submit()
        await accept(handle)
        await complete_by_silence(harness, handle)
        state = await handle.execute_update(
            ComplaintWorkflow.rate, RatingInput(actor=REPORTER, score=1, comment="Tidak ada perbaikan")
        )
        rated_at = state.timeline[-1].at
        assert state.status == Status.AWAITING_AGENCY and state.reopen_count == 1
        assert [e.action for e in state.timeline[-2:]] == [Action.RATE, Action.REOPEN]
        assert state.clocks[ClockKind.RESPONSE].due_at == state.calendar.deadline(rated_at, 5, WIB)

        await complete_by_silence(harness, handle)
        state = await handle.execute_update(ComplaintWorkflow.rate, RatingInput(actor=REPORTER, score=2))
        assert state.status == Status.COMPLETED and state.reopen_count == 1
        final = await handle.result()
        assert [r.score for r in final.ratings] == [1, 2]


async def test_a_low_rating_after_the_reopen_window_does_not_reopen(harness: Harness):
    async with harness.worker():
        handle = await harness.submit()
        await accept(handle)
        state = await complete_by_silence(harness, handle)
        window = state.clocks[ClockKind.REOPEN_WINDOW]
        assert window.due_at == state.calendar.deadline(state.completed_at, 10, WIB)
        await harness.sleep_until(window.breach_at + ONE_SECOND)
        final = await handle.result()
        assert final.status == Status.COMPLETED and final.clocks == {}


async def test_not_our_authority_reroutes_with_a_fresh_verification_clock(harness: Harness):
    async with harness.worker():
        handle = await harness.submit()
        accepted = await accept(handle)
        resolution = accepted.clocks[ClockKind.RESOLUTION]
        await harness.sleep_until((await harness.now()) + timedelta(days=2))
        state = await handle.execute_update(
            ComplaintWorkflow.reroute,
            RerouteInput(actor=KALTENG_ADMIN, reason="Jalan nasional, bukan wewenang provinsi", suggested_agency_id="kemenpu"),
        )
        rerouted_at = state.timeline[-1].at
        assert state.status == Status.AWAITING_VERIFICATION and state.bounce_count == 1
        assert state.agency is None and state.timeline[-1].agency_id == KALTENG.id
        assert state.clocks[ClockKind.VERIFICATION].due_at == state.calendar.deadline(rerouted_at, 3, WIB)
        assert state.clocks[ClockKind.RESOLUTION] == resolution  # runs from the first forwarding
        await harness.sleep_until(rerouted_at + timedelta(seconds=5))
        assert harness.activities.suggestion_requests[-1].exclude_agency_ids == [KALTENG.id]

        state = await accept(handle, agency=BALI)
        assert state.agency == BALI and state.clocks[ClockKind.RESOLUTION] == resolution
        error = await rejection_of(
            handle.execute_update(ComplaintWorkflow.reroute, RerouteInput(actor=KALTENG_ADMIN, reason="x"))
        )
        assert error.type == "forbidden"  # the case is no longer with Kalimantan Tengah


async def test_response_breach_escalates_to_the_supervisor_and_resolution_breach_to_the_ombudsman(harness: Harness):
    async with harness.worker():
        handle = await harness.submit(report_type=ReportType.ASPIRASI)
        await accept(handle, agency=BALI)
        state = await handle.execute_update(
            ComplaintWorkflow.dispose, DispositionInput(actor=BALI_ADMIN, unit_id=f"{BALI.id}/dinkes")
        )
        response, resolution = state.clocks[ClockKind.RESPONSE], state.clocks[ClockKind.RESOLUTION]
        await harness.sleep_until(max(response.breach_at, resolution.breach_at) + ONE_SECOND)
        state = await state_of(handle)
        overdue = [e for e in state.escalations if e.kind == EscalationKind.OVERDUE]
        ombudsman = [e for e in state.escalations if e.kind == EscalationKind.OMBUDSMAN]
        assert only(overdue).notified == Party.AGENCY_ADMIN  # officers' supervisor
        assert only(overdue).at == response.breach_at
        flag = only(ombudsman)
        assert flag.at == resolution.breach_at and state.ombudsman_flagged
        assert state.tracking_id in flag.summary and "aspirasi" in flag.summary
        recipients = {n.recipient for r in harness.activities.records for n in r.notifications if n.event_seq == flag.seq}
        assert recipients == {Party.OMBUDSMAN, Party.NATIONAL_ADMIN}
        # The officer can still answer; the flag stays for the statistics.
        state = await follow_up(handle, actor=BALI_OFFICER)
        assert state.status == Status.AWAITING_REPORTER and state.ombudsman_flagged


async def test_invalid_actions_are_rejected_without_a_trace_in_history(harness: Harness):
    async with harness.worker():
        handle = await harness.submit()
        await harness.sleep_until((await harness.now()) + timedelta(seconds=5))
        before = [e async for e in handle.fetch_history_events()]

        conflict = await rejection_of(
            handle.execute_update(ComplaintWorkflow.supplement, SupplementInput(actor=REPORTER, text="tambahan"))
        )
        assert conflict.type == "conflict"
        forbidden = await rejection_of(
            handle.execute_update(
                ComplaintWorkflow.verify, VerificationInput(actor=KALTENG_ADMIN, decision=Action.ACCEPT, agency=KALTENG)
            )
        )
        assert forbidden.type == "forbidden"
        await accept(handle)
        other_agency = await rejection_of(follow_up(handle, actor=BALI_OFFICER))
        assert other_agency.type == "forbidden"
        rate_now = await rejection_of(
            handle.execute_update(ComplaintWorkflow.rate, RatingInput(actor=REPORTER, score=5))
        )
        assert rate_now.type == "conflict"

        after = [e async for e in handle.fetch_history_events()]
        update_events = [e for e in after if e.HasField("workflow_execution_update_accepted_event_attributes")]
        assert len(update_events) == 1  # only the valid accept
        assert not any(e.HasField("workflow_execution_update_rejected_event_attributes") for e in after)
        assert len(before) < len(after)
        state = await state_of(handle)
        assert [e.action for e in state.timeline] == [Action.SUBMIT, Action.ACCEPT]


async def test_escalations_are_recorded_once_across_worker_restarts(harness: Harness):
    # No workflow cache anywhere: a stopped worker leaves no sticky queue for the test server to
    # wait on, and every task on the next worker replays the whole history.
    async with harness.worker(max_cached_workflows=0):
        handle = await harness.submit()
        clock = (await state_of(handle)).clocks[ClockKind.VERIFICATION]
        await harness.sleep_until(clock.reminder_at + timedelta(minutes=1))  # the reminder is recorded
    async with harness.worker(max_cached_workflows=0):
        await harness.sleep_until(clock.breach_at + timedelta(days=1))
        await accept(handle)
        await harness.sleep_until((await harness.now()) + timedelta(minutes=1))
    async with harness.worker(max_cached_workflows=0):
        await harness.sleep_until((await harness.now()) + timedelta(days=1))
        state = await state_of(handle)
    assert [(e.kind, e.clock) for e in state.escalations] == [
        (EscalationKind.REMINDER, ClockKind.VERIFICATION),
        (EscalationKind.OVERDUE, ClockKind.VERIFICATION),
    ]
    assert state.escalations[1].at == clock.breach_at
    # Activity retries or replays never queue a notification twice for the same event.
    keys = harness.activities.notification_keys()
    assert len(keys) == len(set(keys))
    escalations = harness.activities.escalation_keys()
    assert len(escalations) == len(set(escalations)) == 2


async def test_continue_as_new_carries_the_whole_case(harness: Harness):
    async with harness.worker():
        handle = await harness.submit(history_event_limit=60)
        first_run = (await handle.describe()).run_id
        await accept(handle)
        for _ in range(12):
            await follow_up(handle)
            await reply(handle)
        state = await follow_up(handle)
        await harness.sleep_until(state.timeline[-1].at + timedelta(seconds=5))  # records, then continues
        described = await harness.client.get_workflow_handle(handle.id).describe()
        assert described.run_id != first_run  # the case moved to a new run
        assert [e.seq for e in state.timeline] == list(range(1, len(state.timeline) + 1))
        assert len(state.timeline) == 2 + 12 * 2 + 1
        assert state.agency == KALTENG and state.status == Status.AWAITING_REPORTER
        silence = state.clocks[ClockKind.SILENCE]
        await harness.sleep_until(silence.breach_at + ONE_SECOND)
        state = await harness.client.get_workflow_handle(handle.id).query(ComplaintWorkflow.state)
        assert state.status == Status.COMPLETED and state.first_response_at == state.timeline[2].at
        history = [e async for e in harness.client.get_workflow_handle(handle.id).fetch_history_events()]
        assert len(history) < 200


async def test_a_newly_declared_holiday_extends_remaining_deadlines(harness: Harness):
    async with harness.worker():
        handle = await harness.submit()
        state = await accept(handle)
        response = state.clocks[ClockKind.RESPONSE]
        local_due = response.due_at.date()
        # Declare the working day before the response deadline a holiday (cuti bersama).
        declared = local_due - timedelta(days=1)
        while not state.calendar.is_working_day(declared):
            declared -= timedelta(days=1)
        amended = HolidayCalendar(
            version=state.calendar.version + "+amendment-1",
            holidays=state.calendar.holidays | {declared},
            names=state.calendar.names | {declared: "Cuti bersama (diumumkan)"},
        )
        await handle.signal(ComplaintWorkflow.amend_calendar, CalendarAmendment(calendar=amended))
        await handle.signal(ComplaintWorkflow.amend_calendar, CalendarAmendment(calendar=amended))
        await harness.sleep_until((await harness.now()) + timedelta(seconds=5))
        state = await state_of(handle)
        moved = state.clocks[ClockKind.RESPONSE].due_at
        assert moved > response.due_at
        assert moved == amended.deadline(response.started_at, 5, WIB)
        assert state.calendar.version == amended.version
        assert [e.action for e in state.timeline].count(Action.CALENDAR_AMENDED) == 1


async def test_direct_to_agency_policy_lets_the_chosen_agency_verify(harness: Harness):
    async with harness.worker():
        handle = await harness.submit(agency_hint=KALTENG.id)
        error = await rejection_of(
            handle.execute_update(
                ComplaintWorkflow.verify, VerificationInput(actor=KALTENG_ADMIN, decision=Action.ACCEPT, agency=KALTENG)
            )
        )
        assert error.type == "forbidden"  # default policy: the national administrator verifies


async def test_notifications_never_carry_the_reporters_identity(harness: Harness):
    async with harness.worker():
        handle = await harness.submit(
            anonymous=True, reporter={"name": "Siti Rahma", "email": "siti@example.id", "phone": "+628123456789"}
        )
        await accept(handle)
        await follow_up(handle)
        await harness.sleep_until((await harness.now()) + timedelta(seconds=5))
        sent = " ".join(n.model_dump_json() for r in harness.activities.records for n in r.notifications)
        assert sent and "Siti" not in sent and "siti@example.id" not in sent and "8123456789" not in sent
        state = await state_of(handle)
        assert all(e.actor.name is None for e in state.timeline if e.actor.role == Role.REPORTER)


@pytest.mark.parametrize(("threshold", "forwarded"), [(0.75, True), (0.85, False)])
async def test_a_confident_suggestion_forwards_by_itself_when_the_policy_says_so(
    harness: Harness, threshold: float, forwarded: bool
):
    policy = current_policy().model_copy(update={"auto_forward_min_score": threshold})
    async with harness.worker():
        handle = await harness.submit(policy=policy)
        await harness.sleep_until((await harness.now()) + timedelta(seconds=5))
        state = await state_of(handle)
        if not forwarded:  # the stand-in's top suggestion scores 0.8
            assert state.status == Status.AWAITING_VERIFICATION and state.agency is None
            return
        assert state.status == Status.AWAITING_AGENCY and state.agency == KALTENG
        accept_event = state.timeline[-1]
        assert accept_event.action == Action.ACCEPT and accept_event.actor.role == Role.SYSTEM
        assert "otomatis" in accept_event.note and ClockKind.RESPONSE in state.clocks


async def test_the_default_policy_never_forwards_by_itself(harness: Harness):
    async with harness.worker():
        handle = await harness.submit()
        await harness.sleep_until((await harness.now()) + timedelta(seconds=5))
        assert (await state_of(handle)).status == Status.AWAITING_VERIFICATION


async def test_erasure_drops_the_sealed_identity_and_the_case_runs_on_as_anonymous(harness: Harness):
    async with harness.worker():
        handle = await harness.submit(region_code="62.71", sealed="sp4n-sealed/v1:AAAA")
        accepted = await accept(handle)
        officer_erasing = handle.execute_update(ComplaintWorkflow.change_personal_data,
                                                PersonalDataChange(actor=KALTENG_OFFICER))
        assert (await rejection_of(officer_erasing)).type == "forbidden"
        state = await handle.execute_update(ComplaintWorkflow.change_personal_data, PersonalDataChange(actor=REPORTER))
        assert state.details.sealed is None and state.details.reporter is None
        erased = state.timeline[-1]
        assert (erased.action, erased.note, erased.actor.role) == (Action.PERSONAL_DATA_ERASED,
                                                                   "data pribadi dihapus", Role.REPORTER)
        assert state.status == Status.AWAITING_AGENCY and state.clocks == accepted.clocks  # deadlines kept
        await harness.sleep_until(erased.at + timedelta(seconds=5))
        projected = harness.activities.records[-1]
        assert projected.details.sealed is None and projected.new_events[-1].action == Action.PERSONAL_DATA_ERASED
        assert projected.notifications == []  # nobody is told
        state = await complete_by_silence(harness, handle)
        assert state.status == Status.COMPLETED
