"""Reconciliation and the projection keep the record append-only (issue 24): a recorded event is
never deleted or rewritten, a record of another run writes nothing, and what is only missing is
added back."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from activities.records import write_record
from api.reconcile import check_and_repair
from db.models import Complaint, TimelineEventRow
from domain.enums import Action, ArchiveReason
from domain.models import VerificationInput
from tests.db.test_records import ADMIN, SUBMITTED_AT, open_case

RUN, OTHER_RUN = "run-first", "run-revived"


def timeline(session: Session, tracking_id: str) -> list[tuple[int, str, str | None]]:
    return [(e.seq, e.action, e.note) for e in session.scalars(
        select(TimelineEventRow).where(TimelineEventRow.tracking_id == tracking_id).order_by(TimelineEventRow.seq))]


def rejected_case(sessions: sessionmaker[Session]):
    machine = open_case()
    machine.reject(SUBMITTED_AT + timedelta(hours=1), VerificationInput(
        actor=ADMIN, decision=Action.REJECT, reason=ArchiveReason.ABUSIVE, note="spam"))
    with sessions.begin() as session:
        write_record(session, machine.record_since(0).model_copy(update={"run_id": RUN}))
    return machine


def test_a_record_of_another_run_writes_nothing(sessions: sessionmaker[Session]) -> None:
    machine = rejected_case(sessions)
    tracking_id = machine.state.tracking_id
    revived = open_case()
    revived.state.tracking_id = tracking_id
    with sessions.begin() as session:
        before = timeline(session, tracking_id)
        assert write_record(session, revived.record_since(0).model_copy(update={"run_id": OTHER_RUN})) == []
    with sessions() as session:
        assert timeline(session, tracking_id) == before
        row = session.get(Complaint, tracking_id)
        assert row.status == "archived" and row.run_id == RUN


def test_reconcile_reports_another_run_and_keeps_every_event(sessions: sessionmaker[Session]) -> None:
    machine = rejected_case(sessions)
    tracking_id = machine.state.tracking_id
    revived = open_case()
    revived.state.tracking_id = tracking_id
    with sessions() as session:
        before = timeline(session, tracking_id)
    assert check_and_repair(sessions, revived.state, repair=True, run_id=OTHER_RUN) == ["run"]
    with sessions() as session:
        assert timeline(session, tracking_id) == before
        assert [action for _, action, _ in before] == ["submit", "reject"]
        assert session.get(Complaint, tracking_id).status == "archived"


def test_reconcile_adds_what_is_missing_and_never_rewrites_what_is_recorded(sessions: sessionmaker[Session]) -> None:
    machine = rejected_case(sessions)
    tracking_id = machine.state.tracking_id
    with sessions.begin() as session:
        full = timeline(session, tracking_id)
        session.execute(TimelineEventRow.__table__.delete().where(
            TimelineEventRow.tracking_id == tracking_id, TimelineEventRow.seq == 2))
        session.execute(update(Complaint).where(Complaint.tracking_id == tracking_id).values(status="completed"))
    assert set(check_and_repair(sessions, machine.state, repair=True, run_id=RUN)) == {"status", "timeline"}
    with sessions() as session:
        assert timeline(session, tracking_id) == full
        assert session.get(Complaint, tracking_id).status == "archived"

    # A recorded event that differs from the workflow's is reported and left exactly as recorded.
    with sessions.begin() as session:
        session.execute(update(TimelineEventRow).where(
            TimelineEventRow.tracking_id == tracking_id, TimelineEventRow.seq == 2).values(note="tercatat"))
    assert check_and_repair(sessions, machine.state, repair=True, run_id=RUN) == ["timeline_conflict"]
    with sessions() as session:
        assert timeline(session, tracking_id)[1][2] == "tercatat"
    assert check_and_repair(sessions, machine.state, repair=True, run_id=RUN) == ["timeline_conflict"]
