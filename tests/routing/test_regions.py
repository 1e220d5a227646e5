"""Region resolution on real place names (the seeded Kemendagri list, db/seed/)."""

from __future__ import annotations

import pytest

from activities.routing import Router
from bench.routing import seeded_entries
from db.directory import gazetteer
from domain.models import SuggestionRequest


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Jalan rusak di Kab. Kendal dekat pasar", "33.24"),
        ("Pemkot Bandung tidak menanggapi", "32.73"),
        ("Banjir di Kabupaten Bandung Barat", "32.17"),  # the longer name wins
        ("Macet parah di Jaksel setiap pagi", "31.74"),
        ("Pelayanan di Kecamatan Tembalang lambat", "33.74"),
        ("Kantor Kecamatan Dander tutup", "35.22"),  # a district: its regency (Bojonegoro)
        ("Dinas Kesehatan Kabupaten Batang Hari", "15.04"),  # spelled apart from "Batanghari"
        ("Jalan di Palangkaraya berlubang", "62.71"),  # a bare city name
        ("Pemprov DKI Jakarta harus menertibkan", "31"),
    ],
)
def test_place_names_resolve_to_their_region(text: str, code: str) -> None:
    match = gazetteer().resolve(text)
    assert match is not None and match.code == code, match


def test_everyday_words_are_not_places() -> None:
    assert gazetteer().resolve("Nasib saya malang, batang pohon tumbang") is None


def test_the_region_in_the_text_and_the_sector_give_the_unit() -> None:
    router = Router(seeded_entries(), gazetteer(), model=None)
    [top, *_] = router.rank(
        SuggestionRequest(tracking_id="t", text="Pembuatan e-KTP di Kota Semarang belum selesai")
    )
    assert (top.agency_id, top.unit_id) == ("pemkot-33.74", "pemkot-33.74/dukcapil")
    assert "urusan KTP/KK/akta" in top.reason
    [top, *_] = router.rank(
        SuggestionRequest(tracking_id="t", text="Kartu BPJS Kesehatan ditolak di Palangkaraya")
    )
    assert (top.agency_id, top.unit_id) == ("bpjs-kesehatan", "bpjs-kesehatan/kc-palangkaraya")
