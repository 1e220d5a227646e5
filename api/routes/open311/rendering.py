"""GeoReport's two formats (XML, JSON) and a case as a GeoReport service request: XML 1.0-safe text,
W3C instants in the case's zone, the extended status attributes FixMyStreet reads."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring
from zoneinfo import ZoneInfo

from fastapi import Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.problems import Problem, register_error_format
from api.routes.open311.common import (
    CONTENT_TYPES,
    ITEM_NAMES,
    PREFIX,
    UNSHOWN_ACTIONS,
    Open311Error,
)
from db.models import Agency
from db.open311_models import Open311MediaLink
from domain.calendar import NATIONAL_ZONE, zone_for_region
from domain.enums import Status
from domain.open311 import (
    DESCRIPTION_SHOWN_MAX,
    expected_datetime,
    extended_status,
    open311_status,
    service_for_category,
    status_notes,
)
from domain.visibility import CaseView

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


async def answer(request: Request, produce: Callable[[str], Awaitable[Response]]) -> Response:
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


def zone_of(region_code: str | None) -> str:
    try:
        return zone_for_region(region_code) if region_code else NATIONAL_ZONE
    except ValueError:
        return NATIONAL_ZONE


def agency_names(session: Session, agency_ids: set[str]) -> dict[str, str]:
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
    zone = zone_of(view.region_code)
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


def first_media(session: Session, views: list[CaseView]) -> dict[str, str]:
    """The first media link of each case whose reporter is not anonymous (links can name them)."""
    ids = [view.tracking_id for view in views if view.anonymous is False]
    if not ids:
        return {}
    rows = session.execute(
        select(Open311MediaLink.tracking_id, Open311MediaLink.url)
        .where(Open311MediaLink.tracking_id.in_(ids), Open311MediaLink.position == 0)
    ).all()
    return dict(rows)
