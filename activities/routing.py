"""Routing suggestions: which bodies of the directory a complaint most likely belongs to.

A first, explainable version: a body scores when the reporter's hint or the text names it (its
name or an alias, case- and punctuation-insensitive, whole words only) and when the complaint's
region is its region. Evidence combines as a noisy-or, so scores stay in [0, 1] and agreeing
signals add up. The ranking is a pure function over directory data (`rank_agencies`).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
import structlog

from activities.routing_memory import DecisionMemory
from activities.routing_model import TextModel, shared_model
from db.directory import STANDARD_REGIONAL_UNITS, gazetteer, national_offices
from db.models import REGIONAL_KINDS, Agency, AgencyKind, AgencyUnit, Complaint, RoutingFeedback
from domain.models import RoutingSuggestion, SuggestionRequest, UnitSuggestion
from domain.region_rule import has_office_in, may_propose
from domain.regions import ELSEWHERE_WINDOW, ELSEWHERE_WORDS, Gazetteer
from domain.routing_reasons import SEPARATOR, say

log = structlog.get_logger(__name__)

MAX_SUGGESTIONS = 5

# How much each kind of evidence is worth on its own.
HINT_IS_ID_SCORE = 0.95  # the reporter picked this body from the directory
HINT_NAMES_SCORE = 0.9  # the reporter's hint names it
TEXT_NAMES_SCORE = 0.75  # the complaint's text names it
REPEATED_MENTION_BONUS = 0.05  # per further distinct mention, up to two
REGION_SCORE = 0.5  # it governs the complaint's region
UNIT_NAMED_SCORE = 0.2  # the text names one of its standard units (only with other evidence)

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class DirectoryEntry:
    """What ranking needs to know about one body."""

    id: str
    name: str
    kind: str
    region_code: str | None = None
    aliases: tuple[str, ...] = ()
    units: tuple[tuple[str, str], ...] = ()  # (unit id, name)
    timezone: str = "Asia/Jakarta"
    offices: str | None = None  # a national body's vertical offices: "regency" or "province" (region_rule)

    @cached_property
    def terms(self) -> tuple[tuple[str, str], ...]:
        """(normalized, as written) for the name and every alias worth matching: not an ordinary
        word ("LAPOR!" is also the verb *lapor*, "Pos" a post)."""
        written = (self.name, *self.aliases)
        return tuple(
            (needle, term)
            for term in written
            if len(needle := normalize(term)) > 3 and not is_ordinary_word(needle)
        )

    @property
    def is_regional(self) -> bool:
        return self.kind in REGIONAL_KINDS

    @property
    def region_label(self) -> str:
        """'Kota Palangkaraya' for 'Pemerintah Kota Palangkaraya'."""
        return self.name.removeprefix("Pemerintah ")


# Short words a name must not be: an alias that is one of them never matches as a name.
ORDINARY_WORD_MAX_LETTERS = 6


@lru_cache(maxsize=1)
def _root_words() -> frozenset[str]:
    """Indonesian root words (the dictionary Sastrawi ships for stemming); empty without it."""
    try:
        from importlib.resources import files

        text = files("Sastrawi.Stemmer").joinpath("data/kata-dasar.txt").read_text(encoding="utf-8")
    except (ImportError, OSError):  # pragma: no cover - Sastrawi is a dependency
        return frozenset()
    return frozenset(word.strip() for word in text.split() if word.strip())


def is_ordinary_word(needle: str) -> bool:
    """True for a normalized one-word term that is a short everyday word (*lapor*, *pos*)."""
    words = needle.split()
    return len(words) == 1 and len(words[0]) <= ORDINARY_WORD_MAX_LETTERS and words[0] in _root_words()


def normalize(text: str) -> str:
    """Lower-case words separated by single spaces, padded, so `' kota semarang ' in text` means
    the words appear together as whole words, whatever the punctuation between them."""
    return " " + " ".join(_WORD.findall(text.casefold())) + " "


@dataclass
class _Evidence:
    scores: list[float]
    reasons: list[str]
    unit_id: str | None = None  # the unit a directory rule names (kept first among the units)
    factor: float = 1.0  # < 1 when the body bounced similar complaints (BOUNCE_PENALTY)
    units: dict[str, _Evidence] = field(default_factory=dict)
    strong: bool = False  # named as the subject, chosen by the reporter, or the region's own
    named_place: bool = False  # a regional body whose region the text names
    chosen: bool = False  # the reporter chose it or addressed it by name (the hint)
    by_alias: bool = False  # named as the subject, but only by an alias (a programme: "BPNT" -> Kemensos)

    def add(self, score: float, reason: str) -> None:
        self.scores.append(score)
        self.reasons.append(reason)

    def add_unit(self, unit_id: str, score: float, reason: str) -> None:
        self.units.setdefault(unit_id, _Evidence([], [])).add(score, reason)

    @property
    def score(self) -> float:
        remaining = 1.0
        for score in self.scores:
            remaining *= 1.0 - score
        return round((1.0 - remaining) * self.factor, 4)


# A mention right after one of these words is where the problem is, or where the reporter already
# went, not what the complaint is about: "jalan berlubang depan polsek", "sudah lapor ke polsek".
LANDMARK_WORDS = frozenset(
    "depan dekat samping sebelah belakang seberang sekitar sekitaran arah menuju jl jalan gang gg "
    "lapor melapor dilaporkan mengadu lewat".split()
)
LANDMARK_WINDOW = 2  # words before the mention
LANDMARK_SCORE = 0.15  # a body named only as a landmark


@dataclass(frozen=True)
class Mention:
    terms: list[str]  # as written in the directory, longest first
    as_subject: bool  # at least once not as a landmark
    as_place: bool = True  # at least once not right after a word of travel or origin ("dari", "jurusan")


class MentionIndex:
    """Every name and alias of the directory, indexed by its first word, so finding the bodies a
    text names costs one dictionary look-up per word of the text."""

    def __init__(self, entries: Sequence[DirectoryEntry]) -> None:
        self._by_first: dict[str, list[tuple[tuple[str, ...], str, str]]] = {}
        for entry in entries:
            for needle, term in entry.terms:
                words = tuple(needle.split())
                self._by_first.setdefault(words[0], []).append((words, entry.id, term))

    def mentions(self, text: str) -> dict[str, Mention]:
        """Which bodies `text` names, with which of their terms, and whether as the subject.

        A mention inside a longer mention of another body does not count: "Kabupaten Bandung
        Barat" names Bandung Barat, not Kabupaten Bandung.
        """
        tokens = normalize(text).split()
        found: list[tuple[int, int, str, str]] = []  # start, end (in words), agency id, term
        for i, token in enumerate(tokens):
            for words, agency_id, term in self._by_first.get(token, ()):
                if tuple(tokens[i : i + len(words)]) == words:
                    found.append((i, i + len(words), agency_id, term))
        kept: dict[str, list[str]] = {}
        subject: set[str] = set()
        place: set[str] = set()
        for start, end, agency_id, term in found:
            inside_longer = any(
                other_id != agency_id and s <= start and end <= e and (e - s) > (end - start)
                for s, e, other_id, _ in found
            )
            if not inside_longer:
                kept.setdefault(agency_id, []).append(term)
                if not LANDMARK_WORDS.intersection(tokens[max(0, start - LANDMARK_WINDOW) : start]):
                    subject.add(agency_id)
                if not ELSEWHERE_WORDS.intersection(tokens[max(0, start - ELSEWHERE_WINDOW) : start]):
                    place.add(agency_id)
        return {
            agency_id: Mention(sorted(set(terms), key=len, reverse=True), agency_id in subject, agency_id in place)
            for agency_id, terms in kept.items()
        }

    def find(self, text: str) -> dict[str, list[str]]:
        """Which bodies `text` names, and with which of their terms (longest first)."""
        return {agency_id: mention.terms for agency_id, mention in self.mentions(text).items()}


def _mentions(text: str, entries: Sequence[DirectoryEntry]) -> dict[str, list[str]]:
    """Which bodies `text` names (see MentionIndex.find)."""
    return MentionIndex(entries).find(text)


_STANDARD_UNIT_TERMS = tuple(
    (normalize(term), unit.slug, term) for unit in STANDARD_REGIONAL_UNITS for term in (unit.name, *unit.aliases)
)


def _named_unit(text: str) -> tuple[str, str] | None:
    """The standard regional unit the text names, if any: (slug, the term it used)."""
    haystack = normalize(text)
    named = [(len(term), slug, term) for needle, slug, term in _STANDARD_UNIT_TERMS if needle in haystack]
    if not named:
        return None
    _, slug, term = max(named)
    return slug, term


def _region_government(
    region_code: str, by_region: dict[tuple[str, str], DirectoryEntry]
) -> DirectoryEntry | None:
    """The regency/city government of a region code (the province's when only 2 digits, or when
    the regency is unknown)."""
    parts = region_code.split(".")
    if len(parts) >= 2:
        code = ".".join(parts[:2])
        for kind in (AgencyKind.REGENCY, AgencyKind.CITY):
            if (entry := by_region.get((kind, code))) is not None:
                return entry
    return by_region.get((AgencyKind.PROVINCE, parts[0]))


def _directory_evidence(
    candidates: Sequence[DirectoryEntry],
    request: SuggestionRequest,
    index: MentionIndex | None = None,
) -> tuple[dict[str, _Evidence], dict[str, DirectoryEntry]]:
    """What the directory alone says: bodies named by the hint or the text, the region's
    government, the standard unit the text names."""
    by_id = {entry.id: entry for entry in candidates}
    evidence: dict[str, _Evidence] = {}

    def evidence_for(agency_id: str) -> _Evidence:
        return evidence.setdefault(agency_id, _Evidence([], []))

    hint = (request.agency_hint or "").strip()
    if hint in by_id:
        evidence_for(hint).add(HINT_IS_ID_SCORE, say("chosen", name=by_id[hint].name))
        evidence_for(hint).strong = evidence_for(hint).chosen = True
    elif hint:
        for agency_id, terms in _mentions(hint, candidates).items():
            evidence_for(agency_id).add(HINT_NAMES_SCORE, say("addressed", term=terms[0]))
            evidence_for(agency_id).strong = evidence_for(agency_id).chosen = True

    named = (index or MentionIndex(candidates)).mentions(request.text)
    for agency_id, mention in named.items():
        if agency_id not in by_id:
            continue  # excluded
        found = evidence_for(agency_id)
        # With the region chosen, another region's government named only as where someone came
        # from or goes to ("warga dari Kabupaten Pulang Pisau") is a landmark, not the place.
        elsewhere = bool(request.region_code) and by_id[agency_id].is_regional and not mention.as_place
        if mention.as_subject and not elsewhere:
            bonus = REPEATED_MENTION_BONUS * min(len(mention.terms) - 1, 2)
            found.add(TEXT_NAMES_SCORE + bonus, say("mentions", term=mention.terms[0]))
            found.strong = True
            found.named_place = True
            found.by_alias = normalize(by_id[agency_id].name) not in {normalize(t) for t in mention.terms}
        else:
            found.add(LANDMARK_SCORE, say("landmark", term=mention.terms[0]))

    if request.region_code:
        government = _region_government(request.region_code, _by_region(candidates))
        if government is not None:
            evidence_for(government.id).add(REGION_SCORE, say("region", region=government.region_label))
            evidence_for(government.id).strong = True

    unit = _named_unit(f"{hint}\n{request.text}")
    if unit is not None:
        slug, term = unit
        for agency_id, found in evidence.items():
            if by_id[agency_id].is_regional:
                unit_id = f"{agency_id}/{slug}"
                found.unit_id = unit_id
                found.add(UNIT_NAMED_SCORE, say("mentions", term=term))
                found.add_unit(unit_id, UNIT_NAMED_SCORE * 4, say("mentions", term=term))
    return evidence, by_id


def _by_region(entries: Sequence[DirectoryEntry]) -> dict[tuple[str, str], DirectoryEntry]:
    return {(e.kind, e.region_code): e for e in entries if e.is_regional and e.region_code}


def _unit_suggestions(found: _Evidence, entry: DirectoryEntry) -> list[UnitSuggestion]:
    names = dict(entry.units)
    ranked = sorted(
        ((unit_id, e) for unit_id, e in found.units.items() if unit_id in names),
        key=lambda item: (-item[1].score, names[item[0]]),
    )
    return [
        UnitSuggestion(unit_id=unit_id, name=names[unit_id], score=e.score, reason=SEPARATOR.join(e.reasons))
        for unit_id, e in ranked[:MAX_UNITS_PER_AGENCY]
    ]


def _ranked(
    evidence: dict[str, _Evidence],
    by_id: dict[str, DirectoryEntry],
    limit: int,
    government: DirectoryEntry | None = None,
    model_version: str | None = None,
    *,
    case_region: str | None = None,
    named_regions: Sequence[str] = (),
) -> list[RoutingSuggestion]:
    """Best first. With the complaint's region known, the region rule (domain/region_rule.py)
    leaves out every other region's government whose region the text does not name, and no body
    outranks that region's government without strong evidence of its own: a national body only
    when named as the subject or chosen by the reporter."""
    ceiling = evidence[government.id].score if government is not None and government.id in evidence else None
    named = [*named_regions, *(by_id[i].region_code or "" for i, e in evidence.items() if e.named_place)]

    def admissible(agency_id: str) -> bool:
        entry = by_id[agency_id]
        return may_propose(regional=entry.is_regional, body_region=entry.region_code,
                           case_region=case_region, named_regions=named)

    def shown(agency_id: str, found: _Evidence) -> float:
        """The score it ranks by, and the one the verifier reads: a body held below the region's
        government never shows a higher figure than the government above it."""
        if ceiling is not None and agency_id != government.id and _held_below(found, by_id[agency_id]):
            return min(found.score, ceiling)
        return found.score

    def key(item: tuple[str, _Evidence]) -> tuple[float, bool, str]:
        agency_id, found = item
        return (-shown(agency_id, found), agency_id != (government.id if government else None), by_id[agency_id].name)

    ranked = sorted(((i, e) for i, e in evidence.items() if admissible(i)), key=key)
    out = []
    for agency_id, found in ranked[:limit]:
        units = _unit_suggestions(found, by_id[agency_id])
        out.append(
            RoutingSuggestion(
                agency_id=agency_id,
                score=shown(agency_id, found),
                reason=SEPARATOR.join(found.reasons),
                unit_id=units[0].unit_id if units else None,
                agency_name=by_id[agency_id].name,
                timezone=by_id[agency_id].timezone,
                units=units,
                model_version=model_version,
                region_code=by_id[agency_id].region_code if by_id[agency_id].is_regional else None,
            )
        )
    return out


def _held_below(found: _Evidence, entry: DirectoryEntry) -> bool:
    if entry.is_regional:
        return not found.named_place
    return not found.strong


def rank_agencies(
    entries: Sequence[DirectoryEntry], request: SuggestionRequest, limit: int = MAX_SUGGESTIONS
) -> list[RoutingSuggestion]:
    """The most likely bodies for a complaint by the directory rules alone, best first, with the
    reasons in Indonesian."""
    excluded = set(request.exclude_agency_ids)
    candidates = [entry for entry in entries if entry.id not in excluded]
    evidence, by_id = _directory_evidence(candidates, request)
    government = None
    if request.region_code:
        government = _region_government(request.region_code, _by_region(candidates))
    return _ranked(evidence, by_id, limit, government, case_region=request.region_code)


# Sector rules: what a complaint is about -> the unit of the region's government that handles it.
# Keywords are whole words of the text (normalized); every rule that matches is evidence for its
# unit, more keywords more evidence.
SECTOR_RULES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("dukcapil", "KTP/KK/akta", ("ktp", "e ktp", "ektp", "kartu keluarga", "akta kelahiran",
                                   "akta kematian", "akte", "kependudukan", "kia", "pindah domisili")),
    ("pupr", "jalan/drainase", ("jalan rusak", "jalan berlubang", "berlubang", "aspal", "drainase",
                                "gorong gorong", "saluran air", "jembatan", "banjir", "trotoar")),
    ("dishub", "lalu lintas/angkutan", ("parkir", "angkot", "angkutan umum", "lampu merah",
                                         "traffic light", "terminal", "macet", "kemacetan", "ngetem",
                                         "lampu jalan", "penerangan jalan", "pju")),
    ("dlh", "sampah/lingkungan", ("sampah", "limbah", "pencemaran", "polusi", "bau busuk", "pohon",
                                  "pohon tumbang", "taman")),
    ("dinkes", "layanan kesehatan", ("puskesmas", "rsud", "dokter", "vaksin", "posyandu")),
    ("disdik", "sekolah", ("sekolah", "ppdb", "guru", "sd negeri", "smp negeri")),
    ("dinsos", "bantuan sosial", ("bansos", "bantuan sosial", "pkh", "bpnt", "kis", "kartu indonesia sehat",
                                  "dtks", "fakir miskin", "sembako", "blt", "penerima bantuan")),
    ("satpolpp", "ketertiban", ("pkl", "pedagang kaki lima", "satpol pp", "bangunan liar")),
)
# A region named in the text is worth less than a region_code the reporter chose.
TEXT_REGION_SCORE = 0.45
SECTOR_SCORE = 0.25
SECTOR_UNIT_SCORE = 0.4  # per keyword, for the unit among its body's units
BRANCH_SCORE = 0.05
# After a return, a national body that fits the complaint and has an office in the case's region.
OFFICE_SCORE = 0.3
# How much the trained model's probability counts against the directory evidence (noisy-or):
# chosen by 5-fold cross-validation on the train split (bench/routing.py --tune), never on test.
MODEL_WEIGHT = 0.9
# With the complaint's region known, the model's belief that the complaint is a regional
# government's matter (its probabilities summed over regional bodies) counts for that region's own
# government, at this weight: a model trained on one city's reports recognises road damage as a
# city matter, wherever the city.
REGIONAL_MATTER_WEIGHT = 0.6
# Decisions learned (activities/routing_memory.py): the share of similar decided complaints that
# went to a body, at this weight; for units, within their body.
LEARNED_WEIGHT = 0.8
LEARNED_UNIT_WEIGHT = 0.9
# The share of the learned decisions for a complaint that must have gone to the region's own
# government before a national body named only by an alias ranks below it.
LOCAL_AGREEMENT = 0.5
MAX_UNITS_PER_AGENCY = 3


# "Not our authority" bounces (routing_feedback): a body that bounced a complaint has its score
# multiplied by 1 - BOUNCE_PENALTY * s, s the highest word-set (Jaccard) similarity between the new
# text and a text it bounced, when s >= BOUNCE_MIN_SIMILARITY. The same text bounced again loses
# 80% of its score; unrelated texts are untouched. The learned memory's bounces (negative examples)
# count the same way, with its cosine similarity.
BOUNCE_PENALTY = 0.8
BOUNCE_MIN_SIMILARITY = 0.3


def _words(text: str) -> frozenset[str]:
    return frozenset(word for word in normalize(text).split() if len(word) > 2)


def _sectors(text: str) -> list[tuple[str, str, int]]:
    """Every sector the text is about: (unit slug, label, how many of its keywords), most first."""
    haystack = normalize(text)
    found = []
    for slug, label, keywords in SECTOR_RULES:
        hits = sum(1 for keyword in keywords if f" {keyword} " in haystack)
        if hits:
            found.append((slug, label, hits))
    return sorted(found, key=lambda item: -item[2])


def _unit_name_terms(entry: DirectoryEntry) -> list[tuple[str, str]]:
    """(normalized name without the body's own region, unit id) of each unit: "Kelurahan Menteng",
    "Dinas Pertamanan"."""
    label = normalize(entry.region_label)
    out = []
    for unit_id, name in entry.units:
        needle = normalize(name).replace(label, " ")
        needle = " " + " ".join(needle.split()) + " "
        if len(needle.split()) >= 2:
            out.append((needle, unit_id))
    return out


class Router:
    """The whole ranking: directory rules, the region (code or place names in the text), sector
    rules, the trained model and the learned decisions. Built once per directory snapshot and
    model version; `rank` is pure and cheap."""

    def __init__(
        self,
        entries: Sequence[DirectoryEntry],
        gazetteer: Gazetteer | None = None,
        model: TextModel | None = None,
        model_weight: float = MODEL_WEIGHT,
        bounces: Sequence[tuple[str, str]] = (),
        memory: DecisionMemory | None = None,
    ) -> None:
        """`bounces`: (agency id, complaint text) of each "not our authority" bounce."""
        self.entries = list(entries)
        self._bounced: dict[str, list[frozenset[str]]] = {}
        for agency_id, bounced_text in bounces:
            self._bounced.setdefault(agency_id, []).append(_words(bounced_text))
        self.gazetteer = gazetteer
        self.model = model
        self.model_weight = model_weight
        self.memory = memory
        self._regions = _by_region(self.entries)
        self._index = MentionIndex(self.entries)
        self._kinds = {e.id: e.is_regional for e in self.entries}
        self._unit_terms = {e.id: _unit_name_terms(e) for e in self.entries if e.units}

    @property
    def model_version(self) -> str:
        """Which model made a suggestion: the shipped text model ("lapor2017") or none ("rules"),
        and the learned memory's version."""
        base = "lapor2017" if self.model is not None else "rules"
        return f"{base}+{self.memory.version}" if self.memory is not None else base

    def rank(self, request: SuggestionRequest, limit: int = MAX_SUGGESTIONS) -> list[RoutingSuggestion]:
        excluded = set(request.exclude_agency_ids)
        candidates = [e for e in self.entries if e.id not in excluded]
        evidence, by_id = _directory_evidence(candidates, request, self._index)
        text = request.text
        haystack = normalize(text)
        government: DirectoryEntry | None = None
        places = self.gazetteer.find(text) if self.gazetteer is not None else []
        if request.region_code:
            # The reporter chose the region: another region admits its government only when the
            # text names it as where the problem is, not as where a bus goes or someone came from.
            places = [place for place in places if place.as_place]
        for place in places:  # another region named as the place: that region's government may lead
            named = _region_government(place.code, self._regions)
            if named is not None and named.id in evidence:
                evidence[named.id].named_place = True
        returned_by: DirectoryEntry | None = None
        if request.region_code:
            own = _region_government(request.region_code, self._regions)
            if own is not None and own.id in excluded:
                # The region's own government declined: its province is the region's next door.
                returned_by = own
                government = _region_government(
                    request.region_code, {k: e for k, e in self._regions.items() if e.id not in excluded}
                )
            else:
                government = own
        elif self.gazetteer is not None:
            place = self.gazetteer.pick(places)
            if place is not None:
                government = _region_government(place.code, self._regions)
                if government is not None and government.id in by_id:
                    found = evidence.setdefault(government.id, _Evidence([], []))
                    found.add(
                        TEXT_REGION_SCORE * place.strength,
                        say("region_named", region=government.region_label, term=place.term),
                    )
                    found.named_place = True
        if government is not None and government.id not in by_id:
            government = None
        if returned_by is not None:
            self._after_return(evidence, by_id, request.region_code or "", returned_by, government)
        if government is not None:
            sectors = _sectors(text)
            found = evidence.setdefault(government.id, _Evidence([], []))
            if sectors:
                slug, label, _ = sectors[0]
                if found.unit_id is None:
                    found.unit_id = f"{government.id}/{slug}"
                found.add(SECTOR_SCORE, say("sector", label=label))
                for slug, label, hits in sectors:
                    found.add_unit(f"{government.id}/{slug}", 1 - (1 - SECTOR_UNIT_SCORE) ** hits, say("sector", label=label))
            # A national body with branches: the branch of that region, when it has one.
            base = normalize(government.region_label.split(" ", 1)[-1].removeprefix("Administrasi "))
            for agency_id, found in evidence.items():
                entry = by_id[agency_id]
                if entry.units and found.unit_id is None and not entry.is_regional:
                    for unit_id, unit_name in entry.units:
                        if base in normalize(unit_name):
                            found.unit_id = unit_id
                            found.add(BRANCH_SCORE, say("branch", unit=unit_name))
                            found.add_unit(unit_id, 0.5, say("branch", unit=unit_name))
                            break
        # Units the text names by their own name (a kelurahan, a city's own department).
        for agency_id, found in evidence.items():
            for needle, unit_id in self._unit_terms.get(agency_id, ()):
                if needle in haystack:
                    found.add_unit(unit_id, 0.6, say("mentions", term=needle.strip()))
        if self.model is not None:
            probabilities = self.model.probabilities(text)
            for agency_id, p in sorted(probabilities.items(), key=lambda kv: -kv[1])[:10]:
                if agency_id in by_id and p >= 0.02:
                    evidence.setdefault(agency_id, _Evidence([], [])).add(
                        self.model_weight * p, say("like_cases", name=by_id[agency_id].name, share=f"{p:.0%}")
                    )
            if request.region_code and government is not None:
                regional = sum(p for agency_id, p in probabilities.items() if self._kinds.get(agency_id))
                if regional >= 0.05:
                    evidence[government.id].add(
                        REGIONAL_MATTER_WEIGHT * regional, say("regional_matter", share=f"{regional:.0%}")
                    )
        against: dict[str, float] = {}
        if self.memory is not None and len(self.memory):
            vote = self.memory.vote(text)
            for agency_id, share in vote.agencies.items():
                if agency_id in by_id:
                    n = vote.agency_counts[agency_id]
                    evidence.setdefault(agency_id, _Evidence([], [])).add(
                        LEARNED_WEIGHT * share, say("learned", count=str(n), name=by_id[agency_id].name, share=f"{share:.0%}")
                    )
            for unit_id, share in vote.units.items():
                found = evidence.get(unit_id.split("/", 1)[0])
                if found is not None:
                    n = vote.unit_counts[unit_id]
                    found.add_unit(unit_id, LEARNED_UNIT_WEIGHT * share, say("learned_units", count=str(n), share=f"{share:.0%}"))
            against = vote.against
            if government is not None and request.region_code:
                self._local_evidence_first(evidence, by_id, government, vote.agencies)
        if self._bounced or against:
            words = _words(text)
            for agency_id, found in evidence.items():
                similarity = max(
                    (len(words & other) / len(words | other) for other in self._bounced.get(agency_id, ()) if words | other),
                    default=0.0,
                )
                similarity = max(similarity, against.get(agency_id, 0.0))
                if similarity >= BOUNCE_MIN_SIMILARITY:
                    found.factor = 1.0 - BOUNCE_PENALTY * similarity
                    found.reasons.append(say("declined_before", share=f"{similarity:.0%}"))
        return _ranked(evidence, by_id, limit, government if request.region_code else None, self.model_version,
                       case_region=request.region_code, named_regions=[place.code for place in places])

    @staticmethod
    def _local_evidence_first(
        evidence: dict[str, _Evidence], by_id: dict[str, DirectoryEntry], government: DirectoryEntry,
        learned: dict[str, float],
    ) -> None:
        """Local evidence beats a bare alias: when the decisions learned for complaints like this
        one went mostly to the region's own government, a national body the text names only by an
        alias (a programme name such as PKH or BPNT), and that the reporter did not choose, ranks
        below that government (held at its score, like any body without strong evidence)."""
        local = learned.get(government.id, 0.0)
        if local < LOCAL_AGREEMENT:
            return
        for agency_id, found in evidence.items():
            entry = by_id[agency_id]
            if entry.is_regional or not found.by_alias or found.chosen or learned.get(agency_id, 0.0) >= local:
                continue
            found.strong = False
            found.reasons.append(SEPARATOR.join((say("alias_only"), say("local_decisions", name=government.name, share=f"{local:.0%}"))))

    def _after_return(
        self,
        evidence: dict[str, _Evidence],
        by_id: dict[str, DirectoryEntry],
        region_code: str,
        returned_by: DirectoryEntry,
        government: DirectoryEntry | None,
    ) -> None:
        """After the region's own government said "not our authority": say so on the province's
        government, and offer the national bodies with an office in the region."""
        declined = say("declined_here", region=returned_by.region_label)
        if government is not None:
            found = evidence.setdefault(government.id, _Evidence([], []))
            found.reasons.append(declined)
        region = returned_by.region_label
        for entry in by_id.values():
            if entry.is_regional or not has_office_in(offices=entry.offices, case_region=region_code):
                continue
            found = evidence.get(entry.id)
            if found is None:
                continue  # an office alone is no reason: the body must fit the complaint too
            found.add(OFFICE_SCORE, say("office", region=region))

    def units_for(self, request: SuggestionRequest, agency_id: str) -> list[UnitSuggestion]:
        """The units of one body (the one holding the case) ranked for a complaint: the dispose
        form's suggestions, by the same ranking."""
        entry = next((e for e in self.entries if e.id == agency_id), None)
        if entry is None or not entry.units:
            return []
        ranked = self.rank(request.model_copy(update={"agency_hint": agency_id}), limit=len(self.entries))
        return next((s.units for s in ranked if s.agency_id == agency_id), [])


def load_directory_entries(session: Session) -> list[DirectoryEntry]:
    rows = session.execute(
        select(Agency.id, Agency.name, Agency.kind, Agency.region_code, Agency.aliases, Agency.timezone).where(
            Agency.active
        )
    )
    units: dict[str, list[tuple[str, str]]] = {}
    for unit in session.execute(
        select(AgencyUnit.id, AgencyUnit.agency_id, AgencyUnit.name).where(AgencyUnit.active).order_by(AgencyUnit.id)
    ):
        units.setdefault(unit.agency_id, []).append((unit.id, unit.name))
    offices = national_offices()
    return [
        DirectoryEntry(
            id=row.id,
            name=row.name,
            kind=row.kind,
            region_code=row.region_code,
            aliases=tuple(row.aliases or ()),
            units=tuple(units.get(row.id, ())),
            timezone=row.timezone,
            offices=offices.get(row.id),
        )
        for row in rows
    ]


def directory_stamp(session: Session, learned: bool = True) -> tuple:
    """A cheap fingerprint of what the router is built from: the active learned version and, per
    bodies and units, how many, how many active, the sum of their names' lengths (and of the
    units' merges), and the number of bounces."""
    from activities.routing_learning import active_version

    agencies = session.execute(select(func.count(), func.sum(case((Agency.active, 1), else_=0)),
                                      func.sum(func.length(Agency.name)))).one()
    units = session.execute(select(func.count(), func.sum(case((AgencyUnit.active, 1), else_=0)),
                                   func.sum(func.length(AgencyUnit.name)),
                                   func.sum(func.length(func.coalesce(AgencyUnit.merged_into, ""))))).one()
    bounces = session.scalar(select(func.count()).select_from(RoutingFeedback))
    return (active_version(session) if learned else None, tuple(agencies), tuple(units), bounces)


def load_bounces(session: Session) -> list[tuple[str, str]]:
    """(agency id, title and description) of every "not our authority" bounce recorded."""
    rows = session.execute(
        select(RoutingFeedback.agency_id, Complaint.title, Complaint.description).join(
            Complaint, Complaint.tracking_id == RoutingFeedback.tracking_id
        )
    )
    return [(row.agency_id, f"{row.title}\n{row.description}") for row in rows]


class RoutingActivities:
    """The routing activity; the API's /v1/routing/suggestions calls the same `suggest_agencies`.

    `model="shared"` (the default) trains the text model from the shipped train split in a
    background thread at the first suggestion (about 15 s on two cores; once per process) and
    ranks with the directory rules alone until it is ready; `model=None` never uses one; a TextModel is used as given.
    The learned memory is the active version in the database (activities/routing_learning.py).
    Every STAMP_CHECK_SECONDS one cheap query compares the active version and a fingerprint of the
    directory (bodies and units: how many, how many active, their names' lengths, merges) with what
    the router was built from, and rebuilds it when they differ: an import's new version or a unit
    an agency admin removed is seen by every process within seconds. The whole directory is read
    again at least every DIRECTORY_TTL_SECONDS, for the edits a fingerprint cannot see (a rename
    to a name of the same length). `learned=False`: no learned memory.
    """

    DIRECTORY_TTL_SECONDS = 60.0
    STAMP_CHECK_SECONDS = 2.0

    def __init__(
        self, sessions: sessionmaker[Session], model: TextModel | str | None = "shared", *, learned: bool = True
    ) -> None:
        self._sessions = sessions
        self._lock = threading.Lock()
        self._router: Router | None = None
        self._loaded_at: float | None = None
        self._checked_at = 0.0
        self._stamp: tuple | None = None
        self._model: TextModel | None = model if isinstance(model, TextModel) else None
        self._train_pending = model == "shared"
        self._learned = learned
        self._memory: DecisionMemory | None = None
        self._memory_key: tuple[int, str] | None = None

    def _train(self) -> None:
        trained = shared_model()
        with self._lock:
            self._model = trained
            self._loaded_at = None  # rebuild the router with the model

    def refresh(self) -> None:
        """Read the directory and the active learned version again at the next suggestion."""
        with self._lock:
            self._loaded_at = None

    def _load_memory(self, session: Session) -> None:
        from activities.routing_learning import active_version, load_memory

        key = active_version(session)
        if key != self._memory_key:
            try:
                self._memory = load_memory(session, key[0]) if key is not None else None
            except (LookupError, ValueError, OSError, KeyError):  # a broken artefact: keep ranking as before
                log.exception("routing model version not loaded", version=key)
            self._memory_key = key

    def router(self) -> Router:
        with self._lock:
            if self._train_pending:
                self._train_pending = False
                threading.Thread(target=self._train, name="routing-model", daemon=True).start()
            now = time.monotonic()
            if self._loaded_at is not None and now - self._checked_at > self.STAMP_CHECK_SECONDS:
                self._checked_at = now
                with self._sessions() as session:
                    if directory_stamp(session, self._learned) != self._stamp:
                        self._loaded_at = None
            if self._loaded_at is None or now - self._loaded_at > self.DIRECTORY_TTL_SECONDS:
                with self._sessions() as session:
                    self._stamp = directory_stamp(session, self._learned)
                    entries = load_directory_entries(session)
                    bounces = load_bounces(session)
                    if self._learned:
                        self._load_memory(session)
                self._router = Router(entries, gazetteer(), self._model, bounces=bounces, memory=self._memory)
                self._loaded_at = now
            assert self._router is not None
            return self._router

    def suggest_units(self, request: SuggestionRequest, agency_id: str) -> list[UnitSuggestion]:
        return self.router().units_for(request, agency_id)

    @activity.defn(name="suggest_agencies")
    def suggest_agencies(self, request: SuggestionRequest) -> list[RoutingSuggestion]:
        return self.router().rank(request)
