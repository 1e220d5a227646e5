"""Similar reports: how likely two reports are the same problem, and why. Pure (no I/O).

A report is compared with an open one on what a person would look at: the words (title and the
start of the description, Indonesian words stemmed with Sastrawi, common words left out), the
place (same district, regency/city or province), the category, and the distance between the two
pins when both have one. Each piece of evidence is a reason the person can read next to the score.

The score is `TEXT_WEIGHT × text similarity + the place, category and distance bonuses`, capped
to 1. Reports scoring `LIKELY_DUPLICATE` or more are offered as "already reported" (the portal's
threshold; its precision and recall on a labelled set are in bench/RESULTS.md, `python -m bench
similar`); the verification queue lists those above `SHOWN_MINIMUM` with their scores.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

TEXT_WEIGHT = 0.7
SAME_DISTRICT_BONUS = 0.2
SAME_REGENCY_BONUS = 0.15
SAME_PROVINCE_BONUS = 0.05
SAME_CATEGORY_BONUS = 0.1
NEAR_BONUS = 0.25  # both pins at the same spot, falling to 0 at NEAR_METRES
NEAR_METRES = 1_000.0
FAR_METRES = 20_000.0  # farther apart than this: not the same pothole, whatever the words say
FAR_FACTOR = 0.5

LIKELY_DUPLICATE = 0.45
SHOWN_MINIMUM = 0.25
MAX_RESULTS = 5
# What is read of a description: the start says what the problem is; the rest is detail.
DESCRIPTION_WORDS = 80

_TOKEN = re.compile(r"[a-z]+")
_MASKS = re.compile(r"\[(TELP|NIK)\]|\d+")

# Words that say nothing about which problem it is (greetings, function words, "complaint").
STOPWORDS = frozenset("""
yang dan di ke dari ini itu untuk dengan pada dalam tidak ada sudah belum akan atau juga karena
saya kami kita mereka anda bapak ibu pak bu mohon tolong terima kasih yth kepada hormat salam
sangat sekali lagi masih bisa dapat harus agar supaya oleh sebagai adalah jadi tapi tetapi namun
kalau jika bila saat sejak sampai hingga hari bulan tahun sekitar tersebut para nya lah pun
mau ingin minta segera perlu banyak sering selalu seperti bagaimana kenapa mengapa apa apakah
lapor laporan pengaduan keluhan aduan mengadu warga masyarakat kami pihak terkait instansi
dinas pemerintah kota kabupaten provinsi desa kelurahan kecamatan jl no rt rw
wib pagi siang sore malam tgl tanggal the and of to in is for on
""".split())


class _Stems:
    """Sastrawi's stemmer with a per-word cache (stemming one new word costs about a millisecond)."""

    def __init__(self) -> None:
        self._stem = None
        self._cache: dict[str, str] = {}
        self._lock = threading.Lock()

    def __call__(self, word: str) -> str:
        stem = self._cache.get(word)
        if stem is None:
            with self._lock:
                if self._stem is None:
                    from Sastrawi.Stemmer.StemmerFactory import StemmerFactory

                    self._stem = StemmerFactory().create_stemmer().stem
                stem = self._stem(word) or word
            if len(self._cache) < 200_000:
                self._cache[word] = stem
        return stem


stem = _Stems()


def words(text: str) -> list[str]:
    """The stemmed words of a text, lower-case, numbers and masked phone/ID numbers left out."""
    return [stem(word) for word in _TOKEN.findall(_MASKS.sub(" ", text.casefold()))]


@lru_cache(maxsize=50_000)
def terms(title: str, description: str = "") -> Counter[str]:
    """What a report is about: its title's words count twice, then the start of its description.
    Cached: an open case is compared with many new reports, and its text does not change."""
    bag: Counter[str] = Counter()
    for weight, text in ((2, title), (1, " ".join(description.split()[:DESCRIPTION_WORDS]))):
        for word in words(text):
            if len(word) > 2 and word not in STOPWORDS:
                bag[word] += weight
    return bag


def cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    small, large = (a, b) if len(a) < len(b) else (b, a)
    dot = sum(count * large.get(word, 0) for word, count in small.items())
    if not dot:
        return 0.0
    return dot / math.sqrt(sum(c * c for c in a.values()) * sum(c * c for c in b.values()))


def distance_metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000.0 * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class Report:
    """What similarity reads of a report (a new one being typed, or an open case)."""

    title: str
    description: str = ""
    region_code: str | None = None
    category: str | None = None
    lat: float | None = None
    lon: float | None = None
    tracking_id: str | None = None

    @property
    def has_point(self) -> bool:
        return self.lat is not None and self.lon is not None


@dataclass(frozen=True)
class Reason:
    """One piece of evidence: a message key of the portal (`similar.reason.<kind>`) and its value."""

    kind: str  # text, district, regency, province, category, distance, far
    value: float | None = None  # text: the similarity; distance/far: metres


@dataclass(frozen=True)
class Match:
    tracking_id: str
    score: float
    reasons: tuple[Reason, ...] = field(default=())

    @property
    def likely_duplicate(self) -> bool:
        return self.score >= LIKELY_DUPLICATE

    @property
    def distance_m(self) -> float | None:
        return next((r.value for r in self.reasons if r.kind in ("distance", "far")), None)


def _shared_region(a: str | None, b: str | None) -> str | None:
    """The finest level two region codes share: district, regency, province or none."""
    if not a or not b:
        return None
    if len(a) >= 8 and a[:8] == b[:8]:
        return "district"
    if len(a) >= 5 and a[:5] == b[:5]:
        return "regency"
    if a[:2] == b[:2]:
        return "province"
    return None


def compare(new: Report, other: Report, *, new_terms: Counter[str] | None = None,
            other_terms: Counter[str] | None = None) -> Match:
    """How likely `other` is the same problem as `new`, with the reasons."""
    text = cosine(new_terms if new_terms is not None else terms(new.title, new.description),
                  other_terms if other_terms is not None else terms(other.title, other.description))
    reasons = [Reason("text", round(text, 2))]
    score = TEXT_WEIGHT * text
    if text > 0:  # place and category only strengthen words that already agree
        shared = _shared_region(new.region_code, other.region_code)
        if shared is not None:
            score += {"district": SAME_DISTRICT_BONUS, "regency": SAME_REGENCY_BONUS,
                      "province": SAME_PROVINCE_BONUS}[shared]
            reasons.append(Reason(shared))
        if new.category and new.category == other.category:
            score += SAME_CATEGORY_BONUS
            reasons.append(Reason("category"))
    if new.has_point and other.has_point:
        metres = distance_metres(new.lat, new.lon, other.lat, other.lon)  # type: ignore[arg-type]
        if metres > FAR_METRES:
            score *= FAR_FACTOR
            reasons.append(Reason("far", round(metres)))
        else:
            if text > 0:
                score += NEAR_BONUS * max(0.0, 1 - metres / NEAR_METRES)
            reasons.append(Reason("distance", round(metres)))
    return Match(other.tracking_id or "", round(min(score, 1.0), 3), tuple(reasons))


def rank(new: Report, candidates: Iterable[Report], *, minimum: float = SHOWN_MINIMUM,
         limit: int = MAX_RESULTS) -> list[Match]:
    """The candidates most likely the same problem as `new`, best first (ties: the older case)."""
    new_terms = terms(new.title, new.description)
    if not new_terms:
        return []
    matches = [
        compare(new, other, new_terms=new_terms)
        for other in candidates
        if other.tracking_id != new.tracking_id
    ]
    kept = [m for m in matches if m.score >= minimum]
    kept.sort(key=lambda m: (-m.score, m.tracking_id))
    return kept[:limit]


def search_words(new: Report, count: int = 3) -> Sequence[str]:
    """The longest distinctive words of the title (unstemmed), to find candidates by text."""
    found = [w for w in _TOKEN.findall(new.title.casefold()) if len(w) > 3 and w not in STOPWORDS]
    return sorted(set(found), key=lambda w: (-len(w), w))[:count]
