"""Pydantic models shared by the workflow, its activities and the API."""

from __future__ import annotations

from datetime import datetime, timedelta
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from domain.calendar import HolidayCalendar, zone_for_region
from domain.enums import (
    Action,
    ArchiveReason,
    Channel,
    ClockKind,
    EscalationKind,
    Party,
    ReportType,
    Role,
    Status,
)
from domain.policy import Policy
from domain.text import line, text

# Every text field passes domain/text.py's rule (control characters refused, line breaks as \n).
NonBlank = text(None, min_length=1, strip=True)
Title = text(200, min_length=1, strip=True)
LongText = text(20_000, min_length=1, strip=True)
Note = text(20_000)
Comment = text(2000)
Name = line(200)


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Location(Model):
    """Where it happened: a point, an address (or landmark), or both."""

    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    address: text(500) | None = None

    @model_validator(mode="after")
    def _point_or_address(self) -> "Location":
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon come together")
        if self.lat is None and not (self.address and self.address.strip()):
            raise ValueError("a location needs lat/lon or an address")
        return self


class Reporter(Model):
    name: Name | None = None
    # Checked and normalised where a case is opened (domain/contacts.py, api/intake.py): the
    # countries allowed for phones are a setting, and a stored case must replay whatever it says.
    email: line(320) | None = None
    phone: line(40) | None = None
    # The chat the report came from (`whatsapp:<number>`, `telegram:<chat id>`, domain/chat.py):
    # a contact like the others, where the case's news are sent. Absent when none, so the
    # reporters of the other doors look as before (API answers, stored payloads).
    chat: line(100) | None = Field(default=None, exclude_if=lambda chat: chat is None)


class PersonalData(Model):
    """What a case holds of its reporter: sealed as one blob under the case's key."""

    reporter: Reporter | None = None
    location: Location | None = None

    @property
    def empty(self) -> bool:
        return self.reporter is None and self.location is None


class AgencyRef(Model):
    """A body of the directory as the workflow needs it: who it is and its time zone."""

    id: str
    name: str
    timezone: str


class Actor(Model):
    """Who acts. Never carries the reporter's identity: the reporter is just a role."""

    role: Role
    agency_id: str | None = None
    name: str | None = None


SYSTEM = Actor(role=Role.SYSTEM)


class ComplaintDetails(Model):
    """What the reporter submitted."""

    title: Title
    description: LongText
    report_type: ReportType = ReportType.PENGADUAN
    category: line(100) | None = None
    region_code: str | None = Field(default=None, pattern=r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")
    location: Location | None = None
    agency_hint: line(200) | None = None
    anonymous: bool = False
    confidential: bool = False
    channel: Channel = Channel.API
    reporter: Reporter | None = None
    # The reporter's identity and the pin/address, sealed under the case's own key
    # (domain/sealing.py): what workflow payloads carry in place of `reporter` and `location`, so
    # that destroying the key (erasure, UU 27/2022) leaves every history unreadable for identity.
    sealed: str | None = Field(default=None, max_length=8000)
    # Set by a machine door that repaired the text it received (domain/text.py
    # repair_machine_text): the submission's timeline event says so.
    intake_note: line(500) | None = None

    @field_validator("region_code")
    @classmethod
    def _known_province(cls, code: str | None) -> str | None:
        if code is not None:
            zone_for_region(code)  # raises ValueError for a province that does not exist
        return code


class Clock(Model):
    """A running deadline: N working days after `started_at`, in the responsible party's zone."""

    kind: ClockKind
    started_at: AwareDatetime
    working_days: int
    zone: str
    responsible: Party
    due_at: AwareDatetime
    reminder_at: AwareDatetime
    reminded: bool = False
    breached: bool = False

    @property
    def breach_at(self) -> datetime:
        """The first instant past the deadline (the deadline's last second still counts)."""
        return self.due_at + timedelta(seconds=1)


class Deadlines(Model):
    verification_due: AwareDatetime | None = None
    response_due: AwareDatetime | None = None
    resolution_due: AwareDatetime | None = None
    silence_ends: AwareDatetime | None = None
    hold_ends: AwareDatetime | None = None


class Escalation(Model):
    seq: int
    kind: EscalationKind
    clock: ClockKind
    due_at: AwareDatetime
    at: AwareDatetime
    notified: Party
    summary: str | None = None


class TimelineEvent(Model):
    seq: int
    at: AwareDatetime
    action: Action
    actor: Actor
    status_from: Status | None
    status_to: Status
    note: str | None = None
    agency_id: str | None = None
    unit_id: str | None = None
    deadline_set: AwareDatetime | None = None
    deadline_met: AwareDatetime | None = None


class UnitSuggestion(Model):
    """A unit of a suggested body, ranked by the same evidence and model as the body."""

    unit_id: str
    name: str
    score: float
    reason: str


class RoutingSuggestion(Model):
    agency_id: str
    score: float
    reason: str
    unit_id: str | None = None  # the first of `units`, when there is one
    # What forwarding needs without another directory lookup (automatic forwarding).
    agency_name: str | None = None
    timezone: str | None = None
    units: list[UnitSuggestion] = []  # up to 3, best first
    model_version: str | None = None  # which model made it ("lapor2017+m12": shipped model + learned version)
    region_code: str | None = None  # a regional government's region (the region rule, domain/region_rule.py)


class Rating(Model):
    score: int = Field(ge=1, le=5)
    comment: Comment | None = None
    at: AwareDatetime


class CaseState(Model):
    """The whole case as the workflow holds it; the query result and the continue-as-new carry."""

    tracking_id: str
    details: ComplaintDetails
    submitted_at: AwareDatetime
    policy: Policy
    calendar: HolidayCalendar
    calendar_issued_at: AwareDatetime | None = None
    status: Status = Status.AWAITING_VERIFICATION
    agency: AgencyRef | None = None
    unit_id: str | None = None
    archive_reason: ArchiveReason | None = None
    duplicate_of: str | None = None
    clocks: dict[ClockKind, Clock] = {}
    # The verification clock while on hold, and the working days it had left (paused, not restarted).
    paused_verification: Clock | None = None
    paused_verification_days: int | None = None
    bounce_count: int = 0
    reopen_count: int = 0
    ombudsman_flagged: bool = False
    first_forwarded_at: AwareDatetime | None = None
    first_response_at: AwareDatetime | None = None
    completed_at: AwareDatetime | None = None
    ratings: list[Rating] = []
    escalations: list[Escalation] = []
    timeline: list[TimelineEvent] = []
    suggestions: list[RoutingSuggestion] = []
    seq: int = 0

    @property
    def rating(self) -> Rating | None:
        return self.ratings[-1] if self.ratings else None

    @property
    def overdue(self) -> bool:
        return any(clock.breached for clock in self.clocks.values())

    @property
    def next_deadline(self) -> datetime | None:
        return min((clock.due_at for clock in self.clocks.values()), default=None)

    def deadlines(self) -> Deadlines:
        due = {kind: clock.due_at for kind, clock in self.clocks.items()}
        return Deadlines(
            verification_due=due.get(ClockKind.VERIFICATION),
            response_due=due.get(ClockKind.RESPONSE),
            resolution_due=due.get(ClockKind.RESOLUTION),
            silence_ends=due.get(ClockKind.SILENCE),
            hold_ends=due.get(ClockKind.HOLD),
        )


# --- Workflow input and messages: one model each, so fields can be added later. ---


class ComplaintInput(Model):
    tracking_id: str
    details: ComplaintDetails
    submitted_at: AwareDatetime
    policy: Policy
    calendar: HolidayCalendar
    # Set when the case continues as new: everything it had so far.
    carried_state: CaseState | None = None
    # Continue as new once a run's history grows past this many events.
    history_event_limit: int = 2_000


class Message(Model):
    """An update's or signal's input. `bound`: its payload was sealed for the workflow it reached
    (workflows/codec.py); the workflow refuses one that was not (issue 24)."""

    _bound: bool = PrivateAttr(default=True)

    @property
    def bound(self) -> bool:
        return self._bound

    def mark_unbound(self) -> None:
        self._bound = False


class VerificationInput(Message):
    actor: Actor
    decision: Action  # accept, hold or reject
    agency: AgencyRef | None = None
    reason: ArchiveReason | None = None
    duplicate_of: str | None = None
    note: Note | None = None


class SupplementInput(Message):
    actor: Actor
    text: LongText


class DispositionInput(Message):
    actor: Actor
    unit_id: NonBlank
    note: Note | None = None


class FollowUpInput(Message):
    actor: Actor
    message: LongText


class RerouteInput(Message):
    actor: Actor
    reason: LongText
    suggested_agency_id: str | None = None


class ReplyInput(Message):
    actor: Actor
    message: LongText


class SatisfiedInput(Message):
    """The reporter's "Saya puas": the follow-up settled it."""

    actor: Actor


class RatingInput(Message):
    actor: Actor
    score: int = Field(ge=1, le=5)
    comment: Comment | None = None


class PersonalDataChange(Message):
    """A correction (the newly sealed identity) or an erasure (`sealed` None) of a case's personal data."""

    actor: Actor
    sealed: str | None = Field(default=None, max_length=8000)


class PinConfirmation(Message):
    """The verifier keeps a pin that lies outside the case's region (issue 22)."""

    actor: Actor


class CalendarAmendment(Message):
    calendar: HolidayCalendar
    note: str | None = None
    # When it was declared: a late delivery of an older amendment never rolls a case back.
    issued_at: AwareDatetime | None = None


# --- What the workflow hands to its activities. ---


class Notification(Model):
    """One message to one recipient over one channel; `key` makes delivery idempotent."""

    key: str
    tracking_id: str
    event_seq: int
    event: str
    recipient: Party
    agency_id: str | None = None
    unit_id: str | None = None
    channel: str = "outbox"
    payload: dict[str, str | int | None] = {}


class CaseRecord(Model):
    """A transition to project: the case row as it is now, plus what is new since the last one."""

    tracking_id: str
    seq: int
    status: Status
    details: ComplaintDetails
    submitted_at: AwareDatetime
    policy_version: str
    calendar_version: str
    agency_id: str | None
    unit_id: str | None
    archive_reason: ArchiveReason | None
    duplicate_of: str | None
    deadlines: Deadlines
    next_deadline: AwareDatetime | None
    overdue: bool
    bounce_count: int
    reopen_count: int
    ombudsman_flagged: bool
    first_response_at: AwareDatetime | None
    completed_at: AwareDatetime | None
    rating: int | None
    new_events: list[TimelineEvent] = []
    new_escalations: list[Escalation] = []
    notifications: list[Notification] = []
    # The first run of the workflow that made the record (kept across continue-as-new): the read
    # model keeps the run it first recorded and takes nothing from another (reconcile reports it).
    run_id: str | None = None


class SuggestionRequest(Model):
    tracking_id: str
    text: str
    region_code: str | None = None
    agency_hint: str | None = None
    exclude_agency_ids: list[str] = []
