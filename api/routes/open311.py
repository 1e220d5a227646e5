"""/open311/v2: Open311 GeoReport v2 (plus mySociety's servicerequestupdates), in .json and .xml.

Any Open311 client (FixMyStreet first) can list the complaint categories, submit a complaint
(`api_key` = a token of role `client`), follow it, and post its citizens' comments on it. Every
answer under /open311/v2, errors included (400, 403, 404, 405, 413, 422, 429, 5xx), is GeoReport's
in the format of the URL's extension (XML unless `.json`), and XML answers never carry a character
XML 1.0 forbids, whatever is stored. What is shown is what the public may see
(domain/visibility.py): confidential cases are never listed nor shown, and neither is an anonymous
reporter's contact, pin, address or media links. README "Open311" documents the statuses.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element, SubElement, tostring
from zoneinfo import ZoneInfo

import structlog
from fastapi import APIRouter, Request, Response
from pydantic import AwareDatetime, BaseModel, Field, ValidationError
from sqlalchemy import case, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, selectinload
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.attachments import check_may_store, store_attachment, upload_submitter
from api.auth import Caller, caller_for_token, reporter_caller
from api.cleaning import CleanFile
from api.temporal import action_update_id
from api.deps import ServicesDep, SessionDep, StaffDep
from api.intake import TRACKING_ID, body_hash, checked_contacts, find_idempotency_key, open_case, title_from_text
from api.problems import Problem, problem_responses, register_error_format
from api.read_model import view_of_row, without_confidential_originals
from api.routes.complaints import _current_view
from db.directory import check_region_code, gazetteer, load_regions
from db.models import Agency, ApiToken, Complaint, TimelineEventRow
from db.open311_models import Open311ClientUpdate, Open311MediaLink, Open311Request
from domain.attachments import MAX_ATTACHMENTS_PER_CASE, Purpose
from domain.calendar import NATIONAL_ZONE, zone_for_region
from domain.contacts import usable_email, usable_phone
from domain.enums import Action, Channel, ReportType, Role, Status
from domain.models import Actor, ComplaintDetails, Location, ReplyInput, Reporter, SupplementInput
from domain.open311 import (
    CLOSED,
    DESCRIPTION_MAX,
    DESCRIPTION_SHOWN_MAX,
    MEDIA_SCHEMES,
    MEDIA_URL_MAX,
    MEDIA_URLS_MAX,
    OPEN,
    OTHER,
    SERVICES,
    SERVICES_BY_CODE,
    SPECIFICATION,
    RegionChoice,
    expected_datetime,
    extended_status,
    open311_status,
    resolve_region,
    rules_text,
    service_definition,
    service_for_category,
    status_notes,
    statuses_for,
    update_description,
)
from domain.text import forbidden_character
from domain.visibility import REPORTER_ADDITIONS, PUBLIC, CaseView, redact
from workflows.complaint import ComplaintWorkflow

log = structlog.get_logger("sp4n.open311")

PREFIX = "/open311/v2"
router = APIRouter(prefix=PREFIX, tags=["open311"])

CHANGESET = "2026-12-01T00:00:00+07:00"  # when this endpoint's description last changed
DEFAULT_SPAN = timedelta(days=90)
MAX_ITEMS = 1000
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


# Characters XML 1.0 does not allow (C0 controls other than tab, LF, CR; lone surrogates; U+FFFE/F).
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_LINE_BREAKS = str.maketrans({"\x0b": "\n", "\x0c": "\n"})  # Word's line break, form feed


def xml_safe(text: str) -> str:
    """The text with every character XML 1.0 forbids removed (vertical tab and form feed become
    line breaks): a strict parser reads every answer whatever a case stores."""
    return _XML_FORBIDDEN.sub("", text.translate(_LINE_BREAKS))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return xml_safe(str(value))


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


def _json_safe(value: Any) -> Any:
    """Strings without lone surrogates (UTF-8 cannot carry them); JSON escapes the rest itself."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8") if _SURROGATE.search(value) else value
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def render(fmt: str, root: str, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    if fmt == "xml":
        body = to_xml(root, data)
    else:
        body = json.dumps(_json_safe(data), ensure_ascii=False).encode("utf-8")
    return Response(body, status_code=status, media_type=CONTENT_TYPES[fmt].split(";")[0], headers=headers)


def format_of_path(path: str) -> str:
    """The format a URL under /open311/v2 asks for: JSON for `.json`, GeoReport's XML otherwise."""
    return "json" if path.endswith(".json") else "xml"


def error_response(path: str, status: int, description: str, headers: dict[str, str] | None = None) -> Response:
    """GeoReport's error list, in the format of the URL's extension."""
    return render(format_of_path(path), "errors", [{"code": status, "description": description}], status, headers)


# Every error under /open311/v2 that api/problems.py answers (unknown path, wrong method, body too
# large, validation, database down, the unexpected) takes GeoReport's form too.
register_error_format(PREFIX + "/", error_response)


def _format(request: Request) -> str:
    fmt = request.path_params.get("fmt", "")
    if fmt not in CONTENT_TYPES:
        raise Open311Error(404, f"Format '{fmt}' tidak dikenal: gunakan .json atau .xml.")
    return fmt


async def _answer(request: Request, produce: Callable[[str], Awaitable[Response]]) -> Response:
    """Run a handler; any refusal becomes GeoReport's error list in the format asked for."""
    try:
        return await produce(_format(request))
    except Open311Error as error:
        status, description, headers = error.status, error.description, error.headers
    except Problem as problem:
        status, description, headers = problem.status, problem.detail, problem.headers
    return error_response(request.url.path, status, description, headers)


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


def _last_action(view: CaseView) -> str | None:
    shown = [entry for entry in view.timeline or [] if entry.action not in UNSHOWN_ACTIONS]
    return shown[-1].action if shown else None


def extended_attributes(status: str, archive_reason: str | None, duplicate_of: str | None,
                        action: str | None) -> dict[str, Any]:
    """The extension block of a request or update: the extended status and the SP4N status behind it."""
    return {
        "extended_status": extended_status(status, archive_reason=archive_reason, action=action).value,
        "sp4n_status": status,
        "archive_reason": archive_reason if status == Status.ARCHIVED else None,
        "duplicate_of": duplicate_of if status == Status.ARCHIVED else None,
    }


def service_request(view: CaseView, agency_name: str | None, media_url: str | None = None) -> dict[str, Any]:
    """One case as a GeoReport v2 request, from the view the public may have of it (`media_url`:
    its first link, already withheld by the caller when the reporter is anonymous)."""
    service = service_for_category(view.category)
    zone = _zone_of(view.region_code)
    text = view.description or view.title
    if view.title and view.description and not view.description.startswith(view.title):
        text = f"{view.title}\n\n{view.description}"  # a title of its own (v1 API), not cut from the text
    if text and len(text) > DESCRIPTION_SHOWN_MAX:  # GeoReport's limit; the case keeps the whole text
        text = text[: DESCRIPTION_SHOWN_MAX - 1] + "…"
    updated = max((entry.at for entry in view.timeline or []), default=view.submitted_at)
    deadlines = view.deadlines
    location = view.location  # absent for anonymous reporters (a pin can point at their home)
    extended = extended_attributes(view.status, view.archive_reason, view.duplicate_of, _last_action(view))
    return {
        "service_request_id": view.tracking_id,
        "status": open311_status(view.status),
        "status_notes": status_notes(
            view.status, agency_name=agency_name, archive_reason=view.archive_reason,
            duplicate_of=view.duplicate_of, resolution_due=deadlines.resolution_due if deadlines else None,
        ),
        "service_name": service.name,
        "service_code": service.code,
        "description": text or None,
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
        "media_url": media_url,
        "external_status_code": extended["extended_status"],
        "extended_attributes": extended,
    }


def _first_media(session: Session, views: list[CaseView]) -> dict[str, str]:
    """The first media link of each case whose reporter is not anonymous (links can name them)."""
    ids = [view.tracking_id for view in views if view.anonymous is False]
    if not ids:
        return {}
    rows = session.execute(
        select(Open311MediaLink.tracking_id, Open311MediaLink.url)
        .where(Open311MediaLink.tracking_id.in_(ids), Open311MediaLink.position == 0)
    ).all()
    return dict(rows)


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
        + "Kesalahan: daftar GeoReport `[{code, description}]` dalam format ekstensi URL (XML bila bukan "
        ".json), untuk setiap status: 400, 403, 404, 405, 409, 413, 415, 422, 429, 500, 503.",
        "responses": {
            200: {"description": "OK", "content": {"application/json": {}, "text/xml": {}}},
            **{
                status: {"description": f"GeoReport `[{{code, description}}]` ({status})",
                         "content": {"application/json": {}, "text/xml": {}}}
                for status in (400, 403, 404, 405, 409, 413, 415, 422, 429, 500, 503)
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
async def service(request: Request, svc: ServicesDep) -> Response:
    async def produce(fmt: str) -> Response:
        code = request.path_params["service_code"]
        if code not in SERVICES_BY_CODE:
            raise Open311Error(404, f"service_code '{code}' tidak ada")
        rules = rules_text(svc.settings.attachment_max_image_pixels, svc.settings.attachment_max_pdf_pages)
        return render(fmt, "service_definition", service_definition(SERVICES_BY_CODE[code], region_choices(), rules))

    return await _answer(request, produce)


@lru_cache(maxsize=1)
def region_choices() -> tuple[RegionChoice, ...]:
    """The values of `attribute[region]`: every province and regency/city, by code."""
    return tuple(RegionChoice(region.code, region.name) for region in load_regions() if region.level in (1, 2))


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


async def _client(request: Request, svc, session: Session, api_key: str | None):
    if not api_key:
        raise Open311Error(403, "api_key wajib: minta token peran client kepada administrator")
    caller = await run_in_threadpool(
        caller_for_token, session, api_key, admin_token=svc.settings.sp4n_admin_token,
        secret_keyring=svc.settings.secret_keyring, tracking_id=None,
    )
    if caller is None or caller.role != Role.CLIENT:
        raise Open311Error(403, "api_key tidak valid, sudah dicabut, atau bukan token aplikasi (peran client)")
    return caller


async def _form(request: Request) -> tuple[dict[str, str], list[str], list[UploadFile]]:
    """A form's text fields (the first of each name), its media_url values and its files."""
    try:
        form = await request.form(max_files=MAX_ATTACHMENTS_PER_CASE + 5, max_fields=200)
    except Problem:
        raise
    except Exception as error:  # noqa: BLE001 - a body that is no form at all, or too many parts
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
    **_doc(description="`application/x-www-form-urlencoded` atau `multipart/form-data`: `api_key` (token "
           "peran client), `service_code`, lokasi (`lat`+`long`, `address_string`, `address_id` atau "
           f"`attribute[region]`), `description` (≤ {DESCRIPTION_MAX} karakter), opsional `first_name`, "
           "`last_name`, `email`, `phone`, `media_url` (boleh diulang; disimpan sebagai tautan, tidak "
           "diunduh), berkas JPEG/PNG/PDF (nama bidang bebas; batas seperti lampiran v1), "
           "`attribute[report_type|anonymous|confidential|region]`. Header `Idempotency-Key` membuat "
           "pengiriman ulang aman. Jawaban memuat `service_request_id` dan `token` (untuk tokens/{token})."),
)
async def post_request(request: Request, svc: ServicesDep, session: SessionDep) -> Response:
    async def produce(fmt: str) -> Response:
        fields, media, uploads = await _form(request)
        refuse_control_characters(fields | {f"media_url[{i}]": url for i, url in enumerate(media)})
        caller = await _client(request, svc, session, fields.get("api_key") or request.query_params.get("api_key"))
        details = checked_open311_contacts(details_from_form(fields), svc.settings.phone_country_codes)
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
        if refused:
            notice += " Tidak tersimpan: " + "; ".join(refused) + "."
        return render(fmt, "service_requests", [{
            "service_request_id": tracking_id,
            "token": token,
            "service_notice": notice,
            "account_id": (fields.get("account_id") or "").strip() or None,
        }])

    return await _answer(request, produce)


# --- GET requests -------------------------------------------------------------------------------


def _requests_of_views(session: Session, views: list[CaseView]) -> list[dict[str, Any]]:
    views = without_confidential_originals(session, views)
    names = _agency_names(session, {view.agency_id for view in views if view.agency_id})
    media = _first_media(session, views)
    return [service_request(view, names.get(view.agency_id or ""), media.get(view.tracking_id)) for view in views]


def _public_views(rows: list[Complaint]) -> list[CaseView]:
    views = [redact(view_of_row(row, with_history=True), PUBLIC) for row in rows]
    return [view for view in views if view is not None]  # confidential: never


# Ids asked for by GET requests that the read model does not have yet are read as GET
# requests/{id} reads them (from the workflow), at most this many per request.
FRESH_READS_MAX = 20


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
async def get_requests(request: Request, svc: ServicesDep, session: SessionDep) -> Response:
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
        views = await run_in_threadpool(lambda: _public_views(list(session.scalars(statement))))
        if ids:  # just sent, not yet in the read model: read as requests/{id} reads it
            known = {view.tracking_id for view in views}
            missing = [i for i in dict.fromkeys(ids[:MAX_ITEMS]) if i not in known and TRACKING_ID.match(i)]
            for tracking_id in missing[:FRESH_READS_MAX]:
                try:
                    views.append(await _current_view(tracking_id, PUBLIC, svc, session))
                except Problem as problem:
                    if problem.status != 404:
                        raise
        return render(fmt, "service_requests", await run_in_threadpool(_requests_of_views, session, views))

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
        return render(fmt, "service_requests", await run_in_threadpool(_requests_of_views, session, [view]))

    return await _answer(request, produce)


@router.get("/tokens/{token}.{fmt}", summary="Open311: id laporan dari token",
            **_doc(_path("token", "`token` dari jawaban POST requests, atau Idempotency-Key aplikasi (dengan api_key)"),
                   _query("api_key", "opsional: token aplikasi, untuk mencari dengan Idempotency-Key-nya"),
                   description="Layanan ini realtime: POST requests langsung mengembalikan "
                   "service_request_id beserta `token`. Seperti spesifikasinya, tokens/{token} tidak "
                   "memerlukan api_key; dengan api_key, Idempotency-Key yang dipakai aplikasi itu juga "
                   "diterima sebagai token."))
async def get_token(request: Request, svc: ServicesDep, session: SessionDep) -> Response:
    async def produce(fmt: str) -> Response:
        token = request.path_params["token"]
        row = await run_in_threadpool(
            lambda: session.scalar(select(Open311Request).where(Open311Request.token == token[:32])))
        tracking_id = row.tracking_id if row is not None else None
        if tracking_id is None and (api_key := request.query_params.get("api_key")):
            caller = await _client(request, svc, session, api_key)
            tracking_id = await run_in_threadpool(
                find_idempotency_key, session, f"open311:{caller.token_id}:{token[:200]}")
        if tracking_id is None:
            raise Open311Error(404, f"token '{token[:100]}' tidak dikenal")
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
        "terlama dahulu, paling banyak 1.000. `status` dan `external_status_code`: status lanjutan "
        "(OPEN, INVESTIGATING, IN_PROGRESS, ACTION_SCHEDULED, INTERNAL_REFERRAL, FIXED, DUPLICATE, "
        "NOT_COUNCILS_RESPONSIBILITY, NO_FURTHER_ACTION) sesudah langkah itu; `extended_attributes` "
        "memuat status SP4N-nya. `api_key` boleh dikirim dan diabaikan.",
    ),
)
async def get_updates(request: Request, session: SessionDep) -> Response:
    async def produce(fmt: str) -> Response:
        start, end = _window(request)
        original = aliased(Complaint)
        statement = (
            select(TimelineEventRow, Complaint.region_code, Complaint.archive_reason,
                   # a confidential original's id is never public
                   case((original.confidential.is_(True), None), else_=Complaint.duplicate_of),
                   Complaint.anonymous)
            .join(Complaint, Complaint.tracking_id == TimelineEventRow.tracking_id)
            .outerjoin(original, original.tracking_id == Complaint.duplicate_of)
            .where(Complaint.confidential.is_(False), TimelineEventRow.action.not_in(UNSHOWN_ACTIONS))
            .where(TimelineEventRow.at >= start, TimelineEventRow.at <= end)
        )
        if ids := _listed(request, "service_request_id"):
            statement = statement.where(TimelineEventRow.tracking_id.in_(ids[:MAX_ITEMS]))
        statement = statement.order_by(TimelineEventRow.at, TimelineEventRow.tracking_id, TimelineEventRow.seq)
        rows = await run_in_threadpool(lambda: session.execute(statement.limit(MAX_ITEMS)).all())
        return render(fmt, "service_request_updates", [update_of_event(*row) for row in rows])

    return await _answer(request, produce)


# What an anonymous reporter writes can name them: shown to the staff who handle the case only.
REPORTER_TEXT_ACTIONS = REPORTER_ADDITIONS  # domain/visibility.py: one rule for every face


def update_of_event(event: TimelineEventRow, region_code: str | None, archive_reason: str | None,
                    duplicate_of: str | None, anonymous: bool) -> dict[str, Any]:
    """One step of a case as mySociety's request_update. `status` is the extended status (the
    extension allows it, and FixMyStreet reads it there); `external_status_code` repeats it for
    FixMyStreet's response templates; `extended_attributes` adds the SP4N status behind it."""
    note = None if anonymous and event.action in REPORTER_TEXT_ACTIONS else event.note
    extended = extended_attributes(event.status_to, archive_reason, duplicate_of, event.action)
    return {
        "update_id": f"{event.tracking_id}-{event.seq}",
        "service_request_id": event.tracking_id,
        "status": extended["extended_status"],
        "updated_datetime": w3(event.at, _zone_of(region_code)),
        "description": update_description(event.action, note),
        "media_url": None,
        "external_status_code": extended["extended_status"],
        "extended_attributes": extended,
    }


# --- mySociety's extension: POST servicerequestupdates (a citizen's comment from the client) -------

UPDATE_ID_MAX = 200


def _claim_update(session: Session, scope_key: str, tracking_id: str, digest: str) -> Open311ClientUpdate | None:
    """Claim the client's update id; the earlier claim when it was used already (a retry)."""
    row = Open311ClientUpdate(scope_key=scope_key, tracking_id=tracking_id, update_id=f"{tracking_id}-n{secrets.token_hex(6)}",
                              recorded_as="pending", body_hash=digest)
    session.add(row)
    try:
        session.commit()
        return None
    except IntegrityError:
        session.rollback()
    return session.get(Open311ClientUpdate, scope_key)


def _settle_update(session: Session, scope_key: str, recorded_as: str | None, update_id: str | None = None,
                   note: str | None = None) -> None:
    """Record how the comment was kept (None: it was not, and the claim is given back)."""
    row = session.get(Open311ClientUpdate, scope_key)
    if row is None:
        return
    if recorded_as is None:
        session.delete(row)
    else:
        row.recorded_as, row.note = recorded_as, note
        if update_id:
            row.update_id = update_id
    session.commit()


@router.post(
    "/servicerequestupdates.{fmt}",
    summary="Open311 (ekstensi mySociety): komentar warga atas laporan",
    **_doc(description="Form: `api_key` (aplikasi yang mengirim laporan itu), `service_request_id`, "
           "`update_id` (id pembaruan di aplikasi; pengiriman ulang dengan id yang sama dijawab sama dan "
           f"dicatat sekali), `description` (≤ {DESCRIPTION_MAX} karakter); `status`, `updated_datetime`, "
           "`first_name`, `last_name`, `media_url` diterima dan tidak dipakai. Bila laporan menunggu pelapor "
           "dan `email` atau `phone` komentar sama dengan kontak pelapor laporan itu, komentar dicatat "
           "sebagai tanggapan pelapor (menunggu tanggapan) atau kelengkapan (ditunda); selain itu (juga "
           "komentar pengguna lain aplikasi) sebagai catatan bagi petugas. Jawaban: `update_id` "
           "kita (sama dengan update_id langkah itu di GET servicerequestupdates)."),
)
async def post_update(request: Request, svc: ServicesDep, session: SessionDep) -> Response:
    async def produce(fmt: str) -> Response:
        fields, _media, _files = await _form(request)
        refuse_control_characters(fields)
        caller = await _client(request, svc, session, fields.get("api_key") or request.query_params.get("api_key"))
        tracking_id = (fields.get("service_request_id") or "").strip()
        client_update_id = (fields.get("update_id") or "").strip()
        text = (fields.get("description") or "").strip()
        if not client_update_id:
            raise Open311Error(400, "update_id wajib: id pembaruan di aplikasi Anda (membuat pengiriman ulang aman)")
        if len(client_update_id) > UPDATE_ID_MAX:
            raise Open311Error(400, f"update_id paling panjang {UPDATE_ID_MAX} karakter")
        if not text:
            raise Open311Error(400, "description wajib diisi")
        if len(text) > DESCRIPTION_MAX:
            raise Open311Error(400, f"description melebihi {DESCRIPTION_MAX} karakter")
        sent = await run_in_threadpool(session.get, Open311Request, tracking_id) if TRACKING_ID.match(tracking_id) else None
        if sent is None or sent.client_token_id != caller.token_id:
            raise Open311Error(404, f"service_request_id '{tracking_id[:64]}' tidak dikirim oleh aplikasi ini")
        await run_in_threadpool(svc.rate_limiter.check, caller.client_key)
        scope_key = f"{caller.token_id}:{client_update_id}"
        digest = body_hash({"service_request_id": tracking_id, "description": text})
        earlier = await run_in_threadpool(_claim_update, session, scope_key, tracking_id, digest)
        if earlier is not None:
            if earlier.body_hash != digest or earlier.tracking_id != tracking_id:
                raise Open311Error(422, "update_id ini sudah dipakai untuk komentar yang berbeda")
            if earlier.recorded_as != "pending":
                return render(fmt, "service_request_updates", [{"update_id": earlier.update_id}])
            # Still pending (sent at the same moment, or its first attempt failed half-way): sent
            # again under the same Temporal update id, which Temporal applies once.
        try:
            update_id, recorded_as, note = await _record_comment(
                svc, session, tracking_id, text, scope_key, sender=_comment_sender(fields, svc.settings.phone_country_codes))
        except BaseException:
            if earlier is None:
                await run_in_threadpool(_settle_update, session, scope_key, None)
            raise
        await run_in_threadpool(_settle_update, session, scope_key, recorded_as, update_id, note)
        log.info("open311 comment", tracking_id=tracking_id, client=caller.token_id, recorded_as=recorded_as)
        row = await run_in_threadpool(session.get, Open311ClientUpdate, scope_key)
        return render(fmt, "service_request_updates", [{"update_id": row.update_id}])

    return await _answer(request, produce)


def _comment_sender(fields: dict[str, str], phone_country_codes: list[int]) -> tuple[str | None, str | None]:
    """The commenter's e-mail and phone as the client sent them, normalised like a reporter's
    (domain/contacts.py); None for one absent or unusable."""
    return usable_email((fields.get("email") or "").strip()), usable_phone((fields.get("phone") or "").strip(),
                                                                          phone_country_codes)


def _is_the_reporter(reporter: Reporter | None, sender: tuple[str | None, str | None]) -> bool:
    """Whether the commenter is the case's reporter: the client forwards every one of its users'
    comments, and only the reporter's own e-mail (any case) or phone (E.164) makes one theirs."""
    if reporter is None:
        return False
    email, phone = sender
    return bool((email and reporter.email and email.casefold() == reporter.email.casefold())
                or (phone and reporter.phone and phone == reporter.phone))


async def _record_comment(svc, session: Session, tracking_id: str, text: str, scope_key: str,
                          sender: tuple[str | None, str | None]) -> tuple[str | None, str, str | None]:
    """The comment as the reporter's reply (the case waits for their answer to a follow-up) or
    supplement (on hold) when it comes from the reporter's own contact, or else a note for staff:
    (our update id or None, how, the note)."""
    await run_in_threadpool(session.close)  # no connection held while waiting on Temporal
    state = await svc.temporal.state(tracking_id)
    reporter = Actor(role=Role.REPORTER)  # never the reporter's identity
    action = {
        Status.AWAITING_REPORTER: (ComplaintWorkflow.reply, lambda: ReplyInput(actor=reporter, message=text), "reply"),
        Status.ON_HOLD: (ComplaintWorkflow.supplement, lambda: SupplementInput(actor=reporter, text=text), "supplement"),
    }.get(state.status) if _is_the_reporter(state.details.reporter, sender) else None
    if action is not None:
        update, make_input, recorded_as = action
        data = make_input()
        try:
            state = await svc.temporal.update(tracking_id, update, data, update_id=action_update_id(
                f"open311:{scope_key}", recorded_as, "comment", data))
            return f"{tracking_id}-{state.timeline[-1].seq}", recorded_as, None
        except Problem as problem:
            if problem.status != 409:  # the case moved on meanwhile: kept as a note below
                raise
    return None, "note", text


# --- for the staff handling a case: what its Open311 client sent beside the report ----------------

staff_router = APIRouter(prefix="/v1/complaints", tags=["open311"])


class ClientNote(BaseModel):
    update_id: str
    text: str
    created_at: AwareDatetime


class Open311Extras(BaseModel):
    """What came with a case through Open311 and is not in the case itself."""

    tracking_id: str
    client: str | None = Field(description="The application (client token's name) that sent it; null for other doors")
    media_links: list[str] = Field(description="Every media_url, in order; links are shown, never fetched")
    client_notes: list[ClientNote] = Field(
        description="Citizens' comments the client posted while the case waited for nobody's reply (notes for staff)")


def _extras(session: Session, tracking_id: str) -> Open311Extras:
    sent = session.get(Open311Request, tracking_id)
    token = session.get(ApiToken, sent.client_token_id) if sent is not None else None
    links = session.scalars(select(Open311MediaLink.url).where(Open311MediaLink.tracking_id == tracking_id)
                            .order_by(Open311MediaLink.position)).all()
    notes = session.scalars(select(Open311ClientUpdate).where(
        Open311ClientUpdate.tracking_id == tracking_id, Open311ClientUpdate.recorded_as == "note")
        .order_by(Open311ClientUpdate.created_at)).all()
    return Open311Extras(
        tracking_id=tracking_id, client=token.name if token is not None else None, media_links=list(links),
        client_notes=[ClientNote(update_id=n.update_id, text=n.note or "", created_at=n.created_at) for n in notes],
    )


@staff_router.get(
    "/{tracking_id}/open311",
    response_model=Open311Extras,
    summary="Tautan media dan catatan dari aplikasi Open311 (petugas)",
    description="Untuk petugas yang menangani laporan (admin, pengamat, petugas instansi laporan), juga bila "
    "pelapor anonim: setiap media_url (tautan, tidak diunduh server) dan komentar warga yang dikirim aplikasi "
    "ketika laporan tidak sedang menunggu pelapor. Publik tidak pernah melihatnya di sini; GET requests "
    "hanya menampilkan tautan pertama laporan yang pelapornya tidak anonim.",
    responses=problem_responses(401, 403, 404, 503),
)
async def open311_extras(tracking_id: str, caller: StaffDep, svc: ServicesDep, session: SessionDep) -> Open311Extras:
    await _current_view(tracking_id, caller, svc, session)  # 404 unless the caller sees the case
    return await run_in_threadpool(_extras, session, tracking_id)
