"""Reads of the SQL read model: a case when Temporal no longer has it, lists and statistics."""

from __future__ import annotations

import base64
import json
import statistics
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from api.problems import Problem
from db.models import Agency, Complaint, NotificationRow, TimelineEventRow
from db.notification_models import NotificationDelivery
from domain.calendar import NATIONAL_ZONE, zone_for_region
from domain.enums import OPEN_STATUSES, Action
from domain.models import Deadlines, Location, Reporter
from domain.visibility import PUBLISHED_VALUES, CaseView, DeliveryEntry, EscalationEntry, NotificationEntry, TimelineEntry


def without_confidential_originals(session: Session, views: list[CaseView]) -> list[CaseView]:
    """The views, those merged into a confidential case without its tracking id (`duplicate_of`):
    for whoever may not see that case (the public, reporters), its id is never shown."""
    named = {view.duplicate_of for view in views if view.duplicate_of}
    if not named:
        return views
    hidden = set(session.scalars(select(Complaint.tracking_id).where(
        Complaint.tracking_id.in_(named), Complaint.confidential.is_(True))))
    return [CaseView.model_validate(view.model_dump(exclude_unset=True, exclude={"duplicate_of"}))
            if view.duplicate_of in hidden else view for view in views]


def view_of_row(row: Complaint, *, with_history: bool) -> CaseView:
    view = CaseView(
        tracking_id=row.tracking_id,
        title=row.title,
        description=row.description,
        status=row.status,
        report_type=row.report_type,
        category=row.category,
        region_code=row.region_code,
        location=Location(lat=row.location_lat, lon=row.location_lon, address=row.location_address)
        if (row.location_lat is not None and row.location_lon is not None) or row.location_address
        else None,
        channel=row.channel,
        agency_id=row.agency_id,
        unit_id=row.unit_id,
        anonymous=row.anonymous,
        confidential=row.confidential,
        reporter=Reporter(name=row.reporter_name, email=row.reporter_email, phone=row.reporter_phone,
                          chat=row.reporter_chat)
        if row.reporter_name or row.reporter_email or row.reporter_phone or row.reporter_chat
        else None,
        submitted_at=row.submitted_at,
        deadlines=local_deadlines(row),
        overdue=row.overdue,
        rating=row.rating,
        archive_reason=row.archive_reason,
        duplicate_of=row.duplicate_of,
        bounce_count=row.bounce_count,
        reopen_count=row.reopen_count,
        ombudsman_flagged=row.ombudsman_flagged,
        first_response_at=row.first_response_at,
        completed_at=row.completed_at,
        pin_outside_region=row.pin_outside_region,
        pin_confirmed_at=row.pin_confirmed_at,
        pin_confirmed_by=row.pin_confirmed_by,
    )
    if with_history:
        view.timeline = [
            TimelineEntry(
                seq=e.seq, at=e.at, action=e.action, actor_role=e.actor_role, actor_agency_id=e.actor_agency_id,
                actor_name=e.actor_name, status_from=e.status_from, status_to=e.status_to, note=e.note,
                agency_id=e.agency_id, unit_id=e.unit_id, deadline_set=e.deadline_set, deadline_met=e.deadline_met,
            )
            for e in row.timeline
        ]
        view.escalations = [
            EscalationEntry(seq=e.seq, kind=e.kind, clock=e.clock, due_at=e.due_at, at=e.at, notified=e.notified,
                            summary=e.summary)
            for e in row.escalations
        ]
    return view


def local_deadlines(row: Complaint) -> Deadlines:
    """The row's UTC deadlines in the responsible party's zone, as the workflow shows them
    ('…T23:59:59+07:00'): the national administrator's WIB, the agency's zone, the reporter's."""
    session = Session.object_session(row)
    agency = session.get(Agency, row.agency_id) if session is not None and row.agency_id else None
    try:
        reporter_zone: str | None = zone_for_region(row.region_code)
    except ValueError:
        reporter_zone = None

    def local(instant: datetime | None, zone: str | None) -> datetime | None:
        return instant.astimezone(ZoneInfo(zone)) if instant is not None and zone else instant

    agency_zone = agency.timezone if agency is not None else None  # unknown while re-routed: UTC
    return Deadlines(
        verification_due=local(row.verification_due, NATIONAL_ZONE),
        response_due=local(row.response_due, agency_zone),
        resolution_due=local(row.resolution_due, agency_zone),
        silence_ends=local(row.silence_ends, reporter_zone),
        hold_ends=local(row.hold_ends, reporter_zone),
    )


def get_case_row(session: Session, tracking_id: str) -> Complaint | None:
    return session.scalar(
        select(Complaint)
        .options(selectinload(Complaint.timeline), selectinload(Complaint.escalations))
        .where(Complaint.tracking_id == tracking_id)
    )


# --- lists ----------------------------------------------------------------------------------


def encode_cursor(row: Complaint) -> str:
    raw = json.dumps([row.submitted_at.isoformat(), row.tracking_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        submitted, tracking_id = json.loads(raw)
        instant = datetime.fromisoformat(submitted)
        if instant.tzinfo is None:
            raise ValueError("a cursor's instant carries its offset")
        return instant, str(tracking_id)
    except (ValueError, TypeError) as error:
        raise Problem(400, "cursor tidak valid: gunakan next_cursor dari halaman sebelumnya") from error


def list_cases(
    session: Session,
    *,
    status: str | None,
    agency_id: str | None,
    report_type: str | None,
    overdue: bool | None,
    q: str | None,
    submitted_from: datetime | None,
    submitted_to: datetime | None,
    cursor: str | None,
    limit: int,
    needs_rerouting: bool | None = None,
    needs_redisposition: bool | None = None,
    confidential: bool | None = None,
    region_code: str | None = None,
    pinned_publicly: bool = False,
    published_only: bool = False,
) -> tuple[list[Complaint], str | None]:
    """Newest first; the cursor is the last item's (submitted_at, tracking_id), so new cases never
    shift the pages after the first."""
    statement: Select = select(Complaint)
    if status:
        statement = statement.where(Complaint.status == status)
    if agency_id:
        statement = statement.where(Complaint.agency_id == agency_id)
    if report_type:
        statement = statement.where(Complaint.report_type == report_type)
    if overdue is not None:
        statement = statement.where(Complaint.overdue.is_(overdue))
    if needs_rerouting is not None:
        statement = statement.where(Complaint.needs_rerouting.is_(needs_rerouting))
    if needs_redisposition is not None:
        statement = statement.where(Complaint.needs_redisposition.is_(needs_redisposition))
    if confidential is not None:
        statement = statement.where(Complaint.confidential.is_(confidential))
    if published_only:  # the public's lists: verified and forwarded only (domain/visibility.py)
        statement = statement.where(Complaint.status.in_(PUBLISHED_VALUES))
    if pinned_publicly:  # the map: cases with a pin that may be shown (never an anonymous reporter's)
        statement = statement.where(Complaint.location_lat.is_not(None), Complaint.anonymous.is_(False),
                                    Complaint.pin_outside_region.is_(False))
    if region_code:  # the region and every place inside it ("62" → its regencies and districts)
        statement = statement.where(
            or_(Complaint.region_code == region_code,
                Complaint.region_code.startswith(f"{region_code}.", autoescape=True))
        )
    for word in (q or "").split():
        statement = statement.where(
            or_(Complaint.title.icontains(word, autoescape=True), Complaint.description.icontains(word, autoescape=True))
        )
    if submitted_from:
        statement = statement.where(Complaint.submitted_at >= submitted_from)
    if submitted_to:
        statement = statement.where(Complaint.submitted_at < submitted_to)
    if cursor:
        after_submitted, after_id = decode_cursor(cursor)
        statement = statement.where(
            or_(
                Complaint.submitted_at < after_submitted,
                and_(Complaint.submitted_at == after_submitted, Complaint.tracking_id < after_id),
            )
        )
    statement = statement.order_by(Complaint.submitted_at.desc(), Complaint.tracking_id.desc()).limit(limit + 1)
    rows = list(session.scalars(statement))
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


# --- statistics -----------------------------------------------------------------------------


# A case still open (awaiting verification, on hold, with the agency or the reporter), and one of
# those with a clock past its deadline (the workflow's `overdue`): /v1/stats and the dashboard.
IS_OPEN = Complaint.status.in_([s.value for s in OPEN_STATUSES])
IS_OPEN_OVERDUE = and_(IS_OPEN, Complaint.overdue.is_(True))


def case_statistics(session: Session, agency_id: str | None) -> dict:
    scope = [Complaint.agency_id == agency_id] if agency_id else []
    by_status = session.execute(
        select(Complaint.status, func.count()).where(*scope).group_by(Complaint.status).order_by(Complaint.status)
    ).all()
    open_statuses = [s.value for s in OPEN_STATUSES]
    # All overdue open cases, those no agency holds (verification, re-routing) included.
    overdue_total = session.scalar(select(func.count()).where(IS_OPEN_OVERDUE, *scope))
    per_agency = session.execute(
        select(Complaint.agency_id, func.count().filter(IS_OPEN), func.count().filter(IS_OPEN_OVERDUE))
        .where(Complaint.agency_id.is_not(None), *scope)
        .group_by(Complaint.agency_id)
        .order_by(Complaint.agency_id)
    ).all()
    follow_ups = session.execute(
        select(
            TimelineEventRow.agency_id,
            func.count(),
            func.count().filter(TimelineEventRow.at <= TimelineEventRow.deadline_met),
        )
        .where(TimelineEventRow.action == Action.FOLLOW_UP.value, TimelineEventRow.deadline_met.is_not(None))
        .where(*([TimelineEventRow.agency_id == agency_id] if agency_id else []))
        .group_by(TimelineEventRow.agency_id)
    ).all()
    by_channel = session.execute(
        select(Complaint.channel, func.count()).where(*scope).group_by(Complaint.channel).order_by(Complaint.channel)
    ).all()
    on_time = {row[0]: (row[2] / row[1] if row[1] else None) for row in follow_ups}
    median_hours = median_first_response_hours(session, agency_id)
    agencies = sorted({row[0] for row in per_agency} | set(on_time) | set(median_hours))
    counts = {row[0]: (row[1], row[2]) for row in per_agency}
    return {
        "by_status": [{"status": status, "count": count} for status, count in by_status],
        "by_agency": [
            {
                "agency_id": agency,
                "open": counts.get(agency, (0, 0))[0],
                "overdue": counts.get(agency, (0, 0))[1],
                "on_time_rate": on_time.get(agency),
                "median_first_response_hours": median_hours.get(agency),
            }
            for agency in agencies
        ],
        "by_channel": [{"channel": channel, "count": count} for channel, count in by_channel],
        "open": sum(count for status, count in by_status if status in open_statuses),
        "overdue": overdue_total or 0,
    }


def median_first_response_hours(
    session: Session, agency_id: str | None, *, responded_since: datetime | None = None
) -> dict[str, float]:
    """From the first forwarding (accept) to the first follow-up, per agency that answered (the
    agency holding the case now); only first responses at or after `responded_since` if given.

    PostgreSQL computes the medians (percentile_cont); SQLite has no median, so its rows are
    fetched and the medians taken here.
    """
    forwarded_at = (
        select(func.min(TimelineEventRow.at))
        .where(TimelineEventRow.tracking_id == Complaint.tracking_id, TimelineEventRow.action == Action.ACCEPT.value)
        .correlate(Complaint)
        .scalar_subquery()
    )
    scope = [
        Complaint.first_response_at.is_not(None),
        Complaint.agency_id.is_not(None),
        *([Complaint.agency_id == agency_id] if agency_id else []),
        *([Complaint.first_response_at >= responded_since] if responded_since else []),
    ]
    if session.get_bind().dialect.name == "postgresql":
        hours = func.extract("epoch", Complaint.first_response_at - forwarded_at) / 3600
        medians = session.execute(
            select(Complaint.agency_id, func.percentile_cont(0.5).within_group(hours))
            .where(*scope)
            .group_by(Complaint.agency_id)
        ).all()
        return {agency: round(float(median), 2) for agency, median in medians if median is not None}
    rows = session.execute(select(Complaint.agency_id, Complaint.first_response_at, forwarded_at).where(*scope)).all()
    samples: dict[str, list[float]] = {}
    for agency, responded, forwarded in rows:
        if forwarded is None:  # no accept in its timeline: nothing to measure from
            continue
        forwarded = forwarded if forwarded.tzinfo else forwarded.replace(tzinfo=responded.tzinfo)
        samples.setdefault(agency, []).append((responded - forwarded).total_seconds() / 3600)
    return {agency: round(statistics.median(values), 2) for agency, values in samples.items()}


def notifications_of(session: Session, tracking_id: str) -> list[NotificationEntry]:
    """The outbox of one case with each message's deliveries (channel and outcome, no address)."""
    outbox = session.scalars(
        select(NotificationRow).where(NotificationRow.tracking_id == tracking_id).order_by(NotificationRow.event_seq)
    ).all()
    deliveries: dict[str, list[DeliveryEntry]] = {}
    for delivery in session.scalars(
        select(NotificationDelivery)
        .where(NotificationDelivery.tracking_id == tracking_id)
        .order_by(NotificationDelivery.created_at)
    ):
        deliveries.setdefault(delivery.outbox_key, []).append(
            DeliveryEntry(channel=delivery.channel, status=delivery.status, sent_at=delivery.sent_at)
        )
    return [
        NotificationEntry(event_seq=row.event_seq, event=row.event, recipient=row.recipient,
                          deliveries=deliveries.get(row.key, []))
        for row in outbox
    ]
