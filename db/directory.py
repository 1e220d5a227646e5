"""The directory of bodies a complaint can reach: seeding and lookups.

Regional governments (38 provinces, 514 regencies and cities) come from db/seed/regions.csv, each
with the standard regional units; national bodies from db/seed/national.json. Seeding is an
upsert by id, so loading twice changes nothing and a longer seed list simply adds rows.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import String, cast, exists, or_, select
from sqlalchemy.orm import Session, selectinload

from db.models import Agency, AgencyKind, AgencyUnit, SeedVersion, utc_now
from db.upsert import dialect_insert
from domain.calendar import NATIONAL_ZONE, zone_for_region
from domain.models import AgencyRef
from domain.regions import Gazetteer, Place

SEED_DIR = Path(__file__).resolve().parent / "seed"
REGIONS_CSV = SEED_DIR / "regions.csv"
NATIONAL_JSON = SEED_DIR / "national.json"
DISTRICTS_CSV = SEED_DIR / "districts.csv"
LAPOR_ALIASES_CSV = SEED_DIR / "lapor2017_aliases.csv"

DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True)
class StandardUnit:
    slug: str
    name: str
    # Other spellings seen in complaints; routing uses them to pick the unit.
    aliases: tuple[str, ...] = ()


# Every regional government has these (ARCHITECTURE.md, "Directory").
STANDARD_REGIONAL_UNITS: tuple[StandardUnit, ...] = (
    StandardUnit("dinkes", "Dinas Kesehatan", ("Dinkes",)),
    StandardUnit("disdik", "Dinas Pendidikan", ("Disdik",)),
    StandardUnit("dishub", "Dinas Perhubungan", ("Dishub", "Suku Dinas Perhubungan")),
    StandardUnit(
        "pupr",
        "Dinas Pekerjaan Umum dan Penataan Ruang",
        (
            "Dinas PUPR",
            "DPUPR",
            "Dinas Pekerjaan Umum",
            "Dinas PU",
            "Pekerjaan Umum dan Penataan Ruang",
        ),
    ),
    StandardUnit(
        "dukcapil",
        "Dinas Kependudukan dan Pencatatan Sipil",
        ("Disdukcapil", "Dukcapil", "Dispendukcapil"),
    ),
    StandardUnit("dinsos", "Dinas Sosial", ("Dinsos",)),
    StandardUnit("dlh", "Dinas Lingkungan Hidup", ("DLH",)),
    StandardUnit("satpolpp", "Satuan Polisi Pamong Praja", ("Satpol PP",)),
)

# Names in common use that the generated aliases miss (official spellings the data source
# writes differently, abbreviations).
_EXTRA_ALIASES: dict[str, tuple[str, ...]] = {
    "11": ("Pemerintah Aceh",),
    "31": ("DKI Jakarta", "Provinsi DKI Jakarta", "Pemprov DKI", "Pemprov DKI Jakarta"),
    "34": ("DIY", "Pemda DIY", "Provinsi DIY"),
    "62.71": ("Kota Palangka Raya", "Pemkot Palangka Raya"),
}


@dataclass(frozen=True)
class UnitSeed:
    slug: str
    name: str
    kind: str


@dataclass(frozen=True)
class AgencySeed:
    id: str
    name: str
    kind: AgencyKind
    timezone: str
    region_code: str | None = None
    parent_id: str | None = None
    aliases: tuple[str, ...] = ()
    units: tuple[UnitSeed, ...] = field(default=())
    offices: str | None = None  # a national body's vertical offices (domain/region_rule.py)


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    level: int


def load_regions(path: Path = REGIONS_CSV) -> list[Region]:
    with path.open(newline="", encoding="utf-8") as file:
        return [
            Region(row["code"], row["name"].strip(), int(row["level"]))
            for row in csv.DictReader(file)
        ]


@lru_cache(maxsize=1)
def _region_codes() -> frozenset[str]:
    return frozenset(r.code for path in (REGIONS_CSV, DISTRICTS_CSV) for r in load_regions(path))


def check_region_code(code: str | None) -> None:
    """Refuse (ValueError) a region code outside the 38 provinces and the regencies, cities and
    districts under them (a village code counts by its district: villages are not in the seed)."""
    if not code:
        return
    zone_for_region(code)  # one of the 38 provinces
    parts = code.split(".")
    known = ".".join(parts[:3])
    if len(parts) > 1 and known not in _region_codes():
        raise ValueError(f"wilayah {known} tidak ada di provinsi {parts[0]}")


def _strip_prefixes(name: str, *prefixes: str) -> str:
    for prefix in prefixes:
        name = name.removeprefix(prefix)
    return name


def _unique(aliases: Iterable[str], name: str) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for alias in aliases:
        if alias.casefold() != name.casefold():
            seen.setdefault(alias.casefold(), alias)
    return tuple(seen.values())


def regional_agency(region: Region) -> AgencySeed:
    """The government of one province, regency or city, named as it names itself."""
    if region.level == 1:
        label = f"Provinsi {region.name}"
        agency_id, kind, parent_id = f"pemprov-{region.code}", AgencyKind.PROVINCE, None
        aliases = [label, f"Pemprov {region.name}"]
    elif region.name.startswith("Kabupaten "):
        label = region.name  # "Kabupaten Aceh Selatan", "Kabupaten Administrasi Kepulauan Seribu"
        base = _strip_prefixes(region.name, "Kabupaten ", "Administrasi ")
        agency_id, kind = f"pemkab-{region.code}", AgencyKind.REGENCY
        parent_id = f"pemprov-{region.code.split('.')[0]}"
        aliases = [
            label,
            f"Kabupaten {base}",
            f"Kab. {base}",
            f"Pemkab {base}",
            f"Pemerintah Kabupaten {base}",
        ]
    elif region.name.startswith("Kota "):
        label = region.name  # "Kota Palangkaraya", "Kota Administrasi Jakarta Pusat"
        base = _strip_prefixes(region.name, "Kota ", "Administrasi ")
        agency_id, kind = f"pemkot-{region.code}", AgencyKind.CITY
        parent_id = f"pemprov-{region.code.split('.')[0]}"
        aliases = [label, f"Kota {base}", f"Pemkot {base}", f"Pemerintah Kota {base}"]
    else:
        raise ValueError(f"region {region.code} {region.name!r} is neither a Kabupaten nor a Kota")
    name = f"Pemerintah {label}"
    aliases += _EXTRA_ALIASES.get(region.code, ())
    units = tuple(
        UnitSeed(unit.slug, f"{unit.name} {label}", unit.slug) for unit in STANDARD_REGIONAL_UNITS
    )
    return AgencySeed(
        id=agency_id,
        name=name,
        kind=kind,
        timezone=zone_for_region(region.code),
        region_code=region.code,
        parent_id=parent_id,
        aliases=_unique(aliases, name),
        units=units,
    )


def load_national_agencies(path: Path = NATIONAL_JSON) -> list[AgencySeed]:
    entries: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["agencies"]
    return [
        AgencySeed(
            id=entry["id"],
            name=entry["name"],
            kind=AgencyKind(entry["kind"]),
            timezone=entry.get("timezone")
            or (zone_for_region(entry["region_code"]) if entry.get("region_code") else NATIONAL_ZONE),
            region_code=entry.get("region_code"),
            parent_id=entry.get("parent_id"),
            aliases=_unique(entry.get("aliases", ()), entry["name"]),
            units=tuple(
                UnitSeed(u["slug"], u["name"], u.get("kind", "unit"))
                for u in entry.get("units", ())
            ),
            offices=entry.get("offices"),
        )
        for entry in entries
    ]


@lru_cache(maxsize=1)
def national_offices() -> dict[str, str]:
    """Which national bodies have a vertical office in every regency or province (by id)."""
    return {seed.id: seed.offices for seed in load_national_agencies() if seed.offices}


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    """Provinces, regencies/cities and districts (kecamatan) for region resolution."""
    places = [Place(r.code, r.name, r.level) for r in load_regions()]
    places += [Place(r.code, r.name, r.level) for r in load_regions(DISTRICTS_CSV)]
    return Gazetteer(places)


def load_lapor_aliases(path: Path = LAPOR_ALIASES_CSV) -> list[dict[str, str]]:
    """The real names of LAPOR! 2017 (data/lapor2017_agencies.csv), each mapped to a body and
    sometimes a unit (see db/seed/README.md). Rows without an agency_id name no single body."""
    with path.open(newline="", encoding="utf-8") as file:
        return [row for row in csv.DictReader(file) if row["agency_id"]]


def _with_lapor_names(seeds: list[AgencySeed]) -> list[AgencySeed]:
    """Add the LAPOR! 2017 names as aliases (those specific enough to match in text) and the
    branch units they name (BPJS branches, immigration offices, regional offices)."""
    aliases: dict[str, list[str]] = {}
    units: dict[str, dict[str, str]] = {}
    for row in load_lapor_aliases():
        if row["match_in_text"] == "yes":
            aliases.setdefault(row["agency_id"], []).append(row["name"])
        if row["unit_slug"]:
            units.setdefault(row["agency_id"], {}).setdefault(row["unit_slug"], row["name"])
    out = []
    for seed in seeds:
        known = {unit.slug for unit in seed.units}
        extra = tuple(
            UnitSeed(slug, name, "branch")
            for slug, name in sorted(units.get(seed.id, {}).items())
            if slug not in known
        )
        out.append(
            AgencySeed(
                id=seed.id,
                name=seed.name,
                kind=seed.kind,
                timezone=seed.timezone,
                region_code=seed.region_code,
                parent_id=seed.parent_id,
                aliases=_unique((*seed.aliases, *aliases.get(seed.id, ())), seed.name),
                units=seed.units + extra,
                offices=seed.offices,
            )
        )
    return out


@lru_cache(maxsize=1)
def directory_seed() -> tuple[AgencySeed, ...]:
    """Every seeded body, parents before children (foreign keys are checked per row)."""
    regional = [regional_agency(region) for region in load_regions() if region.level in (1, 2)]
    regional.sort(key=lambda seed: (seed.kind != AgencyKind.PROVINCE, seed.id))
    national = load_national_agencies()
    national.sort(key=lambda seed: seed.parent_id is not None)
    seeds = tuple(_with_lapor_names([*regional, *national]))
    ids = [seed.id for seed in seeds]
    if len(ids) != len(set(ids)):
        raise ValueError("duplicate agency ids in the directory seed")
    return seeds


@lru_cache(maxsize=1)
def directory_version() -> str:
    """The version of the shipped directory: a digest of its seed files."""
    digest = hashlib.sha256()
    for path in sorted(SEED_DIR.glob("*.csv")) + sorted(SEED_DIR.glob("*.json")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def load_directory(session: Session) -> bool:
    """Bring the directory up to the shipped version; False when it already is. The caller commits.

    An empty directory is seeded whole. A newer shipped version adds the bodies and units it does
    not have yet and leaves existing rows alone: their names, aliases and `active` may be an
    administrator's edits (rename, merge, deactivate).
    """
    current = directory_version()
    stored = session.get(SeedVersion, "directory")
    if stored is not None and stored.version == current and not directory_is_empty(session):
        return False
    seed_directory(session, keep_existing=not directory_is_empty(session))
    if stored is None:
        session.add(SeedVersion(name="directory", version=current))
    else:
        stored.version, stored.loaded_at = current, utc_now()
    return True


def directory_is_empty(session: Session) -> bool:
    return not session.scalar(select(exists().where(Agency.id.is_not(None))))


def seed_directory(
    session: Session, seeds: Sequence[AgencySeed] | None = None, *, keep_existing: bool = False
) -> int:
    """Upsert the seeded bodies and their units by id; returns how many bodies. The caller commits.

    `active` is left alone on existing rows: deactivating a body is an administrator's decision.
    With `keep_existing`, existing rows are not touched at all (only new ones are added).
    """
    seeds = directory_seed() if seeds is None else seeds
    agency_rows = [
        {
            "id": seed.id,
            "name": seed.name,
            "kind": seed.kind.value,
            "region_code": seed.region_code,
            "timezone": seed.timezone,
            "parent_id": seed.parent_id,
            "active": True,
            "aliases": list(seed.aliases),
        }
        for seed in seeds
    ]
    unit_rows = [
        {"id": f"{seed.id}/{unit.slug}", "agency_id": seed.id, "name": unit.name, "kind": unit.kind}
        for seed in seeds
        for unit in seed.units
    ]
    _upsert(
        session,
        Agency,
        agency_rows,
        () if keep_existing else ("name", "kind", "region_code", "timezone", "parent_id", "aliases"),
    )
    _upsert(session, AgencyUnit, unit_rows, () if keep_existing else ("agency_id", "name", "kind"))
    return len(agency_rows)


def _upsert(
    session: Session,
    model: type[Agency] | type[AgencyUnit],
    rows: list[dict[str, Any]],
    updated: tuple[str, ...],
) -> None:
    if not rows:
        return
    statement = dialect_insert(session, model.__table__)
    if updated:
        statement = statement.on_conflict_do_update(
            index_elements=["id"], set_={column: statement.excluded[column] for column in updated}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=["id"])
    session.execute(statement, rows)


# --- lookups ------------------------------------------------------------------------------


def get_agency(session: Session, agency_id: str) -> Agency | None:
    """One body with its units, active or not."""
    return session.scalar(
        select(Agency).options(selectinload(Agency.units)).where(Agency.id == agency_id)
    )


def get_agency_ref(session: Session, agency_id: str) -> AgencyRef | None:
    """What the workflow needs about an active body, or None if unknown or inactive."""
    row = session.execute(
        select(Agency.id, Agency.name, Agency.timezone).where(Agency.id == agency_id, Agency.active)
    ).first()
    return AgencyRef(id=row.id, name=row.name, timezone=row.timezone) if row else None


def list_agencies(
    session: Session,
    *,
    q: str | None = None,
    kind: str | None = None,
    region_code: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
    after_id: str | None = None,
    active_only: bool = True,
) -> list[Agency]:
    """Bodies ordered by id, one page after `after_id` (keyset pagination), with their units.

    `q`: every word must appear in the name or an alias (case-insensitive). `region_code`: the
    region's own government and those inside it ("62" gives the province and its regencies).
    """
    statement = select(Agency).options(selectinload(Agency.units)).order_by(Agency.id).limit(limit)
    if active_only:
        statement = statement.where(Agency.active)
    if kind:
        statement = statement.where(Agency.kind == kind)
    if region_code:
        statement = statement.where(
            or_(
                Agency.region_code == region_code,
                Agency.region_code.startswith(f"{region_code}.", autoescape=True),
            )
        )
    for word in (q or "").split():
        needle = word.lower()
        statement = statement.where(
            or_(
                Agency.name.icontains(needle, autoescape=True),
                cast(Agency.aliases, String).icontains(needle, autoescape=True),
            )
        )
    if after_id is not None:
        statement = statement.where(Agency.id > after_id)
    return list(session.scalars(statement))
