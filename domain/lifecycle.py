"""The transition table: which action is valid in which status, and by whom.

The workflow's update validators and the API both ask `check_action`, so a rule lives here once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from datetime import datetime

from domain.calendar import NATIONAL_ZONE, HolidayCalendar, zone_for_region
from domain.enums import Action, ArchiveReason, ClockKind, EscalationKind, Party, Role, Status
from domain.models import (
    SYSTEM,
    Actor,
    AgencyRef,
    CalendarAmendment,
    CaseRecord,
    CaseState,
    Clock,
    ComplaintDetails,
    DispositionInput,
    PersonalDataChange,
    PinConfirmation,
    Escalation,
    FollowUpInput,
    Notification,
    Rating,
    RatingInput,
    ReplyInput,
    RerouteInput,
    SatisfiedInput,
    SupplementInput,
    TimelineEvent,
    VerificationInput,
)
from domain.policy import Policy
from domain.region_rule import may_propose

SYSTEM_REPORTER = Actor(role=Role.REPORTER)


class Rejection(StrEnum):
    CONFLICT = "conflict"  # not valid in the current status (HTTP 409)
    FORBIDDEN = "forbidden"  # not this actor's to take (HTTP 403)
    INVALID = "invalid"  # the action's data is incomplete (HTTP 422)


class ActionRejected(Exception):
    """An action that cannot happen now, and why."""

    def __init__(self, message: str, kind: Rejection) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Rule:
    statuses: frozenset[Status]
    roles: frozenset[Role]
    # Agency roles may act only on cases of their own agency.
    own_agency_only: bool = False


_VERIFY = Rule(frozenset({Status.AWAITING_VERIFICATION}), frozenset({Role.ADMIN}))

RULES: dict[Action, Rule] = {
    Action.ACCEPT: _VERIFY,
    Action.HOLD: _VERIFY,
    Action.REJECT: _VERIFY,
    Action.SUPPLEMENT: Rule(frozenset({Status.ON_HOLD}), frozenset({Role.REPORTER})),
    Action.DISPOSE: Rule(
        frozenset({Status.AWAITING_AGENCY}), frozenset({Role.AGENCY_ADMIN}), own_agency_only=True
    ),
    Action.FOLLOW_UP: Rule(
        frozenset({Status.AWAITING_AGENCY}),
        frozenset({Role.AGENCY_ADMIN, Role.OFFICER}),
        own_agency_only=True,
    ),
    Action.REROUTE: Rule(
        frozenset({Status.AWAITING_AGENCY}), frozenset({Role.AGENCY_ADMIN}), own_agency_only=True
    ),
    Action.REPLY: Rule(frozenset({Status.AWAITING_REPORTER}), frozenset({Role.REPORTER, Role.ADMIN})),
    Action.RATE: Rule(frozenset({Status.COMPLETED}), frozenset({Role.REPORTER})),
    Action.SATISFIED: Rule(frozenset({Status.AWAITING_REPORTER}), frozenset({Role.REPORTER})),
}


def reroute_note(reason: str, suggested_agency_id: str | None) -> str:
    """The timeline note of a "not our authority": the reason, then the body the agency suggests."""
    return reason if not suggested_agency_id else f"{reason} (→ {suggested_agency_id})"


_SUGGESTED = re.compile(r"^(?P<reason>.*) \(→ (?P<agency>[^()\s]+)\)$", re.DOTALL)


def reroute_note_parts(note: str) -> tuple[str, str | None]:
    """(reason, suggested body id or None) of a note `reroute_note` wrote."""
    found = _SUGGESTED.match(note)
    return (found.group("reason"), found.group("agency")) if found else (note, None)


def _may_verify_in_place(case: CaseState, actor: Actor) -> bool:
    """LAPOR! 4.0's switch: the agency the reporter chose verifies in place of the national admin."""
    return (
        case.policy.direct_to_agency
        and actor.role == Role.AGENCY_ADMIN
        and actor.agency_id is not None
        and actor.agency_id == case.details.agency_hint
    )


def check_action(case: CaseState, action: Action, actor: Actor) -> None:
    """Raise ActionRejected unless `actor` may take `action` on `case` now."""
    rule = RULES[action]
    if actor.role not in rule.roles and not (rule is _VERIFY and _may_verify_in_place(case, actor)):
        raise ActionRejected(f"role {actor.role} may not {action}", Rejection.FORBIDDEN)
    if rule.own_agency_only and (case.agency is None or actor.agency_id != case.agency.id):
        raise ActionRejected(f"the case is not with agency {actor.agency_id}", Rejection.FORBIDDEN)
    if case.status not in rule.statuses:
        raise ActionRejected(f"cannot {action} a case that is {case.status}", Rejection.CONFLICT)
    if action == Action.RATE and case.rating and case.completed_at and case.rating.at >= case.completed_at:
        raise ActionRejected("the case has already been rated", Rejection.CONFLICT)


def actions_open_to(status: Status, role: Role | None, agency_id: str | None, case_agency_id: str | None) -> set[Action]:
    """The actions of RULES this role may take on a case in `status` (forms to offer in the
    portal); the workflow still decides, with `check_action`, when the action arrives."""
    if role is None:
        return set()
    return {
        action
        for action, rule in RULES.items()
        if status in rule.statuses
        and role in rule.roles
        and (not rule.own_agency_only or (agency_id is not None and agency_id == case_agency_id))
    }


def check_verification(data: VerificationInput) -> None:
    """What a verification decision must carry (raised as 422-like, not a conflict)."""
    if data.decision not in (Action.ACCEPT, Action.HOLD, Action.REJECT):
        raise ActionRejected(f"a verification decision is accept, hold or reject, not {data.decision}", Rejection.INVALID)
    if data.decision == Action.ACCEPT and data.agency is None:
        raise ActionRejected("accepting a case needs the agency it goes to", Rejection.INVALID)
    if data.decision == Action.REJECT and data.reason is None:
        raise ActionRejected("rejecting a case needs a reason", Rejection.INVALID)
    if data.reason == ArchiveReason.DUPLICATE and not data.duplicate_of:
        raise ActionRejected("a duplicate must name the original case", Rejection.INVALID)


def supervisor_of(party: Party) -> Party:
    """Who hears of a breach: agency admin for officers, national administrator for the rest."""
    return Party.AGENCY_ADMIN if party == Party.OFFICER else Party.NATIONAL_ADMIN


# Clocks that escalate at breach, and what breach means for each of the others.
ESCALATING_CLOCKS = {
    ClockKind.VERIFICATION: EscalationKind.OVERDUE,
    ClockKind.RESPONSE: EscalationKind.OVERDUE,
    ClockKind.RESOLUTION: EscalationKind.OMBUDSMAN,
}
REMINDED_CLOCKS = frozenset(
    {ClockKind.VERIFICATION, ClockKind.RESPONSE, ClockKind.RESOLUTION, ClockKind.HOLD, ClockKind.SILENCE}
)

# Who is told of each transition; activities/notifications.py resolves each party to people and
# channels, domain/messages.py says what they are told. Reminders and escalations are told to the
# clock's responsible party and its supervisor (`_escalate`).
NOTIFIED: dict[Action, tuple[Party, ...]] = {
    Action.SUBMIT: (Party.REPORTER, Party.NATIONAL_ADMIN),
    Action.ACCEPT: (Party.REPORTER, Party.AGENCY_ADMIN),
    Action.HOLD: (Party.REPORTER,),
    Action.REJECT: (Party.REPORTER,),
    Action.SUPPLEMENT: (Party.NATIONAL_ADMIN,),
    Action.DISPOSE: (Party.OFFICER, Party.AGENCY_ADMIN),
    Action.FOLLOW_UP: (Party.REPORTER,),
    Action.REROUTE: (Party.NATIONAL_ADMIN,),
    Action.REPLY: (Party.AGENCY_ADMIN, Party.OFFICER),
    Action.RATE: (Party.AGENCY_ADMIN,),
    Action.SATISFIED: (Party.AGENCY_ADMIN,),
    Action.HOLD_EXPIRED: (Party.REPORTER,),
    Action.SILENCE_COMPLETED: (Party.REPORTER, Party.AGENCY_ADMIN),
    Action.REOPEN: (Party.AGENCY_ADMIN, Party.NATIONAL_ADMIN),
    Action.CALENDAR_AMENDED: (),
    Action.PERSONAL_DATA_CORRECTED: (),
    Action.PERSONAL_DATA_ERASED: (),
    Action.PIN_CONFIRMED: (),
}

# What a case's followers (Party.FOLLOWER) hear of: its visible progress. Not the workflow's list:
# the projection adds these to the outbox when the case has followers (activities/records.py),
# so following changes no workflow history.
FOLLOWED: frozenset[Action] = frozenset({
    Action.ACCEPT, Action.FOLLOW_UP, Action.SILENCE_COMPLETED, Action.REOPEN, Action.REJECT, Action.HOLD_EXPIRED,
    Action.SATISFIED,
})


def start_clock(
    case: CaseState, kind: ClockKind, started_at: datetime, working_days: int, zone: str, responsible: Party
) -> Clock:
    clock = Clock(
        kind=kind,
        started_at=started_at,
        working_days=working_days,
        zone=zone,
        responsible=responsible,
        due_at=started_at,
        reminder_at=started_at,
    )
    _schedule(case.policy, case.calendar, clock)
    case.clocks[kind] = clock
    return clock


def _schedule(policy: Policy, calendar: HolidayCalendar, clock: Clock) -> None:
    """Compute a clock's deadline and reminder instant from its start, length, the policy's days
    and the calendar."""
    clock.due_at = policy.deadline(calendar, clock.started_at, clock.working_days, clock.zone)
    lead = max(clock.working_days - policy.reminder_lead_days, 0)
    clock.reminder_at = policy.deadline(calendar, clock.started_at, lead, clock.zone)


def reporter_zone(case: CaseState) -> str:
    return zone_for_region(case.details.region_code)


def agency_party(case: CaseState) -> Party:
    """Officers answer for a case disposed to their unit, the agency admin otherwise."""
    return Party.OFFICER if case.unit_id else Party.AGENCY_ADMIN


ERASED_NOTE = "data pribadi dihapus"
PERSONAL_DATA_ROLES = frozenset({Role.REPORTER, Role.ADMIN, Role.SYSTEM})


def check_personal_data_change(case: CaseState, data: PersonalDataChange) -> None:
    """Who may correct or erase a case's personal data, and that there is some to erase."""
    if data.actor.role not in PERSONAL_DATA_ROLES:
        raise ActionRejected(f"role {data.actor.role} may not change a reporter's personal data", Rejection.FORBIDDEN)
    details = case.details
    if data.sealed is None and details.sealed is None and details.reporter is None and details.location is None:
        raise ActionRejected("the personal data of this case is already erased", Rejection.CONFLICT)


def check_pin_confirmation(case: CaseState, data: PinConfirmation) -> None:
    """The verifier (an administrator) confirms a pin; there must be one."""
    if data.actor.role != Role.ADMIN:
        raise ActionRejected(f"role {data.actor.role} may not confirm a pin", Rejection.FORBIDDEN)
    location = case.details.location
    if case.details.sealed is None and (location is None or location.lat is None):
        raise ActionRejected("this case has no pin", Rejection.CONFLICT)


class CaseMachine:
    """Applies the transition table to a CaseState. Pure: time always comes in as `now`.

    Every change appends a timeline event (and the notifications it causes) so the workflow can
    project exactly what is new.
    """

    def __init__(self, state: CaseState) -> None:
        self.state = state
        self.notifications: list[Notification] = []
        self._status_from: Status | None = state.status

    # --- opening -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        tracking_id: str,
        details: ComplaintDetails,
        submitted_at: datetime,
        policy: Policy,
        calendar: HolidayCalendar,
    ) -> "CaseMachine":
        machine = cls(
            CaseState(
                tracking_id=tracking_id,
                details=details,
                submitted_at=submitted_at,
                policy=policy,
                calendar=calendar,
            )
        )
        clock = machine._start_verification(submitted_at, policy.verification_days)
        machine._record(submitted_at, Action.SUBMIT, SYSTEM_REPORTER, details.intake_note, deadline_set=clock.due_at)
        return machine

    # --- actions (validated by check_action before they get here) -------------------------

    def accept(self, now: datetime, data: VerificationInput) -> None:
        assert data.agency is not None  # check_verification
        met = self._stop(ClockKind.VERIFICATION)
        case = self.state
        case.agency, case.unit_id = data.agency, None
        self._move(Status.AWAITING_AGENCY)
        response = self._start_response(now)
        if case.first_forwarded_at is None:  # the resolution clock runs from the first forwarding only
            case.first_forwarded_at = now
            days = case.policy.resolution_days_for(case.details.report_type)
            start_clock(case, ClockKind.RESOLUTION, now, days, data.agency.timezone, Party.AGENCY_ADMIN)
        self._record(now, Action.ACCEPT, data.actor, data.note, deadline_set=response.due_at, deadline_met=met)

    def auto_forward(self, now: datetime) -> bool:
        """Accept to the top suggestion when the policy allows and it is confident enough.

        Only at first routing: after a "not our authority" bounce a person decides.
        """
        case = self.state
        threshold = case.policy.auto_forward_min_score
        if threshold is None or case.status != Status.AWAITING_VERIFICATION or case.bounce_count or not case.suggestions:
            return False
        top = case.suggestions[0]
        if top.score < threshold or not (top.agency_name and top.timezone):
            return False
        # Never by itself to another region's government, even one the text names (region rule).
        if not may_propose(regional=top.region_code is not None, body_region=top.region_code,
                           case_region=case.details.region_code):
            return False
        agency = AgencyRef(id=top.agency_id, name=top.agency_name, timezone=top.timezone)
        note = f"diteruskan otomatis (skor {top.score:.2f}): {top.reason}"
        self.accept(now, VerificationInput(actor=SYSTEM, decision=Action.ACCEPT, agency=agency, note=note))
        return True

    def hold(self, now: datetime, data: VerificationInput) -> None:
        case = self.state
        paused = self._stop(ClockKind.VERIFICATION, keep_paused=True, now=now)
        self._move(Status.ON_HOLD)
        clock = start_clock(case, ClockKind.HOLD, now, case.policy.hold_days, reporter_zone(case), Party.REPORTER)
        self._record(now, Action.HOLD, data.actor, data.note, deadline_set=clock.due_at, deadline_met=paused)

    def reject(self, now: datetime, data: VerificationInput) -> None:
        assert data.reason is not None  # check_verification
        met = self.state.clocks.get(ClockKind.VERIFICATION)
        self._archive(now, Action.REJECT, data.actor, data.reason, data.note, duplicate_of=data.duplicate_of)
        self.state.timeline[-1].deadline_met = met.due_at if met else None

    def supplement(self, now: datetime, data: SupplementInput) -> None:
        self._stop(ClockKind.HOLD)
        self._move(Status.AWAITING_VERIFICATION)
        clock = self._resume_verification(now)
        self._record(now, Action.SUPPLEMENT, data.actor, data.text, deadline_set=clock.due_at)

    def dispose(self, now: datetime, data: DispositionInput) -> None:
        case = self.state
        case.unit_id = data.unit_id
        case.clocks[ClockKind.RESPONSE].responsible = Party.OFFICER
        self._record(now, Action.DISPOSE, data.actor, data.note, deadline_set=case.clocks[ClockKind.RESPONSE].due_at)

    def follow_up(self, now: datetime, data: FollowUpInput) -> None:
        case = self.state
        met = self._stop(ClockKind.RESPONSE)
        if case.first_response_at is None:
            case.first_response_at = now
        self._move(Status.AWAITING_REPORTER)
        clock = start_clock(
            case, ClockKind.SILENCE, now, case.policy.silence_days, reporter_zone(case), Party.REPORTER
        )
        self._record(now, Action.FOLLOW_UP, data.actor, data.message, deadline_set=clock.due_at, deadline_met=met)

    def reroute(self, now: datetime, data: RerouteInput) -> None:
        case = self.state
        met = self._stop(ClockKind.RESPONSE)
        case.bounce_count += 1
        note = reroute_note(data.reason, data.suggested_agency_id)
        self._move(Status.AWAITING_VERIFICATION)
        clock = self._start_verification(now, case.policy.verification_days)
        self._record(now, Action.REROUTE, data.actor, note, deadline_set=clock.due_at, deadline_met=met)
        case.agency, case.unit_id = None, None

    def reply(self, now: datetime, data: ReplyInput) -> None:
        met = self._stop(ClockKind.SILENCE)
        self._move(Status.AWAITING_AGENCY)
        clock = self._start_response(now)
        self._record(now, Action.REPLY, data.actor, data.message, deadline_set=clock.due_at, deadline_met=met)

    def satisfied(self, now: datetime, data: SatisfiedInput) -> None:
        """The reporter is satisfied with the follow-up: completed now, the rating open at once."""
        self._complete(now, Action.SATISFIED, data.actor)

    def rate(self, now: datetime, data: RatingInput) -> None:
        case = self.state
        case.ratings.append(Rating(score=data.score, comment=data.comment, at=now))
        window = case.clocks.pop(ClockKind.REOPEN_WINDOW, None)
        self._record(now, Action.RATE, data.actor, data.comment)
        reopens = (
            window is not None
            and now <= window.due_at
            and data.score <= case.policy.reopen_max_score
            and case.reopen_count < case.policy.reopen_limit
        )
        if reopens:
            case.reopen_count += 1
            case.completed_at = None
            self._move(Status.AWAITING_AGENCY)
            clock = self._start_response(now)
            self._record(now, Action.REOPEN, SYSTEM, f"rating {data.score}", deadline_set=clock.due_at)

    def amend_calendar(self, now: datetime, data: CalendarAmendment) -> bool:
        """Apply a newly declared calendar to the remaining deadlines. False if already applied."""
        case = self.state
        if data.calendar.version == case.calendar.version:
            return False
        if data.issued_at and case.calendar_issued_at and data.issued_at <= case.calendar_issued_at:
            return False  # an older amendment arriving late
        case.calendar, case.calendar_issued_at = data.calendar, data.issued_at or case.calendar_issued_at
        for clock in case.clocks.values():
            _schedule(case.policy, case.calendar, clock)
        note = data.note or f"calendar {data.calendar.version}"
        self._record(now, Action.CALENDAR_AMENDED, SYSTEM, note, deadline_set=case.next_deadline)
        return True

    def change_personal_data(self, now: datetime, data: PersonalDataChange) -> None:
        """A correction (a newly sealed identity) or an erasure (`sealed` None): the details
        carry no identity of their own after either, and the timeline says only that it
        happened (UU 27/2022; never the old values)."""
        case = self.state
        erased = data.sealed is None
        case.details = case.details.model_copy(update={"reporter": None, "location": None, "sealed": data.sealed})
        action = Action.PERSONAL_DATA_ERASED if erased else Action.PERSONAL_DATA_CORRECTED
        self._record(now, action, data.actor, ERASED_NOTE if erased else None)

    def confirm_pin(self, now: datetime, data: PinConfirmation) -> None:
        """A pin outside the case's region kept by the verifier (issue 22): only the timeline
        changes (append-only); the read model clears its flag."""
        self._record(now, Action.PIN_CONFIRMED, data.actor, None)

    # --- projection --------------------------------------------------------------------------

    def record_since(self, seq_from: int) -> CaseRecord:
        """The case as it is now plus what is new after `seq_from`, for the read model and the
        outbox; hands over the notifications waiting to be recorded."""
        case = self.state
        notifications, self.notifications = self.notifications, []
        return CaseRecord(
            tracking_id=case.tracking_id,
            seq=case.seq,
            status=case.status,
            details=case.details,
            submitted_at=case.submitted_at,
            policy_version=case.policy.version,
            calendar_version=case.calendar.version,
            agency_id=case.agency.id if case.agency else None,
            unit_id=case.unit_id,
            archive_reason=case.archive_reason,
            duplicate_of=case.duplicate_of,
            deadlines=case.deadlines(),
            next_deadline=case.next_deadline,
            overdue=case.overdue,
            bounce_count=case.bounce_count,
            reopen_count=case.reopen_count,
            ombudsman_flagged=case.ombudsman_flagged,
            first_response_at=case.first_response_at,
            completed_at=case.completed_at,
            rating=case.rating.score if case.rating else None,
            new_events=[e for e in case.timeline if e.seq > seq_from],
            new_escalations=[e for e in case.escalations if e.seq > seq_from],
            notifications=notifications,
        )

    # --- the clocks ------------------------------------------------------------------------

    def next_alarm(self) -> datetime | None:
        """The next instant a clock needs attention: a reminder or a breach."""
        instants = [c.breach_at for c in self.state.clocks.values() if not c.breached]
        instants += [
            c.reminder_at
            for c in self.state.clocks.values()
            if c.kind in REMINDED_CLOCKS and not c.reminded and c.reminder_at < c.due_at
        ]
        return min(instants, default=None)

    def fire_due(self, now: datetime) -> None:
        """Everything the clocks say should have happened by `now`, in order, once each."""
        while (alarm := self.next_alarm()) is not None and alarm <= now:
            self._fire(alarm)

    def _fire(self, alarm: datetime) -> None:
        case = self.state
        for clock in sorted(case.clocks.values(), key=lambda c: c.due_at):
            if not clock.reminded and clock.kind in REMINDED_CLOCKS and clock.reminder_at == alarm:
                clock.reminded = True
                if clock.reminder_at < clock.due_at:
                    self._escalate(alarm, EscalationKind.REMINDER, clock, clock.responsible)
                return
            if not clock.breached and clock.breach_at == alarm:
                self._breach(clock, alarm)
                return

    def _breach(self, clock: Clock, at: datetime) -> None:
        case = self.state
        clock.breached = clock.reminded = True
        if clock.kind == ClockKind.HOLD:
            self._archive(at, Action.HOLD_EXPIRED, SYSTEM, ArchiveReason.WITHDRAWN, None)
        elif clock.kind == ClockKind.SILENCE:
            self._complete(at, Action.SILENCE_COMPLETED, SYSTEM)
        elif clock.kind == ClockKind.REOPEN_WINDOW:
            self._stop(ClockKind.REOPEN_WINDOW)
        elif clock.kind == ClockKind.RESOLUTION:
            case.ombudsman_flagged = True
            self._escalate(at, EscalationKind.OMBUDSMAN, clock, Party.OMBUDSMAN, self._ombudsman_summary(at))
        else:
            self._escalate(at, EscalationKind.OVERDUE, clock, supervisor_of(clock.responsible))

    def _complete(self, at: datetime, action: Action, actor: Actor) -> None:
        """Completed (by the reporter's silence or their word): the reopen window starts."""
        case = self.state
        self._stop(ClockKind.SILENCE)
        met = self._stop(ClockKind.RESOLUTION)
        case.completed_at = at
        self._move(Status.COMPLETED)
        window = start_clock(
            case, ClockKind.REOPEN_WINDOW, at, case.policy.reopen_window_days, reporter_zone(case), Party.REPORTER
        )
        self._record(at, action, actor, None, deadline_set=window.due_at, deadline_met=met)

    def _ombudsman_summary(self, at: datetime) -> str:
        case = self.state
        agency = case.agency.name if case.agency else "belum ditetapkan"
        return (
            f"Laporan {case.tracking_id} ({case.details.report_type}) melewati batas penyelesaian "
            f"{case.clocks[ClockKind.RESOLUTION].due_at.isoformat()}; status {case.status}; instansi {agency}; "
            f"dialihkan {case.bounce_count} kali; tanggapan pertama "
            f"{case.first_response_at.isoformat() if case.first_response_at else 'belum ada'}."
        )

    # --- helpers ---------------------------------------------------------------------------

    def _start_verification(self, now: datetime, days: int) -> Clock:
        return start_clock(self.state, ClockKind.VERIFICATION, now, days, NATIONAL_ZONE, Party.NATIONAL_ADMIN)

    def _resume_verification(self, now: datetime) -> Clock:
        case = self.state
        paused, days = case.paused_verification, case.paused_verification_days or 1
        clock = self._start_verification(now, days)
        if paused is not None and paused.breached:  # a breach already escalated is not escalated again
            clock.reminded = clock.breached = True
        case.paused_verification, case.paused_verification_days = None, None
        return clock

    def _start_response(self, now: datetime) -> Clock:
        case = self.state
        assert case.agency is not None
        return start_clock(
            case, ClockKind.RESPONSE, now, case.policy.response_days, case.agency.timezone, agency_party(case)
        )

    def _stop(self, kind: ClockKind, *, keep_paused: bool = False, now: datetime | None = None) -> datetime | None:
        """Stop a clock; returns the deadline it met (or missed) for the timeline."""
        clock = self.state.clocks.pop(kind, None)
        if clock is None:
            return None
        if keep_paused and now is not None:
            left = self.state.policy.remaining_working_days(self.state.calendar, now, clock.due_at, clock.zone)
            self.state.paused_verification = clock
            self.state.paused_verification_days = max(left, 1)
        return clock.due_at

    def _archive(
        self,
        now: datetime,
        action: Action,
        actor: Actor,
        reason: ArchiveReason,
        note: str | None,
        duplicate_of: str | None = None,
    ) -> None:
        case = self.state
        case.clocks.clear()
        case.paused_verification, case.paused_verification_days = None, None
        case.archive_reason, case.duplicate_of = reason, duplicate_of
        self._move(Status.ARCHIVED)
        self._record(now, action, actor, note or reason.value)

    def _move(self, status: Status) -> None:
        self._status_from = self.state.status
        self.state.status = status

    def _next_seq(self) -> int:
        self.state.seq += 1
        return self.state.seq

    def _record(
        self,
        at: datetime,
        action: Action,
        actor: Actor,
        note: str | None,
        *,
        deadline_set: datetime | None = None,
        deadline_met: datetime | None = None,
    ) -> None:
        case = self.state
        status_from = self._status_from if action != Action.SUBMIT else None
        self._status_from = case.status
        event = TimelineEvent(
            seq=self._next_seq(),
            at=at,
            action=action,
            actor=actor,
            status_from=status_from,
            status_to=case.status,
            note=note,
            agency_id=case.agency.id if case.agency else None,
            unit_id=case.unit_id,
            deadline_set=deadline_set,
            deadline_met=deadline_met,
        )
        case.timeline.append(event)
        for party in NOTIFIED[action]:
            self._notify(event.seq, action.value, party, at, due_at=deadline_set)

    def _escalate(
        self, at: datetime, kind: EscalationKind, clock: Clock, notified: Party, summary: str | None = None
    ) -> None:
        if notified in (Party.AGENCY_ADMIN, Party.OFFICER) and self.state.agency is None:
            notified = Party.NATIONAL_ADMIN  # being re-routed: no agency holds the case right now
        escalation = Escalation(
            seq=self._next_seq(), kind=kind, clock=clock.kind, due_at=clock.due_at, at=at, notified=notified,
            summary=summary,
        )
        self.state.escalations.append(escalation)
        self._notify(escalation.seq, f"{kind.value}:{clock.kind.value}", notified, at, due_at=clock.due_at)
        if kind == EscalationKind.OMBUDSMAN:
            self._notify(escalation.seq, f"{kind.value}:{clock.kind.value}", Party.NATIONAL_ADMIN, at)

    def _notify(self, seq: int, event: str, party: Party, at: datetime, due_at: datetime | None = None) -> None:
        case = self.state
        if party == Party.OFFICER and not case.unit_id:
            return
        self.notifications.append(
            Notification(
                key=f"{case.tracking_id}:{seq}:{party.value}:outbox",
                tracking_id=case.tracking_id,
                event_seq=seq,
                event=event,
                recipient=party,
                agency_id=case.agency.id if case.agency else None,
                unit_id=case.unit_id,
                payload={
                    "status": case.status.value,
                    "at": at.isoformat(),
                    "due_at": due_at.isoformat() if due_at else None,
                },
            )
        )
