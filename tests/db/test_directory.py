"""The seeded directory: every regional government with its units and zone, national bodies."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from db.directory import (
    directory_version,
    load_national_agencies,
    STANDARD_REGIONAL_UNITS,
    directory_seed,
    get_agency,
    get_agency_ref,
    list_agencies,
    seed_directory,
)
from db.migrate import prepare_database
from db.models import Agency, AgencyUnit, SeedVersion
from db.session import make_engine, make_sessionmaker
from domain.calendar import WIB, WIT, WITA, zone_for_region
from domain.models import AgencyRef

NATIONAL_BODIES = len(load_national_agencies())


def count(session: Session, *where) -> int:
    return session.scalar(select(func.count()).select_from(Agency).where(*where))


def test_every_province_regency_and_city_is_there(session: Session) -> None:
    assert count(session, Agency.kind == "province") == 38
    assert count(session, Agency.kind.in_(["regency", "city"])) == 514
    assert count(session, Agency.kind == "regency") == 416
    assert count(session, Agency.kind == "city") == 98


def test_each_regional_government_has_the_standard_units(session: Session) -> None:
    slugs = {unit.slug for unit in STANDARD_REGIONAL_UNITS}
    assert len(slugs) == 8
    regional = session.scalars(
        select(Agency).where(Agency.kind.in_(["province", "regency", "city"]))
    ).all()
    units_by_agency: dict[str, set[str]] = {}
    for unit in session.scalars(select(AgencyUnit)):
        units_by_agency.setdefault(unit.agency_id, set()).add(unit.id.split("/", 1)[1])
    for agency in regional:
        assert units_by_agency[agency.id] == slugs, agency.id


def test_names_parents_and_zones(session: Session) -> None:
    bali = get_agency(session, "pemprov-51")
    assert (bali.name, bali.timezone, bali.parent_id) == ("Pemerintah Provinsi Bali", WITA, None)
    assert get_agency(session, "pemprov-91").timezone == WIT  # Papua
    assert get_agency(session, "pemprov-11").timezone == WIB  # Aceh
    aceh_selatan = get_agency(session, "pemkab-11.01")
    assert aceh_selatan.name == "Pemerintah Kabupaten Aceh Selatan"
    assert (aceh_selatan.kind, aceh_selatan.region_code, aceh_selatan.parent_id) == (
        "regency",
        "11.01",
        "pemprov-11",
    )
    palangkaraya = get_agency(session, "pemkot-62.71")
    assert palangkaraya.name == "Pemerintah Kota Palangkaraya"
    assert (palangkaraya.kind, palangkaraya.parent_id, palangkaraya.timezone) == (
        "city",
        "pemprov-62",
        WIB,
    )
    assert "Kota Palangka Raya" in palangkaraya.aliases  # the official spelling
    assert get_agency(session, "pemprov-62").name == "Pemerintah Provinsi Kalimantan Tengah"
    assert get_agency(session, "pemkot-73.71").timezone == WITA  # Makassar
    assert get_agency(session, "pemkab-94.01").timezone == WIT  # Papua Tengah
    units = {unit.id: unit.name for unit in palangkaraya.units}
    assert units["pemkot-62.71/dinkes"] == "Dinas Kesehatan Kota Palangkaraya"


def test_zones_follow_the_province_everywhere(session: Session) -> None:
    wita = {51, 52, 53, 63, 64, 65, 71, 72, 73, 74, 75, 76}
    wit = {81, 82, 91, 92, 93, 94, 95, 96, 97}
    for agency in session.scalars(select(Agency).where(Agency.region_code.is_not(None))):
        province = int(agency.region_code.split(".")[0])
        expected = WITA if province in wita else WIT if province in wit else WIB
        assert agency.timezone == expected, agency.id


def test_national_bodies_are_in_wib_with_aliases(session: Session) -> None:
    kemenkes = get_agency(session, "kemenkes")
    assert (kemenkes.name, kemenkes.kind, kemenkes.timezone, kemenkes.region_code) == (
        "Kementerian Kesehatan",
        "ministry",
        WIB,
        None,
    )
    bpjs = get_agency(session, "bpjs-kesehatan")
    assert "Badan Penyelenggara Jaminan Sosial Kesehatan" in bpjs.aliases
    assert get_agency(session, "pln").kind == "state_company"
    assert {unit.id for unit in get_agency(session, "kemenkeu").units} == {
        "kemenkeu/djp",
        "kemenkeu/djbc",
    }
    national = session.scalars(select(Agency).where(Agency.region_code.is_(None))).all()
    assert len(national) >= 25
    # National bodies work in WIB; a state university in the zone of its region.
    assert all(
        agency.timezone == (zone_for_region(agency.region_code) if agency.region_code else WIB)
        and agency.aliases
        for agency in national
    )


def snapshot(session: Session) -> tuple[list[tuple], list[tuple]]:
    agencies = session.execute(
        select(
            Agency.id,
            Agency.name,
            Agency.kind,
            Agency.region_code,
            Agency.timezone,
            Agency.parent_id,
            Agency.active,
            Agency.aliases,
        ).order_by(Agency.id)
    ).all()
    units = session.execute(
        select(AgencyUnit.id, AgencyUnit.agency_id, AgencyUnit.name, AgencyUnit.kind).order_by(
            AgencyUnit.id
        )
    ).all()
    return [tuple(row) for row in agencies], [tuple(row) for row in units]


def test_seeding_again_changes_nothing(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        before = snapshot(session)
    with sessions.begin() as session:
        assert seed_directory(session) == len(directory_seed())
    with sessions() as session:
        assert snapshot(session) == before
        assert len(before[0]) == 38 + 514 + NATIONAL_BODIES
        assert len(before[1]) == sum(len(seed.units) for seed in directory_seed())
        assert sum(len(seed.units) for seed in directory_seed() if seed.region_code) >= (38 + 514) * 8


def test_reseeding_keeps_an_administrators_deactivation(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        session.get_one(Agency, "pemkab-11.02").active = False
    try:
        with sessions.begin() as session:
            seed_directory(session)
        with sessions() as session:
            assert session.get_one(Agency, "pemkab-11.02").active is False
            assert get_agency_ref(session, "pemkab-11.02") is None
            assert "pemkab-11.02" not in {
                a.id for a in list_agencies(session, region_code="11", limit=100)
            }
    finally:
        with sessions.begin() as session:
            session.get_one(Agency, "pemkab-11.02").active = True


def test_agency_ref_for_the_workflow(session: Session) -> None:
    assert get_agency_ref(session, "pemprov-51") == AgencyRef(
        id="pemprov-51", name="Pemerintah Provinsi Bali", timezone=WITA
    )
    assert get_agency_ref(session, "no-such-body") is None


def test_list_filters_and_pages(session: Session) -> None:
    assert [a.id for a in list_agencies(session, q="bpjs")] == [
        "bpjs-kesehatan",
        "bpjs-ketenagakerjaan",
    ]
    # Words match the name or an alias, case-insensitively, all of them.
    assert [a.id for a in list_agencies(session, q="KESEHATAN bpjs")] == ["bpjs-kesehatan"]
    assert [a.id for a in list_agencies(session, q="Badan Pertanahan Nasional")] == ["atr-bpn"]
    assert [a.id for a in list_agencies(session, q="100%")] == []  # LIKE wildcards are literal

    kalteng = list_agencies(session, region_code="62", limit=100)
    assert len([a for a in kalteng if a.kind != "university"]) == 1 + 14
    assert {a.kind for a in kalteng} == {"province", "regency", "city", "university"}
    assert [a.id for a in list_agencies(session, region_code="62.71")] == ["pemkot-62.71", "upr"]

    ministries = list_agencies(session, kind="ministry", limit=100)
    assert ministries and all(a.kind == "ministry" for a in ministries)

    first = list_agencies(session, kind="province", limit=20)
    second = list_agencies(session, kind="province", limit=20, after_id=first[-1].id)
    ids = [a.id for a in first + second]
    assert len(ids) == 38 and ids == sorted(set(ids))
    assert all(len(a.units) == 8 for a in first)


def test_a_newer_shipped_directory_adds_what_is_missing_and_keeps_administrators_edits(
    new_database_url,
) -> None:
    """The directory is versioned data: loaded at start when the shipped version changes."""
    url = new_database_url()
    prepare_database(url)
    sessions = make_sessionmaker(make_engine(url))
    with sessions() as session:
        assert session.get_one(SeedVersion, "directory").version == directory_version()
    # A database loaded with an older directory that lacked a body, whose administrator renamed another.
    with sessions.begin() as session:
        session.delete(session.get_one(Agency, "bpjs-kesehatan"))
        session.get_one(Agency, "pemprov-62").name = "Pemprov Kalteng (nama dari admin)"
    prepare_database(url)  # same shipped version: nothing reloaded
    with sessions() as session:
        assert session.get(Agency, "bpjs-kesehatan") is None
    with sessions.begin() as session:
        session.get_one(SeedVersion, "directory").version = "older"
    prepare_database(url)
    with sessions() as session:
        restored = session.get_one(Agency, "bpjs-kesehatan")
        assert restored.active and restored.units  # the body and its branches are back
        assert session.get_one(Agency, "pemprov-62").name == "Pemprov Kalteng (nama dari admin)"
        assert session.get_one(SeedVersion, "directory").version == directory_version()
