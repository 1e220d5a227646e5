"""Similar reports (domain/similar.py): the same problem ranks first, with readable reasons."""

from __future__ import annotations

from domain.similar import LIKELY_DUPLICATE, Report, compare, distance_metres, rank

LIGHT = Report("Lampu jalan mati di Jl. Tjilik Riwut", "Lampu penerangan jalan mati sejak seminggu, gelap dan rawan.",
               "62.71.01", "infrastruktur", -2.2000, 113.9000, "NEW")
SAME_LIGHT = Report("Lampu PJU padam", "Sudah seminggu lampu penerangan jalan di Tjilik Riwut km 5 mati.",
                    "62.71.01", "infrastruktur", -2.2010, 113.9010, "LAP-SAME")
OTHER_PROBLEM = Report("KTP elektronik belum jadi", "Tiga bulan KTP saya belum selesai dicetak di Dukcapil.",
                       "62.71.01", "kependudukan", None, None, "LAP-KTP")
SAME_WORDS_FAR = Report("Lampu jalan mati", "Lampu penerangan jalan mati sejak seminggu.",
                        "31.71", "infrastruktur", -6.2, 106.8, "LAP-JKT")


def test_the_same_problem_nearby_ranks_first_and_is_likely_a_duplicate() -> None:
    matches = rank(LIGHT, [OTHER_PROBLEM, SAME_WORDS_FAR, SAME_LIGHT], minimum=0)
    assert [m.tracking_id for m in matches][0] == "LAP-SAME"
    best = matches[0]
    assert best.likely_duplicate and best.score >= LIKELY_DUPLICATE
    kinds = [r.kind for r in best.reasons]
    assert kinds == ["text", "district", "category", "distance"]
    assert 100 < best.distance_m < 200


def test_another_problem_in_the_same_place_is_not_offered() -> None:
    assert [m.tracking_id for m in rank(LIGHT, [OTHER_PROBLEM])] == []
    assert compare(LIGHT, OTHER_PROBLEM).score == 0  # the place alone never makes two reports alike


def test_the_same_words_far_away_score_lower_than_nearby() -> None:
    far = compare(LIGHT, SAME_WORDS_FAR)
    assert far.reasons[-1].kind == "far" and far.distance_m > 800_000
    assert far.score < compare(LIGHT, SAME_LIGHT).score
    assert not far.likely_duplicate


def test_a_report_is_never_its_own_duplicate_and_empty_text_matches_nothing() -> None:
    assert rank(SAME_LIGHT, [SAME_LIGHT], minimum=0) == []
    assert rank(Report("?!", ""), [SAME_LIGHT], minimum=0) == []


def test_distance_is_great_circle_metres() -> None:
    assert round(distance_metres(0, 0, 0, 1) / 1000) == 111
    assert distance_metres(-2.2, 113.9, -2.2, 113.9) == 0
