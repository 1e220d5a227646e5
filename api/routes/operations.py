"""Routing suggestions, statistics and health."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.routing_models import routing_service
from api.deps import AdminDep, ServicesDep, SessionDep, StaffDep
from api.problems import problem_responses
from api.read_model import case_statistics
from api.schemas import Health, Stats
from domain.models import RoutingSuggestion, SuggestionRequest
from domain.visibility import AGENCY_ROLES
from api.reconcile import ReconcileReport

router = APIRouter()


@router.get("/v1/routing/suggestions", response_model=list[RoutingSuggestion], tags=["routing"],
            summary="Saran instansi tujuan untuk sebuah teks laporan (admin)",
            responses=problem_responses(401, 403, 422))
def routing_suggestions(
    caller: AdminDep,
    svc: ServicesDep,
    text_: Annotated[str, Query(alias="text", min_length=1, max_length=20_000,
                                examples=["Kartu BPJS Kesehatan saya tidak aktif di Palangkaraya"])],
    region_code: Annotated[str | None, Query(pattern=r"^\d{2}(\.\d{2})*$")] = None,
) -> list[RoutingSuggestion]:
    return routing_service(svc.sessions).suggest_agencies(SuggestionRequest(tracking_id="-", text=text_, region_code=region_code))


@router.get("/v1/stats", response_model=Stats, tags=["stats"],
            summary="Statistik per status dan per instansi (petugas, pengamat)",
            responses=problem_responses(401, 403, 503))
def stats(caller: StaffDep, session: SessionDep) -> Stats:
    agency = caller.agency_id if caller.role in AGENCY_ROLES else None
    return Stats.model_validate(case_statistics(session, agency))


@router.post("/v1/operations/reconcile", response_model=ReconcileReport, tags=["operations"],
             summary="Cocokkan read model dengan workflow setiap laporan terbuka, perbaiki yang berbeda (admin)",
             description="Setiap laporan terbuka ditanya ke workflow-nya (sumber kebenaran) dan dibandingkan "
             "dengan read model; yang hilang ditambahkan dan baris laporan ditulis ulang (kecuali `dry_run=true`). "
             "Peristiwa yang sudah tercatat tidak pernah dihapus atau ditimpa: yang berbeda, dan run workflow "
             "yang bukan run tercatat, hanya dilaporkan (`conflicts`, `run_mismatches`). Sama dengan "
             "`python -m ops reconcile`. Notifikasi tidak dikirim ulang.",
             responses=problem_responses(401, 403, 503))
async def reconcile_read_model(caller: AdminDep, svc: ServicesDep, dry_run: bool = False) -> ReconcileReport:
    return await svc.temporal.reconcile(svc.sessions, repair=not dry_run)


@router.get("/healthz", response_model=Health, tags=["health"], summary="Kesehatan API, Temporal dan basis data",
            responses={503: {"model": Health, "description": "Salah satu komponen tidak menjawab"}})
async def healthz(svc: ServicesDep) -> JSONResponse:
    def database_ok() -> bool:
        try:
            with svc.sessions() as session:
                session.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    temporal_ok, db_ok = await asyncio.gather(
        svc.temporal.healthy(),
        asyncio.wait_for(asyncio.to_thread(database_ok), svc.settings.dependency_timeout_seconds),
        return_exceptions=True,
    )
    body = {
        "api": "ok",
        "temporal": "ok" if temporal_ok is True else "unavailable",
        "database": "ok" if db_ok is True else "unavailable",
    }
    return JSONResponse(body, status_code=200 if all(v == "ok" for v in body.values()) else 503)
