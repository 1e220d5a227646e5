"""Routing reasons in both languages (issue 23, item 8): the router writes them in Indonesian from
one table (domain/routing_reasons.py); an English page reads every reason the router gives back
in English."""

from __future__ import annotations

import re

import pytest

from activities.routing import Router
from activities.routing_memory import DecisionMemory, LabelledExample
from activities.routing_model import shared_model
from bench.routing import seeded_entries
from db.directory import gazetteer
from domain.models import SuggestionRequest
from domain.routing_reasons import REASONS, SECTOR_LABELS_EN, SEPARATOR, in_language, say

# Words only the Indonesian templates use: none may be left on an English page.
INDONESIAN = re.compile(r"\b(menyebut|wilayah|urusan|cabang|mirip|keputusan|disposisi|serupa|pernah|menolak|"
                        r"hanya|dipilih|ditujukan|pelapor|menyatakan|bukan|wewenang|punya|kantor|disebut|patokan|"
                        r"drainase|lalu lintas|sampah|kesehatan|sekolah|bantuan sosial|ketertiban)\b")
SAMPLE = {"name": "Pemerintah Kota Palangka Raya (Kalteng)", "term": "PKH; BPNT", "region": "Kota Surabaya",
          "label": "sekolah", "unit": "Kantor Pertanahan Kota Medan", "share": "90%", "count": "12"}


@pytest.mark.parametrize("name", sorted(REASONS))
def test_every_reason_reads_back_in_english_and_stays_as_written_in_indonesian(name: str) -> None:
    indonesian, english = REASONS[name]
    fields = {field: SAMPLE[field] for field in re.findall(r"{(\w+)}", indonesian)}
    written = say(name, **fields)
    assert in_language(written, "id") == written
    if SEPARATOR not in written:  # a name with "; " in it is read part by part (below)
        shown = fields | ({"label": SECTOR_LABELS_EN[fields["label"]]} if "label" in fields else {})
        assert in_language(written, "en") == english.format(**shown)


def test_every_sector_has_its_english_label() -> None:
    from activities.routing import SECTOR_RULES

    assert {label for _, label, _ in SECTOR_RULES} == set(SECTOR_LABELS_EN)
    assert in_language(say("sector", label="jalan/drainase"), "en") == "sector: roads and drainage"


def test_a_reason_no_template_reads_is_shown_as_written() -> None:
    assert in_language("alasan lama yang tidak dikenal", "en") == "alasan lama yang tidak dikenal"
    assert in_language(f"{say('region', region='Kota Medan')}{SEPARATOR}catatan lama", "en") == "region Kota Medan; catatan lama"


@pytest.fixture(scope="module")
def router() -> Router:
    memory = DecisionMemory()
    for k in range(12):
        memory.add(LabelledExample(f"Bantuan BPNT warga RT {k} tidak cair, mohon dicek data DTKS kelurahan",
                                   "pemkot-35.78", "pemkot-35.78/dinsos", region_code="35.78"))
    return Router(seeded_entries(), gazetteer(), shared_model(), memory=memory)


@pytest.mark.parametrize("request_", [
    SuggestionRequest(tracking_id="t", text="Bantuan BPNT keluarga kami tidak cair, data DTKS kelurahan salah",
                      region_code="35.78"),
    SuggestionRequest(tracking_id="t", text="Sertifikat tanah saya tidak kunjung selesai di kantor pertanahan",
                      region_code="62.71", exclude_agency_ids=["pemkot-62.71"]),
    SuggestionRequest(tracking_id="t", text="Jalan berlubang di depan pasar Kota Medan, dinas PU tolong perbaiki",
                      agency_hint="Dinas PUPR"),
    SuggestionRequest(tracking_id="t", text="Sampah menumpuk di sungai dekat Bundaran Besar, mohon diangkut",
                      region_code="62.71", agency_hint="pemkot-62.71"),
])
def test_the_routers_reasons_read_in_english_with_no_indonesian_left(router: Router, request_) -> None:
    suggestions = router.rank(request_)
    reasons = [s.reason for s in suggestions] + [u.reason for s in suggestions for u in s.units]
    assert reasons and all(reasons)
    for reason in reasons:
        english = in_language(reason, "en")
        names = {s.agency_name or "" for s in suggestions} | {u.name for s in suggestions for u in s.units}
        for name in names:  # body and unit names stay as they are: take them out before looking
            english = english.replace(name, "")
        assert not INDONESIAN.search(english), (reason, english)
