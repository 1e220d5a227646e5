"""The public open data page `/data` (issue 28): the datasets of the latest version with their
descriptions and download links, and each body's on-time rates per month as a chart (SVG, drawn
on the server like the dashboard's) with its table beside it.

Everything shown is read from the published files (api/open_data.py), never from the cases: the
page can show nothing the datasets do not (no total across months, no share of a withheld count).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.responses import HTMLResponse
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from api.open_data import dataset_rows, snapshot
from domain.open_data import DATASETS, FORMATS, LICENCE, exact, file_name, on_time_rate
from portal.charts import LABELS_EN, LABELS_ID, MonthRates, on_time_rates_chart, on_time_rates_table
from portal.web import PageDep, portal_router

router = portal_router()
API_PREFIX = "/v1/open-data"
BODIES_SHOWN = 12
MONTHS_SHOWN = 6


@dataclass(frozen=True)
class BodyFigure:
    agency_id: str
    name: str
    chart: Markup
    table: Markup


@dataclass(frozen=True)
class OpenDataView:
    version: int
    generated_at: Any
    rows: dict[str, int]
    bodies: list[BodyFigure]


def body_months(rows: list[dict[str, Any]]) -> dict[str, list[MonthRates]]:
    """Per body, its last months as the dataset publishes them."""
    months: dict[str, list[MonthRates]] = {}
    for row in sorted(rows, key=lambda r: (r["agency_id"], r["month"])):
        months.setdefault(row["agency_id"], []).append(MonthRates(
            month=row["month"], received=row["received"],
            forwarded=on_time_rate(row, "forwarded_within_deadline"),
            first_response=on_time_rate(row, "first_response_within_deadline")))
    return {agency: found[-MONTHS_SHOWN:] for agency, found in months.items()}


def _view(sessions, language: str) -> OpenDataView | None:
    with sessions() as session:
        latest = snapshot(session)
        if latest is None:
            return None
        rows = dataset_rows(session, latest.version, "bodies")
    names = {row["agency_id"]: row["agency_name"] for row in rows}
    months = body_months(rows)
    # The bodies with the most published cases in the months shown: only for the order, never shown.
    ranked = sorted(months, key=lambda a: (-sum(exact(m.received) or 0 for m in months[a]), a))[:BODIES_SHOWN]
    labels = LABELS_EN if language == "en" else LABELS_ID
    bodies = [
        BodyFigure(agency_id=agency, name=names[agency],
                   chart=on_time_rates_chart(names[agency], months[agency], labels, id_prefix=f"body-{index}"),
                   table=on_time_rates_table(names[agency], months[agency], labels))
        for index, agency in enumerate(ranked)
    ]
    return OpenDataView(version=latest.version, generated_at=latest.generated_at,
                        rows=latest.summary.get("rows", {}), bodies=bodies)


@router.get("/data")
async def open_data_page(page: PageDep) -> HTMLResponse:
    view = await run_in_threadpool(_view, page.svc.sessions, page.language)
    datasets = [
        {"name": d.name, "title": d.title.get(page.language, d.title["id"]),
         "description": d.description.get(page.language, d.description["id"]),
         "files": {fmt: f"{API_PREFIX}/{file_name(d.name, fmt)}" for fmt in FORMATS}}
        for d in DATASETS
    ]
    return page.render("open_data.html", view=view, datasets=datasets, licence=LICENCE,
                       datapackage=f"{API_PREFIX}/datapackage.json", months=MONTHS_SHOWN)
