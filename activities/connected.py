"""Connected bodies (issue 27): forwarding into their Open311 systems and applying what comes back.

- `forward_rows` (called by the projection, activities/records.py, in its transaction): a case
  accepted (or reopened) to a connected body gets a `request` row, a reporter's reply or
  supplement on such a case an `update` row (when the body takes updates); the projection then
  starts one ForwardWorkflow per row (workflows/connected.py).
- `forward_to_connected`: POST requests (the fields the body may see, domain/connected.py; the
  report's files as signed, expiring links) or POST servicerequestupdates; stores the body's id
  or token. `resolve_connected_token`: GET tokens/{token} until the body gives its id.
  `alert_connected_forward`: the national administrators are told (the outbox, like any event).
- `sync_connected_body`: GET servicerequestupdates since the last seen (with an overlap, see
  settings), keeps each update of a case we forwarded once (keyed by the body's update id), then
  applies the pending ones in order, each as the body's own action on the case's workflow
  (a Temporal update whose id derives from the body's update id: a repeat after a crash is
  answered by Temporal with the first outcome, never applied twice).

Inputs and results carry keys and counts only: no case text, address or api_key reaches a
Temporal history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.georeport_client import GeoReportClient, GeoReportError, RemoteUpdate
from config import Settings
from db.connected_models import ConnectedBody, ConnectedForward, ConnectedUpdate
from db.models import Agency, Complaint, NotificationRow, TimelineEventRow, utc_now
from db.portal_models import Attachment
from db.upsert import dialect_insert
from domain import connected as rules
from domain.enums import Action, Party, Role
from domain.models import Actor, CaseRecord, CaseState, FollowUpInput, RerouteInput
from domain.sealed import SealBroken, unseal
from domain.tokens import keyed_digest, media_link
from telemetry.metrics import (
    CONNECTED_FORWARDS,
    CONNECTED_SYNC_LAG,
    CONNECTED_SYNCS,
    CONNECTED_UPDATES,
)
from workflows.complaint import ComplaintWorkflow
from workflows.connected import REFUSED

log = structlog.get_logger("sp4n.connected")

API_KEY_PURPOSE = "connected-api-key"
ALERT_EVENT = "connected_unacknowledged"
REFUSED_EVENT = "connected_refused"


def body_actor(agency_id: str, name: str) -> Actor:
    """Who acts on our case when the body's system answers: the body's administrator, named."""
    return Actor(role=Role.AGENCY_ADMIN, agency_id=agency_id, name=f"Sistem {name} (Open311)"[:200])


# --- the projection's part --------------------------------------------------------------------


def forward_rows(session: Session, record: CaseRecord) -> list[str]:
    """Insert the forwards this projection causes (idempotent: keyed by case and event); their keys."""
    events = [e for e in record.new_events
              if e.agency_id and (e.action in rules.FORWARDED_ACTIONS or e.action in rules.REPORTER_WORDS)]
    if not events:
        return []
    bodies = {b.agency_id: b for b in session.scalars(select(ConnectedBody).where(
        ConnectedBody.agency_id.in_({e.agency_id for e in events}), ConnectedBody.active.is_(True)))}
    rows = []
    for event in events:
        body = bodies.get(event.agency_id or "")
        if body is None:
            continue
        kind = rules.REQUEST if event.action == Action.ACCEPT else rules.UPDATE
        if kind == rules.UPDATE and not body.accepts_updates:
            continue
        rows.append({"key": rules.forward_key(record.tracking_id, event.seq), "tracking_id": record.tracking_id,
                     "event_seq": event.seq, "agency_id": body.agency_id, "kind": kind, "status": rules.PENDING,
                     "attempts": 0, "created_at": utc_now()})
    if rows:
        session.execute(dialect_insert(session, ConnectedForward.__table__).on_conflict_do_nothing(), rows)
    return [row["key"] for row in rows]


def remote_request_of(session: Session, tracking_id: str, agency_id: str) -> ConnectedForward | None:
    """The body's request for the case (the latest forward of the case to that body)."""
    return session.scalars(
        select(ConnectedForward).where(ConnectedForward.tracking_id == tracking_id,
                                       ConnectedForward.agency_id == agency_id,
                                       ConnectedForward.kind == rules.REQUEST)
        .order_by(ConnectedForward.event_seq.desc()).limit(1)
    ).first()


# --- the activities ------------------------------------------------------------------------------


class Refused(Exception):
    """Not sent, and another attempt will not change that."""


class NotYet(Exception):
    """Not sent now; another attempt may (no answer, 5xx, the body's id of the case not known yet)."""


class ConnectedActivities:
    def __init__(self, sessions: sessionmaker[Session], settings: Settings, client: Client | None = None,
                 deliveries: Any = None, now: Callable[[], datetime] = utc_now) -> None:
        self.sessions, self.settings, self.client = sessions, settings, client
        self.deliveries, self.now = deliveries, now

    def georeport(self, body: ConnectedBody) -> GeoReportClient:
        try:
            api_key = unseal(self.settings.secret_keyring, API_KEY_PURPOSE, body.agency_id, body.api_key_sealed)
        except SealBroken as error:
            raise Refused("refused: the api_key cannot be opened with the SECRET_KEY ring held; record it again") from error
        return GeoReportClient(body.endpoint, api_key, allowed_hosts=self.settings.connected_allowed_hosts,
                               jurisdiction_id=body.jurisdiction_id,
                               connect_seconds=self.settings.connected_connect_timeout_seconds,
                               read_seconds=self.settings.connected_read_timeout_seconds)

    # forwarding ------------------------------------------------------------------------------

    @activity.defn(name="forward_to_connected")
    def forward_to_connected(self, key: str) -> str:
        """Send one forward; its state afterwards (acknowledged, sent: a token only, manual)."""
        try:
            return self._forward(key)
        except Refused as error:
            self._record_error(key, str(error), failed=True)
            raise ApplicationError(str(error), type=REFUSED, non_retryable=True) from None
        except NotYet as error:
            self._record_error(key, str(error), failed=False)
            raise ApplicationError(str(error), type="ConnectedNotYet") from None

    def _forward(self, key: str) -> str:
        with self.sessions.begin() as session:
            row = session.get(ConnectedForward, key, with_for_update=True)
            if row is None:
                raise Refused("refused: no such forward")
            if row.status in rules.DONE_STATES or row.status == rules.SENT:
                return row.status  # done (an administrator forwarded it by hand), or waiting on a token
            body = session.get(ConnectedBody, row.agency_id)
            if body is None or not body.active:
                raise Refused("refused: the body is not connected any more")
            row.attempts += 1
            if row.kind == rules.REQUEST:
                send = self._request_sender(session, row, body)
            else:
                send = self._update_sender(session, row, body)
            client = self.georeport(body)
        try:
            with client:
                outcome = send(client)
        except GeoReportError as error:
            CONNECTED_FORWARDS.labels(row.kind, "retried" if error.retryable else "refused").inc()
            raise (NotYet if error.retryable else Refused)(error.reason) from error
        return self._record_sent(key, outcome)

    def _request_sender(self, session: Session, row: ConnectedForward, body: ConnectedBody):
        complaint = session.get(Complaint, row.tracking_id)
        if complaint is None:
            raise NotYet("failed: the case is not in the read model yet")
        agency = session.get(Agency, body.agency_id)
        case = rules.CaseForForwarding(
            tracking_id=complaint.tracking_id, title=complaint.title, description=complaint.description,
            category=complaint.category, report_type=complaint.report_type, anonymous=complaint.anonymous,
            confidential=complaint.confidential, lat=complaint.location_lat, lon=complaint.location_lon,
            address=complaint.location_address,
            # The case's region, else the body's own (its system wants to know where).
            region_code=complaint.region_code or (agency.region_code if agency else None),
            reporter_name=complaint.reporter_name, reporter_email=complaint.reporter_email,
            reporter_phone=complaint.reporter_phone,
        )
        fields = rules.request_form(
            case, service_code=rules.service_code_for(complaint.category, body.service_codes, body.default_service_code),
            jurisdiction_id=body.jurisdiction_id, media_urls=self._media_links(session, complaint.tracking_id),
        )
        key = row.key

        def send(client: GeoReportClient) -> tuple[str | None, str | None, str | None]:
            remote_id, token = client.post_request(fields, idempotency_key=f"sp4n-{key}")
            return remote_id, token, None
        return send

    def _media_links(self, session: Session, tracking_id: str) -> list[str]:
        """The report's own files as links the body can fetch until they expire (PUBLIC_BASE_URL)."""
        base = self.settings.public_base_url
        if not base:
            return []
        expires = int(self.now().timestamp()) + self.settings.connected_media_link_seconds
        ids = session.scalars(select(Attachment.id).where(Attachment.tracking_id == tracking_id,
                                                          Attachment.purpose == "report")
                              .order_by(Attachment.created_at)).all()
        return [media_link(base, self.settings.secret_keyring, tracking_id, attachment_id, expires)
                for attachment_id in ids]

    def _update_sender(self, session: Session, row: ConnectedForward, body: ConnectedBody):
        request = remote_request_of(session, row.tracking_id, row.agency_id)
        if request is None or not request.service_request_id:
            raise NotYet("failed: waiting for the body's id of the case")
        event = session.get(TimelineEventRow, (row.tracking_id, row.event_seq))
        complaint = session.get(Complaint, row.tracking_id)
        if event is None or complaint is None:
            raise NotYet("failed: the event is not in the read model yet")
        label = {Action.REPLY.value: "Tanggapan pelapor", Action.SUPPLEMENT.value: "Kelengkapan dari pelapor",
                 Action.REOPEN.value: "Laporan dibuka kembali setelah penilaian pelapor"}.get(event.action, event.action)
        text = f"{label}: {event.note}" if event.note else f"{label}."
        # The reporter's own contact lets the body's system take it as the reporter's words; never
        # an anonymous reporter's.
        contact = [] if complaint.anonymous else [
            (name, value) for name, value in (("email", complaint.reporter_email), ("phone", complaint.reporter_phone))
            if value]
        remote_id, key, at = request.service_request_id, row.key, event.at

        def send(client: GeoReportClient) -> tuple[str | None, str | None, str | None]:
            return remote_id, None, client.post_update(remote_id, f"sp4n-{key}", text, at, contact)
        return send

    def _record_sent(self, key: str, outcome: tuple[str | None, str | None, str | None]) -> str:
        remote_id, token, remote_update_id = outcome
        now = self.now()
        with self.sessions.begin() as session:
            row = session.get(ConnectedForward, key, with_for_update=True)
            assert row is not None
            if row.status not in rules.DONE_STATES:
                row.status = rules.ACKNOWLEDGED if remote_id else rules.SENT
                row.service_request_id = remote_id or row.service_request_id
                row.remote_token, row.remote_update_id = token, remote_update_id
                row.sent_at, row.last_error = now, None
                row.acknowledged_at = now if remote_id else None
            kind, status = row.kind, row.status
        CONNECTED_FORWARDS.labels(kind, "acknowledged" if status == rules.ACKNOWLEDGED else "sent").inc()
        log.info("connected forward sent", key=key, kind=kind, status=status, service_request_id=remote_id)
        return status

    def _record_error(self, key: str, error: str, *, failed: bool) -> None:
        with self.sessions.begin() as session:
            values: dict[str, Any] = {"last_error": error[:2000]}
            if failed:
                values["status"] = rules.FAILED
            session.execute(update(ConnectedForward).where(
                ConnectedForward.key == key, ConnectedForward.status.not_in(list(rules.DONE_STATES))).values(**values))
        log.warning("connected forward not sent", key=key, error=error, failed=failed)

    @activity.defn(name="resolve_connected_token")
    def resolve_connected_token(self, key: str) -> str:
        """GET tokens/{token} until the body's system gives the request's id (GeoReport v2)."""
        with self.sessions() as session:
            row = session.get(ConnectedForward, key)
            if row is None or row.status != rules.SENT or not row.remote_token:
                return row.status if row is not None else rules.FAILED
            body = session.get(ConnectedBody, row.agency_id)
            if body is None:
                raise ApplicationError("the body is not connected any more", type=REFUSED, non_retryable=True)
            client, token = self.georeport(body), row.remote_token
        try:
            with client:
                remote_id = client.service_request_id_of(token)
        except GeoReportError as error:
            raise ApplicationError(error.reason, type="ConnectedNotYet") from None
        if not remote_id:
            raise ApplicationError("the body has not given the request's id yet", type="ConnectedNotYet")
        with self.sessions.begin() as session:
            row = session.get(ConnectedForward, key, with_for_update=True)
            assert row is not None
            if row.status == rules.SENT:
                row.status, row.service_request_id, row.acknowledged_at = rules.ACKNOWLEDGED, remote_id, self.now()
            return row.status

    @activity.defn(name="alert_connected_forward")
    def alert_connected_forward(self, args: list[str]) -> None:
        """Tell the national administrators a forward is not acknowledged (or was refused): once
        per forward and reason, through the outbox like any event."""
        key, why = args
        event = ALERT_EVENT if why == "unacknowledged" else REFUSED_EVENT
        with self.sessions.begin() as session:
            row = session.get(ConnectedForward, key, with_for_update=True)
            if row is None or row.status in rules.DONE_STATES:
                return
            row.alerted_at = self.now()
            outbox_key = f"connected:{key}:{why}:{Party.NATIONAL_ADMIN.value}:outbox"
            session.execute(dialect_insert(session, NotificationRow.__table__).on_conflict_do_nothing(), [{
                "key": outbox_key, "tracking_id": row.tracking_id, "event_seq": row.event_seq, "event": event,
                "recipient": Party.NATIONAL_ADMIN.value, "agency_id": row.agency_id, "unit_id": None,
                "channel": "outbox", "status": "pending", "attempts": 0, "created_at": self.now(),
                "payload": {"status": row.status, "at": (row.created_at or self.now()).isoformat(), "due_at": None},
            }])
        log.warning("connected forward alert", key=key, why=why)
        if self.deliveries is not None:
            self.deliveries.start_outbox([outbox_key])

    # reading back ------------------------------------------------------------------------------

    @activity.defn(name="sync_connected_body")
    async def sync_connected_body(self, agency_id: str) -> dict[str, int]:
        try:
            read = await asyncio.to_thread(self._read_updates, agency_id)
            counts = await self._apply_pending(agency_id)
        except (GeoReportError, Refused) as error:
            await asyncio.to_thread(self._record_sync, agency_id, str(error))
            CONNECTED_SYNCS.labels("failed").inc()
            raise ApplicationError(str(error), type="ConnectedSyncFailed", non_retryable=True) from None
        await asyncio.to_thread(self._record_sync, agency_id, None)
        CONNECTED_SYNCS.labels("ok").inc()
        return {"read": read, **counts}

    def _read_updates(self, agency_id: str) -> int:
        """Keep the body's new updates of the cases we forwarded it; how many were new."""
        with self.sessions() as session:
            body = session.get(ConnectedBody, agency_id)
            if body is None or not body.active:
                raise Refused("refused: the body is not connected")
            cursor = body.sync_cursor
            client = self.georeport(body)
        end = self.now()
        start = (cursor - timedelta(seconds=self.settings.connected_sync_overlap_seconds)) if cursor else end - timedelta(days=90)
        start = max(start, end - timedelta(days=89))
        with client:
            updates = client.updates(start, end + timedelta(minutes=5))  # a little ahead: clocks differ
        if not updates:
            return 0
        with self.sessions.begin() as session:
            known = dict(session.execute(
                select(ConnectedForward.service_request_id, ConnectedForward.tracking_id).where(
                    ConnectedForward.agency_id == agency_id, ConnectedForward.kind == rules.REQUEST,
                    ConnectedForward.service_request_id.in_({u.service_request_id for u in updates}))).all())
            ours = set(session.scalars(select(ConnectedForward.remote_update_id).where(
                ConnectedForward.agency_id == agency_id, ConnectedForward.kind == rules.UPDATE,
                ConnectedForward.remote_update_id.in_({u.update_id for u in updates}))))
            rows = [self._update_row(agency_id, u, known[u.service_request_id], u.update_id in ours)
                    for u in updates if u.service_request_id in known]
            seen = set(session.scalars(select(ConnectedUpdate.update_id).where(
                ConnectedUpdate.agency_id == agency_id, ConnectedUpdate.update_id.in_({r["update_id"] for r in rows}))))
            rows = [r for r in rows if r["update_id"] not in seen]
            if rows:
                session.execute(dialect_insert(session, ConnectedUpdate.__table__).on_conflict_do_nothing(), rows)
            inserted = len(rows)
            newest = max(u.updated_at for u in updates)
            # A request the body answered with a token only: its updates can be listed before its
            # id is known here (and so were not kept); the cursor waits at its sending until then,
            # else a token resolved later than the overlap would lose them.
            waiting = session.scalar(select(func.min(ConnectedForward.sent_at)).where(
                ConnectedForward.agency_id == agency_id, ConnectedForward.kind == rules.REQUEST,
                ConnectedForward.status == rules.SENT))
            if waiting is not None:
                newest = min(newest, waiting if waiting.tzinfo else waiting.replace(tzinfo=UTC))
            body = session.get(ConnectedBody, agency_id, with_for_update=True)
            if body is not None and (body.sync_cursor is None or newest > body.sync_cursor):
                body.sync_cursor = newest
        return inserted

    def _update_row(self, agency_id: str, remote: RemoteUpdate, tracking_id: str, ours: bool) -> dict[str, Any]:
        return {"agency_id": agency_id, "update_id": remote.update_id[:200],
                "service_request_id": remote.service_request_id[:200], "tracking_id": tracking_id,
                "status": (remote.status or "")[:64] or None, "description": remote.description,
                "updated_at": remote.updated_at, "received_at": self.now(),
                "outcome": "own" if ours else "pending", "note": None, "applied_at": None}

    async def _apply_pending(self, agency_id: str) -> dict[str, int]:
        """Apply the pending updates in the body's order; stop at the first that cannot be applied
        now (Temporal unavailable), so that none overtakes another."""
        pending, body_name = await asyncio.to_thread(self._pending, agency_id)
        counts = {"applied": 0, "shown": 0, "skipped": 0}
        for update_row in pending:
            outcome, note = await self._apply(agency_id, body_name, update_row)
            await asyncio.to_thread(self._settle, agency_id, update_row["update_id"], outcome, note)
            CONNECTED_UPDATES.labels(outcome).inc()
            CONNECTED_SYNC_LAG.observe(max(0.0, (self.now() - update_row["updated_at"]).total_seconds()))
            counts["applied" if outcome in ("follow_up", "reroute") else "shown" if outcome == "progress" else "skipped"] += 1
        return counts

    def _pending(self, agency_id: str) -> tuple[list[dict[str, Any]], str]:
        with self.sessions() as session:
            agency = session.get(Agency, agency_id)
            rows = session.scalars(select(ConnectedUpdate).where(
                ConnectedUpdate.agency_id == agency_id, ConnectedUpdate.outcome == "pending")
                .order_by(ConnectedUpdate.updated_at, ConnectedUpdate.update_id)).all()
            return [{"update_id": r.update_id, "tracking_id": r.tracking_id, "status": r.status,
                     "description": r.description, "updated_at": r.updated_at} for r in rows], (
                agency.name if agency else agency_id)

    async def _apply(self, agency_id: str, body_name: str, row: dict[str, Any]) -> tuple[str, str | None]:
        meaning = rules.meaning_of(row["status"], row["description"])
        if meaning is None:
            return "skipped", "nothing to apply"
        if meaning == rules.Meaning.PROGRESS:
            return "progress", None
        assert self.client is not None, "the sync needs a Temporal client"
        handle = self.client.get_workflow_handle(row["tracking_id"])
        try:
            state: CaseState = await handle.query(ComplaintWorkflow.state)
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return "skipped", "the case is not found"
            raise
        action = rules.action_for(meaning, state.status)
        if action is None or state.agency is None or state.agency.id != agency_id:
            return "skipped", f"the case is {state.status}"
        actor = body_actor(agency_id, body_name)
        text = rules.follow_up_text(row["description"], row["status"])
        update_id = "connected-" + keyed_digest(self.settings.secret_key, "connected-update", f"{agency_id}:{row['update_id']}")[:40]
        try:
            if action == Action.FOLLOW_UP:
                await handle.execute_update(ComplaintWorkflow.follow_up, FollowUpInput(actor=actor, message=text),
                                            id=update_id, result_type=CaseState)
            else:
                await handle.execute_update(ComplaintWorkflow.reroute, RerouteInput(actor=actor, reason=text),
                                            id=update_id, result_type=CaseState)
        except WorkflowUpdateFailedError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.type in ("conflict", "forbidden", "invalid"):
                return "skipped", str(cause.message)[:500]
            raise
        except RPCError as error:
            if error.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
                return "skipped", "the case has closed"
            raise
        return action.value, None

    def _settle(self, agency_id: str, update_id: str, outcome: str, note: str | None) -> None:
        with self.sessions.begin() as session:
            session.execute(update(ConnectedUpdate).where(
                ConnectedUpdate.agency_id == agency_id, ConnectedUpdate.update_id == update_id,
                ConnectedUpdate.outcome == "pending").values(outcome=outcome, note=note, applied_at=self.now()))

    def _record_sync(self, agency_id: str, error: str | None) -> None:
        now = self.now()
        with self.sessions.begin() as session:
            body = session.get(ConnectedBody, agency_id, with_for_update=True)
            if body is None:
                return
            body.last_sync_at = now
            if error is None:
                body.last_sync_ok_at, body.last_sync_error, body.consecutive_failures = now, None, 0
            else:
                body.last_sync_error, body.consecutive_failures = error[:2000], body.consecutive_failures + 1
                body.sync_failures += 1
        if error:
            log.warning("connected sync failed", agency_id=agency_id, error=error)


def connected_bodies(session: Session) -> list[tuple[str, bool]]:
    """Every connected body's id and whether it is active (each has its sync schedule)."""
    return [(row.agency_id, row.active) for row in session.execute(
        select(ConnectedBody.agency_id, ConnectedBody.active).order_by(ConnectedBody.agency_id))]


def pending_forward_keys(session: Session, limit: int = 1000) -> list[str]:
    """Forwards not done: the worker restarts their workflows at start (each id once)."""
    return list(session.scalars(select(ConnectedForward.key).where(
        ConnectedForward.status.in_([rules.PENDING, rules.SENT])).order_by(ConnectedForward.created_at).limit(limit)))
