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

from db.directory import STANDARD_REGIONAL_UNITS
from db.models import REGIONAL_KINDS, Agency, AgencyKind
from domain.models import RoutingSuggestion, SuggestionRequest

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

    def add(self, score: float, reason: str) -> None:
        self.scores.append(score)
        self.reasons.append(reason)

    @property
    def score(self) -> float:
        remaining = 1.0
        for score in self.scores:
            remaining *= 1.0 - score
        return round(1.0 - remaining, 4)


def _mentions(text: str, entries: Sequence[DirectoryEntry]) -> dict[str, list[str]]:
    """Which bodies `text` names, and with which of their terms (longest first).

    A mention inside a longer mention of another body does not count: "Kabupaten Bandung Barat"
    names Bandung Barat, not Kabupaten Bandung.
    """
    haystack = normalize(text)
    found: list[tuple[int, int, str, str]] = []  # start, end, agency id, term as written
    for entry in entries:
        for needle, term in entry.terms:
            start = haystack.find(needle)
            while start != -1:
                found.append((start, start + len(needle), entry.id, term))
                start = haystack.find(needle, start + 1)
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


def rank_agencies(
    entries: Sequence[DirectoryEntry], request: SuggestionRequest, limit: int = MAX_SUGGESTIONS
) -> list[RoutingSuggestion]:
    """The most likely bodies for a complaint, best first, with the reasons in Indonesian."""
    excluded = set(request.exclude_agency_ids)
    candidates = [entry for entry in entries if entry.id not in excluded]
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

    for agency_id, terms in _mentions(request.text, candidates).items():
        bonus = REPEATED_MENTION_BONUS * min(len(terms) - 1, 2)
        evidence_for(agency_id).add(TEXT_NAMES_SCORE + bonus, f"menyebut {terms[0]}")

    if request.region_code:
        by_region = {
            (e.kind, e.region_code): e for e in candidates if e.is_regional and e.region_code
        }
        government = _region_government(request.region_code, by_region)
        if government is not None:
            evidence_for(government.id).add(REGION_SCORE, f"wilayah {government.region_label}")

    unit = _named_unit(f"{hint}\n{request.text}")
    if unit is not None:
        slug, term = unit
        for agency_id, found in evidence.items():
            if by_id[agency_id].is_regional:
                found.unit_id = f"{agency_id}/{slug}"
                found.add(UNIT_NAMED_SCORE, f"menyebut {term}")

    ranked = sorted(evidence.items(), key=lambda item: (-item[1].score, by_id[item[0]].name))
    return [
        RoutingSuggestion(
            agency_id=agency_id,
            score=found.score,
            reason="; ".join(found.reasons),
            unit_id=found.unit_id,
        )
        for agency_id, found in ranked[:limit]
    ]


def load_directory_entries(session: Session) -> list[DirectoryEntry]:
    rows = session.execute(
        select(Agency.id, Agency.name, Agency.kind, Agency.region_code, Agency.aliases).where(
            Agency.active
        )
    )
    return [
        DirectoryEntry(
            id=row.id,
            name=row.name,
            kind=row.kind,
            region_code=row.region_code,
            aliases=tuple(row.aliases or ()),
        )
        for row in rows
    ]


class RoutingActivities:
    # The directory changes rarely; reading it once a minute keeps suggestions cheap.
    DIRECTORY_TTL_SECONDS = 60.0

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._lock = threading.Lock()
        self._entries: list[DirectoryEntry] = []
        self._loaded_at: float | None = None

    def directory(self) -> list[DirectoryEntry]:
        with self._lock:
            now = time.monotonic()
            if self._loaded_at is None or now - self._loaded_at > self.DIRECTORY_TTL_SECONDS:
                with self._sessions() as session:
                    self._entries = load_directory_entries(session)
                self._loaded_at = now
            return self._entries

    @activity.defn(name="suggest_agencies")
    def suggest_agencies(self, request: SuggestionRequest) -> list[RoutingSuggestion]:
        return rank_agencies(self.directory(), request)
