"""The administrators' dashboard: cases per status over time, first responses and overdue cases
per agency, read from the SQL read model with grouped queries (SQLite and PostgreSQL).

Days are calendar days in WIB (Asia/Jakarta, UTC+7, the national administrators' zone). Every
figure can be scoped to one agency: the cases that agency holds now (`complaints.agency_id`).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, computed_field
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from api.read_model import IS_OPEN_OVERDUE, median_first_response_hours
from db.models import Agency, Complaint, TimelineEventRow
from domain.calendar import NATIONAL_ZONE
from domain.enums import Action, Status

DASHBOARD_ZONE = NATIONAL_ZONE
TOP_AGENCIES = 15
MAX_DAYS = 366
# Bottom to top of the stacked chart: closed cases first, then the open ones in lifecycle order.
STATUS_ORDER: tuple[Status, ...] = (
    Status.COMPLETED,
    Status.ARCHIVED,
    Status.AWAITING_REPORTER,
    Status.AWAITING_AGENCY,
    Status.ON_HOLD,
    Status.AWAITING_VERIFICATION,
)


class StatusDay(BaseModel):
    """How many cases were in each status at the end of one day (for today: now)."""

    day: date
    counts: dict[Status, int]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total(self) -> int:
        return sum(self.counts.values())


class AgencyPerformance(BaseModel):
    """First responses of one agency in the window; see `dashboard_data` for the definitions."""

    agency_id: str
    agency_name: str
    on_time: int
    answered_late: int
    unanswered_past_due: int
    median_first_response_hours: float | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def late(self) -> int:
        return self.answered_late + self.unanswered_past_due

    @computed_field  # type: ignore[prop-decorator]
    @property
    def considered(self) -> int:
        return self.on_time + self.late

    @computed_field  # type: ignore[prop-decorator]
    @property
    def on_time_rate(self) -> float | None:
        """Share 0..1 of the considered cases answered on time; None when none is considered."""
        return self.on_time / self.considered if self.considered else None


class AgencyOverdue(BaseModel):
    agency_id: str
    agency_name: str
    overdue: int


class DashboardData(BaseModel):
    generated_at: AwareDatetime
    zone: str
    days: int
    window_start: AwareDatetime
    agency_id: str | None
    statuses: list[Status]
    status_by_day: list[StatusDay]
    performance: list[AgencyPerformance]
    overdue: list[AgencyOverdue]
    overdue_without_agency: int
    overdue_total: int


def dashboard_data(
    session: Session, *, now: datetime, days: int = 30, agency_id: str | None = None, top: int = TOP_AGENCIES
) -> DashboardData:
    """The dashboard's figures as of `now`, over the last `days` WIB calendar days (today included).

    - `status_by_day`: for each day, the cases in each status at the end of that day (today: now),
      replayed backwards from the statuses the cases have now through their timeline's status
      transitions, so only the events of the window are read.
    - `performance`, per agency holding the case now, the `top` agencies with the most considered
      cases (ties by id):
      a case is *on time* when its first follow-up (`first_response_at`, within the window) came at
      or before the response deadline that follow-up met; *answered late* when after it; and
      *unanswered past due* when it is with the agency (`awaiting_agency`), has never been answered
      and its response deadline has passed (at `now`, whenever it was forwarded). The on-time rate
      is on time / (on time + answered late + unanswered past due). The median first response is
      `median_first_response_hours` (first forwarding to first follow-up) over the same answers.
    - `overdue`: open cases with a clock past its deadline (`IS_OPEN_OVERDUE`) per agency, the `top`
      agencies with the most; `overdue_without_agency` counts those no agency holds (awaiting
      verification or being re-routed), `overdue_total` all of them.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}")
    zone = ZoneInfo(DASHBOARD_ZONE)
    today = now.astimezone(zone).date()
    day_list = [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    window_start = datetime.combine(day_list[0], time(), zone)
    scope = [Complaint.agency_id == agency_id] if agency_id else []
    performance = _performance(session, scope, agency_id, window_start, now, top)
    overdue, without_agency, overdue_total = _overdue(session, scope, top)
    return DashboardData(
        generated_at=now,
        zone=DASHBOARD_ZONE,
        days=days,
        window_start=window_start,
        agency_id=agency_id,
        statuses=list(STATUS_ORDER),
        status_by_day=_status_by_day(session, scope, day_list),
        performance=performance,
        overdue=overdue,
        overdue_without_agency=without_agency,
        overdue_total=overdue_total,
    )


def _local_day(session: Session, instant: ColumnElement[datetime]) -> ColumnElement[date | str]:
    """The WIB calendar day of an instant, in SQL (PostgreSQL: a date; SQLite: 'YYYY-MM-DD')."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return func.date(func.timezone(DASHBOARD_ZONE, instant))
    if dialect == "sqlite":  # naive UTC text; Asia/Jakarta has kept UTC+7 all year since 1964
        return func.date(instant, "+7 hours")
    raise NotImplementedError(f"no local day for {dialect!r}: use SQLite or PostgreSQL")


def _status_by_day(session: Session, scope: list[ColumnElement[bool]], day_list: list[date]) -> list[StatusDay]:
    current = Counter(
        {
            Status(status): count
            for status, count in session.execute(
                select(Complaint.status, func.count()).where(*scope).group_by(Complaint.status)
            )
        }
    )
    # Transitions after the first day's end, grouped by day: undone from the newest day back.
    after = datetime.combine(day_list[0] + timedelta(days=1), time(), ZoneInfo(DASHBOARD_ZONE))
    day = _local_day(session, TimelineEventRow.at).label("day")
    moves = (
        select(day, TimelineEventRow.status_from, TimelineEventRow.status_to, func.count())
        .where(
            TimelineEventRow.at >= after,
            or_(TimelineEventRow.status_from.is_(None), TimelineEventRow.status_from != TimelineEventRow.status_to),
        )
        .group_by(day, TimelineEventRow.status_from, TimelineEventRow.status_to)
    )
    if scope:
        moves = moves.join(Complaint, Complaint.tracking_id == TimelineEventRow.tracking_id).where(*scope)
    by_day: dict[date, list[tuple[str | None, str, int]]] = {}
    for moved_on, status_from, status_to, count in session.execute(moves):
        moved_on = moved_on if isinstance(moved_on, date) else date.fromisoformat(moved_on)
        by_day.setdefault(moved_on, []).append((status_from, status_to, count))

    def undo(on: date) -> None:
        for status_from, status_to, count in by_day.pop(on, []):
            current[Status(status_to)] -= count
            if status_from is not None:
                current[Status(status_from)] += count

    for later in [moved_on for moved_on in by_day if moved_on > day_list[-1]]:  # clocks ahead of `now`
        undo(later)
    series: list[StatusDay] = []
    for on in reversed(day_list):
        series.append(StatusDay(day=on, counts={status: current[status] for status in STATUS_ORDER}))
        undo(on)
    return series[::-1]


def _performance(
    session: Session,
    scope: list[ColumnElement[bool]],
    agency_id: str | None,
    window_start: datetime,
    now: datetime,
    top: int,
) -> list[AgencyPerformance]:
    first_follow_up = and_(
        TimelineEventRow.tracking_id == Complaint.tracking_id,
        TimelineEventRow.action == Action.FOLLOW_UP.value,
        TimelineEventRow.at == Complaint.first_response_at,
    )
    answered = session.execute(
        select(
            Complaint.agency_id,
            func.count().filter(TimelineEventRow.at <= TimelineEventRow.deadline_met),
            func.count().filter(TimelineEventRow.at > TimelineEventRow.deadline_met),
        )
        .join(TimelineEventRow, first_follow_up)
        .where(Complaint.agency_id.is_not(None), Complaint.first_response_at >= window_start, *scope)
        .group_by(Complaint.agency_id)
    ).all()
    unanswered = session.execute(
        select(Complaint.agency_id, func.count())
        .where(
            Complaint.agency_id.is_not(None),
            Complaint.status == Status.AWAITING_AGENCY.value,
            Complaint.first_response_at.is_(None),
            Complaint.response_due < now,
            *scope,
        )
        .group_by(Complaint.agency_id)
    ).all()
    counts: dict[str, list[int]] = {}
    for agency, on_time, late in answered:
        counts.setdefault(agency, [0, 0, 0])[:2] = [on_time, late]
    for agency, waiting in unanswered:
        counts.setdefault(agency, [0, 0, 0])[2] = waiting
    ranked = sorted((agency for agency in counts if sum(counts[agency])), key=lambda a: (-sum(counts[a]), a))[:top]
    medians = median_first_response_hours(session, agency_id, responded_since=window_start)
    names = _agency_names(session, ranked)
    return [
        AgencyPerformance(
            agency_id=agency,
            agency_name=names.get(agency, agency),
            on_time=counts[agency][0],
            answered_late=counts[agency][1],
            unanswered_past_due=counts[agency][2],
            median_first_response_hours=medians.get(agency),
        )
        for agency in ranked
    ]


def _overdue(
    session: Session, scope: list[ColumnElement[bool]], top: int
) -> tuple[list[AgencyOverdue], int, int]:
    rows = session.execute(
        select(Complaint.agency_id, func.count()).where(IS_OPEN_OVERDUE, *scope).group_by(Complaint.agency_id)
    ).all()
    without_agency = sum(count for agency, count in rows if agency is None)
    ranked = sorted(((agency, count) for agency, count in rows if agency is not None), key=lambda r: (-r[1], r[0]))
    names = _agency_names(session, [agency for agency, _ in ranked[:top]])
    return [
        AgencyOverdue(agency_id=agency, agency_name=names.get(agency, agency), overdue=count)
        for agency, count in ranked[:top]
    ], without_agency, sum(count for _, count in rows)


def _agency_names(session: Session, agency_ids: list[str]) -> dict[str, str]:
    if not agency_ids:
        return {}
    rows = session.execute(select(Agency.id, Agency.name).where(Agency.id.in_(agency_ids)))
    return {agency: name for agency, name in rows}
