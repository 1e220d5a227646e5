"""/open311/v2: Open311 GeoReport v2 (plus mySociety's GET servicerequestupdates), in .json and .xml.

Any Open311 client can list the complaint categories, submit a complaint (`api_key` = a token of
role `client`) and follow it. Errors are GeoReport's list of `{code, description}` (400 bad input,
403 missing or wrong api_key, 404 unknown), in the format asked for. What is shown is what the
public may see (domain/visibility.py): confidential cases are never listed nor shown, and neither
is an anonymous reporter's contact or pin.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring
from zoneinfo import ZoneInfo

import structlog
from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from starlette.concurrency import run_in_threadpool

from api.auth import caller_for_token
from api.deps import ServicesDep, SessionDep
from api.intake import TRACKING_ID, body_hash, checked_contacts, find_idempotency_key, open_case, title_from_text
from api.problems import Problem
from api.read_model import view_of_row
from api.routes.complaints import _current_view
from db.directory import check_region_code
from db.models import Agency, Complaint, TimelineEventRow
from domain.calendar import NATIONAL_ZONE, zone_for_region
from domain.enums import Action, Channel, ReportType, Role
from domain.models import ComplaintDetails, Location, Reporter
from domain.open311 import (
    CLOSED,
    OPEN,
    OTHER,
    SERVICES,
    SERVICES_BY_CODE,
    SPECIFICATION,
    expected_datetime,
    open311_status,
    service_definition,
    service_for_category,
    status_notes,
    statuses_for,
    update_description,
)
from domain.text import forbidden_character
from domain.visibility import PUBLIC, CaseView, redact

log = structlog.get_logger("sp4n.open311")

router = APIRouter(prefix="/open311/v2", tags=["open311"])

CHANGESET = "2026-12-01T00:00:00+07:00"  # when this endpoint's description last changed
DEFAULT_SPAN = timedelta(days=90)
MAX_ITEMS = 1000
DESCRIPTION_MAX = 4000
CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# GeoReport's XML: a list's items are elements named after it (the Spark convention's inverse).
ITEM_NAMES = {
    "services": "service", "service_requests": "request", "errors": "error",
    "service_request_updates": "request_update", "endpoints": "endpoint", "formats": "format",
    "attributes": "attribute", "values": "value",
}
UNSHOWN_ACTIONS = (Action.SUBMIT.value, Action.CALENDAR_AMENDED.value)


class Open311Error(Exception):
    """Answer with GeoReport's error list and this HTTP status."""

    def __init__(self, status: int, description: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.headers = status, description, headers


# --- rendering ----------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _append(parent: Element, name: str, value: Any) -> None:
    element = SubElement(parent, name)
    if isinstance(value, dict):
        for key, item in value.items():
            _append(element, key, item)
    elif isinstance(value, list):
        for item in value:
            _append(element, ITEM_NAMES.get(name, "item"), item)
    else:
        element.text = _text(value)


def to_xml(root: str, data: Any) -> bytes:
    """GeoReport XML for a JSON value: lists become repeated elements, null an empty element."""
    element = Element(root)
    if isinstance(data, list):
        for item in data:
            _append(element, ITEM_NAMES[root], item)
    else:
        for key, value in data.items():
            _append(element, key, value)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + tostring(element, encoding="unicode").encode("utf-8")


def render(fmt: str, root: str, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = to_xml(root, data) if fmt == "xml" else json.dumps(data, ensure_ascii=False).encode("utf-8")
    return Response(body, status_code=status, media_type=CONTENT_TYPES[fmt].split(";")[0], headers=headers)


def _format(request: Request) -> str:
    fmt = request.path_params.get("fmt", "")
    if fmt not in CONTENT_TYPES:
        raise Open311Error(404, f"Format '{fmt}' tidak dikenal: gunakan .json atau .xml.")
    return fmt


async def _answer(request: Request, produce: Callable[[str], Awaitable[Response]]) -> Response:
    """Run a handler; any failure becomes GeoReport's error list in the format asked for."""
    fmt = request.path_params.get("fmt", "")
    fmt = fmt if fmt in CONTENT_TYPES else "xml"  # XML is GeoReport's required format
    try:
        return await produce(_format(request))
    except Open311Error as error:
        status, description, headers = error.status, error.description, error.headers
    except Problem as problem:
        status, description, headers = problem.status, problem.detail, problem.headers
    return render(fmt, "errors", [{"code": status, "description": description}], status, headers)


def w3(instant: datetime | None, zone: str | None = None) -> str | None:
    """W3C date-time with its offset, whole seconds: '2026-12-02T23:59:59+07:00'."""
    if instant is None:
        return None
    if zone:
        instant = instant.astimezone(ZoneInfo(zone))
    return instant.replace(microsecond=0).isoformat()


def _zone_of(region_code: str | None) -> str:
    try:
        return zone_for_region(region_code) if region_code else NATIONAL_ZONE
    except ValueError:
        return NATIONAL_ZONE


def _agency_names(session: Session, agency_ids: set[str]) -> dict[str, str]:
    if not agency_ids:
        return {}
    return dict(session.execute(select(Agency.id, Agency.name).where(Agency.id.in_(agency_ids))).all())


def service_request(view: CaseView, agency_name: str | None) -> dict[str, Any]:
    """One case as a GeoReport v2 request, from the view the public may have of it."""
    service = service_for_category(view.category)
    zone = _zone_of(view.region_code)
    text = view.description or view.title
    if view.title and view.description and not view.description.startswith(view.title):
        text = f"{view.title}\n\n{view.description}"  # a title of its own (v1 API), not cut from the text
    updated = max((entry.at for entry in view.timeline or []), default=view.submitted_at)
    deadlines = view.deadlines
    location = view.location  # absent for anonymous reporters (a pin can point at their home)
    return {
        "service_request_id": view.tracking_id,
        "status": open311_status(view.status),
        "status_notes": status_notes(
            view.status, agency_name=agency_name, archive_reason=view.archive_reason,
            duplicate_of=view.duplicate_of, resolution_due=deadlines.resolution_due if deadlines else None,
        ),
        "service_name": service.name,
        "service_code": service.code,
        "description": (text or "")[:DESCRIPTION_MAX] or None,
        "agency_responsible": agency_name,
        "service_notice": None,
        "requested_datetime": w3(view.submitted_at, zone),
        "updated_datetime": w3(updated, zone),
        "expected_datetime": w3(expected_datetime(view.status, deadlines)),
        "address": location.address if location else None,
        "address_id": None,
        "zipcode": None,
        "lat": location.lat if location else None,
        "long": location.lon if location else None,
        "media_url": None,
    }


# --- query arguments ----------------------------------------------------------------------------


def _instant(name: str, value: str | None) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        instant = datetime.fromisoformat(value.strip().replace(" ", "+"))  # an unescaped '+' arrives as ' '
    except ValueError as error:
        raise Open311Error(400, f"{name} harus berformat W3C, mis. 2026-12-01T00:00:00+07:00") from error
    if instant.tzinfo is None:
        raise Open311Error(400, f"{name} harus memuat zona waktu (Z atau +07:00)")
    return instant


def _window(request: Request) -> tuple[datetime, datetime]:
    """start_date/end_date: at most 90 days; the most recent 90 days when neither is given."""
    start = _instant("start_date", request.query_params.get("start_date"))
    end = _instant("end_date", request.query_params.get("end_date"))
    if start is None and end is None:
        end = datetime.now(timezone.utc)
    if start is None:
        start = end - DEFAULT_SPAN
    if end is None:
        end = start + DEFAULT_SPAN
    if end < start:
        raise Open311Error(400, "end_date lebih awal dari start_date")
    if end - start > DEFAULT_SPAN:
        raise Open311Error(400, "Rentang start_date..end_date tidak boleh lebih dari 90 hari")
    return start, end


def _listed(request: Request, name: str) -> list[str]:
    """A comma-delimited argument, possibly given more than once."""
    values = []
    for raw in request.query_params.getlist(name):
        values += [part.strip() for part in raw.split(",") if part.strip()]
    return values


# --- discovery and services ---------------------------------------------------------------------

FORMAT_PARAM = {"name": "fmt", "in": "path", "required": True, "description": "`json` atau `xml`",
                "schema": {"type": "string", "enum": ["json", "xml"]}}


def _doc(*extra: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {
        "openapi_extra": {"parameters": [FORMAT_PARAM, *extra]},
        "description": (description + "\n\n" if description else "")
        + "Kesalahan: daftar GeoReport `[{code, description}]` (400, 403, 404) dalam format yang diminta.",
        "responses": {
            200: {"description": "OK", "content": {"application/json": {}, "text/xml": {}}},
            **{
                status: {"description": f"GeoReport `[{{code, description}}]` ({status})",
                         "content": {"application/json": {}, "text/xml": {}}}
                for status in (400, 403, 404)
            },
        },
        "response_class": Response,
    }


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": {"type": "string"}}


def _query(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": {"type": "string"}}


@router.get("/discovery.{fmt}", summary="Open311: service discovery", **_doc())
async def discovery(request: Request, svc: ServicesDep) -> Response:
    async def produce(fmt: str) -> Response:
        base = str(request.base_url).rstrip("/") + router.prefix
        return render(fmt, "discovery", {
            "changeset": CHANGESET,
            "contact": "Administrator SP4N-LAPOR! instansi Anda.",
            "key_service": "api_key adalah token peran client yang diterbitkan administrator (POST /v1/tokens).",
            "endpoints": [{
                "specification": SPECIFICATION,
                "url": base,
                "changeset": CHANGESET,
                "type": "production" if svc.settings.environment == "production" else "test",
                "formats": ["text/xml", "application/json"],
            }],
        })

    return await _answer(request, produce)


def _service(service) -> dict[str, Any]:
    return {
        "service_code": service.code,
        "service_name": service.name,
        "description": service.description,
        "metadata": True,
        "type": "realtime",
        "keywords": ", ".join(service.keywords),
        "group": service.group,
    }


@router.get("/services.{fmt}", summary="Open311: daftar kategori pengaduan", **_doc())
async def services(request: Request) -> Response:
    async def produce(fmt: str) -> Response:
        return render(fmt, "services", [_service(service) for service in SERVICES])

    return await _answer(request, produce)


@router.get("/services/{service_code}.{fmt}", summary="Open311: atribut satu kategori",
            **_doc(_path("service_code", "kode kategori, mis. jalan-jembatan")))
async def service(request: Request) -> Response:
    async def produce(fmt: str) -> Response:
        code = request.path_params["service_code"]
        if code not in SERVICES_BY_CODE:
            raise Open311Error(404, f"service_code '{code}' tidak ada")
        return render(fmt, "service_definition", service_definition(SERVICES_BY_CODE[code]))

    return await _answer(request, produce)


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
        raise Open311Error(400, f"description melebihi {DESCRIPTION_MAX} karakter")
    lat, lon = (form.get("lat") or "").strip(), (form.get("long") or "").strip()
    address = (form.get("address_string") or "").strip() or None
    address_id = (form.get("address_id") or "").strip() or None
    region = (form.get("attribute[region]") or "").strip() or None
    if bool(lat) != bool(lon):
        raise Open311Error(400, "lat dan long harus dikirim bersama")
    if not (lat or address or address_id or region):
        raise Open311Error(400, "Lokasi wajib: lat & long, address_string, address_id atau attribute[region]")
    try:
        check_region_code(region)
    except ValueError as error:
        raise Open311Error(400, f"attribute[region] {region} tidak dikenal: {error}") from error
    location = None
    if lat:
        location = Location(lat=_float("lat", lat, -90, 90), lon=_float("long", lon, -180, 180),
                            address=address[:500] if address else None)
    elif address:  # a location, not description text: hidden with the rest for anonymous reporters
        location = Location(address=address[:500])
    extra = []
    if address_id:
        extra.append(f"ID alamat: {address_id}")
    if media := (form.get("media_url") or "").strip():
        extra.append(f"Media: {media}")
    report_type = (form.get("attribute[report_type]") or "").strip() or ReportType.PENGADUAN.value
    if report_type not in {t.value for t in ReportType}:
        raise Open311Error(400, "attribute[report_type] harus salah satu dari: " + ", ".join(t.value for t in ReportType))
    name = " ".join(part for part in ((form.get("first_name") or "").strip(), (form.get("last_name") or "").strip()) if part)
    email, phone = (form.get("email") or "").strip(), (form.get("phone") or "").strip()
    try:
        return ComplaintDetails(
            title=title_from_text(description),
            description="\n\n".join([description, *extra]),
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


async def _client(request: Request, svc, session: Session, api_key: str | None):
    if not api_key:
        raise Open311Error(403, "api_key wajib: minta token peran client kepada administrator")
    caller = caller_for_token(session, api_key, admin_token=svc.settings.sp4n_admin_token,
                              secret_key=svc.settings.secret_key, tracking_id=None)
    if caller is None or caller.role != Role.CLIENT:
        raise Open311Error(403, "api_key tidak valid, sudah dicabut, atau bukan token aplikasi (peran client)")
    return caller


@router.post(
    "/requests.{fmt}",
    summary="Open311: kirim laporan (form, api_key)",
    **_doc(description="`application/x-www-form-urlencoded` (atau multipart): `api_key` (token peran "
           "client), `service_code`, lokasi (`lat`+`long`, `address_string`, `address_id` atau "
           "`attribute[region]`), `description` (≤ 4.000 karakter), opsional `first_name`, `last_name`, "
           "`email`, `phone`, `media_url`, `attribute[report_type|anonymous|confidential|region]`. "
           "Header `Idempotency-Key` membuat pengiriman ulang aman; `tokens/{key}` mengembalikan id-nya."),
)
async def post_request(request: Request, svc: ServicesDep, session: SessionDep) -> Response:
    async def produce(fmt: str) -> Response:
        try:
            form = await request.form()
        except Exception as error:  # noqa: BLE001 - a body that is no form at all
            raise Open311Error(400, "Isi permintaan harus application/x-www-form-urlencoded") from error
        fields = {key: value for key, value in form.multi_items() if isinstance(value, str)}
        refuse_control_characters(fields)
        caller = await _client(request, svc, session, fields.get("api_key") or request.query_params.get("api_key"))
        details = checked_open311_contacts(details_from_form(fields), svc.settings.phone_country_codes)
        await run_in_threadpool(svc.rate_limiter.check, caller.client_key)
        key = request.headers.get("idempotency-key")
        scope = f"open311:{caller.token_id}:{key[:200]}" if key else None
        receipt = await open_case(svc, session, details, idempotency_scope=scope,
                                  digest=body_hash(details.model_dump(mode="json")))
        request.state.tracking_id = receipt.tracking_id
        log.info("open311 request", tracking_id=receipt.tracking_id, client=caller.token_id)
        due = w3(receipt.deadlines.verification_due)
        return render(fmt, "service_requests", [{
            "service_request_id": receipt.tracking_id,
            "service_notice": f"Laporan diterima dan akan diverifikasi paling lambat {due}.",
            "account_id": (fields.get("account_id") or "").strip() or None,
        }])

    return await _answer(request, produce)


# --- GET requests -------------------------------------------------------------------------------


def _requests_of_rows(session: Session, rows: list[Complaint]) -> list[dict[str, Any]]:
    names = _agency_names(session, {row.agency_id for row in rows if row.agency_id})
    items = []
    for row in rows:
        view = redact(view_of_row(row, with_history=True), PUBLIC)
        if view is not None:  # confidential: never
            items.append(service_request(view, names.get(row.agency_id) if row.agency_id else None))
    return items


@router.get(
    "/requests.{fmt}",
    summary="Open311: daftar laporan (publik)",
    **_doc(
        _query("service_request_id", "satu atau beberapa id, dipisah koma (mengabaikan filter lain)"),
        _query("service_code", "satu atau beberapa kode, dipisah koma"),
        _query("start_date", "W3C, mis. 2026-12-01T00:00:00+07:00 (laporan dengan requested_datetime ≥)"),
        _query("end_date", "W3C (requested_datetime ≤); rentang paling lama 90 hari"),
        _query("status", "open, closed, atau keduanya dipisah koma"),
        description="Tanpa tanggal: 90 hari terakhir. Paling banyak 1.000 laporan, terbaru dahulu. "
        "Laporan rahasia tidak pernah tercantum.",
    ),
)
async def get_requests(request: Request, session: SessionDep) -> Response:
    async def produce(fmt: str) -> Response:
        statement = (
            select(Complaint)
            .options(selectinload(Complaint.timeline))
            .where(Complaint.confidential.is_(False))
        )
        ids = _listed(request, "service_request_id")
        if ids:
            statement = statement.where(Complaint.tracking_id.in_(ids[:MAX_ITEMS]))
        else:
            start, end = _window(request)
            statement = statement.where(Complaint.submitted_at >= start, Complaint.submitted_at <= end)
            codes = _listed(request, "service_code")
            if codes:
                unknown = [code for code in codes if code not in SERVICES_BY_CODE]
                if unknown:
                    raise Open311Error(404, f"service_code tidak ada: {', '.join(unknown)}")
                condition = Complaint.category.in_(codes)
                if OTHER.code in codes:  # cases without a (known) category are listed as 'lainnya'
                    condition = condition | Complaint.category.is_(None) | Complaint.category.not_in(
                        [s.code for s in SERVICES])
                statement = statement.where(condition)
            wanted = _listed(request, "status")
            if wanted:
                if set(wanted) - {OPEN, CLOSED}:
                    raise Open311Error(400, "status harus open atau closed")
                statement = statement.where(
                    Complaint.status.in_([s for open311 in set(wanted) for s in statuses_for(open311)]))
        statement = statement.order_by(Complaint.submitted_at.desc(), Complaint.tracking_id.desc()).limit(MAX_ITEMS)
        return render(fmt, "service_requests", _requests_of_rows(session, list(session.scalars(statement))))

    return await _answer(request, produce)


@router.get("/requests/{service_request_id}.{fmt}", summary="Open311: satu laporan (publik)",
            **_doc(_path("service_request_id", "nomor laporan, mis. LAP-7K2M9QX4TD")))
async def get_request(request: Request, svc: ServicesDep, session: SessionDep) -> Response:
    async def produce(fmt: str) -> Response:
        tracking_id = request.path_params["service_request_id"]
        if not TRACKING_ID.match(tracking_id):
            raise Open311Error(404, f"service_request_id '{tracking_id}' tidak ada")
        try:
            view = await _current_view(tracking_id, PUBLIC, svc, session)  # the workflow's state, if running
        except Problem as problem:
            if problem.status == 404:
                raise Open311Error(404, f"service_request_id '{tracking_id}' tidak ada") from problem
            raise
        names = _agency_names(session, {view.agency_id} if view.agency_id else set())
        return render(fmt, "service_requests", [service_request(view, names.get(view.agency_id or ""))])

    return await _answer(request, produce)


@router.get("/tokens/{token}.{fmt}", summary="Open311: id laporan dari token (Idempotency-Key)",
            **_doc(_path("token", "Idempotency-Key yang dikirim bersama POST requests"),
                   _query("api_key", "token aplikasi yang mengirim laporan itu"),
                   description="Layanan ini realtime: POST requests langsung mengembalikan "
                   "service_request_id. Aplikasi yang kehilangan jawaban itu menemukan id-nya dengan "
                   "Idempotency-Key yang dipakainya dan api_key-nya."))
async def get_token(request: Request, svc: ServicesDep, session: SessionDep) -> Response:
    async def produce(fmt: str) -> Response:
        token = request.path_params["token"]
        caller = await _client(request, svc, session, request.query_params.get("api_key"))
        tracking_id = find_idempotency_key(session, f"open311:{caller.token_id}:{token[:200]}")
        if tracking_id is None:
            raise Open311Error(404, f"token '{token}' tidak dikenal untuk api_key ini")
        return render(fmt, "service_requests", [{"service_request_id": tracking_id, "token": token}])

    return await _answer(request, produce)


# --- mySociety's extension: GET servicerequestupdates ---------------------------------------------


@router.get(
    "/servicerequestupdates.{fmt}",
    summary="Open311 (ekstensi mySociety): pembaruan laporan",
    **_doc(
        _query("start_date", "W3C (pembaruan pada atau setelah)"),
        _query("end_date", "W3C (pembaruan pada atau sebelum); rentang paling lama 90 hari"),
        _query("service_request_id", "hanya pembaruan laporan ini (dipisah koma)"),
        description="Setiap langkah laporan publik (verifikasi, tindak lanjut, tanggapan, selesai, ...), "
        "terlama dahulu, paling banyak 1.000. `status` open/closed sesudah langkah itu; "
        "`external_status_code` adalah status SP4N-nya.",
    ),
)
async def get_updates(request: Request, session: SessionDep) -> Response:
    async def produce(fmt: str) -> Response:
        start, end = _window(request)
        statement = (
            select(TimelineEventRow, Complaint.region_code)
            .join(Complaint, Complaint.tracking_id == TimelineEventRow.tracking_id)
            .where(Complaint.confidential.is_(False), TimelineEventRow.action.not_in(UNSHOWN_ACTIONS))
            .where(TimelineEventRow.at >= start, TimelineEventRow.at <= end)
        )
        if ids := _listed(request, "service_request_id"):
            statement = statement.where(TimelineEventRow.tracking_id.in_(ids[:MAX_ITEMS]))
        statement = statement.order_by(TimelineEventRow.at, TimelineEventRow.tracking_id, TimelineEventRow.seq)
        updates = [
            {
                "update_id": f"{event.tracking_id}-{event.seq}",
                "service_request_id": event.tracking_id,
                "status": open311_status(event.status_to),
                "updated_datetime": w3(event.at, _zone_of(region_code)),
                "description": update_description(event.action, event.note),
                "media_url": None,
                "external_status_code": event.status_to,
            }
            for event, region_code in session.execute(statement.limit(MAX_ITEMS)).all()
        ]
        return render(fmt, "service_request_updates", updates)

    return await _answer(request, produce)
