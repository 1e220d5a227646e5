"""Similar reports never tell where an anonymous reporter's pin is, except to administrators and
observers (docs/policies.md), and never count or name a confidential case for the public."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from api.similar import report_of_case, similar_cases, voices
from db.models import Complaint
from domain.enums import ArchiveReason, Role
from domain.similar import Report
from domain.visibility import PUBLIC, Viewer

AGENCY = "dinas-pu"
TITLE = "Lampu jalan mati di Jl. Tjilik Riwut"
PIN = (-2.2, 113.9)
OFFICER = Viewer(role=Role.OFFICER, agency_id=AGENCY)
AGENCY_ADMIN = Viewer(role=Role.AGENCY_ADMIN, agency_id=AGENCY)
ADMIN, OBSERVER = Viewer(role=Role.ADMIN), Viewer(role=Role.OBSERVER)


def _case(tracking_id: str, *, anonymous: bool = False, confidential: bool = False, region: str | None = None,
          pin: tuple[float, float] | None = PIN, **extra) -> Complaint:
    values = dict(
        tracking_id=tracking_id, seq=1, status="awaiting_agency", title=TITLE,
        description="Lampu penerangan jalan mati sejak seminggu, gelap dan rawan kecelakaan.",
        report_type="pengaduan", channel="api", submitted_at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
        policy_version="p", calendar_version="c", agency_id=AGENCY, region_code=region,
        location_lat=pin[0] if pin else None, location_lon=pin[1] if pin else None,
        anonymous=anonymous, confidential=confidential,
    )
    return Complaint(**(values | extra))  # `extra` may replace any of them (status of a merged one)


@pytest.fixture
def cases(sessions: sessionmaker[Session]):
    def add(*rows: Complaint) -> None:
        with sessions.begin() as session:
            session.add_all(rows)
    yield add
    with sessions.begin() as session:
        session.execute(delete(Complaint))


def _found(session: Session, viewer: Viewer, lat: float, lon: float) -> dict[str, float | None]:
    return {s.tracking_id: s.match.distance_m for s in similar_cases(session, Report(title=TITLE, lat=lat, lon=lon), viewer)}


def test_an_anonymous_pin_cannot_be_found_by_moving_a_search_pin_around(sessions, cases) -> None:
    cases(_case("LAP-ANON", anonymous=True), _case("LAP-NAMED", pin=(PIN[0] + 0.001, PIN[1])))
    far = (PIN[0] + 0.5, PIN[1])  # outside the ±0.02° box around either pin
    with sessions() as session:
        for viewer in (PUBLIC, OFFICER, AGENCY_ADMIN):
            near = _found(session, viewer, *PIN)
            # Whether the anonymous case turns up does not depend on the pin: not selected by it.
            assert "LAP-ANON" not in near and "LAP-ANON" not in _found(session, viewer, *far), viewer
            assert near["LAP-NAMED"] is not None  # a named reporter's pin still counts
        for viewer in (ADMIN, OBSERVER):
            assert _found(session, viewer, *PIN)["LAP-ANON"] == 0


def test_an_anonymous_case_found_by_its_region_shows_no_distance_but_to_who_sees_everything(sessions, cases) -> None:
    cases(_case("LAP-ANON", anonymous=True, region="62.71"))
    report = Report(title=TITLE, region_code="62.71", lat=PIN[0] + 0.001, lon=PIN[1])
    with sessions() as session:
        for viewer in (PUBLIC, OFFICER):
            [found] = similar_cases(session, report, viewer)
            assert found.tracking_id == "LAP-ANON" and found.match.distance_m is None
            assert "distance" not in {r.kind for r in found.match.reasons}
        [found] = similar_cases(session, report, ADMIN)
        assert found.match.distance_m is not None


def test_starting_from_an_anonymous_case_gives_agency_staff_no_distances(sessions, cases) -> None:
    cases(_case("LAP-ANON", anonymous=True, region="62.71"),
          _case("LAP-NAMED", region="62.71", pin=(PIN[0] + 0.003, PIN[1])))
    with sessions() as session:
        start = session.get(Complaint, "LAP-ANON")
        for viewer in (OFFICER, AGENCY_ADMIN):
            [found] = similar_cases(session, report_of_case(start, viewer), viewer)
            assert found.tracking_id == "LAP-NAMED" and found.match.distance_m is None
        [found] = similar_cases(session, report_of_case(start, ADMIN), ADMIN)
        assert found.match.distance_m == pytest.approx(334, abs=2)


def test_confidential_duplicates_are_not_counted_in_public_figures(sessions, cases) -> None:
    merged = dict(status="archived", archive_reason=ArchiveReason.DUPLICATE.value, duplicate_of="LAP-ORIGINAL")
    cases(_case("LAP-ORIGINAL"), _case("LAP-PUBLIC-DUP", **merged),
          _case("LAP-SECRET-DUP", confidential=True, **merged))
    with sessions() as session:
        assert voices(session, ["LAP-ORIGINAL"]) == {"LAP-ORIGINAL": (2, 0)}
        assert voices(session, ["LAP-ORIGINAL"], counts_confidential=True) == {"LAP-ORIGINAL": (3, 0)}
