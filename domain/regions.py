"""Region resolution: which province, regency or city a complaint is about, from its text.

Pure: the caller passes the places (Kemendagri codes and names, db/seed/regions.csv and
districts.csv); nothing here reads files. A place name counts only as whole words, ignoring case
and punctuation, and a longer name wins over the names inside it ("Kabupaten Bandung Barat" is
Bandung Barat, not Bandung). How sure a mention is depends on how it is written:

- "Kota Semarang", "Kab. Kendal", "Kabupaten Kendal", "Pemkot Bandung", "Jaksel": explicit, 1.0
- "Kecamatan Tembalang", "Kec. Dander" (a district, unique in the country): its regency, 0.9
- "Provinsi Jawa Barat", "Jawa Barat", "DKI Jakarta": the province, 0.8
- a bare regency or city name ("Semarang", "Palangkaraya"): 0.6; when a city and a regency share
  the name, the bare name means the city. Bare names that are everyday words ("malang",
  "batang", "tegal") are not matched.

Villages (kelurahan/desa) are not used: 83,762 names, too many of them shared and common words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_WORD = re.compile(r"\w+")

EXPLICIT = 1.0
DISTRICT = 0.9
PROVINCE = 0.8
BARE = 0.6

# Bare regency/city names that are also everyday words or too often part of other names: matched
# only when written with "Kota"/"Kabupaten"/"Kab.".
_BARE_STOPWORDS = frozenset(
    {
        "agam", "alor", "asahan", "bandar", "barat", "baru", "batang", "batu", "bima", "bone",
        "buru", "buton", "dairi", "empat lawang", "karo", "kepulauan", "kota", "kota baru",
        "lebong", "luwu", "malang", "muara", "muna", "pati", "pesisir", "pesisir selatan", "poso",
        "selatan", "sigi", "sumba", "sungai", "tanah datar", "tegal", "tengah", "timur", "utara",
    }
)

# Abbreviations in everyday use (the five administrative cities of Jakarta).
_ABBREVIATIONS = {
    "jakpus": "31.71",
    "jakut": "31.72",
    "jakbar": "31.73",
    "jaksel": "31.74",
    "jaktim": "31.75",
}
# Spellings in common use that the Kemendagri names miss.
_PLACE_ALIASES = {
    "15.04": ("batang hari",),
    "62.71": ("palangka raya",),
    "14.02": ("inhu",),
    "33.74": ("semarang",),
    "32.73": ("bandung",),
}
_PROVINCE_ALIASES = {
    "31": ("dki jakarta", "dki", "jakarta", "pemprov dki"),
    "34": ("diy", "di yogyakarta", "yogyakarta"),
    "11": ("aceh", "nad", "nanggroe aceh darussalam"),
}


@dataclass(frozen=True)
class Place:
    code: str  # "62", "62.71", "62.71.01"
    name: str  # as the Kemendagri list writes it: "Kota Palangka Raya", "Kabupaten Kendal", "Pahandut"
    level: int  # 1 province, 2 regency/city, 3 district (kecamatan)


# A place named right after one of these words is where someone comes from or goes to, not where
# the problem is: "bus jurusan Semarang", "pindahan dari Medan", "tol Surabaya - Semarang".
ELSEWHERE_WORDS = frozenset(
    "dari ke menuju arah jurusan tujuan asal pindahan trayek rute tol lintas perbatasan".split()
)
ELSEWHERE_WINDOW = 2  # words before the mention


@dataclass(frozen=True)
class RegionMatch:
    code: str  # the province ("62") or regency/city ("62.71") the mention points to
    term: str  # the words of the text that named it, normalized ("kab kendal")
    strength: float
    as_place: bool = True  # not right after a word of travel or origin (ELSEWHERE_WORDS)


def words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def _key(text: str) -> str:
    return " ".join(words(text))


class Gazetteer:
    """Place names of Indonesia, looked up as runs of whole words."""

    MAX_WORDS = 6

    def __init__(self, places: Iterable[Place]) -> None:
        places = list(places)
        self._terms: dict[str, tuple[str, float]] = {}
        self.names: dict[str, str] = {}  # code -> name as written
        level2 = [p for p in places if p.level == 2]
        city_bases = {self._base(p.name) for p in level2 if p.name.startswith("Kota ")}

        def add(term: str, code: str, strength: float) -> None:
            key = _key(term)
            if not key:
                return
            current = self._terms.get(key)
            if current is None or current[1] < strength:
                self._terms[key] = (code, strength)

        for place in places:
            self.names[place.code] = place.name
            if place.level == 1:
                for term in (place.name, *_PROVINCE_ALIASES.get(place.code, ())):
                    add(term, place.code, PROVINCE)
                    add(f"provinsi {term}", place.code, EXPLICIT)
                    add(f"prov {term}", place.code, EXPLICIT)
                    add(f"pemprov {term}", place.code, EXPLICIT)
        for place in level2:
            base = self._base(place.name)
            if place.name.startswith("Kota "):
                for prefix in ("kota", "pemkot", "pemerintah kota", "walikota", "wali kota"):
                    add(f"{prefix} {base}", place.code, EXPLICIT)
                if _key(base) not in _BARE_STOPWORDS:
                    add(base, place.code, BARE)
            else:
                for prefix in ("kabupaten", "kab", "pemkab", "pemerintah kabupaten", "bupati"):
                    add(f"{prefix} {base}", place.code, EXPLICIT)
                if base not in city_bases and _key(base) not in _BARE_STOPWORDS:
                    add(base, place.code, BARE)
            add(place.name, place.code, EXPLICIT)
            for alias in _PLACE_ALIASES.get(place.code, ()):
                for prefix in ("kota", "kabupaten", "kab", "pemkot", "pemkab", "pemerintah kabupaten", "pemerintah kota"):
                    add(f"{prefix} {alias}", place.code, EXPLICIT)
                add(alias, place.code, BARE)
        for term, code in _ABBREVIATIONS.items():
            add(term, code, EXPLICIT)
        # Districts: only written as such, and only names that are unique in the country.
        districts: dict[str, set[str]] = {}
        for place in places:
            if place.level == 3:
                districts.setdefault(_key(place.name), set()).add(place.code.rsplit(".", 1)[0])
        for name, regencies in districts.items():
            if len(regencies) == 1:
                [regency] = regencies
                for prefix in ("kecamatan", "kec", "camat"):
                    add(f"{prefix} {name}", regency, DISTRICT)

    @staticmethod
    def _base(name: str) -> str:
        for prefix in ("Kabupaten ", "Kota ", "Administrasi "):
            name = name.removeprefix(prefix)
        return name

    def find(self, text: str) -> list[RegionMatch]:
        """Every place the text names, in reading order, longest names first."""
        tokens = words(text)
        found: list[RegionMatch] = []
        i = 0
        while i < len(tokens):
            for size in range(min(self.MAX_WORDS, len(tokens) - i), 0, -1):
                key = " ".join(tokens[i : i + size])
                hit = self._terms.get(key)
                if hit is not None:
                    before = tokens[max(0, i - ELSEWHERE_WINDOW) : i]
                    found.append(RegionMatch(hit[0], key, hit[1], as_place=not ELSEWHERE_WORDS.intersection(before)))
                    i += size
                    break
            else:
                i += 1
        return found

    def resolve(self, text: str) -> RegionMatch | None:
        """The one region the text is most likely about: the strongest mention, the most specific
        (a regency over its province), the most frequent, then the first."""
        return self.pick(self.find(text))

    @staticmethod
    def pick(found: list[RegionMatch]) -> RegionMatch | None:
        """`resolve` over the mentions `find` returned."""
        if not found:
            return None
        counts: dict[str, int] = {}
        for match in found:
            counts[match.code] = counts.get(match.code, 0) + 1
        order = {match.code: -n for n, match in enumerate(reversed(found))}
        return max(
            found,
            key=lambda m: (m.strength, m.code.count("."), counts[m.code], order[m.code]),
        )

    def name(self, code: str) -> str:
        return self.names.get(code, code)

    def choices(self, text: str, limit: int = 9) -> list[str]:
        """Every province, regency or city a short answer to "where?" may mean, most likely first:
        the one place it names explicitly ("Kota Bandung", "Kab. Kendal", "Jaksel"), else every
        place whose name it contains, everyday words included ("Malang": the city and the regency;
        "Bandung": both as well, "Bandung Barat" only itself)."""
        found = [m for m in self.find(text) if m.strength >= PROVINCE]
        explicit = [m for m in found if m.strength == EXPLICIT or m.strength == DISTRICT]
        if explicit:
            return [self.pick(explicit).code]  # type: ignore[union-attr]
        by_name = self._by_name()
        tokens = words(text)
        codes: list[str] = []
        i = 0
        while i < len(tokens):
            for size in range(min(self.MAX_WORDS, len(tokens) - i), 0, -1):
                hit = by_name.get(" ".join(tokens[i : i + size]))
                if hit:
                    codes += [code for code in hit if code not in codes]
                    i += size
                    break
            else:
                i += 1
        if not codes:
            codes = [m.code for m in found]
        return codes[:limit]

    def _by_name(self) -> dict[str, list[str]]:
        """Provinces, regencies and cities by their name without "Kota"/"Kabupaten" (built once)."""
        if not hasattr(self, "_names_index"):
            index: dict[str, list[str]] = {}
            for code, name in sorted(self.names.items(), key=lambda item: (item[0].count("."), item[0])):
                if code.count(".") <= 1:
                    index.setdefault(_key(self._base(name)), []).append(code)
            for code, aliases in (_PROVINCE_ALIASES | _PLACE_ALIASES).items():
                for alias in aliases:
                    index.setdefault(_key(alias), [])
                    if code not in index[_key(alias)]:
                        index[_key(alias)].append(code)
            self._names_index = index
        return self._names_index
