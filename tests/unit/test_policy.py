"""The policy table (ARCHITECTURE.md section 1, "Resolution clock" and the table above it)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from domain.calendar import calendar_for
from domain.enums import ClockKind, ReportType
from domain.lifecycle import CaseMachine
from domain.models import CaseState, ComplaintDetails
from domain.policy import CURRENT_POLICY_VERSION, POLICIES, Policy, current_policy

SUBMITTED = datetime(2026, 3, 2, 3, 0, tzinfo=timezone.utc)  # Monday 10:00 WIB


def test_current_policy_durations() -> None:
    policy = current_policy()
    assert policy.verification_days == 3
    assert policy.hold_days == 10
    assert policy.response_days == 5
    assert policy.silence_days == 10
    assert policy.reminder_lead_days == 1
    assert policy.reopen_window_days == 10
    assert policy.reopen_limit == 1
    assert policy.direct_to_agency is False


@pytest.mark.parametrize(
    ("report_type", "days"),
    [
        (ReportType.ASPIRASI, 5),
        (ReportType.PERMINTAAN_INFORMASI, 5),
        (ReportType.PENGADUAN, 14),
        (ReportType.PENGADUAN_BERKADAR_PENGAWASAN, 60),
    ],
)
def test_resolution_days_by_report_type(report_type: ReportType, days: int) -> None:
    assert current_policy().resolution_days_for(report_type) == days


def test_every_report_type_has_a_resolution_period() -> None:
    for policy in POLICIES.values():
        assert set(policy.resolution_days) == set(ReportType)


def test_policy_versions_are_unique_and_current_exists() -> None:
    versions = [policy.version for policy in POLICIES.values()]
    assert len(versions) == len(set(versions))
    assert all(key == policy.version for key, policy in POLICIES.items())
    assert CURRENT_POLICY_VERSION in POLICIES
    assert current_policy().version == CURRENT_POLICY_VERSION


def test_policy_is_frozen() -> None:
    with pytest.raises(Exception):
        current_policy().response_days = 7  # type: ignore[misc]


def _open(policy: Policy) -> CaseMachine:
    details = ComplaintDetails(title="Jalan rusak", description="Jalan berlubang di depan pasar.")
    return CaseMachine.open("LAPOR-POL-1", details, SUBMITTED, policy, calendar_for(SUBMITTED))


def test_case_is_stamped_with_the_policy_version() -> None:
    machine = _open(current_policy())
    assert machine.state.policy.version == CURRENT_POLICY_VERSION
    assert machine.state.policy == current_policy()
    # Monday 2026-03-02 + 3 working days.
    assert machine.state.deadlines().verification_due.isoformat() == "2026-03-05T23:59:59+07:00"


def test_stamp_survives_serialization() -> None:
    machine = _open(current_policy())
    restored = CaseState.model_validate_json(machine.state.model_dump_json())
    assert restored.policy.version == CURRENT_POLICY_VERSION
    assert restored.calendar.version == machine.state.calendar.version


def test_case_follows_its_stamped_policy_not_the_current_one() -> None:
    older = current_policy().model_copy(update={"version": "test-older.v0", "verification_days": 2})
    machine = _open(older)
    assert machine.state.policy.version == "test-older.v0"
    assert machine.state.clocks[ClockKind.VERIFICATION].working_days == 2
    # Monday 2026-03-02 + 2 working days, not 3.
    assert machine.state.deadlines().verification_due.isoformat() == "2026-03-04T23:59:59+07:00"
