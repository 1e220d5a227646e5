"""Routing suggestions: the pure ranking on small data, then the activity on the seeded data."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from activities.routing import DirectoryEntry, RoutingActivities, normalize, rank_agencies
from domain.models import SuggestionRequest

DIRECTORY = [
    DirectoryEntry(
        "bpjs-kesehatan",
        "BPJS Kesehatan",
        "agency",
        None,
        ("Badan Penyelenggara Jaminan Sosial Kesehatan",),
    ),
    DirectoryEntry(
        "pln", "PT PLN (Persero)", "state_company", None, ("PLN", "Perusahaan Listrik Negara")
    ),
    DirectoryEntry(
        "pemprov-62",
        "Pemerintah Provinsi Kalimantan Tengah",
        "province",
        "62",
        ("Provinsi Kalimantan Tengah",),
    ),
    DirectoryEntry(
        "pemkot-62.71",
        "Pemerintah Kota Palangkaraya",
        "city",
        "62.71",
        ("Kota Palangkaraya", "Kota Palangka Raya"),
    ),
    DirectoryEntry(
        "pemkab-32.04", "Pemerintah Kabupaten Bandung", "regency", "32.04", ("Kabupaten Bandung",)
    ),
    DirectoryEntry(
        "pemkab-32.17",
        "Pemerintah Kabupaten Bandung Barat",
        "regency",
        "32.17",
        ("Kabupaten Bandung Barat",),
    ),
]


def ask(text: str = "", **fields) -> SuggestionRequest:
    return SuggestionRequest(tracking_id="LAP-TEST", text=text, **fields)


def test_normalize_makes_whole_word_matching_punctuation_blind() -> None:
    assert normalize("PT  PLN (Persero)!") == " pt pln persero "
    assert " pln " in normalize("Listrik padam, PLN lambat.")
    assert " pln " not in normalize("Saya ke Palangkaraya")


def test_the_text_naming_a_body_puts_it_first() -> None:
    [top, *_] = rank_agencies(DIRECTORY, ask("Kartu bpjs kesehatan saya ditolak rumah sakit"))
    assert (top.agency_id, top.reason) == ("bpjs-kesehatan", "menyebut BPJS Kesehatan")
    assert 0 < top.score <= 1


def test_aliases_match_only_whole_words() -> None:
    assert (
        rank_agencies(DIRECTORY, ask("Tagihan listrik dari Perusahaan Listrik Negara naik"))[
            0
        ].agency_id
        == "pln"
    )
    assert rank_agencies(DIRECTORY, ask("Pelnya rusak, diplna?")) == []


def test_the_region_gives_its_regency_or_city_government() -> None:
    [top] = rank_agencies(DIRECTORY, ask("Jalan berlubang", region_code="62.71.01"))
    assert (top.agency_id, top.reason) == ("pemkot-62.71", "wilayah Kota Palangkaraya")
    [top] = rank_agencies(DIRECTORY, ask("Jalan berlubang", region_code="62"))
    assert (top.agency_id, top.reason) == ("pemprov-62", "wilayah Provinsi Kalimantan Tengah")
    # An unknown regency falls back to its province.
    [top] = rank_agencies(DIRECTORY, ask("Jalan berlubang", region_code="62.99"))
    assert top.agency_id == "pemprov-62"


def test_the_reporters_choice_weighs_most_and_evidence_adds_up() -> None:
    ranked = rank_agencies(
        DIRECTORY, ask("Lampu jalan mati", region_code="62.71", agency_hint="pln")
    )
    assert [s.agency_id for s in ranked] == ["pln", "pemkot-62.71"]
    assert ranked[0].reason == "dipilih pelapor: PT PLN (Persero)"
    hinted = rank_agencies(
        DIRECTORY, ask("Lampu jalan mati", agency_hint="Perusahaan Listrik Negara")
    )[0]
    assert (hinted.agency_id, hinted.reason) == (
        "pln",
        "ditujukan pelapor ke Perusahaan Listrik Negara",
    )
    both = rank_agencies(
        DIRECTORY, ask("Dinas di Kota Palangka Raya diam saja", region_code="62.71")
    )[0]
    alone = rank_agencies(DIRECTORY, ask("Jalan berlubang", region_code="62.71"))[0]
    assert both.agency_id == alone.agency_id == "pemkot-62.71"
    assert alone.score < both.score <= 1
    assert both.reason == "menyebut Kota Palangka Raya; wilayah Kota Palangkaraya"


def test_a_longer_name_wins_over_the_name_it_contains() -> None:
    ranked = rank_agencies(DIRECTORY, ask("Jalan provinsi di Kabupaten Bandung Barat rusak"))
    assert [s.agency_id for s in ranked] == ["pemkab-32.17"]


def test_a_named_regional_unit_is_suggested_with_its_government_when_it_has_that_unit() -> None:
    import dataclasses

    with_units = [dataclasses.replace(e, units=(("pemkot-62.71/dinkes", "Dinas Kesehatan Kota Palangkaraya"),))
                  if e.id == "pemkot-62.71" else e for e in DIRECTORY]
    [top] = rank_agencies(with_units, ask("Dinas Kesehatan tidak menanggapi", region_code="62.71"))
    assert top.unit_id == "pemkot-62.71/dinkes"
    assert top.reason == "wilayah Kota Palangkaraya; menyebut Dinas Kesehatan"
    # A body without that unit (removed, or never had it): no unit is suggested (issue 22).
    [top] = rank_agencies(DIRECTORY, ask("Dinas Kesehatan tidak menanggapi", region_code="62.71"))
    assert top.unit_id is None and top.units == []


def test_excluded_bodies_are_never_suggested() -> None:
    ranked = rank_agencies(
        DIRECTORY,
        ask(
            "BPJS Kesehatan menolak",
            region_code="62.71",
            agency_hint="pln",
            exclude_agency_ids=["pln", "bpjs-kesehatan"],
        ),
    )
    assert [s.agency_id for s in ranked] == ["pemkot-62.71"]


def test_at_most_five_best_first() -> None:
    many = [DirectoryEntry(f"body-{i}", f"Badan Nomor {i}", "agency") for i in range(10)]
    text = " ".join(f"Badan Nomor {i}" for i in range(10))
    ranked = rank_agencies(many, ask(text))
    assert len(ranked) == 5
    assert [s.score for s in ranked] == sorted((s.score for s in ranked), reverse=True)


@pytest.fixture(scope="module")
def routing(sessions: sessionmaker[Session]) -> RoutingActivities:
    return RoutingActivities(sessions, model=None)


@pytest.mark.parametrize(
    ("text", "fields", "agency_id", "reason"),
    [
        (
            "Pelayanan BPJS Kesehatan KC Palangkaraya lambat sekali",
            {},
            "bpjs-kesehatan",
            "menyebut BPJS Kesehatan",
        ),
        (
            "Jalan di depan pasar berlubang",
            {"region_code": "62.71"},
            "pemkot-62.71",
            "wilayah Kota Palangkaraya",
        ),
        (
            "Jalan di depan pasar berlubang",
            {"region_code": "51"},
            "pemprov-51",
            "wilayah Provinsi Bali",
        ),
        (
            "Paspor saya belum jadi di Kantor Imigrasi",
            {},
            "kemenimipas",
            "menyebut Kantor Imigrasi",
        ),
        (
            "Listrik padam tiga hari",
            {"agency_hint": "pln", "region_code": "33.74"},
            "pln",
            "dipilih pelapor: PT PLN (Persero)",
        ),
        (
            "Sertifikat tanah tidak terbit",
            {"agency_hint": "Badan Pertanahan Nasional"},
            "atr-bpn",
            "ditujukan pelapor ke Badan Pertanahan Nasional",
        ),
        ("Dinas Pekerjaan Umum Kota Semarang tidak memperbaiki saluran", {}, "pemkot-33.74", None),
    ],
)
def test_the_seeded_directory_routes_real_looking_complaints(
    routing: RoutingActivities, text: str, fields: dict, agency_id: str, reason: str | None
) -> None:
    suggestions = routing.suggest_agencies(ask(text, **fields))
    assert suggestions and len(suggestions) <= 5
    assert suggestions[0].agency_id == agency_id
    if reason is not None:
        assert suggestions[0].reason.startswith(reason)
    assert all(0 <= s.score <= 1 for s in suggestions)


def test_the_seeded_directory_picks_the_unit_and_respects_exclusions(
    routing: RoutingActivities,
) -> None:
    [top, *_] = routing.suggest_agencies(
        ask("Dinas Pekerjaan Umum Kota Semarang tidak memperbaiki saluran")
    )
    assert top.unit_id == "pemkot-33.74/pupr"
    assert top.reason.startswith("menyebut Dinas Pekerjaan Umum Kota Semarang")
    rerouted = routing.suggest_agencies(
        ask("Listrik padam", agency_hint="pln", region_code="33.74", exclude_agency_ids=["pln"])
    )
    assert "pln" not in {s.agency_id for s in rerouted}
    assert rerouted[0].agency_id == "pemkot-33.74"
