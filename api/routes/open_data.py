"""/v1/open-data: the public data package (issue 28), readable by anyone, no token.

The index, `datapackage.json` (Frictionless) and each dataset as CSV or JSON, of the latest version
or of `?version=N` (versions are kept). Every answer carries an `ETag` (the file's SHA-256) and
`Last-Modified` (when its version was generated); a conditional GET that matches is answered 304
without a body, so a mirror that polls daily moves nothing when nothing changed.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel

from api.deps import SessionDep
from api.open_data import snapshot, snapshot_file
from api.problems import Problem, problem_responses
from db.open_data_models import OpenDataVersion
from domain.open_data import (
    DATASETS,
    DATASETS_BY_NAME,
    FORMATS,
    LICENCE,
    UPDATE_FREQUENCY,
    file_name,
)

router = APIRouter(prefix="/v1/open-data", tags=["open data"])
PREFIX = router.prefix
DESCRIPTOR = "datapackage.json"
CACHE_CONTROL = "public, max-age=3600"
VersionQuery = Annotated[int | None, Query(ge=1, le=2**31 - 1, description="Versi tertentu; tanpa ini, yang terbaru.")]


class DatasetLink(BaseModel):
    name: str
    title: dict[str, str]
    description: dict[str, str]
    rows: int
    files: dict[str, str]


class OpenDataIndex(BaseModel):
    version: int
    generated_at: datetime
    update_frequency: str
    licence: dict[str, str]
    datapackage: str
    datasets: list[DatasetLink]


def _version_or_404(session, version: int | None) -> OpenDataVersion:
    found = snapshot(session, version)
    if found is None:
        raise Problem(404, "Versi data terbuka tidak ditemukan" if version else "Data terbuka belum dibuat")
    return found


def _http_date(instant: datetime) -> str:
    return format_datetime(instant.replace(microsecond=0), usegmt=True)


def not_modified(request: Request, etag: str, modified: datetime) -> bool:
    """RFC 9110 13.2.2: If-None-Match decides when present (weak comparison), else If-Modified-Since."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or etag in tags
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False  # an unreadable date is ignored, as the RFC says
        return since.tzinfo is not None and modified.replace(microsecond=0) <= since
    return False


def conditional(request: Request, content: str | bytes, media_type: str, sha256: str, modified: datetime) -> Response:
    etag = f'"{sha256}"'
    headers = {"ETag": etag, "Last-Modified": _http_date(modified), "Cache-Control": CACHE_CONTROL}
    if not_modified(request, etag, modified):
        return Response(status_code=304, headers=headers)
    return Response(content, media_type=media_type, headers=headers)


@router.get("", response_model=OpenDataIndex, summary="Daftar dataset data terbuka (versi terbaru atau tertentu)",
            responses={304: {"description": "Tidak berubah sejak permintaan bersyarat"}, **problem_responses(404, 422)})
def open_data_index(request: Request, session: SessionDep, version: VersionQuery = None) -> Response:
    found = _version_or_404(session, version)
    suffix = f"?version={found.version}"
    rows: dict[str, int] = found.summary.get("rows", {})
    index = OpenDataIndex(
        version=found.version, generated_at=found.generated_at, update_frequency=UPDATE_FREQUENCY, licence=LICENCE,
        datapackage=f"{PREFIX}/{DESCRIPTOR}{suffix}",
        datasets=[
            DatasetLink(name=d.name, title=d.title, description=d.description, rows=rows.get(d.name, 0),
                        files={fmt: f"{PREFIX}/{file_name(d.name, fmt)}{suffix}" for fmt in FORMATS})
            for d in DATASETS
        ],
    )
    body = index.model_dump_json()
    return conditional(request, body, "application/json", hashlib.sha256(body.encode()).hexdigest(), found.generated_at)


def _serve(request: Request, session, name: str, version: int | None) -> Response:
    found = _version_or_404(session, version)
    stored = snapshot_file(session, found.version, name)
    if stored is None:
        raise Problem(404, "Berkas data terbuka tidak ditemukan")
    return conditional(request, stored.content.encode(), stored.media_type, stored.sha256, found.generated_at)


@router.get(f"/{DESCRIPTOR}", summary="Deskriptor Frictionless Data Package",
            responses={200: {"content": {"application/json": {}}}, 304: {"description": "Tidak berubah"},
                       **problem_responses(404, 422)})
def open_data_descriptor(request: Request, session: SessionDep, version: VersionQuery = None) -> Response:
    return _serve(request, session, DESCRIPTOR, version)


@router.get("/{file}", summary="Satu dataset sebagai CSV atau JSON",
            responses={200: {"content": {media.split(";")[0]: {} for media in FORMATS.values()}},
                       304: {"description": "Tidak berubah"}, **problem_responses(404, 422)})
def open_data_file(
    request: Request, session: SessionDep,
    file: Annotated[str, Path(max_length=100, examples=["bodies.csv"], description="<dataset>.<csv|json>")],
    version: VersionQuery = None,
) -> Response:
    dataset, _, fmt = file.rpartition(".")
    if dataset not in DATASETS_BY_NAME or fmt not in FORMATS:
        raise Problem(404, "Dataset tidak ditemukan")
    return _serve(request, session, file, version)
