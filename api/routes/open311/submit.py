"""POST requests: a client's report through the same open_case as every door (fields, region, contacts,
media links and files through the upload pipeline), idempotent on the client's request."""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from urllib.parse import urlsplit

from fastapi import Request, Response
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.attachments import check_may_store, store_attachment, upload_submitter
from api.auth import Caller, caller_for_token, reporter_caller
from api.cleaning import CleanFile
from api.deps import ServicesDep, SessionDep
from api.intake import body_hash, checked_contacts, open_case, title_from_text
from api.problems import Problem
from api.routes.open311.common import Open311Error, log, route_doc, router
from api.routes.open311.discovery import region_choices
from api.routes.open311.rendering import answer, render, w3
from db.directory import check_region_code, gazetteer
from db.open311_models import Open311MediaLink, Open311Request
from domain.attachments import MAX_ATTACHMENTS_PER_CASE, Purpose
from domain.enums import Channel, ReportType, Role, Status
from domain.models import ComplaintDetails, Location, Reporter
from domain.open311 import (
    DESCRIPTION_MAX,
    MEDIA_SCHEMES,
    MEDIA_URL_MAX,
    MEDIA_URLS_MAX,
    OTHER,
    SERVICES_BY_CODE,
    resolve_region,
)
from domain.text import MachineTextRepairs, forbidden_character, repair_machine_text
from domain.visibility import CaseView

# --- POST requests ------------------------------------------------------------------------------

TRUE, FALSE = {"true", "1", "yes", "ya"}, {"false", "0", "no", "tidak", ""}


def _flag(name: str, value: str | None) -> bool:
    value = (value or "").strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise Open311Error(400, f"attribute[{name}] harus true atau false")


def _float(name: str, value: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except ValueError as error:
        raise Open311Error(400, f"{name} bukan angka") from error
    if not math.isfinite(number) or not low <= number <= high:
        raise Open311Error(400, f"{name} di luar rentang {low}..{high}")
    return number


REGION_CODE = re.compile(r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")


def _region(value: str | None) -> str | None:
    """The region code `attribute[region]` names: a code of the directory's regions (a village
    counts by its district), or a name the region resolver knows."""
    if not value:
        return None
    if REGION_CODE.match(value):
        try:
            check_region_code(value)
        except ValueError as error:
            raise Open311Error(400, f"attribute[region] {value} tidak dikenal: {error}") from error
        return value
    code = resolve_region(value, region_choices(), gazetteer())
    if code is None:
        raise Open311Error(400, f"attribute[region] '{value[:100]}' bukan wilayah yang dikenal: kirim kode "
                           "Kemendagri (mis. 62.71) atau nama provinsi/kabupaten/kota (mis. Kota Palangka Raya)")
    return code


def details_from_form(form: dict[str, str]) -> ComplaintDetails:
    """A complaint from GeoReport's POST fields (`attribute[code]` from the service definition)."""
    code = (form.get("service_code") or "").strip()
    if not code:
        raise Open311Error(400, "service_code wajib diisi")
    service = SERVICES_BY_CODE.get(code)
    if service is None:
        raise Open311Error(404, f"service_code '{code}' tidak ada")
    description = (form.get("description") or "").strip()
    if not description:
        raise Open311Error(400, "description wajib diisi: uraikan keluhan Anda")
    if len(description) > DESCRIPTION_MAX:
        raise Open311Error(400, f"description melebihi {DESCRIPTION_MAX} karakter (lihat ketentuan layanan)")
    lat, lon = (form.get("lat") or "").strip(), (form.get("long") or "").strip()
    address = (form.get("address_string") or "").strip() or None
    address_id = (form.get("address_id") or "").strip() or None
    region = _region((form.get("attribute[region]") or "").strip() or None)
    if bool(lat) != bool(lon):
        raise Open311Error(400, "lat dan long harus dikirim bersama")
    if not (lat or address or address_id or region):
        raise Open311Error(400, "Lokasi wajib: lat & long, address_string, address_id atau attribute[region]")
    # The address (and the client's address id) is the location, never description text: hidden
    # with the pin from the public and the agency when the reporter is anonymous.
    if address_id:
        address = f"{address} (ID alamat: {address_id})" if address else f"ID alamat: {address_id}"
    location = None
    if lat:
        location = Location(lat=_float("lat", lat, -90, 90), lon=_float("long", lon, -180, 180),
                            address=address[:500] if address else None)
    elif address:
        location = Location(address=address[:500])
    report_type = (form.get("attribute[report_type]") or "").strip() or ReportType.PENGADUAN.value
    if report_type not in {t.value for t in ReportType}:
        raise Open311Error(400, "attribute[report_type] harus salah satu dari: " + ", ".join(t.value for t in ReportType))
    name = " ".join(part for part in ((form.get("first_name") or "").strip(), (form.get("last_name") or "").strip()) if part)
    email, phone = (form.get("email") or "").strip(), (form.get("phone") or "").strip()
    try:
        return ComplaintDetails(
            title=title_from_text(description),
            description=description,
            report_type=ReportType(report_type),
            category=service.code if service is not OTHER else None,
            region_code=region,
            location=location,
            anonymous=_flag("anonymous", form.get("attribute[anonymous]")),
            confidential=_flag("confidential", form.get("attribute[confidential]")),
            channel=Channel.OPEN311,
            reporter=Reporter(name=name or None, email=email or None, phone=phone or None)
            if name or email or phone else None,
        )
    except ValidationError as error:
        fields = ", ".join(".".join(str(part) for part in e["loc"]) or "?" for e in error.errors())
        raise Open311Error(400, f"Isian tidak valid: {fields}") from error


def repaired_fields(fields: dict[str, str], repairs: MachineTextRepairs) -> dict[str, str]:
    """Open311 is a machine door: its clients resend the same bytes forever, so text with
    Windows-1252 mojibake or control characters is repaired, never refused (domain/text.py)."""
    return {name: repair_machine_text(value, repairs) for name, value in fields.items()}


def refuse_control_characters(fields: dict[str, str]) -> None:
    """The same rule as every other door (domain/text.py), for every field sent, stored or not."""
    for name, value in fields.items():
        if character := forbidden_character(value):
            raise Open311Error(400, f"{name[:64]}: karakter kendali {character} tidak diizinkan")


def checked_open311_contacts(details: ComplaintDetails, phone_country_codes: list[int]) -> ComplaintDetails:
    """email and phone checked and normalised as at every door (api/intake.py), named as sent."""
    try:
        return checked_contacts(details, phone_country_codes)
    except Problem as problem:
        field = problem.extensions["errors"][0]["loc"][-1]
        raise Open311Error(400, f"{field}: {problem.extensions['errors'][0]['msg']}") from problem


def media_urls(values: list[str]) -> list[str]:
    """Every `media_url` of a request, in order (FixMyStreet repeats the field, one per photo):
    http(s) links only, kept as they are; never fetched."""
    urls = [value.strip() for value in values if value.strip()]
    if len(urls) > MEDIA_URLS_MAX:
        raise Open311Error(400, f"Paling banyak {MEDIA_URLS_MAX} media_url per laporan")
    for url in urls:
        parts = urlsplit(url)
        if len(url) > MEDIA_URL_MAX or parts.scheme.lower() not in MEDIA_SCHEMES or not parts.netloc:
            raise Open311Error(400, f"media_url harus tautan http(s) paling panjang {MEDIA_URL_MAX} karakter")
    return list(dict.fromkeys(urls))  # the same link twice is kept once


async def uploaded_files(svc, session: Session, caller: Caller, uploads: list[UploadFile]) -> list[CleanFile]:
    """The files sent with a request (any field name: FixMyStreet's `photo1`, `file_...`), checked
    and cleaned as POST /v1/complaints/{id}/attachments does (api/attachments.py), before the case
    is opened. The client application's token is the submitter its quotas count against."""
    if len(uploads) > MAX_ATTACHMENTS_PER_CASE:
        raise Open311Error(413, f"Paling banyak {MAX_ATTACHMENTS_PER_CASE} berkas per laporan")
    if not uploads:
        return []
    submitter = upload_submitter(caller, None)
    try:
        for _ in uploads:
            await run_in_threadpool(svc.uploads.pace.check, submitter)
        await run_in_threadpool(check_may_store, session, svc.storage, svc.uploads.quotas, case=None,
                                added_by=caller, submitter=submitter, files=len(uploads))
    except Problem as problem:
        raise Open311Error(problem.status, problem.detail, problem.headers) from problem
    cleaned = []
    for index, upload in enumerate(uploads, start=1):
        try:
            cleaned.append(await svc.uploads.clean(await upload.read()))
        except Problem as problem:
            raise Open311Error(problem.status, f"Berkas {index}: {problem.detail}", problem.headers) from problem
    return cleaned


async def client_caller(request: Request, svc, session: Session, api_key: str | None):
    if not api_key:
        raise Open311Error(403, "api_key wajib: minta token peran client kepada administrator")
    caller = await run_in_threadpool(
        caller_for_token, session, api_key, admin_token=svc.settings.sp4n_admin_token,
        secret_keyring=svc.settings.secret_keyring, tracking_id=None,
    )
    if caller is None or caller.role != Role.CLIENT:
        raise Open311Error(403, "api_key tidak valid, sudah dicabut, atau bukan token aplikasi (peran client)")
    return caller


async def read_form(request: Request) -> tuple[dict[str, str], list[str], list[UploadFile]]:
    """A form's text fields (the first of each name), its media_url values and its files."""
    try:
        form = await request.form(max_files=MAX_ATTACHMENTS_PER_CASE + 5, max_fields=200)
    except Problem:
        raise
    except Exception as error:
        status = getattr(error, "status_code", 400)
        raise Open311Error(status if status in (400, 413) else 400,
                           "Isi permintaan harus application/x-www-form-urlencoded atau multipart/form-data "
                           f"(paling banyak {MAX_ATTACHMENTS_PER_CASE} berkas)") from error
    fields: dict[str, str] = {}
    media: list[str] = []
    files: list[UploadFile] = []
    for key, value in form.multi_items():
        if isinstance(value, str):
            if key in ("media_url", "media_url[]"):
                media.append(value)
            else:
                fields.setdefault(key, value)
        elif isinstance(value, UploadFile) and (value.filename or value.size):
            files.append(value)
    return fields, media, files


def _record_request(session: Session, tracking_id: str, client_token_id: str, urls: list[str]) -> bool:
    """Remember who sent the case and its media links; False when a retry already did."""
    if session.get(Open311Request, tracking_id) is not None:
        return False
    token = secrets.token_urlsafe(16)
    session.add(Open311Request(tracking_id=tracking_id, client_token_id=client_token_id, token=token))
    for position, url in enumerate(urls):
        session.add(Open311MediaLink(tracking_id=tracking_id, position=position, url=url))
    try:
        session.commit()
    except IntegrityError:  # the same Idempotency-Key at the same instant: the other one recorded it
        session.rollback()
        return False
    return True


def _store_files(svc, session: Session, tracking_id: str, contents: list[CleanFile], submitter: str) -> list[str]:
    """Attach cleaned files to the new case as its reporter would; what could not be stored."""
    case = CaseView(tracking_id=tracking_id, status=Status.AWAITING_VERIFICATION.value)
    problems = []
    for index, file in enumerate(contents, start=1):
        try:
            store_attachment(session, svc.storage, svc.uploads.quotas, case=case, added_by=reporter_caller(tracking_id),
                             file=file, submitter=submitter, purpose=Purpose.REPORT)
        except Problem as problem:
            problems.append(f"berkas {index}: {problem.detail}")
        except Exception:  # noqa: BLE001 - the case exists already: the client must still get its id
            log.exception("open311 file not stored", tracking_id=tracking_id, index=index)
            session.rollback()
            problems.append(f"berkas {index}: tidak tersimpan")
    return problems


@router.post(
    "/requests.{fmt}",
    summary="Open311: kirim laporan (form, api_key)",
    **route_doc(description="`application/x-www-form-urlencoded` atau `multipart/form-data`: `api_key` (token "
           "peran client), `service_code`, lokasi (`lat`+`long`, `address_string`, `address_id` atau "
           f"`attribute[region]`), `description` (≤ {DESCRIPTION_MAX} karakter), opsional `first_name`, "
           "`last_name`, `email`, `phone`, `media_url` (boleh diulang; disimpan sebagai tautan, tidak "
           "diunduh), berkas JPEG/PNG/PDF (nama bidang bebas; batas seperti lampiran v1), "
           "`attribute[report_type|anonymous|confidential|region]`. Header `Idempotency-Key` membuat "
           "pengiriman ulang aman. Jawaban memuat `service_request_id` dan `token` (untuk tokens/{token})."),
)
async def post_request(request: Request, svc: ServicesDep, session: SessionDep) -> Response:
    async def produce(fmt: str) -> Response:
        fields, media, uploads = await read_form(request)
        refuse_control_characters({f"media_url[{i}]": url for i, url in enumerate(media)})  # links: never altered
        repairs = MachineTextRepairs()
        fields = repaired_fields(fields, repairs)
        caller = await client_caller(request, svc, session, fields.get("api_key") or request.query_params.get("api_key"))
        details = checked_open311_contacts(details_from_form(fields), svc.settings.phone_country_codes)
        if repairs:
            log.info("open311 text repaired", restored=sorted(repairs.restored), removed=sorted(repairs.removed))
            details = details.model_copy(update={"intake_note": repairs.note("Open311")})
        urls = media_urls(media)
        await run_in_threadpool(svc.rate_limiter.check, caller.client_key)
        contents = await uploaded_files(svc, session, caller, uploads)
        key = request.headers.get("idempotency-key")
        scope = f"open311:{caller.token_id}:{key[:200]}" if key else None
        digest = body_hash({"details": details.model_dump(mode="json"), "media": urls,
                            "files": [hashlib.sha256(file.data).hexdigest() for file in contents]})
        receipt = await open_case(svc, session, details, idempotency_scope=scope, digest=digest)
        tracking_id = receipt.tracking_id
        request.state.tracking_id = tracking_id
        first = await run_in_threadpool(_record_request, session, tracking_id, caller.token_id or "", urls)
        refused = (await run_in_threadpool(_store_files, svc, session, tracking_id, contents,
                                           upload_submitter(caller, None)) if first else [])
        token = await run_in_threadpool(lambda: session.get(Open311Request, tracking_id).token)
        log.info("open311 request", tracking_id=tracking_id, client=caller.token_id, media_links=len(urls),
                 files=len(contents) - len(refused))
        due = w3(receipt.deadlines.verification_due)
        notice = (f"Laporan diterima dan akan diverifikasi paling lambat {due}. requests/{tracking_id} "
                  "langsung menemukannya; daftar requests memuatnya beberapa detik kemudian.")
        if receipt.pin_outside_region:
            notice += (" Titik lat/long berada di luar wilayah laporan: ditandai untuk verifikator dan tidak "
                       "ditampilkan publik sampai dikonfirmasi.")
        if refused:
            notice += " Tidak tersimpan: " + "; ".join(refused) + "."
        return render(fmt, "service_requests", [{
            "service_request_id": tracking_id,
            "token": token,
            "service_notice": notice,
            "account_id": (fields.get("account_id") or "").strip() or None,
        }])

    return await answer(request, produce)
