"""/v1/connected: bodies whose own complaint system receives their SP4N cases over Open311
(issue 27; docs/connected-bodies.md). National administrators connect a body, test the
connection, watch its sync and its forwards, and forward by hand what the system did not take."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from activities.connected import API_KEY_PURPOSE
from activities.georeport_client import GeoReportClient, GeoReportError
from activities.webhook_targets import TargetRefused, check_target
from api.auth import Caller
from api.connected import (
    ConnectionInfo,
    ForwardInfo,
    connection_info,
    connections,
    resend_forward,
)
from api.connected import (
    now as _now,
)
from api.deps import AdminDep, ServicesDep, SessionDep, require_roles
from api.problems import Problem, problem_responses
from db.connected_models import ConnectedBody, ConnectedForward
from db.directory import get_agency
from domain import connected as rules
from domain.enums import Role
from domain.sealed import seal, unseal
from workflows.connected_client import (
    delete_sync_schedule,
    ensure_sync_schedule,
    trigger_sync,
)

router = APIRouter(prefix="/v1/connected", tags=["connected"])

WatcherDep = Annotated[Caller, Depends(require_roles(Role.ADMIN, Role.OBSERVER))]


class ConnectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "endpoint": "https://lapor.palangkaraya.go.id/open311/v2/", "api_key": "…",
        "service_codes": {"jalan-jembatan": "jalan", "sampah-kebersihan": "sampah"},
        "default_service_code": "lainnya", "accepts_updates": True,
    }]})

    endpoint: str = Field(min_length=8, max_length=500, description="Alamat dasar Open311 GeoReport v2 sistem itu "
                          "(https; http hanya ke host CONNECTED_ALLOWED_HOSTS).")
    api_key: str | None = Field(default=None, min_length=1, max_length=500,
                                description="Wajib saat pertama; disimpan terenkripsi, tidak pernah ditampilkan lagi.")
    jurisdiction_id: str | None = Field(default=None, max_length=200)
    service_codes: dict[Annotated[str, Field(max_length=100)], Annotated[str, Field(min_length=1, max_length=100)]] = \
        Field(default_factory=dict, description="Kategori kita → service_code sistem itu.")
    default_service_code: str = Field(min_length=1, max_length=100,
                                      description="service_code untuk laporan tanpa kategori yang dipetakan.")
    accepts_updates: bool = Field(default=False, description="Sistem itu menerima POST servicerequestupdates.")
    active: bool = True


class ManualForward(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"service_request_id": "PKY-2026-0042"}, {"retry": True}]})
    service_request_id: str | None = Field(default=None, min_length=1, max_length=200,
                                           description="Id laporan di sistem itu, bila dimasukkan secara manual.")
    retry: bool = Field(default=False, description="true: kirim ulang sekarang (alih-alih mencatat pengiriman manual).")


class TestResult(BaseModel):
    ok: bool
    services: list[dict[str, str]] = Field(default_factory=list)
    error: str | None = None
    unmapped_categories: list[str] = Field(default_factory=list,
                                           description="service_code yang dipetakan tetapi tidak ada di sistem itu.")


def _body(session: Session, agency_id: str) -> ConnectedBody:
    body = session.get(ConnectedBody, agency_id)
    if body is None:
        raise Problem(404, f"Instansi {agency_id} tidak tersambung.")
    return body


def _check_endpoint(endpoint: str, allowed_hosts: list[str]) -> None:
    try:  # checked again (after DNS) at every call: activities/georeport_client.py
        check_target(endpoint, allowed_hosts, resolve_allowed=False, require_https=True)
    except TargetRefused as error:
        raise Problem(422, f"Alamat sistem ditolak: {error}.", type_="urn:sp4n:connected-endpoint-refused") from error


@router.put("/{agency_id}", response_model=ConnectionInfo, summary="Sambungkan instansi ke sistem Open311-nya",
            responses=problem_responses(401, 403, 404, 422, 503))
async def put_connection(agency_id: str, body: ConnectionIn, caller: AdminDep, session: SessionDep,
                         svc: ServicesDep) -> ConnectionInfo:
    settings = svc.settings
    _check_endpoint(body.endpoint, settings.connected_allowed_hosts)

    def save() -> None:
        if get_agency(session, agency_id) is None:
            raise Problem(404, f"Instansi {agency_id} tidak ada di direktori.")
        row = session.get(ConnectedBody, agency_id)
        if row is None and body.api_key is None:
            raise Problem(422, "api_key wajib saat menyambungkan instansi.")
        if row is None:
            row = ConnectedBody(agency_id=agency_id, created_at=_now(), consecutive_failures=0, sync_failures=0)
            session.add(row)
        row.endpoint, row.jurisdiction_id = body.endpoint, body.jurisdiction_id
        row.service_codes, row.default_service_code = dict(body.service_codes), body.default_service_code
        row.accepts_updates, row.active, row.updated_at = body.accepts_updates, body.active, _now()
        if body.api_key is not None:
            row.api_key_sealed = seal(settings.secret_keyring, API_KEY_PURPOSE, agency_id, body.api_key)
        session.commit()

    await run_in_threadpool(save)
    await svc.temporal.call(lambda client: ensure_sync_schedule(client, settings, agency_id, active=body.active))
    return await run_in_threadpool(connection_info, session, _body(session, agency_id))


@router.get("", response_model=list[ConnectionInfo],
            summary="Instansi terhubung: sinkronisasi terakhir, keterlambatan, kegagalan, penerusan tertunda",
            responses=problem_responses(401, 403))
def list_connections(caller: WatcherDep, session: SessionDep) -> list[ConnectionInfo]:
    return connections(session)


@router.get("/forwards", response_model=list[ForwardInfo], summary="Penerusan ke sistem instansi",
            responses=problem_responses(401, 403))
def list_forwards(caller: WatcherDep, session: SessionDep, agency_id: str | None = None,
                  status: str | None = Query(default=None, description="pending, sent, acknowledged, failed, manual"),
                  tracking_id: str | None = None, limit: int = Query(default=100, ge=1, le=1000)) -> list[ForwardInfo]:
    query = select(ConnectedForward).order_by(ConnectedForward.created_at.desc()).limit(limit)
    if agency_id:
        query = query.where(ConnectedForward.agency_id == agency_id)
    if status:
        query = query.where(ConnectedForward.status == status)
    if tracking_id:
        query = query.where(ConnectedForward.tracking_id == tracking_id)
    return [ForwardInfo.model_validate(row, from_attributes=True) for row in session.scalars(query)]


@router.post("/forwards/{key:path}/manual", response_model=ForwardInfo,
             summary="Teruskan secara manual: kirim ulang sekarang, atau catat id yang dimasukkan sendiri",
             responses=problem_responses(401, 403, 404, 409, 503))
async def forward_by_hand(key: str, body: ManualForward, caller: AdminDep, session: SessionDep,
                          svc: ServicesDep) -> ForwardInfo:
    row = await run_in_threadpool(session.get, ConnectedForward, key)
    if row is None:
        raise Problem(404, "Penerusan tidak ditemukan.")
    if body.retry:
        await resend_forward(svc, session, key)
    else:
        if body.service_request_id is None and row.kind == rules.REQUEST:
            raise Problem(422, "Catat service_request_id laporan di sistem itu (agar tanggapannya dapat dibaca kembali).")

        def record() -> None:
            row.status, row.manual_by = rules.MANUAL, caller.name or caller.token_id or "admin"
            row.service_request_id = body.service_request_id or row.service_request_id
            row.acknowledged_at = _now()
            session.commit()
        await run_in_threadpool(record)
    await run_in_threadpool(session.refresh, row)
    return ForwardInfo.model_validate(row, from_attributes=True)


@router.get("/{agency_id}", response_model=ConnectionInfo, summary="Satu instansi terhubung",
            responses=problem_responses(401, 403, 404))
def get_connection(agency_id: str, caller: WatcherDep, session: SessionDep) -> ConnectionInfo:
    return connection_info(session, _body(session, agency_id))


@router.post("/{agency_id}/test", response_model=TestResult, summary="Uji sambungan: baca daftar layanan sistem itu",
             responses=problem_responses(401, 403, 404))
async def test_connection(agency_id: str, caller: AdminDep, session: SessionDep, svc: ServicesDep) -> TestResult:
    row = await run_in_threadpool(_body, session, agency_id)
    settings = svc.settings
    api_key = unseal(settings.secret_keyring, API_KEY_PURPOSE, agency_id, row.api_key_sealed)
    client = GeoReportClient(row.endpoint, api_key, allowed_hosts=settings.connected_allowed_hosts,
                             jurisdiction_id=row.jurisdiction_id,
                             connect_seconds=settings.connected_connect_timeout_seconds,
                             read_seconds=settings.connected_read_timeout_seconds)
    try:
        with client:
            services = await run_in_threadpool(client.services)
        offered = {str(s["service_code"]) for s in services}
        mapped = set((row.service_codes or {}).values()) | {row.default_service_code}
        result = TestResult(ok=True, services=[{"service_code": str(s["service_code"]),
                                                "service_name": str(s.get("service_name") or "")} for s in services],
                            unmapped_categories=sorted(mapped - offered))
    except GeoReportError as error:
        result = TestResult(ok=False, error=error.reason)

    def remember() -> None:
        row.last_test_at = _now()
        row.last_test_result = "ok" if result.ok else result.error
        session.commit()
    await run_in_threadpool(remember)
    return result


@router.post("/{agency_id}/sync", status_code=202, summary="Baca pembaruan sistem itu sekarang",
             responses=problem_responses(401, 403, 404, 503))
async def sync_now(agency_id: str, caller: AdminDep, session: SessionDep, svc: ServicesDep) -> Response:
    await run_in_threadpool(_body, session, agency_id)
    await svc.temporal.call(lambda client: trigger_sync(client, agency_id))
    return Response(status_code=202)


@router.delete("/{agency_id}", status_code=204, summary="Putuskan sambungan (riwayat penerusan tetap)",
               responses=problem_responses(401, 403, 404, 503))
async def disconnect(agency_id: str, caller: AdminDep, session: SessionDep, svc: ServicesDep) -> Response:
    row = await run_in_threadpool(_body, session, agency_id)

    def deactivate() -> None:
        row.active, row.updated_at = False, _now()
        session.commit()
    await run_in_threadpool(deactivate)
    await svc.temporal.call(lambda client: delete_sync_schedule(client, agency_id))
    return Response(status_code=204)
