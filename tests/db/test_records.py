"""record_case: each projection committed whole (batched with those that come at the same time),
retry-safe, never moving a case backwards."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import ActivityEnvironment

from activities import records as records_module
from activities.records import GroupCommit, RecordActivities
from db.models import Complaint, EscalationRow, NotificationRow, TimelineEventRow
from domain.calendar import calendar_for
from domain.enums import Action, EscalationKind, Role, Status
from domain.lifecycle import CaseMachine
from domain.models import (
    Actor,
    AgencyRef,
    CaseRecord,
    ComplaintDetails,
    Location,
    Reporter,
    VerificationInput,
)
from domain.policy import current_policy

WIB = ZoneInfo("Asia/Jakarta")
ADMIN = Actor(role=Role.ADMIN, name="admin nasional")
KALTENG = AgencyRef(
    id="pemprov-62", name="Pemerintah Provinsi Kalimantan Tengah", timezone="Asia/Jakarta"
)
SUBMITTED_AT = datetime(2026, 12, 1, 9, 0, tzinfo=WIB)  # a Tuesday


def open_case(**details) -> CaseMachine:
    fields = {
        "title": "Jalan rusak",
        "description": "Jalan di depan pasar berlubang besar.",
        "region_code": "62.71",
        "location": Location(lat=-2.21, lon=113.92, address="Jl. Tjilik Riwut"),
        "anonymous": True,
        "reporter": Reporter(name="Siti", email="siti@example.org", phone="0812000000"),
    } | details
    return CaseMachine.open(
        f"LAP-{uuid.uuid4().hex[:10]}",
        ComplaintDetails(**fields),
        SUBMITTED_AT,
        current_policy(),
        calendar_for(SUBMITTED_AT),
    )


def project(machine: CaseMachine, seq_from: int) -> CaseRecord:
    """What the workflow hands to record_case: the case now plus what is new since `seq_from`."""
    return machine.record_since(seq_from)


def three_projections() -> tuple[CaseMachine, CaseRecord, CaseRecord, CaseRecord]:
    """Submitted; verification reminded and breached (two escalations); accepted."""
    machine = open_case()
    submitted = project(machine, 0)
    machine.fire_due(machine.state.clocks["verification"].breach_at)
    breached = project(machine, submitted.seq)
    accepted_at = machine.state.clocks["verification"].breach_at + timedelta(hours=1)
    machine.accept(
        accepted_at, VerificationInput(actor=ADMIN, decision=Action.ACCEPT, agency=KALTENG)
    )
    accepted = project(machine, breached.seq)
    return machine, submitted, breached, accepted


@pytest.fixture(scope="module")
def records(sessions: sessionmaker[Session]) -> RecordActivities:
    return RecordActivities(sessions)


def counts(session: Session, tracking_id: str) -> tuple[int, int, int]:
    def rows(model) -> int:
        return session.scalar(
            select(func.count()).select_from(model).where(model.tracking_id == tracking_id)
        )

    return rows(TimelineEventRow), rows(EscalationRow), rows(NotificationRow)


def test_a_submitted_case_is_projected(records: RecordActivities, session: Session) -> None:
    machine = open_case()
    record = project(machine, 0)
    ActivityEnvironment().run(records.record_case, record)

    row = session.get_one(Complaint, record.tracking_id)
    assert (row.seq, row.status, row.title, row.region_code) == (
        1,
        "awaiting_verification",
        "Jalan rusak",
        "62.71",
    )
    assert (row.location_lat, row.location_lon, row.location_address) == (
        -2.21,
        113.92,
        "Jl. Tjilik Riwut",
    )
    assert row.submitted_at == SUBMITTED_AT and row.submitted_at.tzinfo == UTC
    assert row.verification_due == machine.state.clocks["verification"].due_at
    assert row.next_deadline == row.verification_due
    assert (row.policy_version, row.calendar_version) == (
        record.policy_version,
        record.calendar_version,
    )
    assert row.overdue is False and row.agency_id is None and row.rating is None
    # Hiding an anonymous reporter is the API's job; the contact is kept for notifications.
    assert (row.anonymous, row.reporter_name, row.reporter_email, row.reporter_phone) == (
        True,
        "Siti",
        "siti@example.org",
        "0812000000",
    )

    event = session.scalars(
        select(TimelineEventRow).where(TimelineEventRow.tracking_id == record.tracking_id)
    ).one()
    assert (event.seq, event.action, event.actor_role, event.status_from, event.status_to) == (
        1,
        "submit",
        "reporter",
        None,
        "awaiting_verification",
    )
    assert event.actor_name is None  # the reporter is a role, never a name, in the timeline
    assert event.deadline_set == row.verification_due

    outbox = session.scalars(
        select(NotificationRow)
        .where(NotificationRow.tracking_id == record.tracking_id)
        .order_by(NotificationRow.key)
    ).all()
    assert {n.recipient for n in outbox} == {"reporter", "national_admin"}
    assert all(n.status == "pending" and n.attempts == 0 and n.sent_at is None for n in outbox)
    assert all(
        n.created_at.tzinfo == UTC and n.payload["status"] == "awaiting_verification"
        for n in outbox
    )


def test_retries_never_duplicate(
    records: RecordActivities, sessions: sessionmaker[Session]
) -> None:
    _, submitted, breached, accepted = three_projections()
    for record in (submitted, submitted, breached, breached, accepted, accepted, breached):
        records.record_case(record)

    with sessions() as session:
        assert counts(session, accepted.tracking_id) == (
            2,  # submit, accept
            2,  # reminder, overdue
            len(submitted.notifications)
            + len(breached.notifications)
            + len(accepted.notifications),
        )
        kinds = session.scalars(
            select(EscalationRow.kind)
            .where(EscalationRow.tracking_id == accepted.tracking_id)
            .order_by(EscalationRow.seq)
        ).all()
        assert kinds == [EscalationKind.REMINDER, EscalationKind.OVERDUE]
        row = session.get_one(Complaint, accepted.tracking_id)
        assert (row.seq, row.status, row.agency_id) == (
            accepted.seq,
            "awaiting_agency",
            "pemprov-62",
        )


def test_an_older_projection_never_moves_the_case_back(
    records: RecordActivities, sessions: sessionmaker[Session]
) -> None:
    machine, submitted, breached, accepted = three_projections()
    # Delivered out of order: the newest first.
    records.record_case(accepted)
    records.record_case(submitted)
    records.record_case(breached)

    with sessions() as session:
        row = session.get_one(Complaint, accepted.tracking_id)
        assert (row.seq, row.status, row.agency_id, row.overdue) == (
            accepted.seq,
            Status.AWAITING_AGENCY,
            "pemprov-62",
            False,
        )
        assert row.response_due == machine.state.clocks["response"].due_at
        assert row.verification_due is None
        # The older projections' own facts still land: they are history, not state.
        assert counts(session, accepted.tracking_id)[:2] == (2, 2)
        seqs = session.scalars(
            select(TimelineEventRow.seq)
            .where(TimelineEventRow.tracking_id == accepted.tracking_id)
            .order_by(TimelineEventRow.seq)
        ).all()
        assert seqs == [submitted.seq, accepted.seq]


def test_an_overdue_case_is_marked_and_escalations_keep_their_instants(
    records: RecordActivities, session: Session
) -> None:
    machine = open_case(anonymous=False, reporter=None)
    submitted = project(machine, 0)
    breach_at = machine.state.clocks["verification"].breach_at
    machine.fire_due(breach_at)
    breached = project(machine, submitted.seq)
    records.record_case(submitted)
    records.record_case(breached)

    row = session.get_one(Complaint, breached.tracking_id)
    assert row.overdue is True and row.reporter_name is None
    overdue = session.scalars(
        select(EscalationRow).where(
            EscalationRow.tracking_id == breached.tracking_id, EscalationRow.kind == "overdue"
        )
    ).one()
    assert (overdue.clock, overdue.notified, overdue.at) == (
        "verification",
        "national_admin",
        breach_at,
    )
    assert overdue.due_at == breach_at - timedelta(seconds=1)
    overdue_cases = session.scalars(select(Complaint.tracking_id).where(Complaint.overdue)).all()
    assert breached.tracking_id in overdue_cases


class CountingSessions:
    """The writer's sessionmaker, counting transactions; the first waits until `hold_for` more
    projections are queued behind it, so that they make one batch."""

    def __init__(self, sessions: sessionmaker[Session], writer_of, hold_for: int) -> None:
        self.sessions, self.writer_of, self.hold_for, self.transactions = sessions, writer_of, hold_for, 0

    def begin(self):
        self.transactions += 1
        if self.transactions == 1:
            deadline = time.monotonic() + 10
            while self.writer_of()._queue.qsize() < self.hold_for and time.monotonic() < deadline:
                time.sleep(0.01)
        return self.sessions.begin()


def test_projections_that_come_together_are_committed_together(sessions: sessionmaker[Session]) -> None:
    holder: list[GroupCommit] = []
    counting = CountingSessions(sessions, lambda: holder[0], hold_for=30)
    writer = GroupCommit(counting, max_batch=100)  # type: ignore[arg-type]
    holder.append(writer)
    machines = [open_case() for _ in range(31)]
    with ThreadPoolExecutor(max_workers=31) as pool:
        list(pool.map(lambda m: writer.write(project(m, 0)), machines))
    assert counting.transactions == 2  # the first alone, then the 30 that queued behind it
    with sessions() as session:
        ids = [m.state.tracking_id for m in machines]
        assert session.scalar(select(func.count()).select_from(Complaint).where(Complaint.tracking_id.in_(ids))) == 31


def test_a_bad_projection_fails_only_its_own_call(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    machines = [open_case() for _ in range(11)]
    bad = machines[5].state.tracking_id
    real = records_module.write_record

    def write_record(session: Session, record: CaseRecord, *rest: Any) -> list[str]:
        if record.tracking_id == bad:
            raise RuntimeError("a projection that cannot be written")
        return real(session, record, *rest)

    monkeypatch.setattr(records_module, "write_record", write_record)
    holder: list[GroupCommit] = []
    writer = GroupCommit(CountingSessions(sessions, lambda: holder[0], hold_for=10), max_batch=100)  # type: ignore[arg-type]
    holder.append(writer)

    def write(machine: CaseMachine) -> str | None:
        try:
            writer.write(project(machine, 0))
        except RuntimeError as error:
            return str(error)
        return None

    with ThreadPoolExecutor(max_workers=11) as pool:
        errors = dict(zip([m.state.tracking_id for m in machines], pool.map(write, machines)))
    assert {k for k, v in errors.items() if v} == {bad}
    with sessions() as session:
        written = set(session.scalars(select(Complaint.tracking_id).where(Complaint.tracking_id.in_(list(errors)))))
    assert written == set(errors) - {bad}


def test_the_writer_thread_stops_when_idle_and_starts_again(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(GroupCommit, "IDLE_SECONDS", 0.05)
    writer = GroupCommit(sessions)
    writer.write(project(open_case(), 0))
    deadline = time.monotonic() + 5
    while writer._thread is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert writer._thread is None
    writer.write(project(open_case(), 0))  # a new thread takes it
