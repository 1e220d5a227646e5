"""/v1/calendar/amendments: a newly declared holiday or cuti bersama moves open cases' deadlines."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import AdminDep, ServicesDep
from api.problems import Problem, problem_responses
from api.schemas import Body, with_example
from domain.calendar import NATIONAL_ZONE, ZONES, amendment_calendar
from domain.models import CalendarAmendment, Comment, NonBlank

router = APIRouter(prefix="/v1/calendar", tags=["calendar"])


class DeclaredDay(Body):
    date: dt.date = Field(examples=["2026-12-31"])
    name: NonBlank = Field(max_length=200, examples=["Cuti bersama Tahun Baru (SKB 3 Menteri)"])


class AmendmentRequest(Body):
    model_config = with_example(
        {"holidays": [{"date": "2026-12-31", "name": "Cuti bersama Tahun Baru (SKB 3 Menteri)"}],
         "note": "SKB perubahan cuti bersama 2026"}
    )

    holidays: list[DeclaredDay] = Field(min_length=1, max_length=50)
    note: Comment | None = Field(default=None, examples=["SKB perubahan cuti bersama 2026"])


class AmendmentResult(BaseModel):
    version: str
    signalled_cases: int


@router.post("/amendments", status_code=202, response_model=AmendmentResult,
             summary="Umumkan hari libur baru; tenggat laporan yang masih berjalan ikut bergeser (admin)",
             responses=problem_responses(401, 403, 422, 503))
async def amend_calendar(body: AmendmentRequest, caller: AdminDep, svc: ServicesDep) -> AmendmentResult:
    now = dt.datetime.now(dt.timezone.utc)
    today = now.astimezone(ZONES[NATIONAL_ZONE]).date()
    if any(day.date.weekday() >= 5 for day in body.holidays):
        raise Problem(422, "Hari Sabtu dan Minggu sudah bukan hari kerja; umumkan hanya hari kerja.")
    calendar = amendment_calendar({day.date: day.name for day in body.holidays}, today)
    signalled = await svc.temporal.amend_open_cases(CalendarAmendment(calendar=calendar, note=body.note, issued_at=now))
    return AmendmentResult(version=calendar.version, signalled_cases=signalled)
