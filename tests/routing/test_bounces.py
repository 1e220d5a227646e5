"""A "not our authority" bounce feeds back: the body ranks lower for the same (or a similar) text."""

from __future__ import annotations

from activities.routing import Router
from bench.routing import seeded_entries
from db.directory import gazetteer
from domain.models import SuggestionRequest

TEXT = "Jalan berlubang di Kota Palangkaraya\nJalan di depan pasar berlubang besar dan belum diperbaiki."


def request(text: str = TEXT) -> SuggestionRequest:
    return SuggestionRequest(tracking_id="t", text=text)


def test_a_bounced_body_ranks_lower_for_the_same_text() -> None:
    entries = seeded_entries()
    before = Router(entries, gazetteer()).rank(request())
    top = before[0]
    assert top.agency_id == "pemkot-62.71"

    after = Router(entries, gazetteer(), bounces=[(top.agency_id, TEXT)]).rank(request())
    scores = {s.agency_id: s.score for s in after}
    assert scores.get(top.agency_id, 0.0) < top.score
    assert after[0].agency_id != top.agency_id or len(after) == 1
    bounced = next(s for s in after if s.agency_id == top.agency_id)
    assert "pernah menolak laporan serupa" in bounced.reason


def test_a_bounce_leaves_unrelated_texts_alone() -> None:
    entries = seeded_entries()
    other = "Antrian e-KTP di Kota Palangkaraya sangat panjang, blanko habis."
    plain = Router(entries, gazetteer()).rank(request(other))
    with_bounce = Router(entries, gazetteer(), bounces=[("pemkot-62.71", TEXT)]).rank(request(other))
    assert plain == with_bounce
