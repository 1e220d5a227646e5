"""/v1/agencies: the directory, readable by anyone, edited by administrators (the edits and their
rules: api/directory_admin.py)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from api import directory_admin
from api.auth import Caller
from api.deps import AdminDep, SessionDep, require_roles
from api.directory_admin import (
    MAX_UNIT_IMPORT_ROWS,
    AgencyAdminOut,
    AgencyChange,
    AgencyCreate,
    AgencyMerge,
    AgencyUpdate,
    UnitAdminOut,
    UnitChange,
    UnitCreate,
    UnitImportResult,
    UnitMerge,
    UnitUpdate,
    agency_out,
    apply_unit_import,
    parse_unit_csv,
)
from api.problems import Problem, problem_responses
from api.schemas import AgencyOut, Page
from db.directory import get_agency, list_agencies
from db.models import REGIONAL_KINDS
from domain.enums import Role
from domain.region_rule import in_region
from domain.table_import import strip_control

router = APIRouter(prefix="/v1/agencies", tags=["agencies"])


@router.get("", response_model=Page[AgencyOut], summary="Cari instansi di direktori",
            responses=problem_responses(422))
def search_agencies(
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=200, examples=["dinas kesehatan palangkaraya"])] = None,
    kind: str | None = None,
    region_code: Annotated[str | None, Query(pattern=r"^\d{2}(\.\d{2})*$")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    near_region: Annotated[str | None, Query(
        pattern=r"^\d{2}(\.\d{2})*$", description="A case's region: that region's governments first, then national "
        "bodies, then other regions' governments (marked `outside_region`); one page, no cursor.")] = None,
) -> Page[AgencyOut]:
    if near_region:
        rows = list_agencies(session, q=q, kind=kind, region_code=region_code, limit=MAX_NEAR_CANDIDATES)
        placed = sorted(((region_place(a, near_region), a) for a in rows), key=lambda pair: pair[0])
        return Page(items=[agency_out(a).model_copy(update={"outside_region": place == 2})
                           for place, a in placed[:limit]], next_cursor=None)
    rows = list_agencies(session, q=q, kind=kind, region_code=region_code, limit=limit + 1, after_id=cursor)
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    return Page(items=[agency_out(a) for a in rows[:limit]], next_cursor=next_cursor)


MAX_NEAR_CANDIDATES = 1000


def region_place(agency, case_region: str) -> int:
    """0 the case region's own governments, 1 national bodies, 2 other regions' governments."""
    if agency.kind not in REGIONAL_KINDS or not agency.region_code:
        return 1
    return 0 if in_region(agency.region_code, case_region) else 2


@router.get("/{agency_id}", response_model=AgencyOut, summary="Satu instansi dengan unitnya",
            responses=problem_responses(404))
def read_agency(agency_id: str, session: SessionDep) -> AgencyOut:
    agency = get_agency(session, agency_id)
    if agency is None or not agency.active:
        raise Problem(404, "Instansi tidak ditemukan")
    return agency_out(agency)


@router.post("", response_model=AgencyAdminOut, status_code=201, summary="Tambah instansi (admin)",
             responses=problem_responses(401, 403, 409, 422))
def create_agency(body: AgencyCreate, caller: AdminDep, session: SessionDep) -> AgencyAdminOut:
    return directory_admin.create_agency(body, caller, session)


@router.patch("/{agency_id}", response_model=AgencyAdminOut, summary="Ubah nama/alias/zona instansi (admin)",
              responses=problem_responses(401, 403, 404, 422))
def update_agency(agency_id: str, body: AgencyUpdate, caller: AdminDep, session: SessionDep) -> AgencyAdminOut:
    return directory_admin.update_agency(agency_id, body, caller, session)


@router.post("/{agency_id}/merge", response_model=AgencyChange, summary="Gabungkan instansi ke instansi lain (admin)",
             responses=problem_responses(401, 403, 404, 422))
def merge_agency(agency_id: str, body: AgencyMerge, caller: AdminDep, session: SessionDep) -> AgencyChange:
    return directory_admin.merge_agency(agency_id, body, caller, session)


@router.post("/{agency_id}/deactivate", response_model=AgencyChange, summary="Nonaktifkan instansi (admin)",
             responses=problem_responses(401, 403, 404))
def deactivate_agency(agency_id: str, caller: AdminDep, session: SessionDep) -> AgencyChange:
    return directory_admin.deactivate_agency(agency_id, caller, session)


UnitManagerDep = Annotated[Caller, Depends(require_roles(Role.ADMIN, Role.AGENCY_ADMIN))]


@router.get("/{agency_id}/routing-terms", response_model=directory_admin.RoutingTermsOut,
            summary="Nama dan alias yang mengarahkan laporan ke instansi ini (admin instansi, admin)",
            responses=problem_responses(401, 403, 404))
def list_routing_terms(agency_id: str, caller: UnitManagerDep, session: SessionDep) -> directory_admin.RoutingTermsOut:
    return directory_admin.routing_terms(directory_admin.managed_agency(session, agency_id, caller))


@router.get("/{agency_id}/units", response_model=list[UnitAdminOut], summary="Semua unit instansi, termasuk yang nonaktif",
            responses=problem_responses(401, 403, 404))
def list_units(agency_id: str, caller: UnitManagerDep, session: SessionDep) -> list[UnitAdminOut]:
    return directory_admin.list_units(agency_id, caller, session)


@router.post("/{agency_id}/units", response_model=UnitAdminOut, status_code=201, summary="Tambah unit (admin instansi, admin)",
             responses=problem_responses(401, 403, 404, 409, 422))
def create_unit(agency_id: str, body: UnitCreate, caller: UnitManagerDep, session: SessionDep) -> UnitAdminOut:
    return directory_admin.create_unit(agency_id, body, caller, session)


@router.patch("/{agency_id}/units/{slug}", response_model=UnitAdminOut, summary="Ganti nama unit (admin instansi, admin)",
              responses=problem_responses(401, 403, 404, 422))
def rename_unit(agency_id: str, slug: str, body: UnitUpdate, caller: UnitManagerDep, session: SessionDep) -> UnitAdminOut:
    return directory_admin.rename_unit(agency_id, slug, body, caller, session)


@router.post("/{agency_id}/units/{slug}/merge", response_model=UnitChange,
             summary="Gabungkan unit ke unit lain instansi yang sama (admin instansi, admin)",
             responses=problem_responses(401, 403, 404, 422))
def merge_unit(agency_id: str, slug: str, body: UnitMerge, caller: UnitManagerDep, session: SessionDep) -> UnitChange:
    return directory_admin.merge_unit(agency_id, slug, body, caller, session)


@router.post("/{agency_id}/units/{slug}/deactivate", response_model=UnitChange,
             summary="Nonaktifkan unit (admin instansi, admin)", responses=problem_responses(401, 403, 404))
def deactivate_unit(agency_id: str, slug: str, caller: UnitManagerDep, session: SessionDep) -> UnitChange:
    return directory_admin.deactivate_unit(agency_id, slug, caller, session)


@router.post(
    "/{agency_id}/units/import", response_model=UnitImportResult,
    summary="Impor unit dari CSV `slug,name,kind` atau JSON (admin instansi, admin): semua baris atau tidak sama sekali",
    responses=problem_responses(401, 403, 404, 413, 415, 422),
    openapi_extra={"requestBody": {"required": True, "content": {
        "text/csv": {"schema": {"type": "string"}, "example": "slug,name,kind\nkel-menteng,Kelurahan Menteng,kelurahan\n"},
        "application/json": {
            "schema": {"type": "object", "required": ["units"], "properties": {"units": {"type": "array", "items": {
                "type": "object", "required": ["slug", "name"],
                "properties": {"slug": {"type": "string"}, "name": {"type": "string"}, "kind": {"type": "string"}}}}}},
            "examples": {"kelurahan": {"value": {"units": [
                {"slug": "kel-menteng", "name": "Kelurahan Menteng", "kind": "kelurahan"}]}}}}}}},
)
async def import_units(
    agency_id: str, request: Request, caller: UnitManagerDep, session: SessionDep,
    delimiter: Annotated[str | None, Query(pattern=r"^(,|;|\t|\||tab)$", description="CSV delimiter; detected from the header when absent")] = None,
    strip_control_characters: Annotated[bool, Query(description="Remove control characters instead of refusing the rows that have them")] = False,
) -> UnitImportResult:
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    content = (await request.body()).decode("utf-8", errors="replace")
    if kind == "text/csv":
        rows = parse_unit_csv(content, delimiter=delimiter, strip_control_characters=strip_control_characters)
    elif kind == "application/json":
        try:
            data = json.loads(content)
            rows = [{k: strip_control(str(v))[0] if strip_control_characters else str(v) for k, v in row.items()}
                    for row in data["units"]]
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise Problem(422, 'JSON harus berbentuk {"units": [{"slug": ..., "name": ..., "kind": ...}]}.') from error
        if not rows or len(rows) > MAX_UNIT_IMPORT_ROWS:
            raise Problem(422, f"Impor harus berisi 1 sampai {MAX_UNIT_IMPORT_ROWS} unit.")
    else:
        raise Problem(415, "Kirim text/csv (kolom slug,name,kind) atau application/json.")
    return apply_unit_import(session, agency_id, caller, rows)
