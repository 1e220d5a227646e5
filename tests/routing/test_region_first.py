"""Region first (issue 15): with the complaint's region given, that region's own government leads
unless the text names another region as the place, or names a national body as its subject."""

from __future__ import annotations

import pytest

from activities.routing import Router, is_ordinary_word, normalize
from activities.routing_model import shared_model
from bench.routing import seeded_entries
from db.directory import gazetteer
from domain.models import SuggestionRequest

CITY = "62.71"  # Kota Palangkaraya: no LAPOR! 2017 report was addressed to it


@pytest.fixture(scope="module")
def router() -> Router:
    return Router(seeded_entries(), gazetteer(), shared_model())


def ranked(router: Router, text: str, region_code: str | None = CITY) -> list:
    return router.rank(SuggestionRequest(tracking_id="t", text=text, region_code=region_code))


@pytest.mark.parametrize(
    "text",
    [
        # Phrased like the Semarang reports the model learned from ("mirip laporan ke Kota Semarang").
        "Parkir liar di bahu jalan bikin macet, dishub tolong tertibkan juru parkir yang ngetem",
        "Jalan berlubang besar di depan polsek, sudah berbulan-bulan tidak diperbaiki",
        "Suami saya kdrt, saya blum lapor ke polsek karena takut, mohon bantuan",
        "Bantuan sosial keluarga kami tidak cair padahal kartu sudah ada dan terdaftar DTKS, mohon dicek",
        "Pohon besar di pinggir jalan hampir tumbang, mohon dipangkas",
    ],
)
def test_the_regions_own_government_comes_first(router: Router, text: str) -> None:
    [top, *_] = ranked(router, text)
    assert top.agency_id == "pemkot-62.71", [(s.agency_id, s.score, s.reason) for s in ranked(router, text)]


def test_a_landmark_is_not_the_subject(router: Router) -> None:
    suggestions = ranked(router, "Jalan berlubang besar di depan polsek, sudah berbulan-bulan tidak diperbaiki")
    police = [s for s in suggestions if s.agency_id == "polri"]
    assert not police or "sebagai patokan" in police[0].reason


def test_an_ordinary_word_is_never_a_name(router: Router) -> None:
    assert is_ordinary_word(normalize("LAPOR!"))
    assert not is_ordinary_word(normalize("BPJS"))
    for region_code in (CITY, None):
        suggestions = ranked(router, "Saya sudah lapor ke kelurahan tapi tidak ada tanggapan", region_code)
        assert all("menyebut LAPOR" not in s.reason for s in suggestions)


def test_another_region_named_as_the_place_may_lead(router: Router) -> None:
    [top, *_] = ranked(router, "Jalan rusak parah di Kota Semarang dekat Simpang Lima")
    assert top.agency_id == "pemkot-33.74"


def test_a_national_body_named_as_the_subject_may_lead(router: Router) -> None:
    [top, *_] = ranked(router, "BPJS Kesehatan menolak klaim rawat inap saya, kartu JKN aktif")
    assert top.agency_id == "bpjs-kesehatan"


def test_without_a_region_other_governments_compete_as_before(router: Router) -> None:
    [top, *_] = ranked(router, "Dinas Pekerjaan Umum Kota Semarang tidak memperbaiki saluran", None)
    assert top.agency_id == "pemkot-33.74"


def test_each_suggested_body_offers_up_to_three_units_with_reasons(router: Router) -> None:
    [top, *_] = ranked(router, "Lampu jalan mati sudah seminggu dan jalan berlubang di depannya, tolong perbaiki")
    assert top.agency_id == "pemkot-62.71"
    assert 1 <= len(top.units) <= 3
    assert {"pemkot-62.71/dishub", "pemkot-62.71/pupr"} <= {u.unit_id for u in top.units}
    assert all(u.reason and u.name and 0 < u.score <= 1 for u in top.units)
    assert top.unit_id == top.units[0].unit_id
    assert top.model_version == "lapor2017"
