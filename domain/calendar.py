"""Working days and deadlines (ARCHITECTURE.md, "Working days").

A deadline of N working days after an event ends at 23:59:59 local time on the N-th working day
counted from the day after the event. Holidays come from the `holidays` package and travel to
workflows as data (`HolidayCalendar`), so a workflow never reads the package or the clock itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

WIB = "Asia/Jakarta"
WITA = "Asia/Makassar"
WIT = "Asia/Jayapura"
NATIONAL_ZONE = WIB

# Built at import time: constructing ZoneInfo inside the workflow sandbox fails.
ZONES: dict[str, ZoneInfo] = {name: ZoneInfo(name) for name in (WIB, WITA, WIT)}

# The 38 provinces (Kemendagri codes, db/seed/regions.csv) and their zones. Codes between them
# (20, 22-30, 37-50, 97, ...) belong to no province and are refused.
PROVINCE_ZONES: dict[str, str] = (
    {code: WIB for code in ("11", "12", "13", "14", "15", "16", "17", "18", "19", "21",
                            "31", "32", "33", "34", "35", "36", "61", "62")}
    | {code: WITA for code in ("51", "52", "53", "63", "64", "65", "71", "72", "73", "74", "75", "76")}
    | {code: WIT for code in ("81", "82", "91", "92", "93", "94", "95", "96")}
)
END_OF_DAY = time(23, 59, 59)


def zone_for_region(region_code: str | None) -> str:
    """The time zone of a Kemendagri region code ('63', '63.71', ...); national bodies are WIB."""
    if not region_code:
        return NATIONAL_ZONE
    zone = PROVINCE_ZONES.get(region_code.split(".")[0])
    if zone is not None:
        return zone
    raise ValueError(f"not in one of the 38 provinces: {region_code!r}")


class HolidayCalendar(BaseModel):
    """Non-working weekdays (national holidays and cuti bersama) as data, with a version."""

    model_config = ConfigDict(frozen=True)

    version: str
    holidays: frozenset[date]
    names: dict[date, str] = {}

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, day: date, working_days: int) -> date:
        """The N-th working day counted from the day after `day` (N=0: `day` itself)."""
        current = day
        remaining = working_days
        while remaining > 0:
            current += timedelta(days=1)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def working_days_between(self, after: date, until: date) -> int:
        """Working days d with after < d <= until."""
        count, current = 0, after
        while current < until:
            current += timedelta(days=1)
            if self.is_working_day(current):
                count += 1
        return count

    def deadline(self, event_at: datetime, working_days: int, zone: str) -> datetime:
        """23:59:59 local time on the N-th working day after the event's local day."""
        tz = ZONES[zone]
        local_day = event_at.astimezone(tz).date()
        return datetime.combine(self.add_working_days(local_day, working_days), END_OF_DAY, tz)

    def with_declared(self, declared: dict[date, str]) -> HolidayCalendar:
        """This calendar plus newly declared days off (an amendment), under a new version."""
        names = self.names | declared
        digest = hashlib.sha256(",".join(sorted(d.isoformat() for d in declared)).encode()).hexdigest()[:10]
        return HolidayCalendar(
            version=f"{self.version}+declared-{digest}", holidays=self.holidays | set(declared), names=names
        )

    def remaining_working_days(self, at: datetime, due_at: datetime, zone: str) -> int:
        """Working days still left on a clock at `at` (used to pause and resume a clock)."""
        tz = ZONES[zone]
        return self.working_days_between(at.astimezone(tz).date(), due_at.astimezone(tz).date())


def indonesian_calendar(years: range | list[int], version_tag: str | None = None) -> HolidayCalendar:
    """Holidays and cuti bersama from `holidays.Indonesia` (categories PUBLIC and GOVERNMENT).

    Imported lazily: workflows receive the result as data and never call this.
    """
    import holidays  # noqa: PLC0415

    source = holidays.Indonesia(years=list(years), categories=("public", "government"))
    names = {day: str(name) for day, name in sorted(source.items())}
    digest = hashlib.sha256(",".join(d.isoformat() for d in names).encode()).hexdigest()[:10]
    version = version_tag or f"holidays-{holidays.__version__}-{min(years)}-{max(years)}-{digest}"
    return HolidayCalendar(version=version, holidays=frozenset(names), names=names)


AmendmentKind = Literal["holiday", "cuti_bersama", "cancelled"]


class DayAmendment(BaseModel):
    """One change to the package's calendar, as declared by an administrator and stored for good:
    a day off declared (a national holiday or a cuti bersama) or cancelled (a working day after
    all, e.g. a cuti bersama taken back). For each day the latest amendment is in force."""

    model_config = ConfigDict(frozen=True)

    day: date
    kind: AmendmentKind
    name: str
    decree: str
    declared_by: str
    declared_at: datetime


def amendments_in_force(amendments: Iterable[DayAmendment]) -> dict[date, DayAmendment]:
    """The amendment in force for each amended day: the latest one (ties: the later in order)."""
    in_force: dict[date, DayAmendment] = {}
    for amendment in amendments:
        current = in_force.get(amendment.day)
        if current is None or amendment.declared_at >= current.declared_at:
            in_force[amendment.day] = amendment
    return in_force


def effective_calendar(first_year: int, years_ahead: int, amendments: Iterable[DayAmendment]) -> HolidayCalendar:
    return _effective_calendar(first_year, years_ahead, tuple(amendments))


@lru_cache(maxsize=32)
def _effective_calendar(first_year: int, years_ahead: int, amendments: tuple[DayAmendment, ...]) -> HolidayCalendar:
    """The package's calendar for these years plus every amendment in force (cumulative: a second
    amendment never drops the first). The version names the package and what the amendments change,
    not the years covered, so intake's calendar and the broadcast's agree when the days do."""
    import holidays  # noqa: PLC0415

    base = _calendar_from(first_year, years_ahead)
    off, names = set(base.holidays), dict(base.names)
    for day, amendment in amendments_in_force(amendments).items():
        if amendment.kind == "cancelled":
            off.discard(day)
            names.pop(day, None)
        else:
            off.add(day)
            names[day] = amendment.name
    changes = sorted(f"+{d.isoformat()}" for d in off - base.holidays) + sorted(
        f"-{d.isoformat()}" for d in base.holidays - off
    )
    version = f"holidays-{holidays.__version__}"
    if changes:
        version += "+amend-" + hashlib.sha256(",".join(changes).encode()).hexdigest()[:10]
    return HolidayCalendar(version=version, holidays=frozenset(off), names=names)


def amendments_issued_at(amendments: Iterable[DayAmendment]) -> datetime | None:
    """When the calendar last changed: a later broadcast never loses to an older one arriving late."""
    return max((a.declared_at for a in amendments), default=None)


def cuti_bersama_years(years: Iterable[int], amendments: Iterable[DayAmendment]) -> set[int]:
    """The years for which the package or an amendment in force gives cuti bersama (the joint leave
    days decreed yearly by SKB 3 Menteri; the package knows them only once decreed)."""
    import holidays  # noqa: PLC0415

    wanted = sorted(set(years))
    if not wanted:
        return set()
    in_force = amendments_in_force(amendments)
    cancelled = {day for day, a in in_force.items() if a.kind == "cancelled"}
    joint = holidays.Indonesia(years=wanted, categories=("government",))
    found = {day.year for day in joint if day not in cancelled}
    found |= {day.year for day, a in in_force.items() if a.kind == "cuti_bersama"}
    return found & set(wanted)


def missing_cuti_bersama_warning(year: int) -> str:
    return (f"Belum ada cuti bersama untuk tahun {year} (paket holidays maupun amandemen): tenggat di tahun itu "
            "dihitung tanpa cuti bersama dan bergeser bila SKB 3 Menteri terbit. Umumkan lewat "
            "POST /v1/calendar/amendments.")


def years_without_cuti_bersama(instants: Iterable[datetime | None], amendments: Iterable[DayAmendment]) -> list[int]:
    """The years of these deadlines (WIB) for which no cuti bersama is known."""
    years = {i.astimezone(ZONES[NATIONAL_ZONE]).year for i in instants if i is not None}
    return sorted(years - cuti_bersama_years(years, tuple(amendments)))


def calendar_for(instant: datetime, years_ahead: int = 2, amendments: Iterable[DayAmendment] = ()) -> HolidayCalendar:
    """The calendar a case submitted at `instant` needs: its year and the next ones, amended."""
    return effective_calendar(instant.astimezone(ZONES[NATIONAL_ZONE]).year, years_ahead, amendments)


def amendment_calendar(amendments: Iterable[DayAmendment], today: date) -> HolidayCalendar:
    """One calendar for every open case, whatever year it started: last year to five years ahead,
    with every amendment in force."""
    return effective_calendar(today.year - 1, 6, amendments)


@lru_cache(maxsize=8)
def _calendar_from(first_year: int, years_ahead: int) -> HolidayCalendar:
    return indonesian_calendar(range(first_year, first_year + years_ahead + 1))
