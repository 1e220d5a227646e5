"""The reporter's own page of their personal data (issue 26, docs/privacy.md), from the private
link: what is held and why, a JSON download, and the forms to correct, stop contact and erase.
The rules are api/privacy.py's, the same the JSON API applies."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.auth import client_address_key
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from api.privacy import (Correction, contact_cases, correct_identity, erase_case, grant_contact_access, lift_hold,
                         normalised_contact, personal_data_page, send_contact_code, set_hold, withdraw_consent)
from api.problems import Problem
from domain.enums import Role
from domain.models import Actor
from db.privacy import erasures_in_month
from db.privacy_models import IdentityView, PrivacyHold
from domain.privacy import ErasedBy, HoldKind, contact_of_access_token
from portal.citizen import viewer_for
from portal.web import Page, PageDep, PortalError, check_csrf, portal_router, require_staff

router = portal_router()


def reporter_of(page: Page, tracking_id: str, token: str) -> None:
    if viewer_for(page, tracking_id, token or None).role != Role.REPORTER:
        raise PortalError(403, "error.forbidden")


@router.get("/kasus/{tracking_id}/data-pribadi")
async def data_page(page: PageDep, tracking_id: str, token: str = "", done: str = "", error: str = "") -> HTMLResponse:
    reporter_of(page, tracking_id, token)
    data = await personal_data_page(page.svc, tracking_id)
    return page.render("privacy.html", data=data, token=token, done=done, error=error, tracking_id=tracking_id)


@router.get("/kasus/{tracking_id}/data-pribadi.json")
async def data_download(page: PageDep, tracking_id: str, token: str = "") -> Response:
    reporter_of(page, tracking_id, token)
    data = await personal_data_page(page.svc, tracking_id)
    return JSONResponse(data.model_dump(mode="json"), headers={
        "Content-Disposition": f'attachment; filename="data-pribadi-{tracking_id}.json"'})


async def _form_action(page: Page, tracking_id: str, act) -> Response:
    form = await page.request.form(max_files=0, max_fields=20)
    await check_csrf(page, form)
    token = str(form.get("token") or "")
    reporter_of(page, tracking_id, token)
    try:
        done = await act(form)
    except Problem as problem:
        return page.redirect(f"/kasus/{tracking_id}/data-pribadi", token=token, error=problem.detail[:300])
    return page.redirect(f"/kasus/{tracking_id}/data-pribadi", token=token, done=done)


@router.post("/kasus/{tracking_id}/data-pribadi/perbaiki")
async def correct(page: PageDep, tracking_id: str) -> Response:
    async def act(form) -> str:
        fields = {name: str(form.get(name) or "").strip() or None for name in ("name", "email", "phone")}
        await correct_identity(page.svc, tracking_id, Correction(**fields), Actor(role=Role.REPORTER))
        return "corrected"

    return await _form_action(page, tracking_id, act)


@router.post("/kasus/{tracking_id}/data-pribadi/tarik-persetujuan")
async def withdraw(page: PageDep, tracking_id: str) -> Response:
    async def act(form) -> str:
        await withdraw_consent(page.svc, tracking_id)
        return "withdrawn"

    return await _form_action(page, tracking_id, act)


@router.post("/kasus/{tracking_id}/data-pribadi/hapus")
async def erase(page: PageDep, tracking_id: str) -> Response:
    async def act(form) -> str:
        if form.get("confirm") != "yes":
            raise Problem(422, page.t("privacy.erase.confirm_needed"))
        await erase_case(page.svc, tracking_id, by=ErasedBy.REPORTER, actor=Actor(role=Role.REPORTER))
        return "erased"

    return await _form_action(page, tracking_id, act)


# --- every case of one contact, after a one-time code --------------------------------------------


@router.get("/data-pribadi")
async def contact_page(page: PageDep, akses: str = "") -> HTMLResponse:
    """Ask for a code; with a valid access token (`akses`), every case of that contact."""
    contact = contact_of_access_token(page.svc.settings.secret_key, akses, time.time()) if akses else None
    cases = await contact_cases(page.svc, contact) if contact else []
    return page.render("privacy_contact.html", step="cases" if contact else "ask", contact=contact or "",
                       cases=cases, error="expired" if akses and not contact else "")


@router.post("/data-pribadi/kode")
async def contact_code_sent(page: PageDep) -> Response:
    form = await page.request.form(max_files=0, max_fields=10)
    await check_csrf(page, form)
    raw = str(form.get("contact") or "").strip()
    try:
        contact = normalised_contact(raw, page.svc.settings.phone_country_codes)
        client = client_address_key(page.request.client.host if page.request.client else None)
        await send_contact_code(page.svc, contact, client, page.language)
    except Problem as problem:
        return page.render("privacy_contact.html", step="ask", contact=raw, cases=[], error=problem.detail,
                           status_code=problem.status)
    return page.render("privacy_contact.html", step="code", contact=contact, cases=[], error="")


@router.post("/data-pribadi/masuk")
async def contact_sign_in(page: PageDep) -> Response:
    form = await page.request.form(max_files=0, max_fields=10)
    await check_csrf(page, form)
    raw = str(form.get("contact") or "").strip()
    try:
        contact = normalised_contact(raw, page.svc.settings.phone_country_codes)
        token = await grant_contact_access(page.svc, contact, str(form.get("code") or ""))
    except Problem as problem:
        return page.render("privacy_contact.html", step="code", contact=raw, cases=[], error=problem.detail,
                           status_code=problem.status)
    return page.redirect("/data-pribadi", akses=token)


# --- administrators: holds, the access log, the month's erasures -----------------------------------


@router.get("/admin/data-pribadi")
async def admin_page(page: PageDep, tracking_id: str = "", done: str = "", error: str = "") -> HTMLResponse:
    require_staff(page, Role.ADMIN)
    tracking_id = tracking_id.strip().upper()

    def read():
        with page.svc.sessions() as session:
            query = select(IdentityView).order_by(IdentityView.at.desc(), IdentityView.id.desc()).limit(200)
            holds: list[PrivacyHold] = []
            if tracking_id:
                query = query.where(IdentityView.tracking_id == tracking_id)
                holds = list(session.scalars(select(PrivacyHold).where(PrivacyHold.tracking_id == tracking_id)
                                             .order_by(PrivacyHold.id)))
            month = datetime.now(timezone.utc).strftime("%Y-%m")
            return list(session.scalars(query)), holds, erasures_in_month(session, month)

    views, holds, report = await run_in_threadpool(read)
    return page.render("privacy_admin.html", tracking_id=tracking_id, views=views, holds=holds, report=report,
                       done=done, error=error)


async def _admin_form(page: Page, act) -> Response:
    caller = require_staff(page, Role.ADMIN)
    form = await page.request.form(max_files=0, max_fields=10)
    await check_csrf(page, form)
    tracking_id = str(form.get("tracking_id") or "").strip().upper()
    reason = str(form.get("reason") or "").strip()
    try:
        if len(reason) < 3:
            raise Problem(422, page.t("privacy.admin.reason_needed"))
        await run_in_threadpool(act, form, tracking_id, reason, caller.name or caller.token_id)
    except Problem as problem:
        return page.redirect("/admin/data-pribadi", tracking_id=tracking_id, error=problem.detail[:300])
    return page.redirect("/admin/data-pribadi", tracking_id=tracking_id, done="1")


@router.post("/admin/data-pribadi/tahan")
async def admin_hold(page: PageDep) -> Response:
    def act(form, tracking_id: str, reason: str, who: str) -> None:
        try:
            kind = HoldKind(str(form.get("kind") or ""))
        except ValueError:
            raise Problem(422, page.t("privacy.admin.kind_needed")) from None
        set_hold(page.svc, tracking_id, kind, reason, who)

    return await _admin_form(page, act)


@router.post("/admin/data-pribadi/cabut")
async def admin_lift(page: PageDep) -> Response:
    def act(form, tracking_id: str, reason: str, who: str) -> None:
        hold_id = str(form.get("hold_id") or "")
        if not hold_id.isdigit():
            raise Problem(404, "Penahanan tidak ditemukan")
        lift_hold(page.svc, tracking_id, int(hold_id), reason, who, datetime.now(timezone.utc))

    return await _admin_form(page, act)
