"""Projects each case transition into the SQL read model and the notification outbox."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime, timezone
from functools import cache
from typing import Any

import structlog
from sqlalchemy import and_, case, false, func, or_, select, true
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from activities.connected import forward_rows
from activities.routing_learning import example_rows, store_examples
from db.models import (Agency, Complaint, EscalationRow, NotificationRow, RoutingFeedback,
                       TimelineEventRow, utc_now)
from db.connected_models import ConnectedForward
from db.portal_models import CaseFollower
from db.privacy import CaseKeyring
from db.upsert import insert_for, insert_ignoring_duplicates
from db.boundaries import pin_flagged
from telemetry.metrics import PROJECTION_LAG
from domain.enums import OPEN_STATUSES, Action, ArchiveReason, Party
from domain.connected import FORWARDED_ACTIONS, REPORTER_WORDS, forward_key
from domain.lifecycle import FOLLOWED
from domain.models import CaseRecord, Escalation, Notification, PersonalData, TimelineEvent
from workflows.delivery import DeliveryPlan

# What a projection wrote: its outbox keys, and the plan of its deliveries (when expanded).
Written = tuple[list[str], DeliveryPlan | None]

log = structlog.get_logger("sp4n.records")


class RecordActivities:
    """`expand` (activities.notifications.DeliveryActivities.expand_rows): `project_case` expands
    its outbox rows into deliveries in the projection's transaction and returns the plan the
    case's workflow sends them by (issue 25). `deliveries` (a workflows.delivery_client.
    DeliveryStarter): for cases still on the older code, `record_case` starts a DeliveryWorkflow
    per outbox row once the projection is committed (started once; a retry finds it started)."""

    def __init__(self, sessions: sessionmaker[Session], max_batch: int = 100, deliveries: Any = None,
                 forwards: Any = None,
                 expand: Callable[[Session, list[str]], DeliveryPlan | None] | None = None,
                 keyring: CaseKeyring | None = None) -> None:
        self._writer = GroupCommit(sessions, max_batch, expand, keyring)
        self._deliveries = deliveries
        self._forwards = forwards  # a workflows.connected_client.ForwardStarter: connected bodies

    @activity.defn(name="project_case")
    def project_case(self, record: CaseRecord) -> DeliveryPlan | None:
        """Write one projection and expand its outbox rows into deliveries, in one transaction;
        returns what the case's workflow is to send (None: nothing). Safe to retry and to receive
        out of order: returns once committed (in a batch with the projections of other cases that
        came at the same time).

        The case row moves only forward (by `seq`); events, escalations, notifications and
        deliveries are keyed by case and sequence (or notification and delivery key), so a retry
        never duplicates them, and plans only what is still pending.
        """
        _, plan = self._writer.write(record, expand=True)
        observe_projection_lag(record)
        self._start_forwards(record)
        return plan

    @activity.defn(name="record_case")
    def record_case(self, record: CaseRecord) -> None:
        """What a case's run that started before issue 25 projects with: the projection alone,
        then a DeliveryWorkflow per outbox row."""
        outbox_keys, _ = self._writer.write(record)
        observe_projection_lag(record)
        if self._deliveries is not None and outbox_keys:
            self._deliveries.start_outbox(outbox_keys)
        self._start_forwards(record)

    def _start_forwards(self, record: CaseRecord) -> None:
        if self._forwards is not None and any(
                e.action in FORWARDED_ACTIONS or e.action in REPORTER_WORDS for e in record.new_events):
            # Keyed by case and event: the same keys forward_rows wrote (a retry starts nothing new).
            self._forwards.start_forwards(self._writer.forward_keys(record))


def connected_forward_keys(session: Session, record: CaseRecord) -> list[str]:
    keys = [forward_key(record.tracking_id, e.seq) for e in record.new_events
            if e.action in FORWARDED_ACTIONS or e.action in REPORTER_WORDS]
    return list(session.scalars(select(ConnectedForward.key).where(ConnectedForward.key.in_(keys)))) if keys else []


def observe_projection_lag(record: CaseRecord) -> None:
    """From the newest transition of the record (event or escalation) to now, committed."""
    instants = [e.at for e in record.new_events] + [e.at for e in record.new_escalations]
    if instants:
        PROJECTION_LAG.observe(max(0.0, (datetime.now(timezone.utc) - max(instants)).total_seconds()))


class GroupCommit:
    """One writer thread per worker commits the projections waiting at that moment together, up to
    `max_batch` in one transaction; each caller waits until its own is committed (or failed).

    A deadline storm makes thousands of projections at one instant. One transaction each, from
    the activity threads at once, serialised on SQLite's write lock (its busy handler sleeps
    between attempts, leaving the lock idle) with an fsync per case: measured 20-30 breaches/s
    (bench/RESULTS.md). Batched, the lock is taken once and the log synced once per batch. A
    batch that fails is written again one projection per transaction, so a bad projection fails
    only its own activity (which Temporal retries); an outage fails them all, as before.
    The thread stops when idle for a few seconds and starts again with the next projection.
    """

    IDLE_SECONDS = 5.0

    def __init__(self, sessions: sessionmaker[Session], max_batch: int = 100,
                 expand: Callable[[Session, list[str]], DeliveryPlan | None] | None = None,
                 keyring: CaseKeyring | None = None) -> None:
        self._sessions = sessions
        self._keyring = keyring
        self._max_batch = max_batch
        self._expand = expand
        self._queue: queue.SimpleQueue[tuple[CaseRecord, bool, Future[Written]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def write(self, record: CaseRecord, expand: bool = False) -> Written:
        """Returns the keys of the outbox rows the projection wrote and, with `expand` (and an
        expander), the plan of their deliveries still to send."""
        done: Future[Written] = Future()
        with self._lock:
            self._queue.put((record, expand, done))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="record-case-writer", daemon=True)
                self._thread.start()
        return done.result()

    def forward_keys(self, record: CaseRecord) -> list[str]:
        """The forwards into connected bodies' systems the record's events made (committed)."""
        with self._sessions() as session:
            return connected_forward_keys(session, record)

    def _run(self) -> None:
        while True:
            try:
                batch = [self._queue.get(timeout=self.IDLE_SECONDS)]
            except queue.Empty:
                with self._lock:  # a writer queues and checks the thread under the same lock
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._commit(batch)

    def _commit(self, batch: list[tuple[CaseRecord, bool, Future[Written]]]) -> None:
        try:
            with self._sessions.begin() as session:
                written = [self._write(session, record, expand) for record, expand, _ in batch]
        except Exception as error:  # noqa: BLE001 - handed to the waiting activities
            if len(batch) == 1:
                batch[0][2].set_exception(error)
            else:  # one at a time: a bad projection fails only its own activity
                for item in batch:
                    self._commit([item])
            return
        for (_, _, done), result in zip(batch, written):
            done.set_result(result)

    def _write(self, session: Session, record: CaseRecord, expand: bool) -> Written:
        outbox_keys = write_record(session, record, self._keyring)
        if expand and self._expand is not None:
            return outbox_keys, self._expand(session, outbox_keys)
        return outbox_keys, None


def write_record(session: Session, record: CaseRecord, keyring: CaseKeyring | None = None) -> list[str]:
    """One projection: the case row, its new events, escalations, notifications, feedback and the
    routing decisions as labelled examples. Returns the keys of its outbox rows.

    A record from another run than the one the case's row recorded writes nothing: a case id is
    started once, so such a run is not this case's (a revival from before REJECT_DUPLICATE);
    `python -m ops reconcile` reports it."""
    if foreign_run(session, record):
        log.warning("record from another run refused", tracking_id=record.tracking_id)
        return []
    _upsert_complaint(session, record, personal_data_of(session, record, keyring))
    _insert_new(
        session,
        TimelineEventRow,
        [_event_row(record.tracking_id, e) for e in record.new_events],
    )
    _insert_new(
        session,
        EscalationRow,
        [_escalation_row(record.tracking_id, e) for e in record.new_escalations],
    )
    outbox = record.notifications + _follower_news(session, record)
    _insert_new(session, NotificationRow, [_notification_row(n) for n in outbox])
    _insert_new(session, CaseFollower, _merged_reporter(record))
    _insert_new(
        session,
        RoutingFeedback,
        [_feedback_row(record.tracking_id, e) for e in record.new_events if e.action == Action.REROUTE and e.agency_id],
    )
    # Accept, dispose and "not our authority": labelled examples the router learns from.
    store_examples(session, example_rows(record))
    # A case forwarded to a body with its own system, or the reporter's words on it, is sent there.
    forward_rows(session, record)
    return [n.key for n in outbox]


def foreign_run(session: Session, record: CaseRecord) -> bool:
    if record.run_id is None:
        return False
    recorded = session.scalar(select(Complaint.run_id).where(Complaint.tracking_id == record.tracking_id))
    return recorded is not None and recorded != record.run_id


def personal_data_of(session: Session, record: CaseRecord, keyring: CaseKeyring | None) -> PersonalData:
    """The reporter's identity and place the read model holds: opened with the case's key, which
    is locked until the projection commits (an erasure waits, or this finds the key destroyed).
    Without a keyring (a process without the service keys) a sealed case is written without them."""
    if keyring is None:
        return PersonalData() if record.details.sealed else PersonalData(
            reporter=record.details.reporter, location=record.details.location)
    return keyring.open(session, record.tracking_id, record.details, lock=True)


def complaint_row(record: CaseRecord, updated_at: datetime, personal: PersonalData | None = None) -> dict[str, Any]:
    details, deadlines = record.details, record.deadlines
    personal = personal or PersonalData(reporter=details.reporter, location=details.location)
    location, reporter = personal.location, personal.reporter
    return {
        "tracking_id": record.tracking_id,
        "seq": record.seq,
        "status": record.status.value,
        "title": details.title,
        "description": details.description,
        "report_type": details.report_type.value,
        "category": details.category,
        "region_code": details.region_code,
        "location_lat": location.lat if location else None,
        "location_lon": location.lon if location else None,
        "location_address": location.address if location else None,
        "agency_hint": details.agency_hint,
        "anonymous": details.anonymous,
        "confidential": details.confidential,
        "channel": details.channel.value,
        "reporter_name": reporter.name if reporter else None,
        "reporter_email": reporter.email if reporter else None,
        "reporter_phone": reporter.phone if reporter else None,
        "reporter_chat": reporter.chat if reporter else None,
        "submitted_at": record.submitted_at,
        "policy_version": record.policy_version,
        "calendar_version": record.calendar_version,
        "agency_id": record.agency_id,
        "unit_id": record.unit_id,
        "archive_reason": record.archive_reason.value if record.archive_reason else None,
        "duplicate_of": record.duplicate_of,
        "verification_due": deadlines.verification_due,
        "response_due": deadlines.response_due,
        "resolution_due": deadlines.resolution_due,
        "silence_ends": deadlines.silence_ends,
        "hold_ends": deadlines.hold_ends,
        "next_deadline": record.next_deadline,
        "overdue": record.overdue,
        "bounce_count": record.bounce_count,
        "reopen_count": record.reopen_count,
        "ombudsman_flagged": record.ombudsman_flagged,
        "first_response_at": record.first_response_at,
        "completed_at": record.completed_at,
        "rating": record.rating,
        "run_id": record.run_id,
        "updated_at": updated_at,
    }


def _upsert_complaint(session: Session, record: CaseRecord, personal: PersonalData) -> None:
    row = complaint_row(record, utc_now(), personal)
    # A case accepted to a body just as an administrator deactivated it (the flag's UPDATE ran
    # before this row named the body) is flagged here instead.
    held_by_inactive = (
        record.status in OPEN_STATUSES
        and record.agency_id is not None
        and session.scalar(select(Agency.active).where(Agency.id == record.agency_id)) is False
    )
    row["needs_rerouting"] = held_by_inactive
    # Judged when the case is first recorded (every door's pin passes here); a verifier's
    # confirmation (api/cases.py) then stands, so later projections keep the column as it is.
    row["pin_outside_region"] = pin_flagged(row["region_code"], row["location_lat"], row["location_lon"])
    session.execute(complaint_upsert(session.get_bind().dialect.name, tuple(row)), row)


@cache
def complaint_upsert(dialect: str, columns: tuple[str, ...]) -> Any:
    """The projection's INSERT ... ON CONFLICT DO UPDATE of a case row with these columns, built
    once per database kind (the row comes as parameters): see db/upsert.py insert_ignoring_duplicates.
    Columns the projection does not write (an administrator's flags) are never touched."""
    statement = insert_for(dialect, Complaint.__table__)
    table, new = Complaint.__table__.c, statement.excluded
    # needs_rerouting is the administrators' flag (api/directory_admin.py), not the workflow's:
    # a projection keeps it, unless the case closed or was accepted to another body since; the
    # row's own value says the case was accepted to a body already deactivated (set it).
    cleared = or_(
        new.status.not_in([s.value for s in OPEN_STATUSES]),
        and_(new.agency_id.is_not(None), or_(table.agency_id.is_(None), table.agency_id != new.agency_id)),
    )
    kept = ("tracking_id", "needs_rerouting", "run_id", "pin_outside_region")
    return statement.on_conflict_do_update(
        index_elements=["tracking_id"],
        set_={column: new[column] for column in columns if column not in kept}
        # The run first recorded stays (a record without one, from before runs were recorded, keeps it).
        | {"run_id": func.coalesce(table.run_id, new.run_id)}
        | {"needs_rerouting": case((new.needs_rerouting.is_(True), true()), (cleared, false()),
                                   else_=table.needs_rerouting)}
        # The same for a unit merged or deactivated (its agency's edit): kept until disposed elsewhere.
        | {"needs_redisposition": case((or_(new.status.not_in([s.value for s in OPEN_STATUSES]),
                                             table.unit_id.is_distinct_from(new.unit_id)), false()),
                                       else_=table.needs_redisposition)},
        # Equal seq rewrites the same state (a retry); an older one must not move the case back.
        where=table.seq <= new.seq,
    )


def _merged_reporter(record: CaseRecord) -> list[dict[str, Any]]:
    """A report rejected as a duplicate: its reporter follows the original from now on (their
    contact stays on their own case; notifications read it from there)."""
    merged = (
        record.archive_reason == ArchiveReason.DUPLICATE
        and record.duplicate_of
        and any(e.action == Action.REJECT for e in record.new_events)
    )
    if not merged:
        return []
    return [{
        "tracking_id": record.duplicate_of,
        "follower_key": f"duplicate:{record.tracking_id}",
        "source_tracking_id": record.tracking_id,
        "email": None,
        "language": "id",
        "created_at": utc_now(),
        "confirmed_at": utc_now(),  # their own contact, following by the merge: nothing to confirm
    }]


def _follower_news(session: Session, record: CaseRecord) -> list[Notification]:
    """One follower outbox row per followed event of a public case that has followers (the
    delivery workflow finds who follows it when it expands the row)."""
    followed = [e for e in record.new_events if e.action in FOLLOWED]
    if not followed or record.details.confidential:
        return []
    has_followers = session.scalar(
        select(CaseFollower.follower_key).where(CaseFollower.tracking_id == record.tracking_id).limit(1)
    )
    if has_followers is None:
        return []
    return [
        Notification(
            key=f"{record.tracking_id}:{event.seq}:{Party.FOLLOWER.value}:outbox",
            tracking_id=record.tracking_id,
            event_seq=event.seq,
            event=event.action.value,
            recipient=Party.FOLLOWER,
            agency_id=record.agency_id,
            unit_id=record.unit_id,
            payload={"status": event.status_to.value, "at": event.at.isoformat(), "due_at": None},
        )
        for event in followed
    ]


def _insert_new(session: Session, model: type[Any], rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert_ignoring_duplicates(session, model.__table__), rows)


def _event_row(tracking_id: str, event: TimelineEvent) -> dict[str, Any]:
    return {
        "tracking_id": tracking_id,
        "seq": event.seq,
        "at": event.at,
        "action": event.action.value,
        "actor_role": event.actor.role.value,
        "actor_agency_id": event.actor.agency_id,
        "actor_name": event.actor.name,
        "status_from": event.status_from.value if event.status_from else None,
        "status_to": event.status_to.value,
        "note": event.note,
        "agency_id": event.agency_id,
        "unit_id": event.unit_id,
        "deadline_set": event.deadline_set,
        "deadline_met": event.deadline_met,
    }


def _feedback_row(tracking_id: str, event: TimelineEvent) -> dict[str, Any]:
    """The body that said "not our authority" is the one the case was with at the REROUTE."""
    return {
        "tracking_id": tracking_id,
        "event_seq": event.seq,
        "agency_id": event.agency_id,
        "reason": event.note,
        "at": event.at,
    }


def _escalation_row(tracking_id: str, escalation: Escalation) -> dict[str, Any]:
    return {
        "tracking_id": tracking_id,
        "seq": escalation.seq,
        "kind": escalation.kind.value,
        "clock": escalation.clock.value,
        "due_at": escalation.due_at,
        "at": escalation.at,
        "notified": escalation.notified.value,
        "summary": escalation.summary,
    }


def _notification_row(notification: Notification) -> dict[str, Any]:
    return {
        "key": notification.key,
        "tracking_id": notification.tracking_id,
        "event_seq": notification.event_seq,
        "event": notification.event,
        "recipient": notification.recipient.value,
        "agency_id": notification.agency_id,
        "unit_id": notification.unit_id,
        "channel": notification.channel,
        "payload": notification.payload,
    }
