"""/v1/complaints/{tracking_id}/attachments: photos and PDFs of a case, for those who see the case."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from api.attachments import (
    AttachmentInfo,
    attachment_info,
    attachment_response,
    attachments_of,
    check_may_store,
    get_attachment,
    store_attachment,
    upload_submitter,
)
from api.deps import CallerDep, ServicesDep, SessionDep
from domain.visibility import may_see_file
from api.problems import Problem, problem_responses
from api.cases import current_view
from domain.tokens import media_signature_matches
from domain.attachments import KINDS, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS_PER_CASE, Purpose

router = APIRouter(prefix="/v1/complaints", tags=["attachments"])

FILE_CONTENT = {kind.content_type: {"schema": {"type": "string", "format": "binary"}} for kind in KINDS}


@router.post(
    "/{tracking_id}/attachments",
    status_code=201,
    response_model=AttachmentInfo,
    response_model_exclude_unset=True,
    summary="Lampirkan foto atau PDF (pelapor, petugas instansi, admin)",
    description=f"Multipart: berkas di bidang `file`. JPEG, PNG atau PDF (dikenali dari isinya), paling "
    f"besar {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB, paling banyak {MAX_ATTACHMENTS_PER_CASE} per laporan. "
    "Foto disimpan ulang tanpa metadata (EXIF, GPS); PDF disusun ulang tanpa skrip, aksi, anotasi, formulir, "
    "berkas sisipan dan metadata. Batas piksel, halaman, waktu, memori dan kuota (per laporan, per pengirim "
    "per hari, ruang penyimpanan) ada di docs/security.md, bagian Safety limits. Pelapor (reporter_token) melampirkan "
    "`report`, `supplement` atau `reply` selama laporan terbuka; petugas instansi laporan dan admin "
    "melampirkan `evidence`. Tanpa `purpose`: `report` untuk pelapor, `evidence` untuk petugas.",
    responses=problem_responses(401, 403, 404, 409, 413, 415, 422, 429, 503, 507),
)
async def add_attachment(
    tracking_id: str,
    file: Annotated[UploadFile, File(description="JPEG, PNG atau PDF")],
    request: Request,
    caller: CallerDep,
    svc: ServicesDep,
    session: SessionDep,
    purpose: Annotated[Purpose | None, Form()] = None,
) -> AttachmentInfo:
    if caller.role is None:
        raise Problem(401, "Diperlukan token untuk melampirkan berkas.", headers={"WWW-Authenticate": "Bearer"})
    case = await current_view(tracking_id, caller, svc, session)
    data = await file.read(MAX_ATTACHMENT_BYTES + 1)  # one byte over is enough to refuse it
    uploads = svc.uploads
    submitter = upload_submitter(caller, request.client.host if request.client else None)
    await run_in_threadpool(uploads.pace.check, submitter)
    await run_in_threadpool(check_may_store, session, svc.storage, uploads.quotas, case=case, added_by=caller,
                            submitter=submitter, purpose=purpose)
    cleaned = await uploads.clean(data)
    row = await run_in_threadpool(store_attachment, session, svc.storage, uploads.quotas, case=case,
                                  added_by=caller, file=cleaned, submitter=submitter, purpose=purpose)
    return attachment_info(row, case, caller)


@router.get(
    "/{tracking_id}/attachments",
    response_model=list[AttachmentInfo],
    response_model_exclude_unset=True,
    summary="Daftar lampiran laporan",
    description="Siapa pun yang dapat melihat laporan melihat lampirannya. Siapa yang melampirkan hanya "
    "tampak bagi yang boleh mengetahui identitas pelapor.",
    responses=problem_responses(401, 404, 503),
)
async def list_attachments(
    tracking_id: str, caller: CallerDep, svc: ServicesDep, session: SessionDep
) -> list[AttachmentInfo]:
    case = await current_view(tracking_id, caller, svc, session)
    rows = await run_in_threadpool(attachments_of, session, tracking_id)
    return [attachment_info(row, case, caller) for row in rows
            if may_see_file(case, caller, row.added_by_role, row.purpose)]


@router.get(
    "/{tracking_id}/attachments/{attachment_id}",
    response_class=Response,
    summary="Unduh satu lampiran",
    description="Isi berkas dengan jenisnya (image/jpeg, image/png, application/pdf), bagi siapa pun yang "
    "dapat melihat laporan.",
    responses={200: {"description": "Isi berkas", "content": FILE_CONTENT}, **problem_responses(401, 404, 503)},
)
async def get_attachment_file(
    tracking_id: str, attachment_id: str, caller: CallerDep, svc: ServicesDep, session: SessionDep
) -> Response:
    case = await current_view(tracking_id, caller, svc, session)
    row = await run_in_threadpool(get_attachment, session, tracking_id, attachment_id)
    if row is None or not may_see_file(case, caller, row.added_by_role, row.purpose):
        raise Problem(404, "Lampiran tidak ditemukan.")
    session.close()  # the connection goes back before the storage is read
    return await run_in_threadpool(attachment_response, svc.storage, row)


# --- media links for connected bodies (issue 27) ------------------------------------------------

media_router = APIRouter(prefix="/v1/media", tags=["attachments"])


@media_router.get(
    "/{tracking_id}/{attachment_id}",
    response_class=Response,
    summary="Unduh lampiran lewat tautan bertanda tangan (sistem instansi terhubung)",
    description="Tautan `media_url` yang dikirim ke sistem instansi terhubung: satu berkas laporan, tanpa token, "
    "sampai `expires` (detik Unix); tanda tangan `sig` dibuat dengan SECRET_KEY. Tautan kedaluwarsa atau "
    "salah: 404.",
    responses={200: {"description": "Isi berkas", "content": FILE_CONTENT}, **problem_responses(404, 503)},
)
async def get_media_by_signed_link(tracking_id: str, attachment_id: str, expires: int, sig: str,
                                   svc: ServicesDep, session: SessionDep) -> Response:
    valid = (expires >= int(datetime.now(timezone.utc).timestamp())
             and media_signature_matches(svc.settings.secret_keyring, tracking_id, attachment_id, expires, sig))
    row = await run_in_threadpool(get_attachment, session, tracking_id, attachment_id) if valid else None
    if row is None or row.purpose != Purpose.REPORT.value:  # the report's own files only
        raise Problem(404, "Tautan lampiran tidak berlaku atau sudah kedaluwarsa.")
    session.close()
    return await run_in_threadpool(attachment_response, svc.storage, row)
