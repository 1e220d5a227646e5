"""GET requests (the public list, one request) and GET tokens/{token}: what the public may see."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from starlette.concurrency import run_in_threadpool

from api.deps import ServicesDep, SessionDep
from api.intake import TRACKING_ID, find_idempotency_key
from api.problems import Problem
from api.read_model import view_of_row, without_confidential_originals
from api.cases import current_view
from api.routes.open311.common import (
    MAX_ITEMS,
    Open311Error,
    date_window,
    listed_values,
    path_param,
    query_param,
    route_doc,
    router,
)
from api.routes.open311.rendering import agency_names, answer, first_media, render, service_request
from api.routes.open311.submit import client_caller
from db.models import Complaint
from db.open311_models import Open311Request
from domain.open311 import (
    CLOSED,
    FIXMYSTREET_JURISDICTION,
    OPEN,
    OTHER,
    SERVICES,
    SERVICES_BY_CODE,
    statuses_for,
)
from domain.visibility import PUBLIC, CaseView, redact

# --- GET requests -------------------------------------------------------------------------------


def _requests_of_views(session: Session, views: list[CaseView], request: Request) -> list[dict[str, Any]]:
    views = without_confidential_originals(session, views)
    names = agency_names(session, {view.agency_id for view in views if view.agency_id})
    media = first_media(session, views)
    found = [service_request(view, names.get(view.agency_id or ""), media.get(view.tracking_id)) for view in views]
    if request.query_params.get("jurisdiction_id") == FIXMYSTREET_JURISDICTION:
        # FixMyStreet's requests import (Open311/GetServiceRequests.pm) reads a report's state from
        # `status` through its map_state without extended statuses: `closed` would become "fixed -
        # council" for a duplicate or a rejection. Its mySociety dialect takes the extended status
        # there (docs/open311.md, "Statuses").
        for item in found:
            item["status"] = item["external_status_code"].lower()
    return found


def _public_views(rows: list[Complaint]) -> list[CaseView]:
    views = [redact(view_of_row(row, with_history=True), PUBLIC) for row in rows]
    return [view for view in views if view is not None]  # confidential: never


# Ids asked for by GET requests that the read model does not have yet are read as GET
# requests/{id} reads them (from the workflow), at most this many per request.
FRESH_READS_MAX = 20


@router.get(
    "/requests.{fmt}",
    summary="Open311: daftar laporan (publik)",
    **route_doc(
        query_param("service_request_id", "satu atau beberapa id, dipisah koma (mengabaikan filter lain)"),
        query_param("service_code", "satu atau beberapa kode, dipisah koma"),
        query_param("start_date", "W3C, mis. 2026-12-01T00:00:00+07:00 (laporan dengan requested_datetime ≥)"),
        query_param("end_date", "W3C (requested_datetime ≤); rentang paling lama 90 hari"),
        query_param("status", "open, closed, atau keduanya dipisah koma"),
        description="Tanpa tanggal: 90 hari terakhir. Paling banyak 1.000 laporan, terbaru dahulu. "
        "Laporan rahasia tidak pernah tercantum.",
    ),
)
async def get_requests(request: Request, svc: ServicesDep, session: SessionDep) -> Response:
    async def produce(fmt: str) -> Response:
        statement = (
            select(Complaint)
            .options(selectinload(Complaint.timeline))
            .where(Complaint.confidential.is_(False))
        )
        ids = listed_values(request, "service_request_id")
        if ids:
            statement = statement.where(Complaint.tracking_id.in_(ids[:MAX_ITEMS]))
        else:
            start, end = date_window(request)
            statement = statement.where(Complaint.submitted_at >= start, Complaint.submitted_at <= end)
            codes = listed_values(request, "service_code")
            if codes:
                unknown = [code for code in codes if code not in SERVICES_BY_CODE]
                if unknown:
                    raise Open311Error(404, f"service_code tidak ada: {', '.join(unknown)}")
                condition = Complaint.category.in_(codes)
                if OTHER.code in codes:  # cases without a (known) category are listed as 'lainnya'
                    condition = condition | Complaint.category.is_(None) | Complaint.category.not_in(
                        [s.code for s in SERVICES])
                statement = statement.where(condition)
            wanted = listed_values(request, "status")
            if wanted:
                if set(wanted) - {OPEN, CLOSED}:
                    raise Open311Error(400, "status harus open atau closed")
                statement = statement.where(
                    Complaint.status.in_([s for open311 in set(wanted) for s in statuses_for(open311)]))
        statement = statement.order_by(Complaint.submitted_at.desc(), Complaint.tracking_id.desc()).limit(MAX_ITEMS)
        views = await run_in_threadpool(lambda: _public_views(list(session.scalars(statement))))
        if ids:  # just sent, not yet in the read model: read as requests/{id} reads it
            known = {view.tracking_id for view in views}
            missing = [i for i in dict.fromkeys(ids[:MAX_ITEMS]) if i not in known and TRACKING_ID.match(i)]
            for tracking_id in missing[:FRESH_READS_MAX]:
                try:
                    views.append(await current_view(tracking_id, PUBLIC, svc, session))
                except Problem as problem:
                    if problem.status != 404:
                        raise
        return render(fmt, "service_requests", await run_in_threadpool(_requests_of_views, session, views, request))

    return await answer(request, produce)


@router.get("/requests/{service_request_id}.{fmt}", summary="Open311: satu laporan (publik)",
            **route_doc(path_param("service_request_id", "nomor laporan, mis. LAP-7K2M9QX4TD")))
async def get_request(request: Request, svc: ServicesDep, session: SessionDep) -> Response:
    async def produce(fmt: str) -> Response:
        tracking_id = request.path_params["service_request_id"]
        if not TRACKING_ID.match(tracking_id):
            raise Open311Error(404, f"service_request_id '{tracking_id}' tidak ada")
        try:
            view = await current_view(tracking_id, PUBLIC, svc, session)  # the workflow's state, if running
        except Problem as problem:
            if problem.status == 404:
                raise Open311Error(404, f"service_request_id '{tracking_id}' tidak ada") from problem
            raise
        return render(fmt, "service_requests", await run_in_threadpool(_requests_of_views, session, [view], request))

    return await answer(request, produce)


@router.get("/tokens/{token}.{fmt}", summary="Open311: id laporan dari token",
            **route_doc(path_param("token", "`token` dari jawaban POST requests, atau Idempotency-Key aplikasi (dengan api_key)"),
                   query_param("api_key", "opsional: token aplikasi, untuk mencari dengan Idempotency-Key-nya"),
                   description="Layanan ini realtime: POST requests langsung mengembalikan "
                   "service_request_id beserta `token`. Seperti spesifikasinya, tokens/{token} tidak "
                   "memerlukan api_key; dengan api_key, Idempotency-Key yang dipakai aplikasi itu juga "
                   "diterima sebagai token."))
async def get_token(request: Request, svc: ServicesDep, session: SessionDep) -> Response:
    async def produce(fmt: str) -> Response:
        token = request.path_params["token"]
        row = await run_in_threadpool(
            lambda: session.scalar(select(Open311Request).where(Open311Request.token == token[:32])))
        tracking_id = row.tracking_id if row is not None else None
        if tracking_id is None and (api_key := request.query_params.get("api_key")):
            caller = await client_caller(request, svc, session, api_key)
            tracking_id = await run_in_threadpool(
                find_idempotency_key, session, f"open311:{caller.token_id}:{token[:200]}")
        if tracking_id is None:
            raise Open311Error(404, f"token '{token[:100]}' tidak dikenal")
        return render(fmt, "service_requests", [{"service_request_id": tracking_id, "token": token}])

    return await answer(request, produce)
