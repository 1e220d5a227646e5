"""Connected bodies (issue 27) as the API and the portal show them: each connection (never its
api_key), the forwards a body has not acknowledged, sending one again, and what a case page and
the queue say of a case forwarded into its body's own system."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.problems import Problem
from db.connected_models import ConnectedBody, ConnectedForward, ConnectedUpdate
from db.directory import get_agency
from db.models import Agency
from domain import connected as rules
from domain.visibility import BodySystemNote, CaseView, Viewer, sees_body_system_notes
from workflows.connected_client import start_forward

OPEN_FORWARD_STATES = (rules.PENDING, rules.SENT, rules.FAILED)


class ConnectionInfo(BaseModel):
    agency_id: str
    agency_name: str
    endpoint: str
    jurisdiction_id: str | None
    api_key_set: bool = Field(description="api_key tersimpan (terenkripsi); nilainya tidak pernah ditampilkan.")
    service_codes: dict[str, str]
    default_service_code: str
    accepts_updates: bool
    active: bool
    last_sync_at: AwareDatetime | None
    last_sync_ok_at: AwareDatetime | None
    sync_lag_seconds: float = Field(description="Umur pembacaan berhasil terakhir (sejak tersambung bila belum ada).")
    last_sync_error: str | None
    consecutive_failures: int
    sync_failures: int
    pending_forwards: int = Field(description="Penerusan yang belum diakui sistem itu (pending, sent, failed).")
    failed_forwards: int
    updates_applied: int
    last_test_at: AwareDatetime | None
    last_test_result: str | None


class ForwardInfo(BaseModel):
    key: str
    tracking_id: str
    agency_id: str
    kind: str
    status: str
    service_request_id: str | None
    attempts: int
    last_error: str | None
    created_at: AwareDatetime
    sent_at: AwareDatetime | None
    acknowledged_at: AwareDatetime | None
    alerted_at: AwareDatetime | None


def now() -> datetime:
    return datetime.now(UTC)


def connection_info(session: Session, body: ConnectedBody) -> ConnectionInfo:
    """A connection as administrators see it (never its api_key): this API and the portal's page."""
    agency = get_agency(session, body.agency_id)
    counts = dict(session.execute(
        select(ConnectedForward.status, func.count()).where(ConnectedForward.agency_id == body.agency_id)
        .group_by(ConnectedForward.status)).all())
    applied = session.scalar(select(func.count()).select_from(ConnectedUpdate).where(
        ConnectedUpdate.agency_id == body.agency_id, ConnectedUpdate.outcome.in_(["follow_up", "reroute"]))) or 0
    return ConnectionInfo(
        agency_id=body.agency_id, agency_name=agency.name if agency else body.agency_id, endpoint=body.endpoint,
        jurisdiction_id=body.jurisdiction_id, api_key_set=bool(body.api_key_sealed),
        service_codes=dict(body.service_codes or {}), default_service_code=body.default_service_code,
        accepts_updates=body.accepts_updates, active=body.active, last_sync_at=body.last_sync_at,
        last_sync_ok_at=body.last_sync_ok_at,
        sync_lag_seconds=rules.sync_lag_seconds(now(), body.last_sync_ok_at, body.created_at),
        last_sync_error=body.last_sync_error, consecutive_failures=body.consecutive_failures,
        sync_failures=body.sync_failures,
        pending_forwards=sum(counts.get(state, 0) for state in OPEN_FORWARD_STATES),
        failed_forwards=counts.get(rules.FAILED, 0), updates_applied=applied,
        last_test_at=body.last_test_at, last_test_result=body.last_test_result,
    )


def connections(session: Session) -> list[ConnectionInfo]:
    return [connection_info(session, row) for row in session.scalars(select(ConnectedBody).order_by(ConnectedBody.agency_id))]


def open_forwards(session: Session, limit: int = 200) -> list[ForwardInfo]:
    """Forwards the body has not acknowledged (pending, sent, failed), oldest first."""
    rows = session.scalars(select(ConnectedForward).where(ConnectedForward.status.in_(OPEN_FORWARD_STATES))
                           .order_by(ConnectedForward.created_at).limit(limit))
    return [ForwardInfo.model_validate(row, from_attributes=True) for row in rows]


async def resend_forward(svc, session: Session, key: str) -> None:
    """Send a forward again now (a new ForwardWorkflow: the first one may still be backing off)."""
    row = await run_in_threadpool(session.get, ConnectedForward, key)
    if row is None:
        raise Problem(404, "Penerusan tidak ditemukan.")
    if row.status in rules.DONE_STATES:
        raise Problem(409, "Penerusan ini sudah diakui sistem instansi.")

    def reset() -> int:
        row.status, row.last_error = rules.PENDING, None
        session.commit()
        return row.attempts
    attempt = await run_in_threadpool(reset)
    for n in range(attempt + 1, attempt + 100):  # the first id not used yet (each started once)
        if await svc.temporal.call(lambda client, n=n: start_forward(client, svc.settings, key, attempt=n)):
            return


def add_forwarding(session: Session, views: list[CaseView], language: str = "id") -> None:
    """Set `forwarded_to` on the views of cases whose body has them in its system (the latest
    request to the body that holds the case now)."""
    wanted = {view.tracking_id: view for view in views if view.agency_id}
    if not wanted:
        return
    rows = session.execute(
        select(ConnectedForward.tracking_id, ConnectedForward.agency_id, ConnectedForward.service_request_id,
               Agency.name)
        .join(Agency, Agency.id == ConnectedForward.agency_id)
        .where(ConnectedForward.tracking_id.in_(list(wanted)), ConnectedForward.kind == rules.REQUEST)
        .order_by(ConnectedForward.event_seq)
    ).all()
    for tracking_id, agency_id, remote_id, name in rows:  # the latest wins
        view = wanted[tracking_id]
        if agency_id == view.agency_id:
            view.forwarded_to, view.forwarded_to_body = rules.forwarded_label(name, remote_id, language), name


# The body's updates shown beside the case, not as its steps: "progress", and "skipped" ones that say
# something (written after the body's answer); never "own" (our reporter's words read back).
SHOWN_OUTCOMES = ("progress", "skipped")


def add_body_system_notes(session: Session, view: CaseView, viewer: Viewer) -> None:
    """Set `body_system_notes` on a case's view for those who may see them (the staff, its reporter)."""
    if not sees_body_system_notes(view, viewer):
        return
    rows = session.execute(
        select(ConnectedUpdate.updated_at, ConnectedUpdate.status, ConnectedUpdate.description, Agency.name)
        .join(Agency, Agency.id == ConnectedUpdate.agency_id)
        .where(ConnectedUpdate.tracking_id == view.tracking_id, ConnectedUpdate.outcome.in_(SHOWN_OUTCOMES))
        .order_by(ConnectedUpdate.updated_at, ConnectedUpdate.update_id)
    ).all()
    notes = [BodySystemNote(at=at if at.tzinfo else at.replace(tzinfo=UTC), body=name, status=status,
                            note=(description or "").strip() or None)
             for at, status, description, name in rows
             if (description or "").strip() or rules.normalised_status(status) not in ("", "OPEN")]
    if notes:
        view.body_system_notes = notes
