"""Working days and deadlines (ARCHITECTURE.md section 1, "Working days") on real 2026-2027 dates.

Expected dates were worked out by hand from `holidays.Indonesia` 0.108 (PUBLIC + GOVERNMENT):
2026-03-18 Nyepi joint, 03-19 Nyepi, 03-20 Idul Fitri joint, 03-21/22 Idul Fitri (weekend),
03-23/24 Idul Fitri joint, 04-03 Good Friday, 12-24 Christmas joint, 12-25 Christmas,
2027-01-01 New Year, 2027-01-05 Isra' Mi'raj.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import holidays
import pytest

from db.directory import check_region_code, load_regions
from domain.calendar import (
    DayAmendment,
    amendment_calendar,
    cuti_bersama_years,
    NATIONAL_ZONE,
    WIB,
    WIT,
    WITA,
    HolidayCalendar,
    calendar_for,
    indonesian_calendar,
    zone_for_region,
)

UTC = timezone.utc


def at(zone: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone))


@pytest.fixture(scope="module")
def cal() -> HolidayCalendar:
    return calendar_for(datetime(2026, 3, 2, 3, 0, tzinfo=UTC))


# --- the calendar itself ---------------------------------------------------------------------


def test_calendar_for_covers_submission_year_and_next_years(cal: HolidayCalendar) -> None:
    assert date(2026, 3, 19) in cal.holidays  # Nyepi 2026
    assert date(2026, 3, 23) in cal.holidays  # cuti bersama Idul Fitri 2026
    assert date(2027, 1, 1) in cal.holidays  # New Year 2027
    assert date(2028, 1, 1) in cal.holidays  # still known two years ahead
    assert date(2025, 12, 25) not in cal.holidays  # the year before is not needed


def test_cuti_bersama_are_not_working_days(cal: HolidayCalendar) -> None:
    # GOVERNMENT category: joint leave days count as holidays for the civil service.
    for joint in (date(2026, 3, 18), date(2026, 3, 20), date(2026, 3, 23), date(2026, 3, 24), date(2026, 12, 24)):
        assert joint.weekday() < 5
        assert not cal.is_working_day(joint), joint
    assert cal.is_working_day(date(2026, 3, 25))  # first working day after Lebaran
    assert not cal.is_working_day(date(2026, 3, 7))  # Saturday
    assert not cal.is_working_day(date(2026, 3, 8))  # Sunday


def test_calendar_version_is_deterministic() -> None:
    first = indonesian_calendar([2026, 2027])
    second = indonesian_calendar(range(2026, 2028))
    assert first.version == second.version
    assert first.holidays == second.holidays


def test_calendar_version_changes_when_holidays_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    before = indonesian_calendar([2026, 2027])
    original = holidays.Indonesia

    def amended(*args, **kwargs):  # a newly declared cuti bersama on Wednesday 2026-03-25
        source = original(*args, **kwargs)
        source[date(2026, 3, 25)] = "Cuti bersama tambahan"
        return source

    monkeypatch.setattr(holidays, "Indonesia", amended)
    after = indonesian_calendar([2026, 2027])
    assert date(2026, 3, 25) in after.holidays
    assert after.version != before.version


def test_calendar_version_differs_between_year_ranges() -> None:
    assert indonesian_calendar([2026]).version != indonesian_calendar([2026, 2027]).version


def test_explicit_version_tag_is_kept() -> None:
    assert indonesian_calendar([2026], version_tag="skb-2026-rev2").version == "skb-2026-rev2"


# --- deadlines ---------------------------------------------------------------------------------


def test_deadline_ordinary_week(cal: HolidayCalendar) -> None:
    # Monday 2026-03-02 + 3 working days: Tue 3, Wed 4, Thu 5.
    due = cal.deadline(at(WIB, 2026, 3, 2, 10, 0), 3, WIB)
    assert due.isoformat() == "2026-03-05T23:59:59+07:00"


def test_deadline_across_idul_fitri_and_cuti_bersama(cal: HolidayCalendar) -> None:
    # Tue 2026-03-17; 18-24 are all holidays, joint leave or weekend; then 25, 26, 27.
    due = cal.deadline(at(WIB, 2026, 3, 17, 9, 0), 3, WIB)
    assert due.isoformat() == "2026-03-27T23:59:59+07:00"


def test_deadline_event_on_last_day_before_lebaran(cal: HolidayCalendar) -> None:
    # Tue 2026-03-17 + 1 working day skips the whole 18-24 break.
    assert cal.deadline(at(WIB, 2026, 3, 17, 16, 0), 1, WIB).isoformat() == "2026-03-25T23:59:59+07:00"


def test_deadline_across_christmas_joint_holiday(cal: HolidayCalendar) -> None:
    # Tue 2026-12-22: Wed 23 (1), Thu 24 joint, Fri 25 Christmas, weekend, Mon 28 (2), Tue 29 (3).
    due = cal.deadline(at(WIB, 2026, 12, 22, 10, 0), 3, WIB)
    assert due.isoformat() == "2026-12-29T23:59:59+07:00"


def test_deadline_across_year_end(cal: HolidayCalendar) -> None:
    # Wed 2026-12-23: 24, 25 holidays; Mon 28 (1), 29 (2), 30 (3), Thu 31 (4), Fri 2027-01-01 New
    # Year, weekend, Mon 2027-01-04 (5).
    due = cal.deadline(at(WIB, 2026, 12, 23, 10, 0), 5, WIB)
    assert due.isoformat() == "2027-01-04T23:59:59+07:00"


def test_deadline_across_new_year_and_isra_miraj_2027(cal: HolidayCalendar) -> None:
    # Wed 2026-12-30: Thu 31 (1), Fri 1 Jan holiday, Mon 4 (2), Tue 5 Isra' Mi'raj, Wed 6 (3).
    due = cal.deadline(at(WITA, 2026, 12, 30, 10, 0), 3, WITA)
    assert due.isoformat() == "2027-01-06T23:59:59+08:00"


def test_same_instant_near_midnight_gives_different_local_days() -> None:
    cal = calendar_for(datetime(2026, 12, 1, tzinfo=UTC))
    instant = datetime(2026, 12, 1, 16, 30, tzinfo=UTC)  # 23:30 WIB Tue 1; 00:30 WITA / 01:30 WIT Wed 2
    # From Tue 1: Wed 2, Thu 3, Fri 4, Mon 7, Tue 8. From Wed 2: Thu 3, Fri 4, Mon 7, Tue 8, Wed 9.
    assert cal.deadline(instant, 5, WIB).isoformat() == "2026-12-08T23:59:59+07:00"
    assert cal.deadline(instant, 5, WITA).isoformat() == "2026-12-09T23:59:59+08:00"
    assert cal.deadline(instant, 5, WIT).isoformat() == "2026-12-09T23:59:59+09:00"


def test_only_wit_has_crossed_midnight() -> None:
    cal = calendar_for(datetime(2026, 12, 1, tzinfo=UTC))
    instant = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)  # 22:30 WIB, 23:30 WITA, 00:30 WIT (Dec 2)
    assert cal.deadline(instant, 5, WIB).isoformat() == "2026-12-08T23:59:59+07:00"
    assert cal.deadline(instant, 5, WITA).isoformat() == "2026-12-08T23:59:59+08:00"
    assert cal.deadline(instant, 5, WIT).isoformat() == "2026-12-09T23:59:59+09:00"


def test_deadline_offsets_and_absolute_instants(cal: HolidayCalendar) -> None:
    event = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # Monday morning everywhere in Indonesia
    wib, wita, wit = (cal.deadline(event, 3, zone) for zone in (WIB, WITA, WIT))
    assert [d.isoformat() for d in (wib, wita, wit)] == [
        "2026-03-05T23:59:59+07:00",
        "2026-03-05T23:59:59+08:00",
        "2026-03-05T23:59:59+09:00",
    ]
    # Same local wall time, so the eastern deadlines end earlier in absolute time.
    assert wit.astimezone(UTC) == datetime(2026, 3, 5, 14, 59, 59, tzinfo=UTC)
    assert wita.astimezone(UTC) == datetime(2026, 3, 5, 15, 59, 59, tzinfo=UTC)
    assert wib.astimezone(UTC) == datetime(2026, 3, 5, 16, 59, 59, tzinfo=UTC)


def test_event_given_in_another_offset_uses_the_zone_local_day(cal: HolidayCalendar) -> None:
    # 2026-03-03 00:30 in Jayapura is still Monday 2026-03-02 22:30 in Jakarta.
    event = at(WIT, 2026, 3, 3, 0, 30)
    assert cal.deadline(event, 1, WIB).isoformat() == "2026-03-03T23:59:59+07:00"
    assert cal.deadline(event, 1, WIT).isoformat() == "2026-03-04T23:59:59+09:00"


def test_event_at_the_last_second_and_first_second_of_a_day(cal: HolidayCalendar) -> None:
    assert cal.deadline(at(WIB, 2026, 3, 2, 23, 59, 59), 1, WIB).isoformat() == "2026-03-03T23:59:59+07:00"
    assert cal.deadline(at(WIB, 2026, 3, 3, 0, 0, 0), 1, WIB).isoformat() == "2026-03-04T23:59:59+07:00"


@pytest.mark.parametrize("day", [7, 8])  # Saturday, Sunday 2026-03-07/08
def test_event_on_weekend(cal: HolidayCalendar, day: int) -> None:
    # Mon 9 (1), Tue 10 (2), Wed 11 (3)
    assert cal.deadline(at(WIB, 2026, 3, day, 12, 0), 1, WIB).isoformat() == "2026-03-09T23:59:59+07:00"
    assert cal.deadline(at(WIB, 2026, 3, day, 12, 0), 3, WIB).isoformat() == "2026-03-11T23:59:59+07:00"


def test_event_on_a_holiday(cal: HolidayCalendar) -> None:
    # Nyepi (Thu 2026-03-19): next working day is Wed 25.
    assert cal.deadline(at(WITA, 2026, 3, 19, 8, 0), 1, WITA).isoformat() == "2026-03-25T23:59:59+08:00"
    # Christmas (Fri 2026-12-25) + 2: Mon 28, Tue 29.
    assert cal.deadline(at(WIT, 2026, 12, 25, 8, 0), 2, WIT).isoformat() == "2026-12-29T23:59:59+09:00"


def test_zero_working_days_is_the_end_of_the_event_day(cal: HolidayCalendar) -> None:
    assert cal.deadline(at(WIB, 2026, 3, 2, 10, 0), 0, WIB).isoformat() == "2026-03-02T23:59:59+07:00"
    assert cal.deadline(at(WITA, 2026, 3, 19, 10, 0), 0, WITA).isoformat() == "2026-03-19T23:59:59+08:00"


def test_add_working_days_on_dates(cal: HolidayCalendar) -> None:
    assert cal.add_working_days(date(2026, 3, 17), 3) == date(2026, 3, 27)
    assert cal.add_working_days(date(2026, 3, 17), 0) == date(2026, 3, 17)
    assert cal.add_working_days(date(2026, 3, 2), 10) == date(2026, 3, 16)


# --- remaining working days -------------------------------------------------------------------


def test_remaining_working_days(cal: HolidayCalendar) -> None:
    due = cal.deadline(at(WIB, 2026, 3, 17, 9, 0), 3, WIB)  # 2026-03-27
    assert cal.remaining_working_days(at(WIB, 2026, 3, 17, 9, 0), due, WIB) == 3
    # During the Lebaran break nothing is used up: still 25, 26, 27 to go.
    assert cal.remaining_working_days(at(WIB, 2026, 3, 23, 9, 0), due, WIB) == 3
    assert cal.remaining_working_days(at(WIB, 2026, 3, 25, 9, 0), due, WIB) == 2
    assert cal.remaining_working_days(at(WIB, 2026, 3, 27, 9, 0), due, WIB) == 0
    assert cal.remaining_working_days(at(WIB, 2026, 3, 30, 9, 0), due, WIB) == 0


def test_remaining_working_days_uses_the_zone_local_day(cal: HolidayCalendar) -> None:
    due = cal.deadline(at(WIT, 2026, 3, 2, 9, 0), 3, WIT)  # Thu 2026-03-05 23:59:59+09:00
    instant = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)  # Tue 22:30 WIB, Wed 00:30 WIT
    assert cal.remaining_working_days(instant, due, WIT) == 1  # only Thu left in Jayapura
    assert cal.remaining_working_days(instant, due, WIB) == 2  # Wed and Thu in Jakarta


def test_remaining_working_days_across_year_end(cal: HolidayCalendar) -> None:
    due = at(WIB, 2027, 1, 6, 23, 59, 59)
    # After Wed 2026-12-23: 28, 29, 30, 31, Jan 4, Jan 6 (24, 25, Jan 1, Jan 5 are holidays).
    assert cal.remaining_working_days(at(WIB, 2026, 12, 23, 10, 0), due, WIB) == 6


# --- time zones by region ----------------------------------------------------------------------

WIB_PROVINCES = [*range(11, 20), 21, *range(31, 37), 61, 62]
WITA_PROVINCES = [51, 52, 53, 63, 64, 65, *range(71, 77)]
WIT_PROVINCES = [81, 82, *range(91, 97)]


def test_exactly_the_38_provinces_of_the_seed_have_a_zone() -> None:
    assert len(WIB_PROVINCES) + len(WITA_PROVINCES) + len(WIT_PROVINCES) == 38
    seeded = {r.code for r in load_regions() if r.level == 1}
    assert {str(p) for p in WIB_PROVINCES + WITA_PROVINCES + WIT_PROVINCES} == seeded


@pytest.mark.parametrize("province", WIB_PROVINCES)
def test_wib_provinces(province: int) -> None:
    assert zone_for_region(str(province)) == WIB == "Asia/Jakarta"


@pytest.mark.parametrize("province", WITA_PROVINCES)
def test_wita_provinces(province: int) -> None:
    assert zone_for_region(str(province)) == WITA == "Asia/Makassar"


@pytest.mark.parametrize("province", WIT_PROVINCES)
def test_wit_provinces(province: int) -> None:
    assert zone_for_region(str(province)) == WIT == "Asia/Jayapura"


@pytest.mark.parametrize(
    ("code", "zone"),
    [
        ("63.71", WITA),  # Kota Banjarmasin
        ("51.71", WITA),  # Kota Denpasar
        ("73.71.01", WITA),  # a kecamatan in Kota Makassar
        ("31.71", WIB),  # Kota Jakarta Pusat
        ("61.71.01.1001", WIB),  # a kelurahan in Kota Pontianak
        ("62.71", WIB),  # Kota Palangka Raya
        ("64.72", WITA),  # Kota Samarinda
        ("91.71", WIT),  # Kota Jayapura
        ("81.71", WIT),  # Kota Ambon
    ],
)
def test_regency_and_lower_codes_use_their_province(code: str, zone: str) -> None:
    assert zone_for_region(code) == zone


@pytest.mark.parametrize("code", [None, ""])
def test_national_bodies_are_wib(code: str | None) -> None:
    assert zone_for_region(code) == NATIONAL_ZONE == WIB


@pytest.mark.parametrize("code", ["abc", "x.71", "63-71", "Kalsel"])
def test_non_numeric_code_raises(code: str) -> None:
    with pytest.raises(ValueError):
        zone_for_region(code)


@pytest.mark.parametrize("code", ["00", "20", "22", "25", "30", "37", "97", "97.01", "99.01", "630"])
def test_code_outside_every_province_range_raises(code: str) -> None:
    # None of these is a province in ARCHITECTURE's ranges; a silent WIB would misplace deadlines.
    with pytest.raises(ValueError):
        zone_for_region(code)


@pytest.mark.parametrize("code", ["62", "62.71", "62.71.01", "62.71.01.1001", "96.01"])
def test_regencies_and_districts_under_a_province_are_known(code: str) -> None:
    check_region_code(code)


@pytest.mark.parametrize("code", ["20.01", "62.99", "62.71.99", "62.99.01.1001", "97"])
def test_regions_outside_the_provinces_and_their_regencies_are_refused(code: str) -> None:
    with pytest.raises(ValueError):
        check_region_code(code)


# --- amendments: cumulative, removable, idempotent ----------------------------------------------

SUBMITTED = datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc)


def amendment(day: date, kind: str = "cuti_bersama", minute: int = 0) -> DayAmendment:
    return DayAmendment(day=day, kind=kind, name=f"{kind} {day}", decree="SKB 3 Menteri (uji)",
                        declared_by="admin", declared_at=datetime(2026, 12, 1, 4, minute, tzinfo=timezone.utc))


def test_a_second_amendment_keeps_the_first() -> None:
    first, second = amendment(date(2026, 12, 28)), amendment(date(2026, 12, 29), minute=1)
    cal = calendar_for(SUBMITTED, amendments=[first, second])
    assert {date(2026, 12, 28), date(2026, 12, 29)} <= cal.holidays
    assert calendar_for(SUBMITTED).holidays | {date(2026, 12, 28), date(2026, 12, 29)} == cal.holidays
    # 5 working days after Wed 2026-12-23: 28 and 29 are off now, so 30, 31, Jan 4, 6, 7.
    wib = ZoneInfo(WIB)
    assert cal.deadline(datetime(2026, 12, 23, 10, tzinfo=wib), 5, WIB).date() == date(2027, 1, 7)


def test_a_cancellation_takes_a_day_back_and_the_deadline_with_it() -> None:
    declared = amendment(date(2026, 12, 28))
    taken_back = amendment(date(2026, 12, 28), "cancelled", minute=5)
    package_day = sorted(d for d in calendar_for(SUBMITTED).holidays if d.year == 2026 and d.weekday() < 5)[-1]
    cal = calendar_for(SUBMITTED, amendments=[declared, taken_back, amendment(package_day, "cancelled", minute=6)])
    assert date(2026, 12, 28) not in cal.holidays and package_day not in cal.holidays
    plain = calendar_for(SUBMITTED)
    assert cal.holidays == plain.holidays - {package_day}
    wib = ZoneInfo(WIB)
    start = datetime(2026, 12, 22, 10, tzinfo=wib)
    assert cal.deadline(start, 5, WIB) < calendar_for(SUBMITTED, amendments=[declared]).deadline(start, 5, WIB)


def test_the_version_names_the_changes_not_the_years_covered() -> None:
    days = [amendment(date(2026, 12, 28))]
    assert calendar_for(SUBMITTED, amendments=days).version == amendment_calendar(days, date(2026, 12, 1)).version
    assert calendar_for(SUBMITTED).version == amendment_calendar([], date(2026, 12, 1)).version
    assert calendar_for(SUBMITTED, amendments=days).version != calendar_for(SUBMITTED).version
    # Declared, then taken back: the calendar is the package's again, and so is its version.
    back = [*days, amendment(date(2026, 12, 28), "cancelled", minute=1)]
    assert calendar_for(SUBMITTED, amendments=back).version == calendar_for(SUBMITTED).version


def test_years_without_a_cuti_bersama_decree_are_known() -> None:
    # The package (holidays 0.108) has cuti bersama up to 2027 and none for 2028.
    assert cuti_bersama_years([2026, 2027, 2028], []) == {2026, 2027}
    assert cuti_bersama_years([2028], [amendment(date(2028, 1, 3))]) == {2028}
    assert cuti_bersama_years([2028], [amendment(date(2028, 1, 3), "holiday")]) == set()
