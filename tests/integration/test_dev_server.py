"""End to end on a real Temporal dev server: the real worker (`worker.build_worker`), the real
activities, the real read model, and Temporal's visibility store for the search attributes."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import WorkflowHandle

from db.directory import get_agency_ref
from db.models import Complaint, NotificationRow, TimelineEventRow
from domain.calendar import DayAmendment, amendment_calendar, calendar_for
from domain.enums import Action, ClockKind, Role, Status
from domain.models import (
    Actor,
    AgencyRef,
    CalendarAmendment,
    CaseState,
    ComplaintDetails,
    ComplaintInput,
    FollowUpInput,
    VerificationInput,
)
from domain.policy import current_policy
from tests.integration.conftest import DevServer, RunningWorker
from workflows import SEARCH_ATTRIBUTES
from workflows.client import amend_open_cases
from workflows.complaint import ComplaintWorkflow

POLL_TIMEOUT_SECONDS = 10.0
ADMIN = Actor(role=Role.ADMIN, name="admin nasional")
OFFICER = Actor(role=Role.OFFICER, agency_id="pemprov-62")
REPORTER_CONTACT = {
    "name": "Siti Rahma",
    "email": "siti.rahma@example.id",
    "phone": "+6281234567890",
}

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str) -> T:
    """Poll `probe` until it returns something other than None (at most POLL_TIMEOUT_SECONDS)."""
    deadline = time.monotonic() + POLL_TIMEOUT_SECONDS
    while True:
        result = await probe()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {POLL_TIMEOUT_SECONDS} s: {what}")
        await asyncio.sleep(0.1)


async def submit(worker: RunningWorker, **details) -> WorkflowHandle[ComplaintWorkflow, CaseState]:
    """What the API does at intake: the receipt instant and the policy/calendar are inputs."""
    submitted_at = datetime.now(UTC)
    tracking_id = f"LAP-IT-{uuid.uuid4().hex[:10]}"
    return await worker.client.start_workflow(
        ComplaintWorkflow.run,
        ComplaintInput(
            tracking_id=tracking_id,
            details=ComplaintDetails(**details),
            submitted_at=submitted_at,
            policy=current_policy(),
            calendar=calendar_for(submitted_at),
        ),
        id=tracking_id,
        task_queue=worker.task_queue,
    )


def test_search_attributes_registration_is_idempotent(dev_server: DevServer):
    assert dev_server.first_registration == sorted(key.name for key in SEARCH_ATTRIBUTES)
    assert dev_server.second_registration == []


async def test_a_case_moves_through_the_real_worker_into_the_read_model_and_visibility(
    running_worker: RunningWorker, sessions: sessionmaker[Session]
):
    handle = await submit(
        running_worker,
        title="Jalan provinsi rusak",
        description="Jalan provinsi menuju Kasongan berlubang besar sejak Oktober.",
        region_code="62.06",
        reporter=REPORTER_CONTACT,
    )
    with sessions() as session:
        agency = get_agency_ref(session, "pemprov-62")
    assert agency is not None and agency.timezone == "Asia/Jakarta"

    accept = VerificationInput(actor=ADMIN, decision=Action.ACCEPT, agency=agency)
    await handle.execute_update(ComplaintWorkflow.verify, accept)
    follow_up = FollowUpInput(actor=OFFICER, message="Tim sudah meninjau lokasi.")
    state = await handle.execute_update(ComplaintWorkflow.follow_up, follow_up)
    assert state.status == Status.AWAITING_REPORTER and state.seq == 3
    expected = state.deadlines()
    assert expected.silence_ends is not None and expected.resolution_due is not None

    def projected() -> Complaint | None:
        with sessions() as session:
            row = session.get(Complaint, handle.id)
            return row if row is not None and row.seq == 3 else None

    row = await eventually(lambda: asyncio.to_thread(projected), "the follow-up in the read model")
    assert row.status == Status.AWAITING_REPORTER.value
    assert row.agency_id == "pemprov-62"
    assert row.verification_due is None and row.response_due is None and row.hold_ends is None
    # pengaduan: 14 working days from forwarding, still running after the follow-up
    assert row.resolution_due == expected.resolution_due
    assert row.silence_ends == expected.silence_ends
    assert row.next_deadline == min(expected.silence_ends, expected.resolution_due)
    assert row.first_response_at == state.first_response_at and row.overdue is False

    with sessions() as session:
        timeline = session.scalars(
            select(TimelineEventRow)
            .where(TimelineEventRow.tracking_id == handle.id)
            .order_by(TimelineEventRow.seq)
        ).all()
        notifications = session.scalars(
            select(NotificationRow).where(NotificationRow.tracking_id == handle.id)
        ).all()
    assert [(e.seq, e.action, e.status_to) for e in timeline] == [
        (1, Action.SUBMIT.value, Status.AWAITING_VERIFICATION.value),
        (2, Action.ACCEPT.value, Status.AWAITING_AGENCY.value),
        (3, Action.FOLLOW_UP.value, Status.AWAITING_REPORTER.value),
    ]
    assert [e.at for e in timeline] == [e.at for e in state.timeline]
    assert timeline[1].agency_id == "pemprov-62" and timeline[2].actor_role == Role.OFFICER.value

    keys = [n.key for n in notifications]
    assert len(keys) == len(set(keys))
    assert {(n.event_seq, n.recipient) for n in notifications} == {
        (1, "reporter"),
        (1, "national_admin"),
        (2, "reporter"),
        (2, "agency_admin"),
        (3, "reporter"),
    }
    assert all(n.status == "pending" for n in notifications)
    payloads = json.dumps([n.payload for n in notifications])
    for contact in REPORTER_CONTACT.values():
        assert contact not in payloads
    assert "81234567890" not in payloads

    query = "Sp4nStatus = 'awaiting_reporter' AND Sp4nAgency = 'pemprov-62'"

    async def listed() -> list[str] | None:
        ids = [execution.id async for execution in running_worker.client.list_workflows(query)]
        return ids if handle.id in ids else None

    await eventually(listed, f"visibility: {query}")


async def test_the_real_routing_activity_suggests_at_submission(
    running_worker: RunningWorker, sessions: sessionmaker[Session]
):
    handle = await submit(
        running_worker,
        title="Kartu BPJS Kesehatan ditolak puskesmas",
        description=(
            "Kartu BPJS Kesehatan saya ditolak di puskesmas Palangka Raya, padahal iuran lunas."
        ),
        region_code="62.71",
    )

    async def suggested() -> CaseState | None:
        state = await handle.query(ComplaintWorkflow.state)
        return state if state.suggestions else None

    state = await eventually(suggested, "routing suggestions in the workflow's state")
    ids = [suggestion.agency_id for suggestion in state.suggestions]
    assert {"bpjs-kesehatan", "pemkot-62.71"} <= set(ids), state.suggestions
    assert all(s.reason for s in state.suggestions)
    assert ClockKind.VERIFICATION in state.clocks

    def recorded() -> Complaint | None:
        with sessions() as session:
            return session.get(Complaint, handle.id)

    row = await eventually(lambda: asyncio.to_thread(recorded), "the submission in the read model")
    assert row.status == Status.AWAITING_VERIFICATION.value and row.agency_id is None
    assert row.verification_due == state.clocks[ClockKind.VERIFICATION].due_at


async def test_a_declared_holiday_reaches_every_open_case_once(running_worker: RunningWorker):
    waiting = await submit(running_worker, title="Antrean KTP", description="Antrean e-KTP tiga bulan.")
    forwarded = await submit(running_worker, title="Lampu jalan", description="Lampu jalan mati sebulan.")
    await forwarded.execute_update(
        ComplaintWorkflow.verify,
        VerificationInput(
            actor=ADMIN,
            decision=Action.ACCEPT,
            agency=AgencyRef(id="pemprov-62", name="Pemerintah Provinsi Kalimantan Tengah", timezone="Asia/Jakarta"),
        ),
    )
    before = {h.id: await h.query(ComplaintWorkflow.state) for h in (waiting, forwarded)}
    # Declare the last working day before each running deadline a day off.
    declared = {}
    for state in before.values():
        for clock in state.clocks.values():
            day = clock.due_at.date() - timedelta(days=1)
            while not state.calendar.is_working_day(day):
                day -= timedelta(days=1)
            declared[day] = "Cuti bersama (diumumkan)"
    today = datetime.now(UTC).date()
    days = [DayAmendment(day=day, kind="cuti_bersama", name=name, decree="SKB uji", declared_by="uji",
                         declared_at=datetime.now(UTC)) for day, name in declared.items()]
    amendment = CalendarAmendment(calendar=amendment_calendar(days, today), issued_at=datetime.now(UTC))

    async def applied_everywhere() -> bool | None:
        await amend_open_cases(running_worker.client, amendment)  # visibility is eventually consistent
        states = [await h.query(ComplaintWorkflow.state) for h in (waiting, forwarded)]
        return True if all(s.calendar.version == amendment.calendar.version for s in states) else None

    await eventually(applied_everywhere, "the amendment reached both open cases")
    for handle in (waiting, forwarded):
        after = await handle.query(ComplaintWorkflow.state)
        for kind, clock in after.clocks.items():
            assert clock.due_at > before[handle.id].clocks[kind].due_at, kind
        assert [e.action for e in after.timeline].count(Action.CALENDAR_AMENDED) == 1
