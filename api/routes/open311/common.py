"""What every GeoReport endpoint under /open311/v2 shares: the router, its limits and error, the
documentation of its routes, and the query arguments of the list endpoints."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import structlog
from fastapi import APIRouter, Request, Response

from domain.enums import Action

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


def date_window(request: Request) -> tuple[datetime, datetime]:
    """start_date/end_date: at most 90 days; the most recent 90 days when neither is given."""
    start = _instant("start_date", request.query_params.get("start_date"))
    end = _instant("end_date", request.query_params.get("end_date"))
    if start is None and end is None:
        end = datetime.now(timezone.utc)  # timezone: tests move this clock (tests/open311/conftest.py)
    if start is None:
        start = end - DEFAULT_SPAN
    if end is None:
        end = start + DEFAULT_SPAN
    if end < start:
        raise Open311Error(400, "end_date lebih awal dari start_date")
    if end - start > DEFAULT_SPAN:
        raise Open311Error(400, "Rentang start_date..end_date tidak boleh lebih dari 90 hari")
    return start, end


def listed_values(request: Request, name: str) -> list[str]:
    """A comma-delimited argument, possibly given more than once."""
    values = []
    for raw in request.query_params.getlist(name):
        values += [part.strip() for part in raw.split(",") if part.strip()]
    return values


FORMAT_PARAM = {"name": "fmt", "in": "path", "required": True, "description": "`json` atau `xml`",
                "schema": {"type": "string", "enum": ["json", "xml"]}}


def route_doc(*extra: dict[str, Any], description: str = "") -> dict[str, Any]:
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


def path_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": {"type": "string"}}


def query_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": {"type": "string"}}
