"""The pure state machine (domain/lifecycle.py) against ARCHITECTURE.md section 1, on real dates.

Zones: the national administrator works in WIB (+07:00); the reporter is in Banjarmasin (region
63.71, WITA, +08:00); the agency is Pemerintah Kota Banjarmasin (WITA) unless said otherwise.
Expected dates are worked out by hand from holidays.Indonesia 0.108 (PUBLIC + GOVERNMENT); in
March-April 2026 the non-working weekdays are 18-20, 23, 24 March (Nyepi, Idul Fitri and cuti
bersama) and 3 April (Good Friday).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from domain.calendar import WIB, WIT, WITA, HolidayCalendar, calendar_for
from domain.enums import (
    Action,
    ArchiveReason,
    ClockKind,
    EscalationKind,
    Party,
    ReportType,
    Role,
    Status,
)
from domain.lifecycle import (
    RULES,
    ActionRejected,
    CaseMachine,
    Rejection,
    check_action,
    check_verification,
)
from domain.models import (
    Actor,
    AgencyRef,
    CalendarAmendment,
    CaseState,
    ComplaintDetails,
    DispositionInput,
    FollowUpInput,
    RatingInput,
    SatisfiedInput,
    ReplyInput,
    Reporter,
    RerouteInput,
    SupplementInput,
    VerificationInput,
)
from domain.policy import Policy, current_policy

UTC = timezone.utc


def wib(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(WIB))


def wita(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(WITA))


SUBMITTED = wib(2026, 3, 2, 10, 0)  # Monday
CALENDAR = calendar_for(SUBMITTED)

BANJARMASIN = AgencyRef(id="kota-banjarmasin", name="Pemerintah Kota Banjarmasin", timezone=WITA)
KEMENKES = AgencyRef(id="kemenkes", name="Kementerian Kesehatan", timezone=WIB)
JAYAPURA = AgencyRef(id="kota-jayapura", name="Pemerintah Kota Jayapura", timezone=WIT)

ADMIN = Actor(role=Role.ADMIN, name="Admin Nasional")
BJM_ADMIN = Actor(role=Role.AGENCY_ADMIN, agency_id=BANJARMASIN.id, name="Admin Instansi Banjarmasin")
BJM_OFFICER = Actor(role=Role.OFFICER, agency_id=BANJARMASIN.id, name="Pejabat Penghubung Dinas PUPR")
KEMENKES_ADMIN = Actor(role=Role.AGENCY_ADMIN, agency_id=KEMENKES.id, name="Admin Kemenkes")
KEMENKES_OFFICER = Actor(role=Role.OFFICER, agency_id=KEMENKES.id)
REPORTER = Actor(role=Role.REPORTER)

IDENTITY = Reporter(name="Siti Rahmawati", email="siti.rahmawati@example.id", phone="+6281234567890")
IDENTITY_FRAGMENTS = ["Siti", "Rahmawati", "siti.rahmawati", "example.id", "6281234567890", "81234567890"]


class Case:
    """Drives a CaseMachine the way the workflow does: validate, then apply; checks the timeline."""

    def __init__(
        self,
        report_type: ReportType = ReportType.PENGADUAN,
        region_code: str | None = "63.71",
        submitted_at: datetime = SUBMITTED,
        policy: Policy | None = None,
        agency_hint: str | None = None,
        tracking_id: str = "LAPOR-2026-000123",
    ) -> None:
        details = ComplaintDetails(
            title="Jalan berlubang di Jl. A. Yani km 3",
            description="Lubang besar di badan jalan sudah dua bulan, membahayakan pengendara motor.",
            report_type=report_type,
            region_code=region_code,
            anonymous=True,
            agency_hint=agency_hint,
            reporter=IDENTITY,
        )
        self.m = CaseMachine.open(tracking_id, details, submitted_at, policy or current_policy(), CALENDAR)

    @property
    def s(self) -> CaseState:
        return self.m.state

    def due(self, kind: ClockKind) -> str | None:
        clock = self.s.clocks.get(kind)
        return clock.due_at.isoformat() if clock else None

    def _apply(self, action: Action, actor: Actor, now: datetime, apply, data) -> None:
        check_action(self.s, action, actor)
        before, count = self.s.status, len(self.s.timeline)
        apply(now, data)
        new = self.s.timeline[count:]
        assert new, f"{action} left no timeline event"
        assert new[0].action == action
        assert new[0].at == now
        assert new[0].status_from == before
        assert new[-1].status_to == self.s.status

    def accept(self, now: datetime, agency: AgencyRef = BANJARMASIN, actor: Actor = ADMIN) -> None:
        data = VerificationInput(actor=actor, decision=Action.ACCEPT, agency=agency)
        check_verification(data)
        self._apply(Action.ACCEPT, actor, now, self.m.accept, data)

    def hold(self, now: datetime) -> None:
        data = VerificationInput(actor=ADMIN, decision=Action.HOLD, note="Lampirkan foto dan alamat lengkap")
        check_verification(data)
        self._apply(Action.HOLD, ADMIN, now, self.m.hold, data)

    def reject(self, now: datetime, reason: ArchiveReason, duplicate_of: str | None = None) -> None:
        data = VerificationInput(actor=ADMIN, decision=Action.REJECT, reason=reason, duplicate_of=duplicate_of)
        check_verification(data)
        self._apply(Action.REJECT, ADMIN, now, self.m.reject, data)

    def supplement(self, now: datetime) -> None:
        data = SupplementInput(actor=REPORTER, text="Foto terlampir; lokasi depan Pasar Lama.")
        self._apply(Action.SUPPLEMENT, REPORTER, now, self.m.supplement, data)

    def dispose(self, now: datetime, unit_id: str = "dinas-pupr", actor: Actor = BJM_ADMIN) -> None:
        data = DispositionInput(actor=actor, unit_id=unit_id)
        self._apply(Action.DISPOSE, actor, now, self.m.dispose, data)

    def follow_up(self, now: datetime, actor: Actor = BJM_OFFICER) -> None:
        data = FollowUpInput(actor=actor, message="Perbaikan dijadwalkan pekan depan.")
        self._apply(Action.FOLLOW_UP, actor, now, self.m.follow_up, data)

    def reroute(self, now: datetime, actor: Actor = BJM_ADMIN) -> None:
        data = RerouteInput(actor=actor, reason="Jalan nasional, bukan kewenangan kota", suggested_agency_id="kemen-pu")
        self._apply(Action.REROUTE, actor, now, self.m.reroute, data)

    def reply(self, now: datetime, actor: Actor = REPORTER) -> None:
        data = ReplyInput(actor=actor, message="Belum ada perbaikan sampai hari ini.")
        self._apply(Action.REPLY, actor, now, self.m.reply, data)

    def rate(self, now: datetime, score: int) -> None:
        data = RatingInput(actor=REPORTER, score=score, comment="Penilaian pelapor")
        self._apply(Action.RATE, REPORTER, now, self.m.rate, data)

    def satisfied(self, now: datetime) -> None:
        self._apply(Action.SATISFIED, REPORTER, now, self.m.satisfied, SatisfiedInput(actor=REPORTER))

    def breach_at(self, kind: ClockKind) -> datetime:
        return self.s.clocks[kind].breach_at

    def escalations(self, kind: EscalationKind | None = None) -> list:
        return [e for e in self.s.escalations if kind is None or e.kind == kind]


# Times of the standard walk (all instants explicit).
HOLD_AT = wib(2026, 3, 3, 11, 0)  # Tue
ACCEPT_AT = wib(2026, 3, 4, 9, 0)  # Wed, 10:00 WITA
DISPOSE_AT = wita(2026, 3, 5, 9, 0)  # Thu
FOLLOW_UP_AT = wita(2026, 3, 6, 14, 0)  # Fri
REPLY_AT = wita(2026, 3, 9, 11, 0)  # Mon


def accepted(report_type: ReportType = ReportType.PENGADUAN) -> Case:
    case = Case(report_type=report_type)
    case.accept(ACCEPT_AT)
    return case


def followed_up() -> Case:
    case = accepted()
    case.follow_up(FOLLOW_UP_AT)
    return case


def completed() -> Case:
    """Silence after the follow-up of Fri 6 March: completed at 2026-03-28 00:00 WITA."""
    case = followed_up()
    case.m.fire_due(wita(2026, 3, 28, 0, 0))
    assert case.s.status == Status.COMPLETED
    return case


# --- submission ----------------------------------------------------------------------------------


def test_submission_starts_verification_clock_in_wib() -> None:
    case = Case()
    assert case.s.status == Status.AWAITING_VERIFICATION
    # Mon 2 March + 3 working days = Thu 5 March, national administrator's zone.
    assert case.due(ClockKind.VERIFICATION) == "2026-03-05T23:59:59+07:00"
    assert case.s.clocks[ClockKind.VERIFICATION].responsible == Party.NATIONAL_ADMIN
    event = case.s.timeline[0]
    assert (event.seq, event.action, event.status_from, event.status_to) == (
        1, Action.SUBMIT, None, Status.AWAITING_VERIFICATION,
    )
    assert event.deadline_set.isoformat() == "2026-03-05T23:59:59+07:00"
    assert event.actor == Actor(role=Role.REPORTER)
    assert {n.recipient for n in case.m.notifications} == {Party.REPORTER, Party.NATIONAL_ADMIN}


def test_submission_late_friday_evening_in_wib() -> None:
    # Fri 2026-03-13 23:30 WIB: Mon 16, Tue 17, then the 18-24 break, Wed 25.
    case = Case(submitted_at=wib(2026, 3, 13, 23, 30))
    assert case.due(ClockKind.VERIFICATION) == "2026-03-25T23:59:59+07:00"


# --- check_action --------------------------------------------------------------------------------


def case_in(status: Status) -> Case:
    case = Case()
    if status == Status.ON_HOLD:
        case.hold(HOLD_AT)
    elif status == Status.ARCHIVED:
        case.reject(HOLD_AT, ArchiveReason.NOT_A_COMPLAINT)
    elif status in (Status.AWAITING_AGENCY, Status.AWAITING_REPORTER, Status.COMPLETED):
        case.accept(ACCEPT_AT)
        if status != Status.AWAITING_AGENCY:
            case.follow_up(FOLLOW_UP_AT)
        if status == Status.COMPLETED:
            case.m.fire_due(wita(2026, 3, 28, 0, 0))
    assert case.s.status == status
    return case


def allowed_actor(action: Action) -> Actor:
    role = sorted(RULES[action].roles)[0]
    return Actor(role=role, agency_id=BANJARMASIN.id if role in (Role.AGENCY_ADMIN, Role.OFFICER) else None)


def allowed_status(action: Action) -> Status:
    return next(iter(RULES[action].statuses))


def test_rules_cover_every_user_action() -> None:
    assert set(RULES) == {
        Action.ACCEPT, Action.HOLD, Action.REJECT, Action.SUPPLEMENT, Action.DISPOSE,
        Action.FOLLOW_UP, Action.REROUTE, Action.REPLY, Action.RATE, Action.SATISFIED,
    }


@pytest.mark.parametrize("action", list(RULES))
def test_allowed_status_and_roles_pass(action: Action) -> None:
    rule = RULES[action]
    for status in rule.statuses:
        case = case_in(status)
        for role in rule.roles:
            agency_id = BANJARMASIN.id if rule.own_agency_only else None
            check_action(case.s, action, Actor(role=role, agency_id=agency_id))


@pytest.mark.parametrize(
    ("action", "status"),
    [(action, status) for action, rule in RULES.items() for status in Status if status not in rule.statuses],
)
def test_other_statuses_conflict(action: Action, status: Status) -> None:
    rule = RULES[action]
    case = case_in(status)
    with pytest.raises(ActionRejected) as info:
        check_action(case.s, action, allowed_actor(action))
    if rule.own_agency_only and (case.s.agency is None or case.s.agency.id != BANJARMASIN.id):
        # Not with this agency (never forwarded, or moved away): not theirs to touch at all.
        assert info.value.kind == Rejection.FORBIDDEN
    else:
        assert info.value.kind == Rejection.CONFLICT


@pytest.mark.parametrize("action", list(RULES))
def test_other_roles_forbidden(action: Action) -> None:
    rule = RULES[action]
    case = case_in(allowed_status(action))
    for role in set(Role) - rule.roles:
        with pytest.raises(ActionRejected) as info:
            check_action(case.s, action, Actor(role=role, agency_id=BANJARMASIN.id))
        assert info.value.kind == Rejection.FORBIDDEN, role


@pytest.mark.parametrize("action", [a for a, r in RULES.items() if r.own_agency_only])
def test_other_agency_forbidden(action: Action) -> None:
    case = case_in(allowed_status(action))
    for role in RULES[action].roles:
        for agency_id in (KEMENKES.id, None):
            with pytest.raises(ActionRejected) as info:
                check_action(case.s, action, Actor(role=role, agency_id=agency_id))
            assert info.value.kind == Rejection.FORBIDDEN


def test_agency_actions_are_own_agency_only() -> None:
    assert {a for a, r in RULES.items() if r.own_agency_only} == {Action.DISPOSE, Action.FOLLOW_UP, Action.REROUTE}


def test_agency_admin_cannot_verify_by_default_even_if_chosen() -> None:
    case = Case(agency_hint=BANJARMASIN.id)
    with pytest.raises(ActionRejected) as info:
        check_action(case.s, Action.ACCEPT, BJM_ADMIN)
    assert info.value.kind == Rejection.FORBIDDEN


def test_direct_to_agency_lets_the_chosen_agency_verify() -> None:
    policy = current_policy().model_copy(update={"version": "test-direct.v1", "direct_to_agency": True})
    case = Case(policy=policy, agency_hint=BANJARMASIN.id)
    for action in (Action.ACCEPT, Action.HOLD, Action.REJECT):
        check_action(case.s, action, BJM_ADMIN)
    with pytest.raises(ActionRejected) as info:
        check_action(case.s, Action.ACCEPT, KEMENKES_ADMIN)
    assert info.value.kind == Rejection.FORBIDDEN


# --- check_verification --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        VerificationInput(actor=ADMIN, decision=Action.ACCEPT),
        VerificationInput(actor=ADMIN, decision=Action.REJECT),
        VerificationInput(actor=ADMIN, decision=Action.REJECT, reason=ArchiveReason.DUPLICATE),
        VerificationInput(actor=ADMIN, decision=Action.REJECT, reason=ArchiveReason.DUPLICATE, duplicate_of=""),
        VerificationInput(actor=ADMIN, decision=Action.SUPPLEMENT),
    ],
    ids=["accept-without-agency", "reject-without-reason", "duplicate-without-original", "duplicate-empty",
         "not-a-decision"],
)
def test_check_verification_rejects_incomplete_decisions(data: VerificationInput) -> None:
    with pytest.raises(ActionRejected) as info:
        check_verification(data)
    assert info.value.kind == Rejection.INVALID


@pytest.mark.parametrize(
    "data",
    [
        VerificationInput(actor=ADMIN, decision=Action.ACCEPT, agency=BANJARMASIN),
        VerificationInput(actor=ADMIN, decision=Action.HOLD),
        VerificationInput(actor=ADMIN, decision=Action.REJECT, reason=ArchiveReason.ABUSIVE),
        VerificationInput(actor=ADMIN, decision=Action.REJECT, reason=ArchiveReason.DUPLICATE, duplicate_of="LAPOR-1"),
    ],
)
def test_check_verification_accepts_complete_decisions(data: VerificationInput) -> None:
    check_verification(data)


# --- accept --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("report_type", "resolution_due"),
    [
        # From Wed 4 March (WITA): 5 wd = Wed 11; 14 wd skips 18-24 March = Tue 31 March;
        # 60 wd also skips 3 Apr, 1 May, 14-15 May, 27-28 May, 1 June = Fri 12 June.
        (ReportType.ASPIRASI, "2026-03-11T23:59:59+08:00"),
        (ReportType.PERMINTAAN_INFORMASI, "2026-03-11T23:59:59+08:00"),
        (ReportType.PENGADUAN, "2026-03-31T23:59:59+08:00"),
        (ReportType.PENGADUAN_BERKADAR_PENGAWASAN, "2026-06-12T23:59:59+08:00"),
    ],
)
def test_accept_starts_response_and_resolution_clocks(report_type: ReportType, resolution_due: str) -> None:
    case = accepted(report_type)
    assert case.s.status == Status.AWAITING_AGENCY
    assert case.s.agency == BANJARMASIN
    assert Status(case.s.timeline[-1].status_to) == Status.AWAITING_AGENCY
    assert case.due(ClockKind.VERIFICATION) is None
    # Thu 5, Fri 6, Mon 9, Tue 10, Wed 11 in the agency's zone.
    assert case.due(ClockKind.RESPONSE) == "2026-03-11T23:59:59+08:00"
    assert case.s.clocks[ClockKind.RESPONSE].responsible == Party.AGENCY_ADMIN
    assert case.due(ClockKind.RESOLUTION) == resolution_due
    deadlines = case.s.deadlines()
    assert deadlines.response_due.isoformat() == "2026-03-11T23:59:59+08:00"
    assert deadlines.resolution_due.isoformat() == resolution_due
    event = case.s.timeline[-1]
    assert event.action == Action.ACCEPT and event.agency_id == BANJARMASIN.id
    assert event.deadline_set.isoformat() == "2026-03-11T23:59:59+08:00"
    assert event.deadline_met.isoformat() == "2026-03-05T23:59:59+07:00"
    told = {(n.recipient, n.agency_id) for n in case.m.notifications if n.event == "accept"}
    assert told == {(Party.REPORTER, BANJARMASIN.id), (Party.AGENCY_ADMIN, BANJARMASIN.id)}


def test_accept_uses_the_agency_zone_near_midnight() -> None:
    # 2026-03-04T16:30Z is Wed 23:30 in Jakarta but Thu 01:30 in Jayapura.
    now = datetime(2026, 3, 4, 16, 30, tzinfo=UTC)
    national = Case()
    national.accept(now, KEMENKES)
    papua = Case()
    papua.accept(now, JAYAPURA)
    # From Wed 4: Thu 5 .. Wed 11. From Thu 5: Fri 6, Mon 9, Tue 10, Wed 11, Thu 12.
    assert national.due(ClockKind.RESPONSE) == "2026-03-11T23:59:59+07:00"
    assert papua.due(ClockKind.RESPONSE) == "2026-03-12T23:59:59+09:00"


# --- hold and supplement -------------------------------------------------------------------------


def test_hold_pauses_verification_and_starts_reporter_clock() -> None:
    case = Case()
    case.hold(HOLD_AT)
    assert case.s.status == Status.ON_HOLD
    assert case.due(ClockKind.VERIFICATION) is None
    assert case.s.deadlines().verification_due is None
    # Held on Tue 3 with a Thu 5 deadline: Wed 4 and Thu 5 are still left.
    assert case.s.paused_verification_days == 2
    # The reporter's zone (Banjarmasin, WITA): Wed 4 .. Tue 17 March is 10 working days.
    assert case.due(ClockKind.HOLD) == "2026-03-17T23:59:59+08:00"
    assert case.s.deadlines().hold_ends.isoformat() == "2026-03-17T23:59:59+08:00"
    assert case.s.clocks[ClockKind.HOLD].responsible == Party.REPORTER
    assert [n.recipient for n in case.m.notifications if n.event == "hold"] == [Party.REPORTER]


def test_supplement_resumes_verification_with_the_days_left() -> None:
    case = Case()
    case.hold(HOLD_AT)
    case.supplement(wib(2026, 3, 9, 10, 0))  # Monday
    assert case.s.status == Status.AWAITING_VERIFICATION
    assert case.due(ClockKind.HOLD) is None
    # Two days were left: Tue 10, Wed 11 (a restarted clock would end Thu 12).
    assert case.due(ClockKind.VERIFICATION) == "2026-03-11T23:59:59+07:00"
    assert case.s.timeline[-1].deadline_set.isoformat() == "2026-03-11T23:59:59+07:00"
    assert case.s.paused_verification is None and case.s.paused_verification_days is None
    assert [n.recipient for n in case.m.notifications if n.event == "supplement"] == [Party.NATIONAL_ADMIN]


def test_hold_on_submission_day_keeps_all_three_days() -> None:
    case = Case()
    case.hold(wib(2026, 3, 2, 15, 0))
    assert case.s.paused_verification_days == 3
    case.supplement(wib(2026, 3, 16, 9, 0))  # Mon 16: Tue 17, (18-24 break), Wed 25, Thu 26
    assert case.due(ClockKind.VERIFICATION) == "2026-03-26T23:59:59+07:00"


def test_hold_expiry_archives_as_withdrawn_exactly_at_breach() -> None:
    case = Case()
    case.hold(HOLD_AT)
    breach = case.breach_at(ClockKind.HOLD)
    assert breach == wita(2026, 3, 18, 0, 0, 0)
    case.m.fire_due(breach - timedelta(seconds=1))
    assert case.s.status == Status.ON_HOLD
    assert case.s.archive_reason is None
    case.m.fire_due(breach)
    assert case.s.status == Status.ARCHIVED
    assert case.s.archive_reason == ArchiveReason.WITHDRAWN
    event = case.s.timeline[-1]
    assert (event.action, event.at, event.status_from, event.status_to) == (
        Action.HOLD_EXPIRED, breach, Status.ON_HOLD, Status.ARCHIVED,
    )
    assert event.actor.role == Role.SYSTEM
    assert case.s.clocks == {} and case.s.paused_verification is None
    assert case.m.next_alarm() is None
    with pytest.raises(ActionRejected) as info:
        check_action(case.s, Action.SUPPLEMENT, REPORTER)
    assert info.value.kind == Rejection.CONFLICT


def test_hold_reminds_the_reporter_a_day_before() -> None:
    case = Case()
    case.hold(HOLD_AT)
    case.m.fire_due(wita(2026, 3, 16, 23, 59, 58))
    assert case.escalations() == []
    case.m.fire_due(wita(2026, 3, 16, 23, 59, 59))  # end of working day 9 of 10
    [reminder] = case.escalations()
    assert (reminder.kind, reminder.clock, reminder.notified) == (EscalationKind.REMINDER, ClockKind.HOLD, Party.REPORTER)


# --- reject --------------------------------------------------------------------------------------


def test_reject_archives_with_reason() -> None:
    case = Case()
    case.reject(HOLD_AT, ArchiveReason.ABUSIVE)
    assert case.s.status == Status.ARCHIVED
    assert case.s.archive_reason == ArchiveReason.ABUSIVE
    assert case.s.clocks == {}
    event = case.s.timeline[-1]
    assert event.action == Action.REJECT
    assert event.deadline_met.isoformat() == "2026-03-05T23:59:59+07:00"
    case.m.fire_due(wib(2026, 12, 31, 0, 0))
    assert case.escalations() == []


def test_reject_as_duplicate_points_to_the_original() -> None:
    case = Case()
    case.reject(HOLD_AT, ArchiveReason.DUPLICATE, duplicate_of="LAPOR-2026-000042")
    assert case.s.archive_reason == ArchiveReason.DUPLICATE
    assert case.s.duplicate_of == "LAPOR-2026-000042"


# --- dispose, follow-up, reply ---------------------------------------------------------------------


def test_dispose_assigns_unit_and_makes_officer_responsible() -> None:
    case = accepted()
    case.dispose(DISPOSE_AT)
    assert case.s.status == Status.AWAITING_AGENCY
    assert case.s.unit_id == "dinas-pupr"
    response = case.s.clocks[ClockKind.RESPONSE]
    assert response.responsible == Party.OFFICER
    assert response.due_at.isoformat() == "2026-03-11T23:59:59+08:00"  # unchanged
    event = case.s.timeline[-1]
    assert (event.action, event.status_from, event.status_to, event.unit_id) == (
        Action.DISPOSE, Status.AWAITING_AGENCY, Status.AWAITING_AGENCY, "dinas-pupr",
    )
    told = {n.recipient: n.unit_id for n in case.m.notifications if n.event == "dispose"}
    assert told == {Party.OFFICER: "dinas-pupr", Party.AGENCY_ADMIN: "dinas-pupr"}


def test_follow_up_starts_silence_clock() -> None:
    case = followed_up()
    assert case.s.status == Status.AWAITING_REPORTER
    assert case.due(ClockKind.RESPONSE) is None
    # From Fri 6 in the reporter's zone: 9-13 (5), 16, 17 (7), break 18-24, 25, 26, 27 (10).
    assert case.due(ClockKind.SILENCE) == "2026-03-27T23:59:59+08:00"
    assert case.s.clocks[ClockKind.SILENCE].responsible == Party.REPORTER
    assert case.due(ClockKind.RESOLUTION) == "2026-03-31T23:59:59+08:00"  # still running
    assert case.s.first_response_at == FOLLOW_UP_AT
    event = case.s.timeline[-1]
    assert event.deadline_met.isoformat() == "2026-03-11T23:59:59+08:00"
    assert event.deadline_set.isoformat() == "2026-03-27T23:59:59+08:00"
    assert [n.recipient for n in case.m.notifications if n.event == "follow_up"] == [Party.REPORTER]


@pytest.mark.parametrize("actor", [REPORTER, ADMIN])
def test_reply_starts_a_new_response_clock(actor: Actor) -> None:
    case = followed_up()
    case.reply(REPLY_AT, actor)
    assert case.s.status == Status.AWAITING_AGENCY
    assert case.due(ClockKind.SILENCE) is None
    # From Mon 9 (WITA): Tue 10, Wed 11, Thu 12, Fri 13, Mon 16.
    assert case.due(ClockKind.RESPONSE) == "2026-03-16T23:59:59+08:00"
    assert case.due(ClockKind.RESOLUTION) == "2026-03-31T23:59:59+08:00"
    assert case.s.first_response_at == FOLLOW_UP_AT  # the first one stays


def test_reply_after_disposition_keeps_officer_responsible() -> None:
    case = accepted()
    case.dispose(DISPOSE_AT)
    case.follow_up(FOLLOW_UP_AT)
    case.reply(REPLY_AT)
    assert case.s.clocks[ClockKind.RESPONSE].responsible == Party.OFFICER
    assert {n.recipient for n in case.m.notifications if n.event == "reply"} == {Party.AGENCY_ADMIN, Party.OFFICER}


# --- silence, completion, rating -------------------------------------------------------------------


def test_silence_expiry_completes_exactly_at_breach() -> None:
    case = followed_up()
    breach = case.breach_at(ClockKind.SILENCE)
    assert breach == wita(2026, 3, 28, 0, 0)
    case.m.fire_due(breach - timedelta(seconds=1))
    assert case.s.status == Status.AWAITING_REPORTER
    case.m.fire_due(breach)
    assert case.s.status == Status.COMPLETED
    assert case.s.completed_at == breach
    assert case.due(ClockKind.RESOLUTION) is None  # resolved in time: no Ombudsman later
    assert case.due(ClockKind.SILENCE) is None
    # Reopen window, 10 wd from Sat 28 March: 30, 31, 1, 2, (3 Apr Good Friday), 6-10, 13 April.
    assert case.due(ClockKind.REOPEN_WINDOW) == "2026-04-13T23:59:59+08:00"
    event = case.s.timeline[-1]
    assert (event.action, event.at, event.status_from, event.status_to) == (
        Action.SILENCE_COMPLETED, breach, Status.AWAITING_REPORTER, Status.COMPLETED,
    )
    assert event.deadline_met.isoformat() == "2026-03-31T23:59:59+08:00"
    case.m.fire_due(wita(2026, 6, 1, 0, 0))
    assert case.escalations(EscalationKind.OMBUDSMAN) == []
    assert not case.s.ombudsman_flagged


def test_a_satisfied_reporter_completes_the_case_at_once_and_may_rate_it() -> None:
    case = followed_up()
    case.satisfied(REPLY_AT)
    assert case.s.status == Status.COMPLETED and case.s.completed_at == REPLY_AT
    assert case.due(ClockKind.SILENCE) is None and case.due(ClockKind.RESOLUTION) is None
    # Reopen window, 10 wd from Mon 9 March (WITA): 10-13 (4), 16, 17 (6), break 18-24, 25-27 (9), 30.
    assert case.due(ClockKind.REOPEN_WINDOW) == "2026-03-30T23:59:59+08:00"
    event = case.s.timeline[-1]
    assert (event.action, event.actor.role, event.status_from, event.status_to) == (
        Action.SATISFIED, Role.REPORTER, Status.AWAITING_REPORTER, Status.COMPLETED,
    )
    assert [n.recipient for n in case.m.notifications if n.event == "satisfied"] == [Party.AGENCY_ADMIN]
    case.rate(REPLY_AT + timedelta(minutes=1), 5)  # the rating is open at once
    assert case.s.rating.score == 5 and case.s.status == Status.COMPLETED


@pytest.mark.parametrize("actor", [ADMIN, Actor(role=Role.OFFICER, agency_id="pemkot-63.71")])
def test_only_the_reporter_says_they_are_satisfied(actor: Actor) -> None:
    case = followed_up()
    with pytest.raises(ActionRejected):
        check_action(case.s, Action.SATISFIED, actor)


def test_low_rating_within_window_reopens_once() -> None:
    case = completed()
    case.rate(wita(2026, 4, 1, 10, 0), 2)
    assert case.s.status == Status.AWAITING_AGENCY
    assert case.s.reopen_count == 1
    assert case.s.completed_at is None
    assert case.s.rating.score == 2
    assert [e.action for e in case.s.timeline[-2:]] == [Action.RATE, Action.REOPEN]
    reopen = case.s.timeline[-1]
    assert (reopen.status_from, reopen.status_to) == (Status.COMPLETED, Status.AWAITING_AGENCY)
    # New response clock from Wed 1 April: Thu 2, (Good Friday), Mon 6, 7, 8, Thu 9.
    assert case.due(ClockKind.RESPONSE) == "2026-04-09T23:59:59+08:00"
    assert reopen.deadline_set.isoformat() == "2026-04-09T23:59:59+08:00"
    assert {n.recipient for n in case.m.notifications if n.event == "reopen"} == {
        Party.AGENCY_ADMIN, Party.NATIONAL_ADMIN,
    }

    # Completed again: 10 wd of silence from Thu 2 April = Fri 17 April.
    case.follow_up(wita(2026, 4, 2, 10, 0))
    assert case.due(ClockKind.SILENCE) == "2026-04-17T23:59:59+08:00"
    case.m.fire_due(wita(2026, 4, 18, 0, 0))
    assert case.s.status == Status.COMPLETED
    case.rate(wita(2026, 4, 20, 10, 0), 1)  # a new completion may be rated again ...
    assert case.s.status == Status.COMPLETED  # ... but reopens at most once
    assert case.s.reopen_count == 1
    assert [r.score for r in case.s.ratings] == [2, 1]
    assert case.s.timeline[-1].action == Action.RATE


@pytest.mark.parametrize("score", [3, 4, 5])
def test_rating_three_or_more_does_not_reopen(score: int) -> None:
    case = completed()
    case.rate(wita(2026, 4, 1, 10, 0), score)
    assert case.s.status == Status.COMPLETED
    assert case.s.reopen_count == 0
    assert case.s.rating.score == score
    with pytest.raises(ActionRejected) as info:  # one rating per completion
        check_action(case.s, Action.RATE, REPORTER)
    assert info.value.kind == Rejection.CONFLICT


def test_low_rating_on_last_second_of_window_reopens() -> None:
    case = completed()
    last = case.s.clocks[ClockKind.REOPEN_WINDOW].due_at
    assert last.isoformat() == "2026-04-13T23:59:59+08:00"
    case.m.fire_due(last)
    case.rate(last, 1)
    assert case.s.status == Status.AWAITING_AGENCY


@pytest.mark.parametrize("clocks_fired", [True, False])
def test_low_rating_after_window_does_not_reopen(clocks_fired: bool) -> None:
    case = completed()
    late = wita(2026, 4, 14, 0, 0)  # the window's breach instant
    if clocks_fired:
        case.m.fire_due(late)
    case.rate(late, 1)
    assert case.s.status == Status.COMPLETED
    assert case.s.reopen_count == 0


# --- reroute -------------------------------------------------------------------------------------


def test_reroute_returns_to_verification_with_fresh_clock() -> None:
    case = accepted()
    case.dispose(DISPOSE_AT)
    case.reroute(wib(2026, 3, 5, 10, 0))  # Thu
    assert case.s.status == Status.AWAITING_VERIFICATION
    assert case.s.bounce_count == 1
    assert case.s.agency is None and case.s.unit_id is None
    assert case.due(ClockKind.RESPONSE) is None
    # Fresh 3 wd in WIB from Thu 5: Fri 6, Mon 9, Tue 10.
    assert case.due(ClockKind.VERIFICATION) == "2026-03-10T23:59:59+07:00"
    assert case.s.clocks[ClockKind.VERIFICATION].responsible == Party.NATIONAL_ADMIN
    # The resolution clock runs from the first forwarding and keeps running.
    assert case.due(ClockKind.RESOLUTION) == "2026-03-31T23:59:59+08:00"
    assert [n.recipient for n in case.m.notifications if n.event == "reroute"] == [Party.NATIONAL_ADMIN]
    # The old agency can no longer act on it.
    with pytest.raises(ActionRejected) as info:
        check_action(case.s, Action.FOLLOW_UP, BJM_OFFICER)
    assert info.value.kind == Rejection.FORBIDDEN

    case.accept(wib(2026, 3, 6, 10, 0), KEMENKES)
    # New agency, new response clock in its zone: Mon 9 .. Fri 13 (WIB).
    assert case.due(ClockKind.RESPONSE) == "2026-03-13T23:59:59+07:00"
    resolution = case.s.clocks[ClockKind.RESOLUTION]  # not restarted: still from the first forwarding
    assert resolution.started_at == ACCEPT_AT
    assert resolution.due_at.date() == date(2026, 3, 31)
    check_action(case.s, Action.FOLLOW_UP, KEMENKES_OFFICER)
    case.reroute(wib(2026, 3, 9, 10, 0), KEMENKES_ADMIN)
    assert case.s.bounce_count == 2


# --- reminders and escalations -------------------------------------------------------------------


def test_verification_reminder_fires_once_at_end_of_day_before_deadline() -> None:
    case = Case()
    clock = case.s.clocks[ClockKind.VERIFICATION]
    assert clock.reminder_at.isoformat() == "2026-03-04T23:59:59+07:00"  # end of working day 2 of 3
    case.m.fire_due(clock.reminder_at - timedelta(seconds=1))
    assert case.escalations() == []
    case.m.fire_due(clock.reminder_at)
    case.m.fire_due(clock.reminder_at + timedelta(hours=1))
    [reminder] = case.escalations()
    assert (reminder.kind, reminder.clock, reminder.notified, reminder.at) == (
        EscalationKind.REMINDER, ClockKind.VERIFICATION, Party.NATIONAL_ADMIN, clock.reminder_at,
    )
    assert reminder.due_at.isoformat() == "2026-03-05T23:59:59+07:00"
    [told] = [n for n in case.m.notifications if n.event == "reminder:verification"]
    assert told.recipient == Party.NATIONAL_ADMIN
    assert told.payload["due_at"] == "2026-03-05T23:59:59+07:00"


def test_response_reminder_goes_to_officer_after_disposition() -> None:
    case = accepted()
    case.dispose(DISPOSE_AT)
    reminder_at = case.s.clocks[ClockKind.RESPONSE].reminder_at
    assert reminder_at.isoformat() == "2026-03-10T23:59:59+08:00"
    case.m.fire_due(reminder_at)
    [reminder] = case.escalations()
    assert (reminder.clock, reminder.notified) == (ClockKind.RESPONSE, Party.OFFICER)


def test_verification_overdue_escalates_once_at_breach() -> None:
    case = Case()
    breach = case.breach_at(ClockKind.VERIFICATION)
    assert breach == wib(2026, 3, 6, 0, 0)
    case.m.fire_due(breach - timedelta(seconds=1))
    assert case.escalations(EscalationKind.OVERDUE) == []
    assert not case.s.overdue
    case.m.fire_due(breach)
    [overdue] = case.escalations(EscalationKind.OVERDUE)
    assert (overdue.clock, overdue.notified, overdue.at) == (ClockKind.VERIFICATION, Party.NATIONAL_ADMIN, breach)
    assert case.s.overdue
    assert case.s.status == Status.AWAITING_VERIFICATION
    count, notes = len(case.s.escalations), len(case.m.notifications)
    case.m.fire_due(breach)
    case.m.fire_due(wib(2026, 3, 20, 12, 0))
    assert len(case.s.escalations) == count
    assert len(case.m.notifications) == notes
    # Still actionable; the timeline records the deadline that was missed.
    case.accept(wib(2026, 3, 9, 9, 0))
    assert case.s.timeline[-1].deadline_met.isoformat() == "2026-03-05T23:59:59+07:00"


@pytest.mark.parametrize(("disposed", "supervisor"), [(False, Party.NATIONAL_ADMIN), (True, Party.AGENCY_ADMIN)])
def test_response_overdue_goes_to_supervisor(disposed: bool, supervisor: Party) -> None:
    case = accepted()
    if disposed:
        case.dispose(DISPOSE_AT)
    breach = case.breach_at(ClockKind.RESPONSE)
    assert breach == wita(2026, 3, 12, 0, 0)
    case.m.fire_due(breach)
    [overdue] = case.escalations(EscalationKind.OVERDUE)
    assert (overdue.clock, overdue.notified, overdue.at) == (ClockKind.RESPONSE, supervisor, breach)
    assert any(n.event == "overdue:response" and n.recipient == supervisor for n in case.m.notifications)


def test_all_alarms_fire_in_order_once_each() -> None:
    case = accepted(ReportType.PENGADUAN)
    case.m.fire_due(wita(2026, 6, 30, 0, 0))
    assert [(e.kind, e.clock, e.at.isoformat()) for e in case.s.escalations] == [
        (EscalationKind.REMINDER, ClockKind.RESPONSE, "2026-03-10T23:59:59+08:00"),
        (EscalationKind.OVERDUE, ClockKind.RESPONSE, "2026-03-12T00:00:00+08:00"),
        (EscalationKind.REMINDER, ClockKind.RESOLUTION, "2026-03-30T23:59:59+08:00"),
        (EscalationKind.OMBUDSMAN, ClockKind.RESOLUTION, "2026-04-01T00:00:00+08:00"),
    ]
    assert case.m.next_alarm() is None


def test_resolution_breach_flags_ombudsman_with_summary() -> None:
    case = accepted(ReportType.ASPIRASI)  # 5 wd: due Wed 11 March
    case.follow_up(wita(2026, 3, 5, 10, 0))
    case.reply(wita(2026, 3, 6, 10, 0))  # new response clock: due Fri 13 March
    breach = case.breach_at(ClockKind.RESOLUTION)
    assert breach == wita(2026, 3, 12, 0, 0)
    case.m.fire_due(breach - timedelta(seconds=1))
    assert not case.s.ombudsman_flagged
    case.m.fire_due(breach)
    assert case.s.ombudsman_flagged
    assert case.s.status == Status.AWAITING_AGENCY
    [flag] = case.escalations(EscalationKind.OMBUDSMAN)
    assert (flag.clock, flag.notified, flag.at) == (ClockKind.RESOLUTION, Party.OMBUDSMAN, breach)
    assert flag.summary
    for fact in ("LAPOR-2026-000123", "aspirasi", "Pemerintah Kota Banjarmasin", "2026-03-11T23:59:59+08:00"):
        assert fact in flag.summary
    assert case.s.first_response_at.isoformat() in flag.summary
    recipients = {n.recipient for n in case.m.notifications if n.event == "ombudsman:resolution"}
    assert recipients == {Party.OMBUDSMAN, Party.NATIONAL_ADMIN}
    case.m.fire_due(wita(2026, 3, 12, 12, 0))
    assert len(case.escalations(EscalationKind.OMBUDSMAN)) == 1


# --- calendar amendment --------------------------------------------------------------------------


def amended_calendar(extra: date) -> HolidayCalendar:
    return HolidayCalendar(
        version=f"{CALENDAR.version}+{extra.isoformat()}",
        holidays=CALENDAR.holidays | {extra},
        names={**CALENDAR.names, extra: "Cuti bersama tambahan"},
    )


def test_calendar_amendment_moves_remaining_deadlines_later() -> None:
    case = accepted()
    new = amended_calendar(date(2026, 3, 10))  # Tuesday becomes a holiday
    now = wita(2026, 3, 5, 9, 0)
    assert case.m.amend_calendar(now, CalendarAmendment(calendar=new)) is True
    assert case.s.calendar.version == new.version
    # Thu 5, Fri 6, Mon 9, (Tue 10), Wed 11, Thu 12.
    assert case.due(ClockKind.RESPONSE) == "2026-03-12T23:59:59+08:00"
    assert case.s.clocks[ClockKind.RESPONSE].reminder_at.isoformat() == "2026-03-11T23:59:59+08:00"
    assert case.due(ClockKind.RESOLUTION) == "2026-04-01T23:59:59+08:00"
    event = case.s.timeline[-1]
    assert (event.action, event.status_from, event.status_to) == (
        Action.CALENDAR_AMENDED, Status.AWAITING_AGENCY, Status.AWAITING_AGENCY,
    )
    assert event.deadline_set.isoformat() == "2026-03-12T23:59:59+08:00"

    # Same version again: nothing changes, nothing is recorded.
    count = len(case.s.timeline)
    assert case.m.amend_calendar(wita(2026, 3, 6, 9, 0), CalendarAmendment(calendar=new)) is False
    assert len(case.s.timeline) == count
    assert case.due(ClockKind.RESPONSE) == "2026-03-12T23:59:59+08:00"

    # The old breach instant no longer escalates; the new one does.
    case.m.fire_due(wita(2026, 3, 12, 0, 0))
    assert case.escalations(EscalationKind.OVERDUE) == []
    case.m.fire_due(wita(2026, 3, 13, 0, 0))
    assert len(case.escalations(EscalationKind.OVERDUE)) == 1


def test_calendar_amendment_moves_hold_deadline() -> None:
    case = Case()
    case.hold(HOLD_AT)
    case.m.amend_calendar(wita(2026, 3, 4, 9, 0), CalendarAmendment(calendar=amended_calendar(date(2026, 3, 16))))
    # Wed 4 .. Fri 13 (8), (Mon 16), Tue 17 (9), then the break, Wed 25 (10).
    assert case.due(ClockKind.HOLD) == "2026-03-25T23:59:59+08:00"


# --- state survives serialization (continue-as-new, query results) --------------------------------


def test_state_round_trip_keeps_deadlines_and_alarms() -> None:
    case = accepted()
    case.dispose(DISPOSE_AT)
    restored = CaseMachine(CaseState.model_validate_json(case.s.model_dump_json()))
    assert restored.state.deadlines() == case.s.deadlines()
    assert restored.next_alarm() == case.m.next_alarm()
    restored.fire_due(wita(2026, 3, 12, 0, 0))
    assert [(e.kind, e.notified) for e in restored.state.escalations] == [
        (EscalationKind.REMINDER, Party.OFFICER), (EscalationKind.OVERDUE, Party.AGENCY_ADMIN),
    ]


# --- the whole walk: timeline, notifications, privacy -----------------------------------------------


def full_walk() -> Case:
    case = Case()
    m = case.m
    case.hold(HOLD_AT)
    m.fire_due(wib(2026, 3, 6, 12, 0))
    case.supplement(wib(2026, 3, 9, 10, 0))
    m.fire_due(wib(2026, 3, 12, 1, 0))  # verification reminder and overdue
    case.accept(wib(2026, 3, 12, 9, 0))
    case.dispose(wita(2026, 3, 12, 11, 0))
    case.follow_up(wita(2026, 3, 13, 10, 0))
    case.reply(wita(2026, 3, 16, 10, 0))
    case.reroute(wita(2026, 3, 17, 10, 0))
    case.accept(wib(2026, 3, 25, 9, 0), KEMENKES)
    m.fire_due(wib(2026, 4, 2, 0, 0))
    case.follow_up(wib(2026, 4, 2, 10, 0), KEMENKES_OFFICER)
    m.fire_due(wita(2026, 4, 18, 0, 0))  # silence: completed
    case.rate(wita(2026, 4, 20, 10, 0), 1)  # reopens
    case.m.amend_calendar(wib(2026, 4, 21, 9, 0), CalendarAmendment(calendar=amended_calendar(date(2026, 4, 24))))
    case.follow_up(wib(2026, 4, 22, 10, 0), KEMENKES_ADMIN)
    case.reply(wita(2026, 4, 23, 10, 0), ADMIN)
    case.follow_up(wib(2026, 4, 27, 10, 0), KEMENKES_OFFICER)
    m.fire_due(wib(2026, 6, 1, 0, 0))
    assert case.s.status == Status.COMPLETED
    case.rate(wita(2026, 6, 2, 10, 0), 2)  # no second reopen
    assert case.s.status == Status.COMPLETED
    return case


def test_full_walk_visits_every_status_and_action() -> None:
    case = full_walk()
    actions = {e.action for e in case.s.timeline}
    assert actions >= {
        Action.SUBMIT, Action.HOLD, Action.SUPPLEMENT, Action.ACCEPT, Action.DISPOSE, Action.FOLLOW_UP,
        Action.REPLY, Action.REROUTE, Action.SILENCE_COMPLETED, Action.RATE, Action.REOPEN,
        Action.CALENDAR_AMENDED,
    }
    assert {e.status_to for e in case.s.timeline} == set(Status) - {Status.ARCHIVED}
    assert case.s.bounce_count == 1 and case.s.reopen_count == 1
    assert {e.kind for e in case.s.escalations} >= {EscalationKind.REMINDER, EscalationKind.OVERDUE}


def test_timeline_is_ordered_and_chained() -> None:
    case = full_walk()
    timeline = case.s.timeline
    seqs = [e.seq for e in timeline]
    assert all(a < b for a, b in zip(seqs, seqs[1:]))
    assert all(a.at <= b.at for a, b in zip(timeline, timeline[1:]))
    assert timeline[0].status_from is None
    for previous, event in zip(timeline, timeline[1:]):
        assert event.status_from == previous.status_to, event
    assert timeline[-1].status_to == case.s.status
    # Timeline events and escalations share one sequence without gaps or repeats.
    all_seqs = sorted(seqs + [e.seq for e in case.s.escalations])
    assert all_seqs == list(range(1, case.s.seq + 1))


def test_notification_keys_are_unique() -> None:
    case = full_walk()
    keys = [n.key for n in case.m.notifications]
    assert len(keys) > 20
    assert len(keys) == len(set(keys))
    assert all(n.tracking_id == "LAPOR-2026-000123" for n in case.m.notifications)


def test_reporter_identity_never_leaks() -> None:
    case = full_walk()
    assert case.s.details.reporter == IDENTITY and case.s.details.anonymous
    published = json.dumps(
        {
            "notifications": [n.model_dump(mode="json") for n in case.m.notifications],
            "timeline": [e.model_dump(mode="json") for e in case.s.timeline],
            "escalations": [e.model_dump(mode="json") for e in case.s.escalations],
        }
    )
    for fragment in IDENTITY_FRAGMENTS:
        assert fragment.lower() not in published.lower(), fragment
    for event in case.s.timeline:
        if event.actor.role == Role.REPORTER:
            assert event.actor.name is None and event.actor.agency_id is None


# --- fixes found in review --------------------------------------------------------------------------


def test_resumed_clock_still_reminds_when_the_reminder_went_out_before_the_hold() -> None:
    case = Case()
    case.m.fire_due(wib(2026, 3, 4, 23, 59, 59))  # Wed: one working day left → reminder
    assert len(case.escalations(EscalationKind.REMINDER)) == 1
    case.hold(wib(2026, 3, 5, 9, 0))  # Thu, the last day: it keeps one working day
    case.supplement(wib(2026, 3, 9, 10, 0))  # Mon → due Tue 10
    assert case.due(ClockKind.VERIFICATION) == "2026-03-10T23:59:59+07:00"
    case.m.fire_due(wib(2026, 3, 10, 0, 0, 1))
    reminders = case.escalations(EscalationKind.REMINDER)
    assert len(reminders) == 2 and reminders[-1].at == wib(2026, 3, 9, 23, 59, 59)


def test_a_breach_before_the_hold_is_not_escalated_again_after_it() -> None:
    case = Case()
    case.m.fire_due(wib(2026, 3, 6, 0, 0, 0))  # past Thu 5 23:59:59
    assert len(case.escalations(EscalationKind.OVERDUE)) == 1
    case.hold(wib(2026, 3, 6, 9, 0))
    case.supplement(wib(2026, 3, 9, 10, 0))
    case.m.fire_due(wib(2026, 3, 20, 0, 0))
    assert len(case.escalations(EscalationKind.OVERDUE)) == 1


def test_resolution_clock_is_not_restarted_after_a_reopen_and_a_reroute() -> None:
    case = completed()
    first_forwarding = case.s.first_forwarded_at
    case.rate(wita(2026, 3, 30, 9, 0), score=1)  # reopens
    assert case.s.status == Status.AWAITING_AGENCY
    case.reroute(wita(2026, 3, 30, 10, 0))
    case.accept(wib(2026, 3, 31, 9, 0), KEMENKES)
    assert ClockKind.RESOLUTION not in case.s.clocks  # met at completion; never started afresh
    assert case.s.first_forwarded_at == first_forwarding == ACCEPT_AT


def test_resolution_reminder_while_rerouted_goes_to_the_national_administrator() -> None:
    case = accepted(ReportType.ASPIRASI)  # resolution: 5 working days from Wed 4 → Wed 11 (WITA)
    case.reroute(wita(2026, 3, 5, 10, 0))
    case.m.fire_due(wita(2026, 3, 12, 0, 0, 0))
    resolution = [e for e in case.s.escalations if e.clock == ClockKind.RESOLUTION]
    assert [(e.kind, e.notified) for e in resolution] == [
        (EscalationKind.REMINDER, Party.NATIONAL_ADMIN),
        (EscalationKind.OMBUDSMAN, Party.OMBUDSMAN),
    ]


def test_an_older_calendar_amendment_arriving_late_is_ignored() -> None:
    case = accepted()
    newer = CALENDAR.with_declared({date(2026, 3, 10): "Cuti bersama (baru)"})
    older = CALENDAR.with_declared({date(2026, 3, 9): "Cuti bersama (lama)"})
    assert case.m.amend_calendar(wib(2026, 3, 5), CalendarAmendment(calendar=newer, issued_at=wib(2026, 3, 5)))
    assert not case.m.amend_calendar(wib(2026, 3, 6), CalendarAmendment(calendar=older, issued_at=wib(2026, 3, 4)))
    assert case.s.calendar.version == newer.version
    assert date(2026, 3, 9) not in case.s.calendar.holidays


# --- automatic forwarding and the region rule (issue 22) -----------------------------------------


@pytest.mark.parametrize(
    ("region_code", "forwarded"),
    [("63.71", True), ("63", True), (None, True), ("33.74", False)],
)
def test_automatic_forwarding_never_goes_to_another_regions_government(region_code, forwarded) -> None:
    from domain.models import RoutingSuggestion

    case = Case(policy=current_policy().model_copy(update={"auto_forward_min_score": 0.5}))
    case.s.suggestions = [RoutingSuggestion(
        agency_id=f"pemkot-{region_code}", score=0.95, reason="mirip", agency_name="Pemerintah Kota X",
        timezone=WITA, region_code=region_code)]
    assert case.m.auto_forward(wita(2026, 3, 2, 10, 0)) is forwarded
    assert (case.s.status == Status.AWAITING_AGENCY) is forwarded
