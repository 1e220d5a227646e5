"""/v1/agencies: the directory, readable by anyone."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import SessionDep
from api.problems import Problem, problem_responses
from api.schemas import AgencyOut, Page, UnitOut
from db.directory import get_agency, list_agencies
from db.models import Agency

router = APIRouter(prefix="/v1/agencies", tags=["agencies"])


def agency_out(agency: Agency) -> AgencyOut:
    return AgencyOut(
        id=agency.id, name=agency.name, kind=agency.kind, region_code=agency.region_code, timezone=agency.timezone,
        parent_id=agency.parent_id, units=[UnitOut(id=u.id, name=u.name, kind=u.kind) for u in agency.units],
    )


@router.get("", response_model=Page[AgencyOut], summary="Cari instansi di direktori",
            responses=problem_responses(422))
def search_agencies(
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=200, examples=["dinas kesehatan palangkaraya"])] = None,
    kind: str | None = None,
    region_code: Annotated[str | None, Query(pattern=r"^\d{2}(\.\d{2})*$")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[AgencyOut]:
    rows = list_agencies(session, q=q, kind=kind, region_code=region_code, limit=limit + 1, after_id=cursor)
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    return Page(items=[agency_out(a) for a in rows[:limit]], next_cursor=next_cursor)


@router.get("/{agency_id}", response_model=AgencyOut, summary="Satu instansi dengan unitnya",
            responses=problem_responses(404))
def read_agency(agency_id: str, session: SessionDep) -> AgencyOut:
    agency = get_agency(session, agency_id)
    if agency is None or not agency.active:
        raise Problem(404, "Instansi tidak ditemukan")
    return agency_out(agency)
