"""/v1/calendar: the effective non-working days of a year, and amendments to them (the service is
api/calendar.py, which the portal's /admin/kalender calls too).

An amendment (a day off declared, or a day off cancelled) is stored for good in the read model
(db/calendar.py); the effective calendar is the `holidays` package's plus, per day, the latest
amendment (domain/calendar.py). New cases get it at intake; open cases get it by the broadcast,
each once (docs/policies.md, "Calendar amendments").
"""

from __future__ import annotations

from fastapi import APIRouter, Query

from api.deps import AdminDep, CallerDep, ServicesDep
from api.calendar import AmendmentRequest, AmendmentResult, CalendarYear, amend, calendar_year
from api.problems import problem_responses
from domain.visibility import SEES_EVERYTHING

router = APIRouter(prefix="/v1/calendar", tags=["calendar"])


@router.get("", response_model=CalendarYear, response_model_exclude_none=True,
            summary="Hari libur efektif satu tahun: dari paket holidays atau amandemen",
            responses=problem_responses(422, 503))
async def calendar_of_year(
    caller: CallerDep, svc: ServicesDep,
    year: int = Query(ge=2000, le=2100, description="Tahun, mis. 2026"),
) -> CalendarYear:
    return await calendar_year(svc, year, show_author=caller.role in SEES_EVERYTHING)


@router.post("/amendments", status_code=202, response_model=AmendmentResult, response_model_exclude_none=True,
             summary="Umumkan atau batalkan hari libur; tenggat laporan yang masih berjalan ikut bergeser (admin)",
             description="Disimpan untuk selamanya dan kumulatif: kalender efektif = paket holidays + setiap "
             "amandemen yang berlaku (per hari, yang terakhir). Laporan baru memakainya sejak diterima; laporan "
             "terbuka menerimanya lewat siaran (sekali per perubahan). Mengirim ulang permintaan yang sama tidak "
             "menyimpan apa pun dua kali tetapi menyiarkan ulang: kirim ulang bila jawaban sebelumnya 503.",
             responses=problem_responses(401, 403, 422, 503))
async def amend_calendar(body: AmendmentRequest, caller: AdminDep, svc: ServicesDep) -> AmendmentResult:
    return await amend(body, caller, svc)
