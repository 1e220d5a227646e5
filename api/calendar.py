"""The working-day calendar as an application service: a year's effective non-working days and
amendments to them (declared, stored for good, broadcast to open cases). The HTTP API
(api/routes/calendar.py) and the portal's /admin/kalender call the same functions.

An amendment (a day off declared, or a day off cancelled) is stored for good in the read model
(db/calendar.py); the effective calendar is the `holidays` package's plus, per day, the latest
amendment (domain/calendar.py). New cases get it at intake; open cases get it by the broadcast,
each once (docs/policies.md, "Calendar amendments").
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field, model_validator
from starlette.concurrency import run_in_threadpool

from api.auth import Caller
from api.deps import Services
from api.problems import Problem
from api.schemas import Body, with_example
from db.calendar import RequestedDay, record_amendments
from domain.calendar import (
    NATIONAL_ZONE,
    ZONES,
    AmendmentKind,
    DayAmendment,
    amendment_calendar,
    amendments_in_force,
    amendments_issued_at,
    cuti_bersama_years,
    effective_calendar,
    missing_cuti_bersama_warning,
)
from domain.models import CalendarAmendment, Comment
from domain.text import line


class AmendedDay(Body):
    date: dt.date = Field(examples=["2026-12-31"])
    kind: AmendmentKind = Field(
        default="holiday",
        description="holiday (hari libur nasional), cuti_bersama, atau cancelled (hari libur yang dibatalkan: "
        "hari kerja lagi, mis. cuti bersama yang ditarik)",
    )
    name: line(200, min_length=1) | None = Field(default=None,
                                                 examples=["Cuti bersama Tahun Baru (SKB 3 Menteri)"])

    @model_validator(mode="after")
    def _named(self) -> "AmendedDay":
        if self.kind != "cancelled" and not (self.name and self.name.strip()):
            raise ValueError("name wajib untuk hari libur yang diumumkan")
        return self


class AmendmentRequest(Body):
    model_config = with_example(
        {"holidays": [{"date": "2026-12-31", "kind": "cuti_bersama", "name": "Cuti bersama Tahun Baru"}],
         "decree": "SKB 3 Menteri perubahan cuti bersama 2026", "note": "SKB perubahan cuti bersama 2026"}
    )

    holidays: list[AmendedDay] = Field(min_length=1, max_length=50)
    decree: line(300, min_length=1) = Field(description="Keputusan yang menjadi dasarnya",
                                            examples=["SKB 3 Menteri perubahan cuti bersama 2026"])
    note: Comment | None = Field(default=None, examples=["SKB perubahan cuti bersama 2026"])


class AmendmentEntry(BaseModel):
    date: dt.date
    kind: AmendmentKind
    name: str
    decree: str
    declared_at: dt.datetime
    declared_by: str | None = None  # administrators and observers only


class AmendmentResult(BaseModel):
    version: str
    signalled_cases: int
    stored: list[AmendmentEntry] = Field(description="Perubahan yang baru disimpan (kosong: sudah berlaku semua)")
    unchanged: list[dt.date] = Field(description="Hari yang sudah seperti itu: tidak disimpan dua kali")
    years_without_cuti_bersama: list[int] = Field(
        description="Tahun (tahun ini sampai dua tahun ke depan) yang belum punya cuti bersama dari paket "
        "maupun amandemen: tenggat di tahun itu mungkin bergeser bila SKB terbit")


class CalendarDay(BaseModel):
    date: dt.date
    name: str
    source: Literal["package", "amendment"]
    kind: Literal["holiday", "cuti_bersama"]
    amendment: AmendmentEntry | None = None


class CalendarYear(BaseModel):
    year: int
    version: str = Field(description="Versi kalender efektif (paket holidays + amandemen yang berlaku)")
    non_working_days: list[CalendarDay] = Field(description="Hari libur dan cuti bersama (di luar Sabtu-Minggu "
                                                "pun dicantumkan bila jatuh di akhir pekan)")
    cancelled: list[AmendmentEntry] = Field(description="Hari libur paket yang dibatalkan oleh amandemen")
    cuti_bersama: bool = Field(description="false: belum ada cuti bersama untuk tahun ini (paket maupun amandemen)")
    warning: str | None = None


def entry(amendment: DayAmendment, show_author: bool) -> AmendmentEntry:
    return AmendmentEntry(date=amendment.day, kind=amendment.kind, name=amendment.name, decree=amendment.decree,
                          declared_at=amendment.declared_at,
                          declared_by=amendment.declared_by if show_author else None)


async def calendar_year(svc: Services, year: int, *, show_author: bool) -> CalendarYear:
    """The effective non-working days of `year` and the amendments in force in it."""
    import holidays  # noqa: PLC0415

    amendments = await svc.amendments()
    calendar = effective_calendar(year, 0, amendments)
    in_force = amendments_in_force(amendments)
    joint = holidays.Indonesia(years=year, categories=("government",))
    days = []
    for day in sorted(d for d in calendar.holidays if d.year == year):
        amendment = in_force.get(day)
        if amendment is not None and amendment.kind != "cancelled":
            days.append(CalendarDay(date=day, name=amendment.name, source="amendment", kind=amendment.kind,  # type: ignore[arg-type]
                                    amendment=entry(amendment, show_author)))
        else:
            days.append(CalendarDay(date=day, name=calendar.names.get(day, ""), source="package",
                                    kind="cuti_bersama" if day in joint else "holiday"))
    cancelled = [entry(a, show_author) for d, a in sorted(in_force.items()) if d.year == year and a.kind == "cancelled"]
    has_joint = year in cuti_bersama_years([year], amendments)
    return CalendarYear(year=year, version=calendar.version, non_working_days=days, cancelled=cancelled,
                        cuti_bersama=has_joint, warning=None if has_joint else missing_cuti_bersama_warning(year))


def package_day(day: dt.date) -> tuple[AmendmentKind, str] | None:
    """What the `holidays` package says of a day: (kind, name), or None for a working day."""
    import holidays  # noqa: PLC0415

    public = holidays.Indonesia(years=day.year, categories=("public",))
    joint = holidays.Indonesia(years=day.year, categories=("government",))
    if day in public:
        return "holiday", public.get(day)
    if day in joint:
        return "cuti_bersama", joint.get(day)
    return None


async def amend(body: AmendmentRequest, caller: Caller, svc: Services) -> AmendmentResult:
    """Store the amendment (once per day and kind) and broadcast the effective calendar to open cases."""
    now = dt.datetime.now(dt.timezone.utc)
    today = now.astimezone(ZONES[NATIONAL_ZONE]).date()
    if any(day.date.weekday() >= 5 for day in body.holidays):
        raise Problem(422, "Hari Sabtu dan Minggu sudah bukan hari kerja; umumkan hanya hari kerja.")
    if len({day.date for day in body.holidays}) != len(body.holidays):
        raise Problem(422, "Setiap tanggal cukup sekali dalam satu amandemen.")
    requested = [RequestedDay(day.date, day.kind, (day.name or "").strip() or "Dibatalkan") for day in body.holidays]

    def store() -> tuple[list[DayAmendment], list[dt.date]]:
        with svc.sessions() as session:
            return record_amendments(session, requested, decree=body.decree.strip(),
                                     declared_by=caller.name or caller.token_id or "admin", now=now)

    stored, unchanged = await run_in_threadpool(store)
    svc.calendar.invalidate()
    amendments = await svc.amendments()
    calendar = amendment_calendar(amendments, today)
    # The whole effective calendar, stamped with when it last changed: a case applies each change
    # once (by version) and ignores an older broadcast arriving late.
    note = body.note or f"Kalender diubah: {body.decree.strip()}"
    broadcast = CalendarAmendment(calendar=calendar, note=note, issued_at=amendments_issued_at(amendments))
    try:
        signalled = await svc.temporal.amend_open_cases(broadcast)
    except Problem as problem:
        if problem.status != 503:
            raise
        raise Problem(503, f"Amandemen disimpan, tetapi belum sampai ke laporan terbuka: {problem.detail}. Kirim "
                      "ulang permintaan yang sama: tidak disimpan dua kali, dan siaran diulang.",
                      headers=problem.headers, stored=[a.day.isoformat() for a in stored]) from problem
    years = range(today.year, today.year + 3)
    return AmendmentResult(
        version=calendar.version, signalled_cases=signalled,
        stored=[entry(a, True) for a in stored], unchanged=unchanged,
        years_without_cuti_bersama=sorted(set(years) - cuti_bersama_years(years, amendments)),
    )
