"""/v1/agencies: the directory, readable by anyone, edited by administrators.

Edits never lose a case. A body deactivated, or merged into another, stops accepting new cases
(verification's accept answers 422 for an inactive body) and its open cases are flagged
`needs_rerouting` in the read model (GET /v1/complaints?needs_rerouting=true) for the verifying
administrator; the projection keeps the flag until the case is accepted to another body or closes
(activities/records.py). A rename keeps the old name as an alias, so routing and search still know
it; a merge moves the merged body's name, aliases, units and child bodies to the one it joins.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import field_validator, BaseModel, Field
from sqlalchemy import update
from sqlalchemy.orm import Session

from api.deps import AdminDep, SessionDep
from api.problems import Problem, problem_responses
from api.schemas import AgencyOut, Page, UnitOut, with_example
from db.directory import check_region_code, get_agency, get_agency_ref, list_agencies
from db.models import Agency, AgencyKind, AgencyUnit, Complaint
from domain.calendar import ZONES, zone_for_region
from domain.enums import OPEN_STATUSES
from domain.text import line

router = APIRouter(prefix="/v1/agencies", tags=["agencies"])


class AgencyCreate(BaseModel):
    model_config = with_example({"id": "badan-riset-kalsel", "name": "Badan Riset dan Inovasi Daerah Kalimantan Selatan",
                             "kind": "agency", "region_code": "63", "aliases": ["BRIDA Kalsel"]})

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$", examples=["kementerian-baru"])
    name: line(300, min_length=3) = Field(examples=["Kementerian Baru"])
    kind: AgencyKind
    region_code: str | None = Field(default=None, pattern=r"^\d{2}(\.\d{2})*$")
    timezone: str | None = Field(default=None, description="Asia/Jakarta, Asia/Makassar atau Asia/Jayapura; "
                                 "bawaan: zona wilayahnya (WIB untuk instansi pusat)")
    parent_id: str | None = None
    aliases: list[line(300, min_length=1)] = Field(default=[], max_length=100)

    @field_validator("region_code")
    @classmethod
    def _known_province(cls, code: str | None) -> str | None:
        if code is not None:
            check_region_code(code)  # a province or regency that does not exist is a 422, not a 500
        return code


class AgencyUpdate(BaseModel):
    model_config = with_example({"name": "Pemerintah Kota Palangka Raya"})

    name: line(300, min_length=3) | None = Field(default=None,
                                                 description="Nama baru; nama lama tetap dikenal sebagai alias.")
    aliases: list[line(300, min_length=1)] | None = Field(default=None, max_length=100, description="Menggantikan daftar alias.")
    timezone: str | None = None


class AgencyMerge(BaseModel):
    model_config = with_example({"into": "pemkot-62.71"})

    into: str = Field(description="Instansi yang menerima (tetap aktif).", examples=["pemkot-62.71"])


class AgencyAdminOut(AgencyOut):
    active: bool
    aliases: list[str]


class AgencyChange(BaseModel):
    agency: AgencyAdminOut = Field(description="Instansi yang dinonaktifkan atau yang menerima penggabungan.")
    flagged_cases: int = Field(description="Laporan terbuka yang ditandai needs_rerouting oleh perubahan ini.")


def admin_out(agency: Agency) -> AgencyAdminOut:
    return AgencyAdminOut(**agency_out(agency).model_dump(), active=agency.active, aliases=list(agency.aliases or []))


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


# --- administrators' edits ----------------------------------------------------------------------


def _active_agency(session: Session, agency_id: str) -> Agency:
    agency = get_agency(session, agency_id)
    if agency is None or not agency.active:
        raise Problem(404, f"Instansi {agency_id} tidak ditemukan atau tidak aktif.")
    return agency


def _check_timezone(timezone: str) -> None:
    if timezone not in ZONES:
        raise Problem(422, f"Zona waktu {timezone} tidak dikenal; gunakan salah satu dari {', '.join(sorted(ZONES))}.")


def _with_aliases(current: list[str], *more: str) -> list[str]:
    """Aliases in order, without repeats (case-insensitive)."""
    seen: set[str] = set()
    kept: list[str] = []
    for alias in [*current, *more]:
        if alias and alias.strip() and alias.casefold() not in seen:
            seen.add(alias.casefold())
            kept.append(alias.strip())
    return kept


def flag_open_cases(session: Session, agency_id: str) -> int:
    """Flag the open cases a body holds for re-routing; how many."""
    result = session.execute(
        update(Complaint)
        .where(Complaint.agency_id == agency_id, Complaint.status.in_([s.value for s in OPEN_STATUSES]))
        .values(needs_rerouting=True)
    )
    return result.rowcount or 0


@router.post("", response_model=AgencyAdminOut, status_code=201, summary="Tambah instansi (admin)",
             responses=problem_responses(401, 403, 409, 422))
def create_agency(body: AgencyCreate, caller: AdminDep, session: SessionDep) -> AgencyAdminOut:
    if session.get(Agency, body.id) is not None:
        raise Problem(409, f"Instansi {body.id} sudah ada.")
    if body.parent_id is not None and get_agency_ref(session, body.parent_id) is None:
        raise Problem(422, f"Induk {body.parent_id} tidak ada di direktori atau tidak aktif.")
    timezone = body.timezone or zone_for_region(body.region_code)
    _check_timezone(timezone)
    agency = Agency(id=body.id, name=body.name, kind=body.kind.value, region_code=body.region_code,
                    timezone=timezone, parent_id=body.parent_id, active=True,
                    aliases=_with_aliases([], *body.aliases))
    session.add(agency)
    session.commit()
    return admin_out(_active_agency(session, body.id))


@router.patch("/{agency_id}", response_model=AgencyAdminOut, summary="Ubah nama/alias/zona instansi (admin)",
              responses=problem_responses(401, 403, 404, 422))
def update_agency(agency_id: str, body: AgencyUpdate, caller: AdminDep, session: SessionDep) -> AgencyAdminOut:
    agency = _active_agency(session, agency_id)
    aliases = list(agency.aliases or []) if body.aliases is None else _with_aliases([], *body.aliases)
    if body.name is not None and body.name != agency.name:
        aliases = _with_aliases(aliases, agency.name)  # the old name stays findable
        agency.name = body.name
    agency.aliases = [a for a in aliases if a.casefold() != agency.name.casefold()]
    if body.timezone is not None:
        _check_timezone(body.timezone)
        agency.timezone = body.timezone
    session.commit()
    return admin_out(_active_agency(session, agency_id))


@router.post("/{agency_id}/merge", response_model=AgencyChange, summary="Gabungkan instansi ke instansi lain (admin)",
             responses=problem_responses(401, 403, 404, 422))
def merge_agency(agency_id: str, body: AgencyMerge, caller: AdminDep, session: SessionDep) -> AgencyChange:
    if body.into == agency_id:
        raise Problem(422, "Instansi tidak dapat digabungkan ke dirinya sendiri.")
    merged = _active_agency(session, agency_id)
    target = _active_agency(session, body.into)
    target.aliases = _with_aliases(list(target.aliases or []), merged.name, *(merged.aliases or []))
    merged.aliases = []
    # Units keep their ids (cases and tokens refer to them); only their body changes.
    session.execute(update(AgencyUnit).where(AgencyUnit.agency_id == agency_id).values(agency_id=body.into))
    session.execute(update(Agency).where(Agency.parent_id == agency_id).values(parent_id=body.into))
    merged.active = False
    flagged = flag_open_cases(session, agency_id)
    session.commit()
    session.expire_all()
    return AgencyChange(agency=admin_out(_active_agency(session, body.into)), flagged_cases=flagged)


@router.post("/{agency_id}/deactivate", response_model=AgencyChange, summary="Nonaktifkan instansi (admin)",
             responses=problem_responses(401, 403, 404))
def deactivate_agency(agency_id: str, caller: AdminDep, session: SessionDep) -> AgencyChange:
    agency = _active_agency(session, agency_id)
    agency.active = False
    flagged = flag_open_cases(session, agency_id)
    session.commit()
    session.expire_all()
    agency = get_agency(session, agency_id)
    assert agency is not None
    return AgencyChange(agency=admin_out(agency), flagged_cases=flagged)
