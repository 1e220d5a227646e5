"""The administrators' dashboard: figures from a read model of eight known cases, and their SVG.

The cases go through the real transition table (CaseMachine) and record_case, so the timeline
rows are the ones production writes. Runs on SQLite, and on PostgreSQL with DATABASE_URL set.
"""

from __future__ import annotations

import statistics
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from defusedxml import ElementTree
from markupsafe import Markup
from sqlalchemy.orm import Session, sessionmaker

from activities.records import RecordActivities
from portal.charts import (
    LABEL_KEYS,
    LABELS_EN,
    first_response_chart,
    on_time_chart,
    overdue_chart,
    overdue_table,
    performance_table,
    render_dashboard,
    status_chart,
    status_table,
)
from portal.dashboard import DashboardData, dashboard_data
from db.models import Agency
from domain.calendar import calendar_for
from domain.enums import Action, ArchiveReason, ClockKind, Role
from domain.lifecycle import CaseMachine
from domain.models import Actor, AgencyRef, ComplaintDetails, FollowUpInput, VerificationInput
from domain.policy import current_policy
from tests.db.conftest import database_url, engine, new_database_url, sessions  # noqa: F401 (fixtures)

WIB = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 12, 20, 12, 0, tzinfo=WIB)  # a Sunday; the window is 21 Nov to 20 Dec
ADMIN = Actor(role=Role.ADMIN, name="admin nasional")
PROVINCE = "pemprov-62"
EVIL = "uji-xss"
EVIL_NAME = '<script>alert("x")</script> Dinas & "Uji"'
SVG = "{http://www.w3.org/2000/svg}"


class Case:
    """One case driven through the transition table; `record` projects all of it."""

    def __init__(self, submitted_at: datetime) -> None:
        self.machine = CaseMachine.open(
            f"LAP-{uuid.uuid4().hex[:10].upper()}",
            ComplaintDetails(title="Jalan rusak", description="Jalan di depan pasar berlubang besar.",
                             region_code="62.71"),
            submitted_at,
            current_policy(),
            calendar_for(submitted_at),
        )
        self.forwarded_at: datetime | None = None
        self.answered_at: datetime | None = None

    def accept(self, at: datetime, agency: AgencyRef) -> Case:
        self.machine.accept(at, VerificationInput(actor=ADMIN, decision=Action.ACCEPT, agency=agency))
        self.forwarded_at = at
        return self

    def follow_up(self, at: datetime) -> Case:
        agency = self.machine.state.agency
        assert agency is not None
        self.machine.follow_up(at, FollowUpInput(actor=Actor(role=Role.AGENCY_ADMIN, agency_id=agency.id),
                                                 message="Sudah ditangani."))
        self.answered_at = at
        return self

    def response_due(self) -> datetime:
        return self.machine.state.clocks[ClockKind.RESPONSE].due_at

    def first_response_hours(self) -> float:
        assert self.forwarded_at and self.answered_at
        return (self.answered_at - self.forwarded_at).total_seconds() / 3600


def at(day: int, hour: int, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=WIB)


@pytest.fixture(scope="module")
def cases(sessions: sessionmaker[Session]) -> dict[str, Case]:  # noqa: F811
    with sessions.begin() as session:
        province_name = session.get(Agency, PROVINCE).name  # seeded directory
        session.add(Agency(id=EVIL, name=EVIL_NAME, kind="agency", timezone="Asia/Jakarta"))
    province = AgencyRef(id=PROVINCE, name=province_name, timezone="Asia/Jakarta")
    evil = AgencyRef(id=EVIL, name=EVIL_NAME, timezone="Asia/Jakarta")
    made: dict[str, Case] = {}
    # Province: answered on time, answered late, never answered (past due), answered before the window.
    made["on_time"] = Case(at(1, 9)).accept(at(1, 13), province).follow_up(at(2, 13))
    late = made["late"] = Case(at(1, 10)).accept(at(1, 12), province)
    late.follow_up(late.response_due() + timedelta(hours=12))
    made["waiting"] = Case(at(1, 11)).accept(at(1, 11) + timedelta(minutes=30), province)
    made["waiting"].machine.fire_due(NOW)  # response deadline breached: overdue
    old = made["old"] = Case(at(1, 9, 11)).accept(at(2, 10, 11), province).follow_up(at(3, 10, 11))
    old.machine.fire_due(at(25, 0, 11))  # the reporter's silence completes it on 18 Nov
    # Without agency: one past its verification deadline, one rejected.
    made["unverified"] = Case(at(3, 9))
    made["unverified"].machine.fire_due(NOW)
    made["rejected"] = Case(at(2, 9))
    made["rejected"].machine.reject(at(2, 10), VerificationInput(actor=ADMIN, decision=Action.REJECT,
                                                                  reason=ArchiveReason.NOT_A_COMPLAINT))
    # The agency with a hostile name: answered in 4 hours, and one never answered (past due).
    made["quick"] = Case(at(4, 9)).accept(at(4, 10), evil).follow_up(at(4, 14))
    made["evil_waiting"] = Case(at(5, 9)).accept(at(7, 10), evil)
    made["evil_waiting"].machine.fire_due(NOW)
    records = RecordActivities(sessions)
    for case in made.values():
        records.record_case(case.machine.record_since(0))
    return made


@pytest.fixture(scope="module")
def data(sessions: sessionmaker[Session], cases: dict[str, Case]) -> DashboardData:  # noqa: F811
    with sessions() as session:
        return dashboard_data(session, now=NOW, days=30)


def counts_on(data: DashboardData, day: date) -> dict[str, int]:
    [found] = [entry for entry in data.status_by_day if entry.day == day]
    return {status.value: count for status, count in found.counts.items() if count}


def test_the_window_is_thirty_wib_days_ending_today(data: DashboardData) -> None:
    assert data.zone == "Asia/Jakarta"
    assert [entry.day for entry in data.status_by_day][0] == date(2026, 11, 21)
    assert [entry.day for entry in data.status_by_day][-1] == date(2026, 12, 20)
    assert len(data.status_by_day) == 30
    assert data.window_start == datetime(2026, 11, 21, tzinfo=WIB)


def test_status_counts_at_the_end_of_each_day(data: DashboardData, cases: dict[str, Case]) -> None:
    assert cases["old"].machine.state.completed_at == datetime(2026, 11, 18, tzinfo=WIB)
    assert counts_on(data, date(2026, 11, 21)) == {"completed": 1}
    assert counts_on(data, date(2026, 11, 30)) == {"completed": 1}
    assert counts_on(data, date(2026, 12, 1)) == {"completed": 1, "awaiting_agency": 3}
    assert counts_on(data, date(2026, 12, 2)) == {
        "completed": 1, "awaiting_agency": 2, "awaiting_reporter": 1, "archived": 1,
    }
    assert counts_on(data, date(2026, 12, 4)) == {
        "completed": 1, "awaiting_agency": 2, "awaiting_reporter": 2, "archived": 1, "awaiting_verification": 1,
    }
    late_day = cases["late"].answered_at.astimezone(WIB).date()
    assert counts_on(data, late_day)["awaiting_reporter"] == 3
    today = {"completed": 1, "archived": 1, "awaiting_verification": 1, "awaiting_agency": 2, "awaiting_reporter": 3}
    assert counts_on(data, date(2026, 12, 20)) == today
    assert data.status_by_day[-1].total == len(cases)


def test_on_time_rate_and_median_per_agency(data: DashboardData, cases: dict[str, Case]) -> None:
    province, evil = data.performance  # most considered cases first
    assert (province.agency_id, evil.agency_id) == (PROVINCE, EVIL)
    assert province.agency_name.startswith("Pemerintah Provinsi")
    assert evil.agency_name == EVIL_NAME
    # The case answered before the window is not considered; the one never answered is late.
    assert (province.on_time, province.answered_late, province.unanswered_past_due) == (1, 1, 1)
    assert province.considered == 3 and province.late == 2
    assert province.on_time_rate == pytest.approx(1 / 3)
    expected = statistics.median([cases["on_time"].first_response_hours(), cases["late"].first_response_hours()])
    assert province.median_first_response_hours == pytest.approx(expected, abs=0.01)
    assert (evil.on_time, evil.answered_late, evil.unanswered_past_due) == (1, 0, 1)
    assert evil.on_time_rate == pytest.approx(0.5)
    assert evil.median_first_response_hours == pytest.approx(4.0)


def test_overdue_open_cases_by_agency(data: DashboardData) -> None:
    assert [(row.agency_id, row.overdue) for row in data.overdue] == [(PROVINCE, 1), (EVIL, 1)]
    assert data.overdue_without_agency == 1
    assert data.overdue_total == 3


def test_scoped_to_one_agency(sessions: sessionmaker[Session], cases: dict[str, Case]) -> None:  # noqa: F811
    with sessions() as session:
        scoped = dashboard_data(session, now=NOW, days=30, agency_id=EVIL)
    assert counts_on(scoped, date(2026, 12, 4)) == {"awaiting_reporter": 1}
    assert counts_on(scoped, date(2026, 12, 6)) == {"awaiting_reporter": 1, "awaiting_verification": 1}
    assert counts_on(scoped, date(2026, 12, 20)) == {"awaiting_reporter": 1, "awaiting_agency": 1}
    assert [row.agency_id for row in scoped.performance] == [EVIL]
    assert [(row.agency_id, row.overdue) for row in scoped.overdue] == [(EVIL, 1)]
    assert scoped.overdue_total == 1


def test_a_short_window_and_bad_arguments(
    sessions: sessionmaker[Session], cases: dict[str, Case]  # noqa: F811
) -> None:
    with sessions() as session:
        one = dashboard_data(session, now=NOW, days=1)
        assert [entry.day for entry in one.status_by_day] == [date(2026, 12, 20)]
        # No first response today; the cases still unanswered past their deadline count all the same.
        considered = [(row.agency_id, row.on_time, row.considered) for row in one.performance]
        assert considered == [(PROVINCE, 0, 1), (EVIL, 0, 1)]
        assert [row.median_first_response_hours for row in one.performance] == [None, None]
        with pytest.raises(ValueError):
            dashboard_data(session, now=NOW, days=0)
        with pytest.raises(ValueError):
            dashboard_data(session, now=NOW.replace(tzinfo=None))


def parse(svg: Markup):
    root = ElementTree.fromstring(str(svg))
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("viewBox", "").startswith("0 0 ")
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and title.text and desc is not None and desc.text
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert "<script" not in str(svg) and "href" not in str(svg)
    return root


def texts(root) -> list[str]:
    return ["".join(element.itertext()) for element in root.iter(f"{SVG}text")]


def test_charts_are_accessible_svg_with_escaped_names(data: DashboardData) -> None:
    status = parse(status_chart(data))
    assert "Selesai" in texts(status) and "Tanggal (WIB)" in texts(status)
    assert "20/12" in texts(status)
    assert "Menunggu verifikasi 1" in status.find(f"{SVG}desc").text
    for chart in (on_time_chart(data), first_response_chart(data), overdue_chart(data)):
        root = parse(chart)
        assert "&lt;script&gt;" in str(chart)
        drawn = texts(root) + ["".join(title.itertext()) for title in root.iter(f"{SVG}title")]
        assert any(EVIL_NAME in text for text in drawn)  # as characters, not markup (tooltips hold it whole)
        assert EVIL_NAME in root.find(f"{SVG}desc").text
    on_time = texts(parse(on_time_chart(data)))
    assert "33,3 %" in on_time and "50,0 %" in on_time and "Tepat waktu" in on_time
    assert "4,0 jam" in texts(parse(first_response_chart(data)))
    overdue = texts(parse(overdue_chart(data)))
    assert "Belum di instansi (verifikasi atau dialihkan)" in overdue


def test_labels_from_the_caller(data: DashboardData) -> None:
    assert set(LABELS_EN) == set(LABEL_KEYS)
    chart = parse(on_time_chart(data, LABELS_EN))
    assert chart.find(f"{SVG}title").text == "First responses on time per agency"
    assert "33.3%" in texts(chart)
    hostile = parse(status_chart(data, {"dashboard.status.title": "</title><script>x</script>"}))
    assert hostile.find(f"{SVG}title").text == "</title><script>x</script>"


def test_tables_hold_the_same_figures(data: DashboardData) -> None:
    status = ElementTree.fromstring(str(status_table(data)))
    rows = status.findall("./tbody/tr")
    assert len(rows) == 30
    assert rows[-1].find("th").text == "20/12/2026"
    assert [cell.text for cell in rows[-1].findall("td")] == ["1", "0", "2", "3", "1", "1", "8"]
    performance = str(performance_table(data))
    assert "&lt;script&gt;" in performance and "<script" not in performance
    cells = [cell.text for cell in ElementTree.fromstring(performance).findall("./tbody/tr")[0].findall("td")]
    median = data.performance[0].median_first_response_hours
    assert cells == ["3", "1", "1", "1", "33,3 %", f"{median:.1f}".replace(".", ",")]
    overdue = ElementTree.fromstring(str(overdue_table(data)))
    assert overdue.find("./tfoot/tr/td").text == "3"


def test_empty_data_draws_a_no_data_chart(
    sessions: sessionmaker[Session], cases: dict[str, Case]  # noqa: F811
) -> None:
    with sessions() as session:
        empty = dashboard_data(session, now=NOW, agency_id="no-such-agency")
    assert all(entry.total == 0 for entry in empty.status_by_day)
    assert empty.performance == [] and empty.overdue == [] and empty.overdue_total == 0
    figures = render_dashboard(empty)
    for chart in (figures.status_chart, figures.on_time_chart, figures.first_response_chart):
        assert "Belum ada data." in texts(parse(chart))
    assert "Tidak ada laporan terbuka yang melewati batas waktu." in texts(parse(figures.overdue_chart))
    ElementTree.fromstring(str(figures.performance_table))
    ElementTree.fromstring(str(figures.overdue_table))
