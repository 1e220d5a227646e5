"""What each caller may see of a case (ARCHITECTURE.md, "Privacy").

The API builds one full `CaseView` (from the workflow or the read model) and `redact` removes
what the caller may not see. Removed fields are absent, never null-filled.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict

from domain.enums import Role, Status
from domain.models import CaseState, Deadlines, Location, Reporter, RoutingSuggestion

STAFF_ROLES = frozenset({Role.ADMIN, Role.AGENCY_ADMIN, Role.OFFICER, Role.OBSERVER})
AGENCY_ROLES = frozenset({Role.AGENCY_ADMIN, Role.OFFICER})
SEES_EVERYTHING = frozenset({Role.ADMIN, Role.OBSERVER})


class Viewer(BaseModel):
    """Who is looking: a role (None for the public), the agency of agency staff, the reporter's case."""

    model_config = ConfigDict(frozen=True)

    role: Role | None = None
    agency_id: str | None = None
    reporter_of: str | None = None


PUBLIC = Viewer()

# Verified and forwarded: only then is a case public (the portal's list, map, case pages and
# similar-reports panel; issue 24). Before, a would-be duplicate reporter sees its title only.
PUBLISHED_STATUSES = frozenset({Status.AWAITING_AGENCY, Status.AWAITING_REPORTER, Status.COMPLETED})
PUBLISHED_VALUES = sorted(s.value for s in PUBLISHED_STATUSES)


def published(status: Status | str | None) -> bool:
    return status is not None and Status(status) in PUBLISHED_STATUSES


# What anyone but the staff and the reporter may know of a case not yet published (issue 24): that
# it exists, its title (a would-be duplicate reporter recognises it) and where it stands, so a
# client that sent it (Open311, SMS, chat) can follow its status. Never its text, pin, files,
# reporter or the staff's notes.
UNPUBLISHED_OUTLINE = frozenset({"tracking_id", "title", "status", "report_type", "category", "region_code",
                                 "submitted_at", "deadlines", "overdue", "archive_reason", "duplicate_of",
                                 "timeline"})
UNPUBLISHED_TIMELINE_ENTRY = frozenset({"seq", "at", "action", "actor_role", "status_from", "status_to"})


class TimelineEntry(BaseModel):
    seq: int
    at: AwareDatetime
    action: str
    actor_role: str
    actor_agency_id: str | None = None
    actor_name: str | None = None
    status_from: str | None = None
    status_to: str
    note: str | None = None
    agency_id: str | None = None
    unit_id: str | None = None
    deadline_set: AwareDatetime | None = None
    deadline_met: AwareDatetime | None = None


class EscalationEntry(BaseModel):
    seq: int
    kind: str
    clock: str
    due_at: AwareDatetime
    at: AwareDatetime
    notified: str
    summary: str | None = None


class DeliveryEntry(BaseModel):
    channel: str
    status: str
    sent_at: AwareDatetime | None = None


class NotificationEntry(BaseModel):
    """A message the case queued (for an event or escalation `event_seq`) and how it went out."""

    event_seq: int
    event: str
    recipient: str
    deliveries: list[DeliveryEntry] = []


class BodySystemNote(BaseModel):
    """An update from a connected body's own system that changed nothing on the case (issue 27):
    the body working on it, or writing after its answer. Its follow-ups are in the timeline."""

    at: AwareDatetime
    body: str
    status: str | None = None
    note: str | None = None


class CaseView(BaseModel):
    """A case as a caller sees it; every field a caller may not see is left unset."""

    tracking_id: str
    title: str | None = None
    description: str | None = None
    status: str | None = None
    report_type: str | None = None
    category: str | None = None
    region_code: str | None = None
    location: Location | None = None
    channel: str | None = None
    agency_id: str | None = None
    unit_id: str | None = None
    anonymous: bool | None = None
    confidential: bool | None = None
    reporter: Reporter | None = None
    submitted_at: AwareDatetime | None = None
    deadlines: Deadlines | None = None
    overdue: bool | None = None
    escalations: list[EscalationEntry] | None = None
    timeline: list[TimelineEntry] | None = None
    rating: int | None = None
    archive_reason: str | None = None
    duplicate_of: str | None = None
    bounce_count: int | None = None
    reopen_count: int | None = None
    ombudsman_flagged: bool | None = None
    first_response_at: AwareDatetime | None = None
    completed_at: AwareDatetime | None = None
    suggestions: list[RoutingSuggestion] | None = None
    notifications: list[NotificationEntry] | None = None
    # Administrators and observers: deadlines in a year without a known cuti bersama decree.
    calendar_warnings: list[str] | None = None
    # Staff: the case went into its body's own system (issue 27), "diteruskan ke sistem <body> (#id)".
    forwarded_to: str | None = None
    forwarded_to_body: str | None = None
    # Staff and the reporter: what the body's system said that is not a step of the timeline.
    body_system_notes: list[BodySystemNote] | None = None
    # Issue 22: the pin lies outside the case's region and no verifier has confirmed it yet; staff
    # see the flag (and who confirmed a pin, when); for anyone else the pin is left out.
    pin_outside_region: bool | None = None
    pin_confirmed_at: AwareDatetime | None = None
    pin_confirmed_by: str | None = None


def view_of_state(state: CaseState) -> CaseView:
    details = state.details
    return CaseView(
        tracking_id=state.tracking_id,
        title=details.title,
        description=details.description,
        status=state.status.value,
        report_type=details.report_type.value,
        category=details.category,
        region_code=details.region_code,
        location=details.location,
        channel=details.channel.value,
        agency_id=state.agency.id if state.agency else None,
        unit_id=state.unit_id,
        anonymous=details.anonymous,
        confidential=details.confidential,
        reporter=details.reporter,
        submitted_at=state.submitted_at,
        deadlines=state.deadlines(),
        overdue=state.overdue,
        escalations=[EscalationEntry(**e.model_dump(mode="json")) for e in state.escalations],
        timeline=[
            TimelineEntry(
                seq=e.seq,
                at=e.at,
                action=e.action.value,
                actor_role=e.actor.role.value,
                actor_agency_id=e.actor.agency_id,
                actor_name=e.actor.name,
                status_from=e.status_from.value if e.status_from else None,
                status_to=e.status_to.value,
                note=e.note,
                agency_id=e.agency_id,
                unit_id=e.unit_id,
                deadline_set=e.deadline_set,
                deadline_met=e.deadline_met,
            )
            for e in state.timeline
        ],
        rating=state.rating.score if state.rating else None,
        archive_reason=state.archive_reason.value if state.archive_reason else None,
        duplicate_of=state.duplicate_of,
        bounce_count=state.bounce_count,
        reopen_count=state.reopen_count,
        ombudsman_flagged=state.ombudsman_flagged,
        first_response_at=state.first_response_at,
        completed_at=state.completed_at,
        suggestions=state.suggestions,
    )


def may_see(view: CaseView, viewer: Viewer) -> bool:
    """Whether the case exists for this viewer at all (otherwise: 404)."""
    if viewer.role in SEES_EVERYTHING or viewer.reporter_of == view.tracking_id:
        return True
    if viewer.role in AGENCY_ROLES:
        return view.agency_id is not None and view.agency_id == viewer.agency_id
    return not view.confidential


def sees_reporter(view: CaseView, viewer: Viewer) -> bool:
    """Whether the viewer may know who reported (and so who added a case's files): admins,
    observers, the reporter; the case's agency only when the reporter is not anonymous."""
    return (
        viewer.role in SEES_EVERYTHING
        or viewer.reporter_of == view.tracking_id
        or (viewer.role in AGENCY_ROLES and not view.anonymous)
    )


# What a reporter adds after the report (supplements, replies, a rating's comment) and its files:
# conversation with the staff, which often names the reporter (an address, "I am the one who...").
# Of an anonymous reporter it is seen by the staff who handle the case and the reporter, never by
# the public (docs/policies.md). The report itself (title, description, its own files, already
# stripped of metadata) stays public as before.
REPORTER_ADDITIONS = frozenset({"supplement", "reply", "rate"})
REPORTER_ADDED_FILES = frozenset({"supplement", "reply"})  # domain/attachments.py Purpose values


def sees_reporter_additions(view: CaseView, viewer: Viewer) -> bool:
    """Whether the viewer may read what the case's reporter added after the report."""
    return not view.anonymous or viewer.role in STAFF_ROLES or viewer.reporter_of == view.tracking_id


def sees_before_publication(view: CaseView, viewer: Viewer) -> bool:
    """Whether the viewer may see all of the case they may see while it is not published yet:
    the staff (agency staff only their own body's cases get this far) and the reporter."""
    return viewer.role in STAFF_ROLES or viewer.reporter_of == view.tracking_id or published(view.status)


def may_see_file(view: CaseView, viewer: Viewer, added_by_role: str, purpose: str) -> bool:
    """Whether a file of a case the viewer may see is one they may see too."""
    if not sees_before_publication(view, viewer):
        return False
    return (added_by_role != Role.REPORTER.value or purpose not in REPORTER_ADDED_FILES
            or sees_reporter_additions(view, viewer))


def redact(view: CaseView, viewer: Viewer) -> CaseView | None:
    """The view this viewer may have, or None when the case does not exist for them."""
    if not may_see(view, viewer):
        return None
    data = view.model_dump(exclude_unset=True)
    staff = viewer.role in STAFF_ROLES
    if viewer.role not in SEES_EVERYTHING:
        data.pop("suggestions", None)
        data.pop("notifications", None)
        if not sees_reporter(view, viewer):
            data.pop("reporter", None)
            if view.anonymous and view.location is not None:
                data.pop("location", None)  # a pin can point at the reporter's home
    if not staff:
        if view.pin_outside_region and data.get("location") and not sees_reporter(view, viewer):
            # An unconfirmed pin outside the region is shown to no one outside: the address stays.
            address = data["location"].get("address")
            if address:
                data["location"] = {"address": address}
            else:
                data.pop("location", None)
        for key in ("pin_outside_region", "pin_confirmed_at", "pin_confirmed_by"):
            data.pop(key, None)
    if not sees_reporter_additions(view, viewer):
        for entry in data.get("timeline") or []:
            if entry.get("action") in REPORTER_ADDITIONS and entry.get("actor_role") == Role.REPORTER.value:
                entry.pop("note", None)
    if not staff:
        for entry in data.get("timeline") or []:
            entry.pop("actor_name", None)
        for escalation in data.get("escalations") or []:
            escalation.pop("summary", None)
    if not sees_before_publication(view, viewer):
        data = {key: value for key, value in data.items() if key in UNPUBLISHED_OUTLINE}
        if "timeline" in data:
            data["timeline"] = [{key: value for key, value in entry.items() if key in UNPUBLISHED_TIMELINE_ENTRY}
                                for entry in data["timeline"] or []]
    return CaseView.model_validate(data)


def sees_body_system_notes(view: CaseView, viewer: Viewer) -> bool:
    """The body's own system's notes: for the staff and the case's reporter (written in another
    system, they have not been through our staff's hands; the public has the timeline)."""
    return viewer.role in STAFF_ROLES or viewer.reporter_of == view.tracking_id


def list_fields() -> set[str]:
    """Fields of a case in list results (no timeline or escalations: open the case for those)."""
    return set(CaseView.model_fields) - {"timeline", "escalations", "suggestions", "notifications", "description",
                                         "body_system_notes"}

