"""/v1/webhooks: agencies' own systems hear of their cases' events, signed (docs/notifications.md: Webhooks)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import AnyHttpUrl, AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from activities.webhook_targets import TargetRefused, check_target
from api.auth import Caller
from api.deps import ServicesDep, SessionDep, require_roles
from api.problems import Problem, problem_responses
from db.directory import get_agency
from db.notification_models import NotificationDelivery, Webhook
from domain.enums import Role

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

WebhookAdminDep = Annotated[Caller, Depends(require_roles(Role.ADMIN, Role.AGENCY_ADMIN))]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"url": "https://sistem.palangkaraya.go.id/lapor/hook", "event_types": ["accept", "reminder", "overdue"],
         "agency_id": "pemkot-62.71"}
    ]})

    url: AnyHttpUrl
    event_types: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, description="Peristiwa (accept, reply, reminder, overdue:response, ...); kosong: semua.")
    secret: str | None = Field(default=None, min_length=16, max_length=200,
                               description="Kunci HMAC; bila kosong dibuatkan dan ditampilkan sekali.")
    agency_id: str | None = Field(default=None, description="Admin instansi: instansinya sendiri. Admin: kosong = semua.")


class WebhookInfo(BaseModel):
    id: str
    url: str
    agency_id: str | None
    event_types: list[str]
    active: bool
    consecutive_failures: int
    last_failure: str | None = Field(
        default=None, description="Kegagalan terakhir: refused/failed/timeout dan sebabnya (tanpa isi jawaban penerima).")
    disabled_at: AwareDatetime | None
    created_at: AwareDatetime


class WebhookCreated(WebhookInfo):
    secret: str = Field(description="Ditampilkan sekali saja.")


def _info(row: Webhook, session=None) -> WebhookInfo:
    info = WebhookInfo.model_validate(row, from_attributes=True)
    if session is not None and row.consecutive_failures:
        info.last_failure = session.scalar(
            select(NotificationDelivery.last_error)
            .where(NotificationDelivery.webhook_id == row.id, NotificationDelivery.attempts > 0,
                   NotificationDelivery.last_error.is_not(None))
            .order_by(NotificationDelivery.next_attempt_at.desc()).limit(1)
        )
    return info


def _own(session, webhook_id: str, caller: Caller) -> Webhook:
    row = session.get(Webhook, webhook_id)
    if row is None or (caller.role == Role.AGENCY_ADMIN and row.agency_id != caller.agency_id):
        raise Problem(404, "Webhook tidak ditemukan.")
    return row


@router.post("", status_code=201, response_model=WebhookCreated,
             summary="Daftarkan webhook (hanya alamat publik, kecuali host yang diizinkan admin)",
             responses=problem_responses(401, 403, 409, 422))
def create_webhook(body: WebhookCreate, caller: WebhookAdminDep, session: SessionDep,
                   svc: ServicesDep) -> WebhookCreated:
    agency_id = body.agency_id
    if caller.role == Role.AGENCY_ADMIN:
        if agency_id not in (None, caller.agency_id):
            raise Problem(403, "Admin instansi hanya dapat mendaftarkan webhook untuk instansinya.")
        agency_id = caller.agency_id
    if agency_id is not None and get_agency(session, agency_id) is None:
        raise Problem(422, f"Instansi {agency_id} tidak ada di direktori.")
    try:  # checked again at every send (activities/webhook_targets.py)
        check_target(str(body.url), svc.settings.webhook_allowed_hosts, resolve_allowed=False)
    except TargetRefused as error:
        raise Problem(422, f"Alamat webhook ditolak: {error}.", type_="urn:sp4n:webhook-target-refused") from error
    limit = svc.settings.webhook_max_per_agency
    scope = Webhook.agency_id.is_(None) if agency_id is None else Webhook.agency_id == agency_id
    if session.scalar(select(func.count()).select_from(Webhook).where(scope)) >= limit:
        raise Problem(409, f"Batas {limit} webhook per instansi tercapai; hapus yang tidak dipakai.")
    secret = body.secret or secrets.token_urlsafe(32)
    row = Webhook(id=secrets.token_hex(8), agency_id=agency_id, url=str(body.url), event_types=body.event_types,
                  secret=secret, active=True, consecutive_failures=0, disabled_count=0,
                  created_by=caller.token_id, created_at=datetime.now(UTC))
    session.add(row)
    session.commit()
    return WebhookCreated(**_info(row).model_dump(), secret=secret)


@router.get("", response_model=list[WebhookInfo], summary="Daftar webhook (admin: semua; admin instansi: miliknya)",
            responses=problem_responses(401, 403))
def list_webhooks(caller: WebhookAdminDep, session: SessionDep) -> list[WebhookInfo]:
    query = select(Webhook).order_by(Webhook.created_at, Webhook.id)
    if caller.role == Role.AGENCY_ADMIN:
        query = query.where(Webhook.agency_id == caller.agency_id)
    return [_info(row, session) for row in session.scalars(query)]


@router.post("/{webhook_id}/enable", response_model=WebhookInfo, summary="Aktifkan kembali webhook yang dinonaktifkan",
             responses=problem_responses(401, 403, 404))
def enable_webhook(webhook_id: str, caller: WebhookAdminDep, session: SessionDep) -> WebhookInfo:
    row = _own(session, webhook_id, caller)
    row.active, row.consecutive_failures, row.disabled_at = True, 0, None
    session.commit()
    return _info(row)


@router.delete("/{webhook_id}", status_code=204, summary="Hapus webhook", responses=problem_responses(401, 403, 404))
def delete_webhook(webhook_id: str, caller: WebhookAdminDep, session: SessionDep) -> Response:
    session.delete(_own(session, webhook_id, caller))
    session.commit()
    return Response(status_code=204)
