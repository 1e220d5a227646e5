"""The drill policy (`latihan.v1`): working days of a fixed number of wall-clock seconds.

Drill days are slots of `working_day_seconds` counted from the Unix epoch, every one a working
day; a deadline of N days ends at the last second of the N-th slot after the event's slot. The
expected instants below are worked out by hand from that rule, never from the code under test.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from config import Settings
from domain.calendar import WIB, WIT, WITA, calendar_for
from domain.enums import Action, ClockKind, EscalationKind, Role, Status
from domain.lifecycle import CaseMachine
from domain.models import Actor, ComplaintDetails, SupplementInput, VerificationInput
from domain.policy import CURRENT_POLICY_VERSION, POLICIES, current_policy, policy_in_force

UTC = timezone.utc
DRILL = POLICIES["latihan.v1"]
# 2026-03-02T03:00:00Z is 1772420400 s after the epoch: a multiple of 60 (and of 600), so a slot
# of either length starts there. 2026-03-02 is a Monday; 03-19 (Nyepi) a holiday, 03-21 a Saturday.
SLOT = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
ADMIN = Actor(role=Role.ADMIN)
CALENDAR = calendar_for(SLOT)


def test_the_drill_policy_is_data_with_the_default_durations() -> None:
    default = current_policy()
    assert DRILL.is_drill and not default.is_drill
    assert DRILL.working_day_seconds == 60
    same = {"verification_days", "hold_days", "response_days", "silence_days", "resolution_days",
            "reminder_lead_days", "reopen_window_days", "reopen_limit", "reopen_max_score",
            "direct_to_agency", "auto_forward_min_score"}
    assert DRILL.model_dump(include=same) == default.model_dump(include=same)


@pytest.mark.parametrize(
    ("event_at", "days", "due"),
    [
        (SLOT, 3, SLOT + timedelta(seconds=239)),  # slot 0 -> end of slot 3: 4 minutes less a second
        (SLOT + timedelta(seconds=59, microseconds=999_999), 3, SLOT + timedelta(seconds=239)),  # same slot
        (SLOT + timedelta(seconds=60), 3, SLOT + timedelta(seconds=299)),  # the next slot
        (SLOT + timedelta(seconds=30), 0, SLOT + timedelta(seconds=59)),  # N = 0: the end of its own slot
        (SLOT + timedelta(seconds=30), 60, SLOT + timedelta(seconds=61 * 60 - 1)),
    ],
)
def test_drill_deadline_is_the_last_second_of_the_nth_slot_after_the_event(event_at, days, due) -> None:
    assert DRILL.deadline(CALENDAR, event_at, days, WIB) == due


def test_every_case_opened_in_one_slot_has_the_same_deadlines() -> None:
    dues = {DRILL.deadline(CALENDAR, SLOT + timedelta(seconds=s), 3, WIB) for s in range(0, 60, 7)}
    assert dues == {SLOT + timedelta(seconds=239)}


def test_drill_days_ignore_weekends_and_holidays() -> None:
    friday_before_nyepi = datetime(2026, 3, 20, 17, 0, tzinfo=UTC)  # 1774026000: a multiple of 60
    assert DRILL.deadline(CALENDAR, friday_before_nyepi, 3, WIB) == friday_before_nyepi + timedelta(seconds=239)


def test_drill_deadline_is_one_instant_shown_in_the_zone() -> None:
    wib, wita, wit = (DRILL.deadline(CALENDAR, SLOT, 3, zone) for zone in (WIB, WITA, WIT))
    assert wib == wita == wit
    assert wib.isoformat() == "2026-03-02T10:03:59+07:00"
    assert wita.isoformat() == "2026-03-02T11:03:59+08:00"
    assert wit.isoformat() == "2026-03-02T12:03:59+09:00"


def test_real_policy_deadline_is_the_calendar_one() -> None:
    assert current_policy().deadline(CALENDAR, SLOT, 3, WIB) == CALENDAR.deadline(SLOT, 3, WIB)
    assert current_policy().deadline(CALENDAR, SLOT, 3, WIB).isoformat() == "2026-03-05T23:59:59+07:00"


def test_drill_remaining_days_count_whole_slots_left() -> None:
    due = SLOT + timedelta(seconds=239)  # end of slot 3
    assert DRILL.remaining_working_days(CALENDAR, SLOT + timedelta(seconds=5), due, WIB) == 3
    assert DRILL.remaining_working_days(CALENDAR, SLOT + timedelta(seconds=65), due, WIB) == 2
    assert DRILL.remaining_working_days(CALENDAR, SLOT + timedelta(seconds=185), due, WIB) == 0
    assert DRILL.remaining_working_days(CALENDAR, SLOT + timedelta(seconds=600), due, WIB) == 0


def _open(policy=DRILL, at=SLOT + timedelta(seconds=12)) -> CaseMachine:
    details = ComplaintDetails(title="Lampu jalan mati", description="Lampu jalan mati sejak seminggu.")
    return CaseMachine.open("LAP-DRILL00001", details, at, policy, CALENDAR)


def test_drill_case_reminds_one_slot_before_and_escalates_at_the_slot_end() -> None:
    machine = _open()
    clock = machine.state.clocks[ClockKind.VERIFICATION]
    assert clock.due_at == SLOT + timedelta(seconds=239)
    assert clock.reminder_at == SLOT + timedelta(seconds=179)  # end of slot 2: one drill day left
    assert clock.breach_at == SLOT + timedelta(seconds=240)
    assert machine.next_alarm() == clock.reminder_at
    machine.fire_due(SLOT + timedelta(seconds=180))
    assert [e.kind for e in machine.state.escalations] == [EscalationKind.REMINDER]
    machine.fire_due(SLOT + timedelta(seconds=239))
    assert len(machine.state.escalations) == 1  # the deadline's last second still counts
    machine.fire_due(SLOT + timedelta(seconds=240))
    assert [e.kind for e in machine.state.escalations] == [EscalationKind.REMINDER, EscalationKind.OVERDUE]
    assert machine.state.overdue


def test_drill_hold_pauses_and_resumes_with_the_slots_left() -> None:
    machine = _open()
    held_at = SLOT + timedelta(seconds=70)  # slot 1: two drill days left (slots 2 and 3)
    machine.hold(held_at, VerificationInput(actor=ADMIN, decision=Action.HOLD, note="lengkapi alamat"))
    assert machine.state.status == Status.ON_HOLD
    assert machine.state.paused_verification_days == 2
    assert machine.state.clocks[ClockKind.HOLD].due_at == SLOT + timedelta(seconds=12 * 60 - 1)  # end of slot 11: 10 after slot 1
    resumed_at = SLOT + timedelta(seconds=200)  # slot 3
    machine.supplement(resumed_at, SupplementInput(actor=Actor(role=Role.REPORTER), text="Jl. Yos Sudarso"))
    assert machine.state.clocks[ClockKind.VERIFICATION].due_at == SLOT + timedelta(seconds=6 * 60 - 1)  # slot 5


def test_policy_in_force_is_the_default_unless_configured() -> None:
    assert policy_in_force() is current_policy()
    assert policy_in_force(CURRENT_POLICY_VERSION).version == CURRENT_POLICY_VERSION
    assert policy_in_force("latihan.v1") is DRILL
    assert policy_in_force("latihan.v1", 60) is DRILL


def test_a_drill_day_of_another_length_is_stamped_as_its_own_version() -> None:
    policy = policy_in_force("latihan.v1", 600)
    assert policy.version == "latihan.v1+600s"
    assert policy.working_day_seconds == 600
    assert policy.model_dump(exclude={"version", "working_day_seconds"}) == DRILL.model_dump(
        exclude={"version", "working_day_seconds"}
    )
    assert policy_in_force("latihan.v1", 600) is policy  # one object per configuration
    assert _open(policy).state.clocks[ClockKind.VERIFICATION].due_at == SLOT + timedelta(seconds=4 * 600 - 1)


def test_only_drill_policies_have_a_day_length() -> None:
    with pytest.raises(ValueError, match="only a drill policy"):
        policy_in_force(CURRENT_POLICY_VERSION, 60)
    with pytest.raises(ValueError, match="unknown policy version"):
        policy_in_force("permenpan-99-2099.v1")


def test_settings_choose_the_policy_and_refuse_a_drill_in_production() -> None:
    settings = Settings(_env_file=None, policy_version="latihan.v1", policy_working_day_seconds=300)
    assert settings.policy().version == "latihan.v1+300s"
    assert Settings(_env_file=None).policy() is current_policy()
    with pytest.raises(ValueError, match="drill policy"):
        Settings(_env_file=None, environment="production", policy_version="latihan.v1",
                 sp4n_admin_token="t", secret_key="s")
    with pytest.raises(ValueError, match="unknown policy version"):
        Settings(_env_file=None, policy_version="nope.v1")
