"""Expected deadlines, computed here from the holiday list alone (not with domain.calendar).

ARCHITECTURE.md: a deadline of N working days after an event ends at 23:59:59 local time on the
N-th working day counted from the day after the event; working days are Monday to Friday minus
`holidays.Indonesia(categories=('public', 'government'))`. Indonesia has no daylight saving, so
each zone is one fixed offset.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

import holidays

OFFSETS = {"Asia/Jakarta": "+07:00", "Asia/Makassar": "+08:00", "Asia/Jayapura": "+09:00"}
HOURS = {"Asia/Jakarta": 7, "Asia/Makassar": 8, "Asia/Jayapura": 9}


@lru_cache(maxsize=16)
def days_off(year: int) -> frozenset[date]:
    return frozenset(holidays.Indonesia(years=[year], categories=("public", "government")))


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in days_off(day.year)


def local_day(instant: datetime, zone: str) -> date:
    return (instant.astimezone(timezone.utc) + timedelta(hours=HOURS[zone])).date()


def nth_working_day_after(day: date, n: int) -> date:
    current, left = day, n
    while left:
        current += timedelta(days=1)
        if is_working_day(current):
            left -= 1
    return current


def deadline(event_at: datetime | str, working_days: int, zone: str) -> str:
    """The deadline as the API should print it, e.g. '2026-12-31T23:59:59+07:00'."""
    if isinstance(event_at, str):
        event_at = datetime.fromisoformat(event_at)
    due = nth_working_day_after(local_day(event_at, zone), working_days)
    return f"{due.isoformat()}T23:59:59{OFFSETS[zone]}"


def holidays_between(after: date, until: date) -> list[date]:
    """Weekday holidays d with after < d <= until (what makes a window longer than its weekdays)."""
    found, current = [], after
    while current < until:
        current += timedelta(days=1)
        if current.weekday() < 5 and current in days_off(current.year):
            found.append(current)
    return found


def next_weekday_holiday(after: date, within_days: int = 400) -> date | None:
    for offset in range(1, within_days):
        day = after + timedelta(days=offset)
        if day.weekday() < 5 and day in days_off(day.year):
            return day
    return None


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)
