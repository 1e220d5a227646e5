"""A delivery as administrators see it, and resending one through Temporal: shared by the JSON API
(api/routes/notifications.py) and the portal's notifications page."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel
from starlette.concurrency import run_in_threadpool

from activities.notifications import reporters_case, resend
from api.deps import Services
from api.problems import Problem
from db.notification_models import DeliveryStatus, NotificationDelivery
from db.privacy import may_contact_reporter
from workflows.delivery import DeliveryPlan


class DeliveryInfo(BaseModel):
    id: str
    tracking_id: str
    event_seq: int
    event: str
    party: str
    recipient_ref: str
    channel: str
    address: str | None
    language: str
    subject: str | None
    status: str
    attempts: int
    resends: int
    next_attempt_at: AwareDatetime
    created_at: AwareDatetime
    sent_at: AwareDatetime | None
    last_error: str | None


def delivery_info(row: NotificationDelivery) -> DeliveryInfo:
    return DeliveryInfo.model_validate(row, from_attributes=True)


async def resend_through_temporal(svc: Services, delivery_id: str) -> DeliveryInfo | None:
    """Queue a delivery again and start the DeliveryWorkflow that sends it (the API's resend and
    the portal's); 404 unknown, 409 not failed/uncertain/skipped (or already queued again)."""
    def requeue() -> tuple[tuple[str, int, int], str, DeliveryPlan, DeliveryInfo | None]:
        with svc.sessions() as session:
            row = session.get(NotificationDelivery, delivery_id, with_for_update=True)
            if row is None:
                raise Problem(404, "Notifikasi tidak ditemukan.")
            if row.status not in (DeliveryStatus.FAILED, DeliveryStatus.UNCERTAIN, DeliveryStatus.SKIPPED):
                raise Problem(409, f"Notifikasi berstatus {row.status} tidak dapat dikirim ulang.")
            owner = reporters_case(row)
            if owner is not None and not may_contact_reporter(session, owner):
                raise Problem(409, "Pelapor telah menarik persetujuan untuk dihubungi atau menghapus data pribadinya: "
                                   "notifikasi ini tidak dikirim ulang.")
            before = (row.status, row.attempts, row.resends)
            workflow_id, plan = resend(session, row, datetime.now(UTC), svc.settings)
            session.commit()
            return before, workflow_id, plan, None if row.channel == "none" else delivery_info(row)

    def restore(before: tuple[str, int, int]) -> None:
        with svc.sessions.begin() as session:
            row = session.get(NotificationDelivery, delivery_id, with_for_update=True)
            if row is not None and row.status == DeliveryStatus.PENDING:
                row.status, row.attempts, row.resends = before

    before, workflow_id, plan, info = await run_in_threadpool(requeue)
    # Sent by Temporal (a DeliveryWorkflow for this one delivery), once the row says `pending`.
    try:
        await svc.temporal.start_delivery(svc.settings, plan, workflow_id)
    except BaseException:
        await run_in_threadpool(restore, before)
        raise
    return info
