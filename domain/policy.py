"""The policy table: every duration of the lifecycle as versioned data.

Each case is stamped with the policy in force at submission, so a later change never moves a
running case's rules silently. Add a new version; never edit a released one. The version in force
is a setting (`POLICY_VERSION`, default `CURRENT_POLICY_VERSION`; see `policy_in_force`).

A *drill* policy (`latihan.v1`) keeps the durations of the default one but makes a working day a
fixed number of wall-clock seconds (`working_day_seconds`), for drills, demos and the deadline
storm bench: every clock of the lifecycle then runs in minutes, through the same workflow code.
Drill days are consecutive slots of that length counted from the Unix epoch, every one a working
day (no weekends, no holidays: the calendar is not consulted); a deadline of N days after an event
ends at the last second of the N-th slot after the event's slot, just as a real one ends at
23:59:59 of the N-th working day after the event's day. So every case opened in the same slot has
the same deadlines, like every case opened on the same day.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field

from domain.calendar import ZONES, HolidayCalendar
from domain.enums import ReportType

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


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
    # Drills only: a working day is this many seconds of wall-clock time (None: real working days).
    working_day_seconds: int | None = Field(default=None, ge=1)

    def resolution_days_for(self, report_type: ReportType) -> int:
        return self.resolution_days[report_type]

    @property
    def is_drill(self) -> bool:
        return self.working_day_seconds is not None

    def deadline(self, calendar: HolidayCalendar, event_at: datetime, working_days: int, zone: str) -> datetime:
        """The end of the N-th working day after the event's day, in `zone`: 23:59:59 local time
        by the calendar, or for a drill the last second of the N-th slot after the event's."""
        if self.working_day_seconds is None:
            return calendar.deadline(event_at, working_days, zone)
        day = timedelta(seconds=self.working_day_seconds)
        end = EPOCH + day * (self._drill_day(event_at) + working_days + 1)
        return (end - timedelta(seconds=1)).astimezone(ZONES[zone])

    def remaining_working_days(self, calendar: HolidayCalendar, at: datetime, due_at: datetime, zone: str) -> int:
        """Working days still left on a clock at `at` (pausing and resuming a clock)."""
        if self.working_day_seconds is None:
            return calendar.remaining_working_days(at, due_at, zone)
        return max(self._drill_day(due_at) - self._drill_day(at), 0)

    def _drill_day(self, instant: datetime) -> int:
        assert self.working_day_seconds is not None
        return (instant - EPOCH) // timedelta(seconds=self.working_day_seconds)


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
        Policy(
            version="latihan.v1",
            source="Drill (latihan) and demo: the durations of permenpan-62-2018.v1, a working day of "
            "60 s of wall-clock time (POLICY_WORKING_DAY_SECONDS sets another); never for real cases",
            resolution_days={
                ReportType.ASPIRASI: 5,
                ReportType.PERMINTAAN_INFORMASI: 5,
                ReportType.PENGADUAN: 14,
                ReportType.PENGADUAN_BERKADAR_PENGAWASAN: 60,
            },
            working_day_seconds=60,
        ),
    )
}
CURRENT_POLICY_VERSION = "permenpan-62-2018.v1"


def current_policy() -> Policy:
    return POLICIES[CURRENT_POLICY_VERSION]


@lru_cache(maxsize=32)
def policy_in_force(version: str = CURRENT_POLICY_VERSION, working_day_seconds: int | None = None) -> Policy:
    """The policy new cases are stamped with (settings `POLICY_VERSION`, `POLICY_WORKING_DAY_SECONDS`).

    A drill policy's working day may be given another length; the case is then stamped with
    `<version>+<seconds>s`, so what it ran under stays visible in its record. Real policies have
    no such knob: their days are the calendar's.
    """
    policy = POLICIES.get(version)
    if policy is None:
        raise ValueError(f"unknown policy version {version!r} (known: {', '.join(POLICIES)})")
    if working_day_seconds is None or working_day_seconds == policy.working_day_seconds:
        return policy
    if not policy.is_drill:
        raise ValueError(f"{version} counts real working days; only a drill policy's day has a length in seconds")
    return Policy.model_validate(
        policy.model_dump() | {"version": f"{version}+{working_day_seconds}s", "working_day_seconds": working_day_seconds}
    )
