"""The reporter's personal-data rights (UU 27/2022): their data, correction, withdrawal of consent,
erasure; administrators' holds, access log and erasure report. The rules are api/privacy.py."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from api.auth import Caller, client_address_key
from api.deps import AdminDep, CallerDep, ServicesDep
from api.privacy import (
    ContactCase,
    Correction,
    ErasureResult,
    HoldView,
    PersonalDataPage,
    correct_identity,
    contact_cases,
    erase_case,
    grant_contact_access,
    lift_hold,
    normalised_contact,
    personal_data_page,
    send_contact_code,
    set_hold,
    withdraw_consent,
)
from api.problems import Problem, problem_responses
from api.schemas import with_example
from db.privacy import erasures_in_month
from db.privacy_models import IdentityView
from domain.enums import Role
from domain.models import Actor, Name, line
from domain.privacy import ACCESS_SECONDS, ErasedBy, HoldKind, contact_of_access_token
from domain.text import text

router = APIRouter(prefix="/v1", tags=["privacy"])
CASE_ERRORS = problem_responses(401, 403, 404, 409, 422, 503)


def _reporter_or_admin(caller: Caller, tracking_id: str, *, admin: bool) -> None:
    if caller.role is None:
        raise Problem(401, "Diperlukan token.", headers={"WWW-Authenticate": "Bearer"})
    if caller.role == Role.REPORTER and caller.reporter_of == tracking_id:
        return
    if admin and caller.role == Role.ADMIN:
        return
    raise Problem(403, "Hanya pelapor laporan ini" + (" atau administrator" if admin else "") + " yang boleh.")


def _actor(caller: Caller) -> Actor:
    return Actor(role=caller.role, name=caller.name if caller.role == Role.ADMIN else None)


@router.get("/complaints/{tracking_id}/personal-data", response_model=PersonalDataPage,
            summary="Data pribadi pelapor yang disimpan (hak akses, UU 27/2022)", responses=CASE_ERRORS)
async def get_personal_data(tracking_id: str, caller: CallerDep, svc: ServicesDep) -> PersonalDataPage:
    _reporter_or_admin(caller, tracking_id, admin=False)
    return await personal_data_page(svc, tracking_id)


class CorrectionBody(BaseModel):
    model_config = with_example({"name": "Siti Rahmawati", "email": "siti.rahmawati@contoh.id"})

    name: Name | None = None
    email: line(320) | None = None
    phone: line(40) | None = None


@router.patch("/complaints/{tracking_id}/personal-data", response_model=PersonalDataPage,
              summary="Perbaiki nama dan kontak pelapor", responses=CASE_ERRORS)
async def correct_personal_data(tracking_id: str, body: CorrectionBody, caller: CallerDep,
                                svc: ServicesDep) -> PersonalDataPage:
    _reporter_or_admin(caller, tracking_id, admin=False)
    await correct_identity(svc, tracking_id, Correction(**body.model_dump(exclude_unset=True)), _actor(caller))
    return await personal_data_page(svc, tracking_id)


class Withdrawal(BaseModel):
    contact_withdrawn_at: datetime


@router.post("/complaints/{tracking_id}/personal-data/withdrawal", response_model=Withdrawal,
             summary="Tarik persetujuan untuk dihubungi (tidak ada kabar lagi; laporan tetap berjalan)",
             responses=CASE_ERRORS)
async def withdraw(tracking_id: str, caller: CallerDep, svc: ServicesDep) -> Withdrawal:
    _reporter_or_admin(caller, tracking_id, admin=False)
    return Withdrawal(contact_withdrawn_at=await withdraw_consent(svc, tracking_id))


@router.post("/complaints/{tracking_id}/personal-data/erasure", response_model=ErasureResult,
             summary="Hapus data pribadi pelapor (pemusnahan kunci laporan)", responses=CASE_ERRORS)
async def erase(tracking_id: str, caller: CallerDep, svc: ServicesDep) -> ErasureResult:
    _reporter_or_admin(caller, tracking_id, admin=True)
    by = ErasedBy.REPORTER if caller.role == Role.REPORTER else ErasedBy.ADMIN
    return await erase_case(svc, tracking_id, by=by, actor=_actor(caller))


class HoldBody(BaseModel):
    model_config = with_example({"kind": "legal_hold", "reason": "Permintaan penyidik Polda Kalteng No. B/123/XII/2026"})

    kind: HoldKind
    reason: text(2000, min_length=3, strip=True)


class LiftBody(BaseModel):
    model_config = with_example({"reason": "Penyidikan selesai (surat No. B/200/I/2027)"})

    reason: text(2000, min_length=3, strip=True)


@router.post("/complaints/{tracking_id}/privacy-holds", response_model=HoldView, status_code=201,
             summary="Tahan penghapusan data pribadi (pengecualian yang diizinkan hukum)", responses=CASE_ERRORS)
async def add_hold(tracking_id: str, body: HoldBody, caller: AdminDep, svc: ServicesDep) -> HoldView:
    set_by = caller.name or caller.token_id
    try:
        return await run_in_threadpool(set_hold, svc, tracking_id, body.kind, body.reason, set_by)
    except Problem as problem:
        if problem.status != 404:
            raise
    # Not in the read model yet (its first projection is still on its way): the workflow decides.
    await svc.temporal.state(tracking_id)  # 404 when Temporal does not know the case either
    return await run_in_threadpool(set_hold, svc, tracking_id, body.kind, body.reason, set_by,
                                   known_to_temporal=True)


@router.post("/complaints/{tracking_id}/privacy-holds/{hold_id}/lift", response_model=HoldView,
             summary="Cabut penahanan penghapusan", responses=CASE_ERRORS)
async def remove_hold(tracking_id: str, hold_id: int, body: LiftBody, caller: AdminDep, svc: ServicesDep) -> HoldView:
    return await run_in_threadpool(lift_hold, svc, tracking_id, hold_id, body.reason,
                                   caller.name or caller.token_id, datetime.now(timezone.utc))


class AccessLogEntry(BaseModel):
    tracking_id: str
    at: datetime
    viewer_role: str
    viewer_agency_id: str | None
    viewer_id: str | None
    viewer_name: str | None
    via: str


@router.get("/privacy/access-log", response_model=list[AccessLogEntry],
            summary="Siapa melihat identitas pelapor, kapan, laporan mana (audit administrator)",
            responses=problem_responses(401, 403, 422))
def access_log(caller: AdminDep, svc: ServicesDep, tracking_id: str | None = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[AccessLogEntry]:
    with svc.sessions() as session:
        query = select(IdentityView).order_by(IdentityView.at.desc(), IdentityView.id.desc()).limit(limit)
        if tracking_id:
            query = query.where(IdentityView.tracking_id == tracking_id)
        return [AccessLogEntry(tracking_id=v.tracking_id, at=v.at, viewer_role=v.viewer_role,
                               viewer_agency_id=v.viewer_agency_id, viewer_id=v.viewer_id,
                               viewer_name=v.viewer_name, via=v.via) for v in session.scalars(query)]


class ErasureReport(BaseModel):
    month: str
    erased: int = Field(description="Laporan yang data pribadinya dihapus pada bulan itu")
    by: dict[str, int] = Field(description="Menurut siapa yang meminta: reporter, admin, retention")
    tracking_ids: list[str]


@router.get("/privacy/erasures", response_model=ErasureReport,
            summary="Laporan bulanan penghapusan data pribadi", responses=problem_responses(401, 403, 422))
def erasure_report(caller: AdminDep, svc: ServicesDep,
                   month: Annotated[str, Query(pattern=r"^2\d{3}-(0[1-9]|1[0-2])$", description="YYYY-MM, mis. 2026-12")]) -> ErasureReport:
    with svc.sessions() as session:
        return ErasureReport.model_validate(erasures_in_month(session, month))


# --- every case of one contact -------------------------------------------------------------------


class CodeRequest(BaseModel):
    model_config = with_example({"contact": "siti.rahma@contoh.id", "language": "id"})

    contact: line(320)
    language: Literal["id", "en"] = "id"


class AccessRequest(BaseModel):
    model_config = with_example({"contact": "siti.rahma@contoh.id", "code": "123456"})

    contact: line(320)
    code: str = Field(pattern=r"^\s*\d{6}\s*$")


class AccessGranted(BaseModel):
    access_token: str = Field(description="Bearer token for /v1/personal-data, valid one hour")
    expires_in: int


class ContactData(BaseModel):
    contact: str
    cases: list[ContactCase]


class ContactErasure(BaseModel):
    erased: list[ErasureResult]
    held: list[str] = Field(description="Cases an administrator's hold keeps (see each case's holds)")


def _contact_of(request: Request, svc) -> str:
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    contact = contact_of_access_token(svc.settings.secret_key, token.strip(), time.time()) \
        if scheme.lower() == "bearer" else None
    if contact is None:
        raise Problem(401, "Diperlukan token akses dari kode sekali pakai (POST /v1/personal-data/access).",
                      headers={"WWW-Authenticate": "Bearer"})
    return contact


@router.post("/personal-data/codes", status_code=202, summary="Kirim kode sekali pakai ke e-mail atau telepon pelapor",
             responses=problem_responses(422, 429))
async def request_code(body: CodeRequest, request: Request, svc: ServicesDep) -> dict[str, str]:
    contact = normalised_contact(body.contact, svc.settings.phone_country_codes)
    await send_contact_code(svc, contact, client_address_key(request.client.host if request.client else None),
                            body.language)
    return {"detail": "Jika kontak ini pernah melapor, kode telah dikirim kepadanya."}


@router.post("/personal-data/access", response_model=AccessGranted,
             summary="Tukar kode sekali pakai dengan token akses data pribadi", responses=problem_responses(403, 422, 429))
async def access(body: AccessRequest, svc: ServicesDep) -> AccessGranted:
    contact = normalised_contact(body.contact, svc.settings.phone_country_codes)
    return AccessGranted(access_token=await grant_contact_access(svc, contact, body.code), expires_in=ACCESS_SECONDS)


@router.get("/personal-data", response_model=ContactData,
            summary="Data pribadi dari semua laporan satu kontak", responses=problem_responses(401))
async def contact_data(request: Request, svc: ServicesDep) -> ContactData:
    contact = _contact_of(request, svc)
    return ContactData(contact=contact, cases=await contact_cases(svc, contact))


@router.post("/personal-data/withdrawal", response_model=ContactData,
             summary="Tarik persetujuan dihubungi untuk semua laporan satu kontak", responses=problem_responses(401))
async def contact_withdrawal(request: Request, svc: ServicesDep) -> ContactData:
    contact = _contact_of(request, svc)
    cases = await contact_cases(svc, contact)
    for case in cases:
        await withdraw_consent(svc, case.tracking_id)
    return ContactData(contact=contact, cases=await contact_cases(svc, contact))


@router.post("/personal-data/erasure", response_model=ContactErasure,
             summary="Hapus data pribadi semua laporan satu kontak", responses=problem_responses(401, 503))
async def contact_erasure(request: Request, svc: ServicesDep) -> ContactErasure:
    contact = _contact_of(request, svc)
    erased, held = [], []
    for case in await contact_cases(svc, contact):
        try:
            erased.append(await erase_case(svc, case.tracking_id, by=ErasedBy.REPORTER,
                                           actor=Actor(role=Role.REPORTER)))
        except Problem as problem:
            if problem.status != 409:
                raise
            held.append(case.tracking_id)
    return ContactErasure(erased=erased, held=held)
