"""The directory's edits, shared by the JSON API (api/routes/agencies.py) and the portal's pages.

Edits never lose a case. A body deactivated, or merged into another, stops accepting new cases
(verification's accept answers 422 for an inactive body) and its open cases are flagged
`needs_rerouting` in the read model (GET /v1/complaints?needs_rerouting=true) for the verifying
administrator; the projection keeps the flag until the case is accepted to another body or closes
(activities/records.py). A rename keeps the old name as an alias, so routing and search still know
it; a merge moves the merged body's name, aliases, units and child bodies to the one it joins.
"""

from __future__ import annotations


from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy import update
from sqlalchemy.orm import Session

from api.auth import Caller
from api.problems import Problem
from api.schemas import AgencyOut, UnitOut, with_example
from db.directory import check_region_code, get_agency, get_agency_ref
from db.models import Agency, AgencyKind, AgencyUnit, Complaint
from domain.calendar import ZONES, zone_for_region
from domain.enums import OPEN_STATUSES, Role
from domain.table_import import RowError, Table, TableRefused, read_table, slug_problem
from domain.text import line


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
        parent_id=agency.parent_id,
        units=[UnitOut(id=u.id, name=u.name, kind=u.kind) for u in agency.units if u.active],
    )


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


def create_agency(body: AgencyCreate, caller: Caller, session: Session) -> AgencyAdminOut:
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


def update_agency(agency_id: str, body: AgencyUpdate, caller: Caller, session: Session) -> AgencyAdminOut:
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


def merge_agency(agency_id: str, body: AgencyMerge, caller: Caller, session: Session) -> AgencyChange:
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


def deactivate_agency(agency_id: str, caller: Caller, session: Session) -> AgencyChange:
    agency = _active_agency(session, agency_id)
    agency.active = False
    flagged = flag_open_cases(session, agency_id)
    session.commit()
    session.expire_all()
    agency = get_agency(session, agency_id)
    assert agency is not None
    return AgencyChange(agency=admin_out(agency), flagged_cases=flagged)


# --- units: a body's own departments, sub-district and village offices ---------------------------
# Managed by the body's own agency admins and by administrators. Like bodies, units are never
# deleted: a deactivated or merged unit takes no new disposition, is no longer suggested, and the
# open cases disposed to it are flagged `needs_redisposition` (GET /v1/complaints?needs_redisposition=true)
# until they are disposed to another unit or close.

UNIT_SLUG = r"^[a-z0-9][a-z0-9._-]{0,63}$"

MAX_UNIT_IMPORT_ROWS = 2000


class UnitCreate(BaseModel):
    model_config = with_example({"slug": "kel-menteng", "name": "Kelurahan Menteng", "kind": "kelurahan"})

    slug: str = Field(pattern=UNIT_SLUG, description="Bagian id unit setelah `<agency_id>/`.")
    name: line(300, min_length=3)
    kind: str = Field(default="unit", pattern=r"^[a-z_]{2,40}$", examples=["dinas", "kecamatan", "kelurahan"])


class UnitUpdate(BaseModel):
    model_config = with_example({"name": "Dinas Lingkungan Hidup dan Pertamanan"})

    name: line(300, min_length=3)


class UnitMerge(BaseModel):
    model_config = with_example({"into": "pupr"})

    into: str = Field(pattern=UNIT_SLUG, description="Slug unit yang menerima (unit instansi yang sama, tetap aktif).")


class UnitAdminOut(UnitOut):
    active: bool
    merged_into: str | None = None


class UnitChange(BaseModel):
    unit: UnitAdminOut = Field(description="Unit yang dinonaktifkan atau digabungkan.")
    flagged_cases: int = Field(description="Laporan terbuka yang ditandai needs_redisposition oleh perubahan ini.")


class UnitImportResult(BaseModel):
    created: int
    renamed: int
    unchanged: int


def managed_agency(session: Session, agency_id: str, caller: Caller) -> Agency:
    """The body whose units the caller may manage: any for an administrator, their own for an agency admin."""
    if caller.role == Role.AGENCY_ADMIN and caller.agency_id != agency_id:
        raise Problem(403, "Admin instansi hanya mengelola unit instansinya sendiri.")
    return _active_agency(session, agency_id)


class RoutingTermsOut(BaseModel):
    agency_id: str
    routes: list[str] = Field(description="The name and aliases the router matches in a complaint's text: each sends "
                                          "complaints naming it to this body (an alias alone ranks below the region's "
                                          "own government when that region's decisions disagree).")
    ignored: list[str] = Field(description="Aliases too short or too ordinary a word to match (only for search).")


def routing_terms(agency: Agency) -> RoutingTermsOut:
    """Which of a body's name and aliases route complaints to it (activities/routing.py's terms)."""
    from activities.routing import DirectoryEntry

    entry = DirectoryEntry(id=agency.id, name=agency.name, kind=agency.kind, aliases=tuple(agency.aliases or ()))
    routes = [term for _, term in entry.terms]
    return RoutingTermsOut(agency_id=agency.id, routes=routes,
                           ignored=[a for a in (agency.name, *(agency.aliases or ())) if a not in routes])


def _unit(session: Session, agency_id: str, slug: str, *, active: bool = True) -> AgencyUnit:
    unit = session.get(AgencyUnit, f"{agency_id}/{slug}")
    if unit is None or unit.agency_id != agency_id or (active and not unit.active):
        raise Problem(404, f"Unit {agency_id}/{slug} tidak ditemukan atau tidak aktif.")
    return unit


def unit_out(unit: AgencyUnit) -> UnitAdminOut:
    return UnitAdminOut(id=unit.id, name=unit.name, kind=unit.kind, active=unit.active, merged_into=unit.merged_into)


def flag_unit_cases(session: Session, unit_id: str) -> int:
    """Flag the open cases disposed to a unit for a new disposition; how many."""
    result = session.execute(
        update(Complaint)
        .where(Complaint.unit_id == unit_id, Complaint.status.in_([s.value for s in OPEN_STATUSES]))
        .values(needs_redisposition=True)
    )
    return result.rowcount or 0


def list_units(agency_id: str, caller: Caller, session: Session) -> list[UnitAdminOut]:
    agency = managed_agency(session, agency_id, caller)
    return [unit_out(u) for u in agency.units]


def create_unit(agency_id: str, body: UnitCreate, caller: Caller, session: Session) -> UnitAdminOut:
    managed_agency(session, agency_id, caller)
    unit_id = f"{agency_id}/{body.slug}"
    if session.get(AgencyUnit, unit_id) is not None:
        raise Problem(409, f"Unit {unit_id} sudah ada.")
    unit = AgencyUnit(id=unit_id, agency_id=agency_id, name=body.name, kind=body.kind, active=True)
    session.add(unit)
    session.commit()
    return unit_out(unit)


def rename_unit(agency_id: str, slug: str, body: UnitUpdate, caller: Caller, session: Session) -> UnitAdminOut:
    managed_agency(session, agency_id, caller)
    unit = _unit(session, agency_id, slug)
    unit.name = body.name
    session.commit()
    return unit_out(unit)


def merge_unit(agency_id: str, slug: str, body: UnitMerge, caller: Caller, session: Session) -> UnitChange:
    managed_agency(session, agency_id, caller)
    if body.into == slug:
        raise Problem(422, "Unit tidak dapat digabungkan ke dirinya sendiri.")
    unit = _unit(session, agency_id, slug)
    target = _unit(session, agency_id, body.into)
    unit.active, unit.merged_into = False, target.id
    flagged = flag_unit_cases(session, unit.id)
    session.commit()
    return UnitChange(unit=unit_out(unit), flagged_cases=flagged)


def deactivate_unit(agency_id: str, slug: str, caller: Caller, session: Session) -> UnitChange:
    managed_agency(session, agency_id, caller)
    unit = _unit(session, agency_id, slug)
    unit.active = False
    flagged = flag_unit_cases(session, unit.id)
    session.commit()
    return UnitChange(unit=unit_out(unit), flagged_cases=flagged)


def import_refused(refused: TableRefused) -> Problem:
    """An import's errors as a problem: the total in the detail, every error with its row."""
    return Problem(422, refused.report()[:4000], total=len(refused.errors),
                   errors=[{"row": e.row, "column": e.column, "message": e.message} for e in refused.errors])


def parse_unit_csv(content: str, *, delimiter: str | None = None, strip_control_characters: bool = False) -> Table:
    """The rows (with their line in the file) of a `slug,name[,kind]` CSV, the delimiter detected
    unless named; its cell errors go with it to `apply_unit_import`, reported with the others."""
    try:
        return read_table(content, required=("slug", "name"), optional=("kind",), delimiter=delimiter,
                          strip_control_characters=strip_control_characters, max_rows=MAX_UNIT_IMPORT_ROWS)
    except TableRefused as refused:
        raise import_refused(refused) from refused


def apply_unit_import(session: Session, agency_id: str, caller: Caller,
                      rows: Table | list[dict[str, str]]) -> UnitImportResult:
    """Create the new units and rename the existing ones, all or none (every row checked first;
    every error reported with its row)."""
    managed_agency(session, agency_id, caller)
    if isinstance(rows, Table):
        numbered, errors = rows.rows, list(rows.errors)
    else:
        numbered, errors = list(enumerate(rows, start=1)), []
    units, seen, unreadable = [], {}, {e.row for e in errors}
    for n, row in numbered:
        if n in unreadable:
            continue  # its cell error is reported already
        slug = (row.get("slug") or "").strip()
        if (problem := slug_problem(slug, UNIT_SLUG)) is not None:
            errors.append(RowError(n, problem, "slug"))
            continue
        try:
            unit = UnitCreate(slug=slug, name=(row.get("name") or "").strip(), kind=(row.get("kind") or "").strip() or "unit")
        except ValidationError as error:
            errors += [RowError(n, e["msg"], ".".join(map(str, e["loc"]))) for e in error.errors()]
            continue
        if unit.slug in seen:
            errors.append(RowError(n, f"slug {unit.slug} berulang (sudah di baris {seen[unit.slug]})", "slug"))
        seen.setdefault(unit.slug, n)
        units.append(unit)
    if errors:
        raise import_refused(TableRefused(sorted(errors, key=lambda e: e.row or 0), "Tidak ada unit yang diimpor"))
    created = renamed = unchanged = 0
    for unit in units:
        existing = session.get(AgencyUnit, f"{agency_id}/{unit.slug}")
        if existing is None:
            session.add(AgencyUnit(id=f"{agency_id}/{unit.slug}", agency_id=agency_id, name=unit.name, kind=unit.kind,
                                   active=True))
            created += 1
        elif (existing.name, existing.kind, existing.active) != (unit.name, unit.kind, True):
            existing.name, existing.kind, existing.active, existing.merged_into = unit.name, unit.kind, True, None
            renamed += 1
        else:
            unchanged += 1
    session.commit()
    return UnitImportResult(created=created, renamed=renamed, unchanged=unchanged)
