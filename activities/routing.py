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
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from activities.routing_model import TextModel, shared_model
from db.directory import STANDARD_REGIONAL_UNITS, gazetteer
from db.models import REGIONAL_KINDS, Agency, AgencyKind, AgencyUnit, Complaint, RoutingFeedback
from domain.models import RoutingSuggestion, SuggestionRequest
from domain.regions import Gazetteer

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

    @cached_property
    def terms(self) -> tuple[tuple[str, str], ...]:
        """(normalized, as written) for the name and every alias worth matching."""
        written = (self.name, *self.aliases)
        return tuple((needle, term) for term in written if len(needle := normalize(term)) > 3)

    @property
    def is_regional(self) -> bool:
        return self.kind in REGIONAL_KINDS

    @property
    def region_label(self) -> str:
        """'Kota Palangkaraya' for 'Pemerintah Kota Palangkaraya'."""
        return self.name.removeprefix("Pemerintah ")


def normalize(text: str) -> str:
    """Lower-case words separated by single spaces, padded, so `' kota semarang ' in text` means
    the words appear together as whole words, whatever the punctuation between them."""
    return " " + " ".join(_WORD.findall(text.casefold())) + " "


@dataclass
class _Evidence:
    scores: list[float]
    reasons: list[str]
    unit_id: str | None = None
    factor: float = 1.0  # < 1 when the body bounced similar complaints (BOUNCE_PENALTY)

    def add(self, score: float, reason: str) -> None:
        self.scores.append(score)
        self.reasons.append(reason)

    @property
    def score(self) -> float:
        remaining = 1.0
        for score in self.scores:
            remaining *= 1.0 - score
        return round((1.0 - remaining) * self.factor, 4)


class MentionIndex:
    """Every name and alias of the directory, indexed by its first word, so finding the bodies a
    text names costs one dictionary look-up per word of the text."""

    def __init__(self, entries: Sequence[DirectoryEntry]) -> None:
        self._by_first: dict[str, list[tuple[tuple[str, ...], str, str]]] = {}
        for entry in entries:
            for needle, term in entry.terms:
                words = tuple(needle.split())
                self._by_first.setdefault(words[0], []).append((words, entry.id, term))

    def find(self, text: str) -> dict[str, list[str]]:
        """Which bodies `text` names, and with which of their terms (longest first).

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
        for start, end, agency_id, term in found:
            inside_longer = any(
                other_id != agency_id and s <= start and end <= e and (e - s) > (end - start)
                for s, e, other_id, _ in found
            )
            if not inside_longer:
                kept.setdefault(agency_id, []).append(term)
        return {
            agency_id: sorted(set(terms), key=len, reverse=True) for agency_id, terms in kept.items()
        }


def _mentions(text: str, entries: Sequence[DirectoryEntry]) -> dict[str, list[str]]:
    """Which bodies `text` names (see MentionIndex.find)."""
    return MentionIndex(entries).find(text)


def _named_unit(text: str) -> tuple[str, str] | None:
    """The standard regional unit the text names, if any: (slug, the term it used)."""
    haystack = normalize(text)
    named = [
        (len(term), unit.slug, term)
        for unit in STANDARD_REGIONAL_UNITS
        for term in (unit.name, *unit.aliases)
        if normalize(term) in haystack
    ]
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
        evidence_for(hint).add(HINT_IS_ID_SCORE, f"dipilih pelapor: {by_id[hint].name}")
    elif hint:
        for agency_id, terms in _mentions(hint, candidates).items():
            evidence_for(agency_id).add(HINT_NAMES_SCORE, f"ditujukan pelapor ke {terms[0]}")

    named = (index or MentionIndex(candidates)).find(request.text)
    for agency_id, terms in named.items():
        if agency_id not in by_id:
            continue  # excluded
        bonus = REPEATED_MENTION_BONUS * min(len(terms) - 1, 2)
        evidence_for(agency_id).add(TEXT_NAMES_SCORE + bonus, f"menyebut {terms[0]}")

    if request.region_code:
        government = _region_government(request.region_code, _by_region(candidates))
        if government is not None:
            evidence_for(government.id).add(REGION_SCORE, f"wilayah {government.region_label}")

    unit = _named_unit(f"{hint}\n{request.text}")
    if unit is not None:
        slug, term = unit
        for agency_id, found in evidence.items():
            if by_id[agency_id].is_regional:
                found.unit_id = f"{agency_id}/{slug}"
                found.add(UNIT_NAMED_SCORE, f"menyebut {term}")
    return evidence, by_id


def _by_region(entries: Sequence[DirectoryEntry]) -> dict[tuple[str, str], DirectoryEntry]:
    return {(e.kind, e.region_code): e for e in entries if e.is_regional and e.region_code}


def _ranked(
    evidence: dict[str, _Evidence], by_id: dict[str, DirectoryEntry], limit: int
) -> list[RoutingSuggestion]:
    ranked = sorted(evidence.items(), key=lambda item: (-item[1].score, by_id[item[0]].name))
    return [
        RoutingSuggestion(
            agency_id=agency_id,
            score=found.score,
            reason="; ".join(found.reasons),
            unit_id=found.unit_id,
            agency_name=by_id[agency_id].name,
            timezone=by_id[agency_id].timezone,
        )
        for agency_id, found in ranked[:limit]
    ]


def rank_agencies(
    entries: Sequence[DirectoryEntry], request: SuggestionRequest, limit: int = MAX_SUGGESTIONS
) -> list[RoutingSuggestion]:
    """The most likely bodies for a complaint by the directory rules alone, best first, with the
    reasons in Indonesian."""
    excluded = set(request.exclude_agency_ids)
    candidates = [entry for entry in entries if entry.id not in excluded]
    evidence, by_id = _directory_evidence(candidates, request)
    return _ranked(evidence, by_id, limit)


# Sector rules: what a complaint is about -> the unit of the region's government that handles it.
# Keywords are whole words of the text (normalized); the first rule that matches wins.
SECTOR_RULES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("dukcapil", "KTP/KK/akta", ("ktp", "e ktp", "ektp", "kartu keluarga", "akta kelahiran",
                                   "akta kematian", "akte", "kependudukan", "kia", "nik")),
    ("pupr", "jalan/drainase", ("jalan rusak", "jalan berlubang", "berlubang", "aspal", "drainase",
                                "gorong gorong", "saluran air", "jembatan", "banjir", "trotoar")),
    ("dishub", "lalu lintas/angkutan", ("parkir", "angkot", "angkutan umum", "lampu merah",
                                         "traffic light", "terminal", "macet", "kemacetan", "ngetem")),
    ("dlh", "sampah/lingkungan", ("sampah", "limbah", "pencemaran", "polusi", "bau busuk")),
    ("dinkes", "layanan kesehatan", ("puskesmas", "rsud", "dokter", "vaksin", "posyandu")),
    ("disdik", "sekolah", ("sekolah", "ppdb", "guru", "sd negeri", "smp negeri")),
    ("satpolpp", "ketertiban", ("pkl", "pedagang kaki lima", "satpol pp", "bangunan liar")),
)
# A region named in the text is worth less than a region_code the reporter chose.
TEXT_REGION_SCORE = 0.45
SECTOR_SCORE = 0.25
BRANCH_SCORE = 0.05
# How much the trained model's probability counts against the directory evidence (noisy-or):
# chosen by 5-fold cross-validation on the train split (bench/routing.py --tune), never on test.
MODEL_WEIGHT = 0.9


# "Not our authority" bounces (routing_feedback): a body that bounced a complaint has its score
# multiplied by 1 - BOUNCE_PENALTY * s, s the highest word-set (Jaccard) similarity between the new
# text and a text it bounced, when s >= BOUNCE_MIN_SIMILARITY. The same text bounced again loses
# 80% of its score; unrelated texts are untouched. Deliberately simple and explainable: the text
# model is not retrained on bounces (it is fixed to the LAPOR! train split that bench.routing
# measures), so the penalty is a correction on top of it, visible in the reason.
BOUNCE_PENALTY = 0.8
BOUNCE_MIN_SIMILARITY = 0.3


def _words(text: str) -> frozenset[str]:
    return frozenset(word for word in normalize(text).split() if len(word) > 2)


def _sector(text: str) -> tuple[str, str] | None:
    haystack = normalize(text)
    for slug, label, keywords in SECTOR_RULES:
        for keyword in keywords:
            if f" {keyword} " in haystack:
                return slug, label
    return None


class Router:
    """The whole ranking: directory rules, the region (code or place names in the text), sector
    rules and the trained model. Built once per directory snapshot; `rank` is pure and cheap."""

    def __init__(
        self,
        entries: Sequence[DirectoryEntry],
        gazetteer: Gazetteer | None = None,
        model: TextModel | None = None,
        model_weight: float = MODEL_WEIGHT,
        bounces: Sequence[tuple[str, str]] = (),
    ) -> None:
        """`bounces`: (agency id, complaint text) of each "not our authority" bounce."""
        self.entries = list(entries)
        self._bounced: dict[str, list[frozenset[str]]] = {}
        for agency_id, bounced_text in bounces:
            self._bounced.setdefault(agency_id, []).append(_words(bounced_text))
        self.gazetteer = gazetteer
        self.model = model
        self.model_weight = model_weight
        self._regions = _by_region(self.entries)
        self._index = MentionIndex(self.entries)

    def rank(self, request: SuggestionRequest, limit: int = MAX_SUGGESTIONS) -> list[RoutingSuggestion]:
        excluded = set(request.exclude_agency_ids)
        candidates = [e for e in self.entries if e.id not in excluded]
        evidence, by_id = _directory_evidence(candidates, request, self._index)
        text = request.text
        government: DirectoryEntry | None = None
        if request.region_code:
            government = _region_government(request.region_code, self._regions)
        elif self.gazetteer is not None:
            place = self.gazetteer.resolve(text)
            if place is not None:
                government = _region_government(place.code, self._regions)
                if government is not None and government.id in by_id:
                    evidence.setdefault(government.id, _Evidence([], [])).add(
                        TEXT_REGION_SCORE * place.strength,
                        f"wilayah {government.region_label} (disebut \"{place.term}\")",
                    )
        if government is not None and government.id in by_id:
            sector = _sector(text)
            if sector is not None:
                slug, label = sector
                found = evidence.setdefault(government.id, _Evidence([], []))
                if found.unit_id is None:
                    found.unit_id = f"{government.id}/{slug}"
                found.add(SECTOR_SCORE, f"urusan {label}")
            # A national body with branches: the branch of that region, when it has one.
            base = normalize(government.region_label.split(" ", 1)[-1].removeprefix("Administrasi "))
            for agency_id, found in evidence.items():
                entry = by_id[agency_id]
                if entry.units and found.unit_id is None and not entry.is_regional:
                    for unit_id, unit_name in entry.units:
                        if base in normalize(unit_name):
                            found.unit_id = unit_id
                            found.add(BRANCH_SCORE, f"cabang {unit_name}")
                            break
        if self.model is not None:
            probabilities = self.model.probabilities(text)
            for agency_id, p in sorted(probabilities.items(), key=lambda kv: -kv[1])[:10]:
                if agency_id in by_id and p >= 0.02:
                    evidence.setdefault(agency_id, _Evidence([], [])).add(
                        self.model_weight * p, f"mirip laporan ke {by_id[agency_id].name} ({p:.0%})"
                    )
        if self._bounced:
            words = _words(text)
            for agency_id, found in evidence.items():
                similarity = max(
                    (len(words & other) / len(words | other) for other in self._bounced.get(agency_id, ()) if words | other),
                    default=0.0,
                )
                if similarity >= BOUNCE_MIN_SIMILARITY:
                    found.factor = 1.0 - BOUNCE_PENALTY * similarity
                    found.reasons.append(f"pernah menolak laporan serupa ({similarity:.0%} mirip)")
        return _ranked(evidence, by_id, limit)


def load_directory_entries(session: Session) -> list[DirectoryEntry]:
    rows = session.execute(
        select(Agency.id, Agency.name, Agency.kind, Agency.region_code, Agency.aliases, Agency.timezone).where(
            Agency.active
        )
    )
    units: dict[str, list[tuple[str, str]]] = {}
    for unit in session.execute(select(AgencyUnit.id, AgencyUnit.agency_id, AgencyUnit.name)):
        units.setdefault(unit.agency_id, []).append((unit.id, unit.name))
    return [
        DirectoryEntry(
            id=row.id,
            name=row.name,
            kind=row.kind,
            region_code=row.region_code,
            aliases=tuple(row.aliases or ()),
            units=tuple(units.get(row.id, ())),
            timezone=row.timezone,
        )
        for row in rows
    ]


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
    """

    # The directory changes rarely; reading it once a minute keeps suggestions cheap.
    DIRECTORY_TTL_SECONDS = 60.0

    def __init__(
        self, sessions: sessionmaker[Session], model: TextModel | str | None = "shared"
    ) -> None:
        self._sessions = sessions
        self._lock = threading.Lock()
        self._router: Router | None = None
        self._loaded_at: float | None = None
        self._model: TextModel | None = model if isinstance(model, TextModel) else None
        self._train_pending = model == "shared"

    def _train(self) -> None:
        trained = shared_model()
        with self._lock:
            self._model = trained
            self._loaded_at = None  # rebuild the router with the model

    def router(self) -> Router:
        with self._lock:
            if self._train_pending:
                self._train_pending = False
                threading.Thread(target=self._train, name="routing-model", daemon=True).start()
            now = time.monotonic()
            if self._loaded_at is None or now - self._loaded_at > self.DIRECTORY_TTL_SECONDS:
                with self._sessions() as session:
                    entries = load_directory_entries(session)
                    bounces = load_bounces(session)
                self._router = Router(entries, gazetteer(), self._model, bounces=bounces)
                self._loaded_at = now
            assert self._router is not None
            return self._router

    @activity.defn(name="suggest_agencies")
    def suggest_agencies(self, request: SuggestionRequest) -> list[RoutingSuggestion]:
        return self.router().rank(request)
