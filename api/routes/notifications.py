"""/v1/notifications: the delivery log and dead letters (admin), resending, and preferences."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select

from api.auth import Caller
from api.deliveries import DeliveryInfo, delivery_info, resend_through_temporal
from api.deps import AdminDep, CallerDep, ServicesDep, SessionDep, require_roles
from api.problems import Problem, problem_responses
from db.models import Complaint
from db.notification_models import NotificationDelivery, NotificationPreference
from config import Settings
from domain.contacts import ContactRefused, normalise_phone
from domain.enums import Role
from domain.models import NonBlank

router = APIRouter(tags=["notifications"])

Language = Literal["id", "en"]
ChannelName = Literal["email", "sms"]


class PreferencesIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"language": "en", "channels": ["email", "sms"], "phone": "+6281234567890", "opt_out_non_essential": True}
    ]})

    language: Language = "id"
    channels: list[ChannelName] = Field(default_factory=list, description="Kosong: email, atau SMS bila tanpa email.")
    phone: str | None = Field(default=None, max_length=40)
    unit_id: NonBlank | None = Field(default=None, max_length=100, description="Petugas: hanya laporan unit ini.")
    opt_out_non_essential: bool = False


class Preferences(PreferencesIn):
    model_config = ConfigDict(extra="ignore")
    updated_at: AwareDatetime


@router.get("/v1/notifications", response_model=list[DeliveryInfo],
            summary="Log pengiriman notifikasi; ?status=failed untuk surat mati (admin)",
            responses=problem_responses(401, 403, 422))
def list_deliveries(
    caller: AdminDep,
    session: SessionDep,
    status: Annotated[Literal["pending", "sending", "sent", "failed", "uncertain", "skipped"] | None, Query()] = None,
    tracking_id: Annotated[str | None, Query(max_length=64)] = None,
    channel: Annotated[Literal["email", "sms", "webhook", "none"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryInfo]:
    query = select(NotificationDelivery)
    if status:
        query = query.where(NotificationDelivery.status == status)
    if tracking_id:
        query = query.where(NotificationDelivery.tracking_id == tracking_id)
    if channel:
        query = query.where(NotificationDelivery.channel == channel)
    rows = session.scalars(query.order_by(NotificationDelivery.created_at.desc(), NotificationDelivery.id).limit(limit))
    return [delivery_info(row) for row in rows]


@router.post("/v1/notifications/{delivery_id}/resend", response_model=DeliveryInfo | None,
             summary="Kirim ulang notifikasi yang gagal, tidak pasti, atau dilewati (admin)",
             responses=problem_responses(401, 403, 404, 409, 503))
async def resend_delivery(delivery_id: str, caller: AdminDep, svc: ServicesDep) -> DeliveryInfo | None:
    return await resend_through_temporal(svc, delivery_id)


def _save(session, subject: str, body: PreferencesIn, settings: Settings) -> Preferences:
    phone = None
    if body.phone:
        try:  # only a checked number ever gets an SMS (domain/contacts.py)
            phone = normalise_phone(body.phone, settings.phone_country_codes)
        except ContactRefused as refused:
            raise Problem(422, f"phone: {refused}", errors=[{"loc": ["body", "phone"], "msg": str(refused),
                                                             "type": "value_error"}]) from refused
    row = session.get(NotificationPreference, subject) or NotificationPreference(subject=subject)
    row.language, row.channels, row.phone = body.language, list(body.channels), phone
    row.unit_id, row.opt_out_non_essential = body.unit_id, body.opt_out_non_essential
    row.updated_at = datetime.now(UTC)
    session.merge(row)
    session.commit()
    return Preferences.model_validate(row, from_attributes=True)


StaffTokenDep = Annotated[Caller, Depends(require_roles(Role.ADMIN, Role.AGENCY_ADMIN, Role.OFFICER, Role.OBSERVER))]


@router.put("/v1/notifications/preferences", response_model=Preferences,
            summary="Preferensi notifikasi pemegang token (bahasa, kanal, berhenti dari pesan tidak penting)",
            responses=problem_responses(401, 403, 422))
def put_staff_preferences(body: PreferencesIn, caller: StaffTokenDep, session: SessionDep,
                          svc: ServicesDep) -> Preferences:
    if not caller.token_id or caller.token_id == "bootstrap":
        raise Problem(403, "Token bootstrap tidak menerima notifikasi; terbitkan token dengan email.")
    return _save(session, f"token:{caller.token_id}", body, svc.settings)


@router.put("/v1/complaints/{tracking_id}/notification-preferences", response_model=Preferences,
            summary="Preferensi notifikasi pelapor untuk laporannya (token pelapor)",
            responses=problem_responses(401, 403, 404, 422))
def put_reporter_preferences(tracking_id: str, body: PreferencesIn, caller: CallerDep,
                             session: SessionDep, svc: ServicesDep) -> Preferences:
    if caller.role != Role.REPORTER or caller.reporter_of != tracking_id:
        raise Problem(403, "Hanya pelapor laporan ini yang dapat mengatur notifikasinya.")
    if session.get(Complaint, tracking_id) is None:
        raise Problem(404, "Laporan tidak ditemukan.")
    if body.unit_id:
        raise Problem(422, "unit_id hanya untuk petugas.")
    return _save(session, f"reporter:{tracking_id}", body, svc.settings)
