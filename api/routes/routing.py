"""/v1/routing: what the router learned, its versions (rollback), and importing a body's history.

Suggestions themselves are GET /v1/routing/suggestions (api/routes/operations.py). Learning is in
activities/routing_learning.py: every accept, dispose and "not our authority" is a labelled
example; the worker trains a new version in the background; all processes load the active one.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from activities.routing_learning import (
    HISTORY_FIELDS,
    MAX_HISTORY_ROWS,
    history_from_csv,
    import_history,
    strip_rows,
)
from domain.table_import import TableRefused
from domain.text import text as text_field
from api.deps import AdminDep, ServicesDep, SessionDep
from api.directory_admin import import_refused
from api.problems import Problem, problem_responses
from api.routing_models import HistoryImported, learned_at_once
from api import routing_models
from api.routing_models import ModelsOut, ModelVersionOut

router = APIRouter(prefix="/v1/routing", tags=["routing"])


class HistoryItem(BaseModel):
    text: text_field(20_000, min_length=1)
    region_code: str | None = Field(default=None, max_length=13)
    agency_id: str = Field(max_length=64)
    unit_id: str | None = Field(default=None, max_length=100, description="`<agency_id>/<slug>` or the slug alone")
    date: str | None = Field(default=None, description="ISO 8601 date or date-time of the decision")


class HistoryImport(BaseModel):
    items: list[HistoryItem] = Field(min_length=1, max_length=MAX_HISTORY_ROWS)


@router.get("/models", response_model=ModelsOut, summary="Versi model perutean yang dipelajari (admin)",
            responses=problem_responses(401, 403))
def list_models(caller: AdminDep, session: SessionDep) -> ModelsOut:
    return routing_models.models_overview(session)


@router.post("/models/{version}/activate", response_model=ModelVersionOut,
             summary="Pakai versi ini (admin): kembali ke versi lama (rollback) atau ke yang terbaru",
             responses=problem_responses(401, 403, 404))
def activate_model(version: int, caller: AdminDep, svc: ServicesDep, session: SessionDep) -> ModelVersionOut:
    return routing_models.activate_model(version, caller, svc, session)


@router.post(
    "/history", response_model=HistoryImported, status_code=201,
    summary="Impor riwayat laporan suatu instansi (admin): JSON atau CSV, semua baris atau tidak sama sekali",
    responses=problem_responses(401, 403, 413, 415, 422),
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {
            "schema": {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": {
                "type": "object", "required": ["text", "agency_id"],
                "properties": {field: {"type": "string"} for field in HISTORY_FIELDS}}}}},
            "examples": {"kota": {"value": {"items": [
                {"text": "Pohon tumbang di taman kota", "region_code": "62.71", "agency_id": "pemkot-62.71",
                 "unit_id": "dlh", "date": "2025-03-01"}]}}}},
        "text/csv": {"schema": {"type": "string"},
                     "example": "text,region_code,agency_id,unit_id,date\n"
                                "Pohon tumbang di taman kota,62.71,pemkot-62.71,dlh,2025-03-01\n"}}}},
)
async def import_routing_history(
    request: Request, caller: AdminDep, session: SessionDep, svc: ServicesDep,
    delimiter: Annotated[str | None, Query(pattern=r"^(,|;|\t|\||tab)$",
                                           description="CSV delimiter; detected from the header when absent")] = None,
    strip_control_characters: Annotated[bool, Query(
        description="Remove control characters instead of refusing the rows that carry them")] = False,
) -> HistoryImported:
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    content = (await request.body()).decode("utf-8", errors="replace")
    rows: Any
    if kind == "text/csv":
        try:
            rows = history_from_csv(content, delimiter=delimiter, strip_control_characters=strip_control_characters)
        except TableRefused as refused:
            raise import_refused(refused) from refused
    elif kind == "application/json":
        try:
            data = json.loads(content)
            if strip_control_characters and isinstance(data, dict) and isinstance(data.get("items"), list):
                data["items"] = strip_rows(item for item in data["items"] if isinstance(item, dict))
            rows = [item.model_dump() for item in HistoryImport.model_validate(data).items]
        except ValidationError as error:
            raise Problem(422, f"Tidak ada yang diimpor: {error.error_count()} kesalahan", total=error.error_count(),
                          errors=[{"row": e["loc"][1] + 1 if len(e["loc"]) > 1 and isinstance(e["loc"][1], int) else None,
                                   "column": str(e["loc"][-1]) if len(e["loc"]) > 2 else None,
                                   "message": e["msg"] + (f"; pakai ?strip_control_characters=true untuk membuangnya"
                                                          if "kendali" in e["msg"] else "")}
                                  for e in error.errors()]) from error
        except ValueError as error:
            raise Problem(422, f"JSON tidak sah: {error}"[:2000]) from error
    else:
        raise Problem(415, f"Kirim application/json atau text/csv (kolom {', '.join(HISTORY_FIELDS)}).")

    def run():  # thousands of rows: on the thread pool, never on the event loop
        check, imported = import_history(session, rows)
        if check.ok:
            session.commit()
        else:
            session.rollback()
        return check, imported

    check, imported = await run_in_threadpool(run)
    if not check.ok:
        problem = import_refused(check.refused())
        problem.extensions |= {"unknown_units": check.unknown_units, "unknown_agencies": check.unknown_agencies}
        raise problem
    return await learned_at_once(svc, imported)
