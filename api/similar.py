"""Similar open reports for a report (typed in the form, or a case being verified).

Candidates come from the read model through indexes (same regency or province, pins nearby, or
title words when the report says neither), at most a few hundred, and `domain.similar` ranks
them. Who asks decides what is compared: the public is offered only public cases; agency staff
only their agency's cases; administrators and observers every open case. An anonymous reporter's
pin is for administrators and observers alone (docs/policies.md): for anyone else it is never
compared, neither as a candidate's nor as the case one starts from, and anonymous cases are not
even selected by nearness (whether one turns up for a pin would tell where it is, by bisection).
A pin outside its case's region (issue 22, not yet confirmed by a verifier) is compared by no one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from api.read_model import IS_OPEN
from db.boundaries import pin_flagged
from db.models import Complaint
from db.portal_models import CaseSupport
from domain.enums import OPEN_STATUSES, ArchiveReason
from domain.similar import MAX_RESULTS, SHOWN_MINIMUM, Match, Report, rank, search_words
from domain.visibility import AGENCY_ROLES, SEES_EVERYTHING, Viewer

REGION_CANDIDATES = 300
POINT_CANDIDATES = 200
WORD_CANDIDATES = 100
WORD_SCOPE = 5_000  # a substring search reads every title it is given: only the newest open cases
OPEN_VALUES = sorted(s.value for s in OPEN_STATUSES)
NEARBY_DEGREES = 0.02  # about 2.2 km of latitude around a pin


@dataclass(frozen=True)
class SimilarCase:
    """One similar open case as its viewer may see it (no reporter, no pin of an anonymous one)."""

    tracking_id: str
    title: str
    status: str
    region_code: str | None
    category: str | None
    agency_id: str | None
    match: Match


@lru_cache(maxsize=1)
def _places_within() -> dict[str, tuple[str, ...]]:
    """Every region code → itself and every code inside it (a province's regencies and districts)."""
    from db.directory import DISTRICTS_CSV, REGIONS_CSV, load_regions

    inside: dict[str, list[str]] = {}
    for path in (REGIONS_CSV, DISTRICTS_CSV):
        for region in load_regions(path):
            inside.setdefault(region.code, []).append(region.code)
            parts = region.code.split(".")
            for depth in range(1, len(parts)):
                inside.setdefault(".".join(parts[:depth]), []).append(region.code)
    return {code: tuple(sorted(set(codes))) for code, codes in inside.items()}


def _area(region_code: str) -> tuple[str, ...]:
    """The regency of a report (or its province when it names only that), with every place inside."""
    parts = region_code.split(".")
    scope = ".".join(parts[:2])
    return _places_within().get(scope, (scope,))


def _scoped(statement: Select, viewer: Viewer, *, status_index: bool = True) -> Select:
    # coalesce(): the same condition, but one no index can serve, so that the planner walks the
    # index of the query's other condition (SQLite plans without statistics).
    statement = statement.where(IS_OPEN if status_index else func.coalesce(Complaint.status, "").in_(OPEN_VALUES))
    if viewer.role in SEES_EVERYTHING:
        return statement
    if viewer.role in AGENCY_ROLES:
        return statement.where(Complaint.agency_id == viewer.agency_id)
    return statement.where(Complaint.confidential.is_(False))


def hides_anonymous_pins(viewer: Viewer) -> bool:
    """Whether an anonymous reporter's pin must stay out of what `viewer` is shown or given."""
    return viewer.role not in SEES_EVERYTHING


def _columns() -> Select:
    return select(
        Complaint.tracking_id, Complaint.title, func.substr(Complaint.description, 1, 800),
        Complaint.region_code, Complaint.category, Complaint.location_lat, Complaint.location_lon,
        Complaint.anonymous, Complaint.status, Complaint.agency_id, Complaint.pin_outside_region,
    )


def candidates(session: Session, new: Report, viewer: Viewer) -> dict[str, tuple]:
    """Open cases that could be the same problem, by tracking id (a few hundred at most)."""
    newest = (Complaint.submitted_at.desc(), Complaint.tracking_id.desc())
    queries: list[Select] = []
    if new.region_code:
        queries.append(_scoped(_columns(), viewer).where(Complaint.region_code.in_(_area(new.region_code)))
                       .order_by(*newest).limit(REGION_CANDIDATES))
    if new.has_point:
        spread = NEARBY_DEGREES / max(math.cos(math.radians(new.lat)), 0.1)  # type: ignore[arg-type]
        near = _scoped(_columns(), viewer).where(
            Complaint.location_lat.between(new.lat - NEARBY_DEGREES, new.lat + NEARBY_DEGREES),  # type: ignore[operator]
            Complaint.location_lon.between(new.lon - spread, new.lon + spread),  # type: ignore[operator]
        )
        # A pin outside its region (not yet confirmed) finds nothing and is found by nothing.
        near = near.where(Complaint.pin_outside_region.is_(False))
        if hides_anonymous_pins(viewer):  # found by region or words still, never by their pin
            near = near.where(Complaint.anonymous.is_(False))
        queries.append(near.order_by(*newest).limit(POINT_CANDIDATES))
    if not queries:  # neither place nor pin: the title's words, among the newest cases
        found = search_words(new)
        cutoff = session.scalar(
            select(Complaint.submitted_at).order_by(Complaint.submitted_at.desc()).offset(WORD_SCOPE).limit(1))
        if found:
            queries.append(_scoped(_columns(), viewer, status_index=False).where(
                *([Complaint.submitted_at >= cutoff] if cutoff is not None else []),
                or_(*(Complaint.title.icontains(word, autoescape=True) for word in found)),
            ).order_by(*newest).limit(WORD_CANDIDATES))
    rows: dict[str, tuple] = {}
    for query in queries:
        for row in session.execute(query):
            rows.setdefault(row[0], tuple(row))
    return rows


def similar_cases(session: Session, new: Report, viewer: Viewer, *, minimum: float = SHOWN_MINIMUM,
                  limit: int = MAX_RESULTS) -> list[SimilarCase]:
    """The open cases most likely the same problem as `new`, best first, as `viewer` may see them."""
    found = candidates(session, new, viewer)
    hides_pins = hides_anonymous_pins(viewer)
    reports = []
    for tracking_id, title, description, region, category, lat, lon, anonymous, _, _, flagged in found.values():
        if (anonymous and hides_pins) or flagged:
            lat = lon = None
        reports.append(Report(title=title, description=description or "", region_code=region, category=category,
                              lat=lat, lon=lon, tracking_id=tracking_id))
    matches = rank(new, reports, minimum=minimum, limit=limit)
    return [
        SimilarCase(tracking_id=m.tracking_id, title=found[m.tracking_id][1], status=found[m.tracking_id][8],
                    region_code=found[m.tracking_id][3], category=found[m.tracking_id][4],
                    agency_id=found[m.tracking_id][9], match=m)
        for m in matches
    ]


def without_outside_pin(report: Report) -> Report:
    """A report being typed, its pin left out when it lies outside the region chosen (issue 22)."""
    if report.has_point and pin_flagged(report.region_code, report.lat, report.lon):
        return replace(report, lat=None, lon=None)
    return report


def report_of_case(row: Complaint, viewer: Viewer) -> Report:
    """A case to start from, as `viewer` may compare it (an anonymous reporter's pin left out for
    whoever may not see it: distances to the other cases would tell where it is)."""
    hidden = (row.anonymous and hides_anonymous_pins(viewer)) or row.pin_outside_region
    pin = (None, None) if hidden else (row.location_lat, row.location_lon)
    return Report(title=row.title, description=row.description, region_code=row.region_code,
                  category=row.category, lat=pin[0], lon=pin[1], tracking_id=row.tracking_id)


def voices(session: Session, tracking_ids: list[str], *,
           counts_confidential: bool = False) -> dict[str, tuple[int, int]]:
    """Per case: how many reported it (itself and the duplicates merged into it) and supported it.
    Confidential duplicates count only with `counts_confidential` (administrators and observers):
    a public figure never tells that a confidential report exists."""
    if not tracking_ids:
        return {}
    merged_query = (select(Complaint.duplicate_of, func.count())
                    .where(Complaint.duplicate_of.in_(tracking_ids),
                           Complaint.archive_reason == ArchiveReason.DUPLICATE.value)
                    .group_by(Complaint.duplicate_of))
    if not counts_confidential:
        merged_query = merged_query.where(Complaint.confidential.is_(False))
    merged = dict(session.execute(merged_query).all())
    supports = dict(session.execute(
        select(CaseSupport.tracking_id, func.count()).where(CaseSupport.tracking_id.in_(tracking_ids))
        .group_by(CaseSupport.tracking_id)
    ).all())
    return {t: (1 + merged.get(t, 0), supports.get(t, 0)) for t in tracking_ids}


def may_be_original(session: Session, tracking_id: str, original_id: str) -> str | None:
    """Why `original_id` cannot be the case a duplicate points to, or None when it can."""
    if original_id == tracking_id:
        return "Laporan tidak dapat menjadi duplikat dirinya sendiri."
    row = session.get(Complaint, original_id)
    if row is None:
        return f"Laporan asal {original_id} tidak ditemukan."
    if row.archive_reason == ArchiveReason.DUPLICATE.value:
        return f"Laporan {original_id} sendiri duplikat dari {row.duplicate_of}: pilih laporan asalnya."
    return None

