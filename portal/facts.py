"""What a staff list shows about each case beyond its row: whether it came back from an agency (by
whom, why, which body they suggested), how many files, reporters, supporters and followers it has,
and how long it has waited. Grouped queries over the listed cases only, never one per card."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.similar import voices
from db.models import REGIONAL_KINDS, Agency, AgencyUnit, TimelineEventRow
from db.portal_models import Attachment, CaseFollower
from domain.enums import Action, Role, Status
from domain.lifecycle import reroute_note_parts
from domain.region_rule import may_propose


@dataclass(frozen=True)
class Return:
    """The latest "not our authority" of a case."""

    at: datetime
    agency_id: str | None
    agency_name: str | None
    actor_name: str | None
    reason: str
    suggested_id: str | None
    suggested_name: str | None
    suggested_elsewhere: bool = False  # another region's government than the case's (the region rule)


@dataclass(frozen=True)
class CaseFacts:
    returned: Return | None = None
    returns: int = 0
    citizen_files: int = 0
    evidence_files: int = 0
    reporters: int = 1
    supporters: int = 0
    followers: int = 0
    waiting_since: datetime | None = None
    unit_name: str | None = None


def case_facts(session: Session, rows: list, *, now: datetime) -> dict[str, CaseFacts]:
    """Facts of each listed read-model row (`db.models.Complaint`), by tracking id."""
    ids = [row.tracking_id for row in rows]
    if not ids:
        return {}
    latest_return = (select(TimelineEventRow.tracking_id, func.max(TimelineEventRow.seq).label("seq"))
                     .where(TimelineEventRow.tracking_id.in_(ids), TimelineEventRow.action == Action.REROUTE.value)
                     .group_by(TimelineEventRow.tracking_id).subquery())
    events = {e.tracking_id: e for e in session.scalars(
        select(TimelineEventRow).join(latest_return, (TimelineEventRow.tracking_id == latest_return.c.tracking_id)
                                      & (TimelineEventRow.seq == latest_return.c.seq)))}
    parts = {t: reroute_note_parts(e.note or "") for t, e in events.items()}
    agency_ids = {e.actor_agency_id for e in events.values() if e.actor_agency_id}
    agency_ids |= {suggested for _, suggested in parts.values() if suggested}
    bodies = {row.id: row for row in session.execute(
        select(Agency.id, Agency.name, Agency.kind, Agency.region_code).where(Agency.id.in_(agency_ids)))} \
        if agency_ids else {}
    names = {agency_id: row.name for agency_id, row in bodies.items()}
    files: dict[tuple[str, bool], int] = {}
    for tracking_id, role, count in session.execute(
            select(Attachment.tracking_id, Attachment.added_by_role, func.count())
            .where(Attachment.tracking_id.in_(ids)).group_by(Attachment.tracking_id, Attachment.added_by_role)):
        key = (tracking_id, role == Role.REPORTER.value)
        files[key] = files.get(key, 0) + count
    followers = dict(session.execute(
        select(CaseFollower.tracking_id, func.count()).where(CaseFollower.tracking_id.in_(ids))
        .group_by(CaseFollower.tracking_id)).all())
    counts = voices(session, ids, counts_confidential=True)  # staff lists: administrators and agencies
    unit_ids = {row.unit_id for row in rows if row.unit_id}
    units = dict(session.execute(select(AgencyUnit.id, AgencyUnit.name).where(AgencyUnit.id.in_(unit_ids))).all()) \
        if unit_ids else {}
    facts = {}
    for row in rows:
        event = events.get(row.tracking_id)
        returned = None
        if event is not None:
            reason, suggested = parts[row.tracking_id]
            returned = Return(at=event.at, agency_id=event.actor_agency_id, agency_name=names.get(event.actor_agency_id),
                              actor_name=event.actor_name, reason=reason, suggested_id=suggested,
                              suggested_name=names.get(suggested) if suggested else None,
                              suggested_elsewhere=suggested in bodies and elsewhere(bodies[suggested], row.region_code))
        reporters, supporters = counts.get(row.tracking_id, (1, 0))
        facts[row.tracking_id] = CaseFacts(
            returned=returned, returns=row.bounce_count or 0,
            citizen_files=files.get((row.tracking_id, True), 0), evidence_files=files.get((row.tracking_id, False), 0),
            reporters=reporters, supporters=supporters, followers=followers.get(row.tracking_id, 0),
            waiting_since=returned.at if returned else row.submitted_at,
            unit_name=units.get(row.unit_id) if row.unit_id else None,
        )
    return facts


def elsewhere(body, case_region: str | None) -> bool:
    """A regional government of another region than the case's: forwarding there asks first."""
    return body.kind in REGIONAL_KINDS and not may_propose(regional=True, body_region=body.region_code,
                                                          case_region=case_region)


def days_between(start: datetime | None, now: datetime) -> int:
    if start is None:
        return 0
    if start.tzinfo is None:  # SQLite hands back naive UTC
        start = start.replace(tzinfo=timezone.utc)
    return max((now - start).days, 0)


def proposed_original(first, second, facts: dict[str, CaseFacts]):
    """Which of two read-model rows should stay the original: one already past verification must
    (only a case awaiting verification can be archived as a duplicate); else the one more people
    reported, supported or follow; else the older."""
    def weight(row) -> tuple:
        f = facts.get(row.tracking_id) or CaseFacts()
        waiting = row.status == Status.AWAITING_VERIFICATION.value
        submitted = row.submitted_at.replace(tzinfo=timezone.utc) if row.submitted_at.tzinfo is None else row.submitted_at
        return (waiting, -(f.reporters + f.supporters + f.followers), submitted, row.tracking_id)

    return min((first, second), key=weight)
