"""The policy table: every duration of the lifecycle as versioned data.

Each case is stamped with the policy in force at submission, so a later change never moves a
running case's rules silently. Add a new version; never edit a released one.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from domain.enums import ReportType


class Policy(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: str
    source: str
    verification_days: int = 3
    hold_days: int = 10
    response_days: int = 5
    silence_days: int = 10
    resolution_days: dict[ReportType, int]
    reminder_lead_days: int = 1
    reopen_window_days: int = 10
    reopen_limit: int = 1
    reopen_max_score: int = 2
    # LAPOR! 4.0: the agency the reporter chose verifies in place of the national administrator.
    direct_to_agency: bool = False
    # Forward a new case by itself when the top routing suggestion scores at least this (None: never).
    auto_forward_min_score: float | None = None

    def resolution_days_for(self, report_type: ReportType) -> int:
        return self.resolution_days[report_type]


POLICIES: dict[str, Policy] = {
    policy.version: policy
    for policy in (
        Policy(
            version="permenpan-62-2018.v1",
            source="Permenpan-RB 62/2018 (default until Permen PANRB 5/2025's text is available)",
            resolution_days={
                ReportType.ASPIRASI: 5,
                ReportType.PERMINTAAN_INFORMASI: 5,
                ReportType.PENGADUAN: 14,
                ReportType.PENGADUAN_BERKADAR_PENGAWASAN: 60,
            },
        ),
    )
}
CURRENT_POLICY_VERSION = "permenpan-62-2018.v1"


def current_policy() -> Policy:
    return POLICIES[CURRENT_POLICY_VERSION]
