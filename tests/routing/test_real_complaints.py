"""The whole ranking, trained text model included, on real LAPOR! 2017 reports of the test split
(never used for training). A regression guard, not the evaluation: that is `python -m bench.routing`."""

from __future__ import annotations

import pytest

from activities.routing import Router
from activities.routing_model import load_examples, shared_model
from bench.routing import seeded_entries
from db.directory import gazetteer
from domain.models import SuggestionRequest


@pytest.fixture(scope="module")
def router() -> Router:
    return Router(seeded_entries(), gazetteer(), shared_model())


@pytest.fixture(scope="module")
def reports() -> dict[str, str]:
    return {example.lapor_id: example.text for example in load_examples("test")}


@pytest.mark.parametrize(
    ("lapor_id", "agency_id", "because"),
    [
        ("1878360", "pemprov-31", "menyebut Pemprov DKI Jakarta"),  # mutasi KTP, kelurahan Ancol
        ("1905425", "pemkot-33.74", "wilayah Kota Semarang"),  # Trans Semarang bus driver smoking
        ("1906730", "kemendikdasmen", "mirip laporan ke"),  # a teacher's NUPTK
        ("1886535", "bpjs-kesehatan", "menyebut JKN"),  # membership status
        ("1876165", "pos-indonesia", "menyebut Kantor Pos"),
        ("1869035", "bpjs-ketenagakerjaan", "mirip laporan ke"),  # "BPJS Ketenaga Kerjaan" misspelt
        ("1907335", "pemkot-32.73", "urusan jalan/drainase"),  # road damage, Kec. Sukamiskin
    ],
)
def test_real_reports_reach_the_labelled_body(
    router: Router, reports: dict[str, str], lapor_id: str, agency_id: str, because: str
) -> None:
    ranked = router.rank(SuggestionRequest(tracking_id="t", text=reports[lapor_id]))
    assert ranked[0].agency_id == agency_id, ranked
    assert because in ranked[0].reason
    assert all(0 <= s.score <= 1 for s in ranked) and len(ranked) <= 5
