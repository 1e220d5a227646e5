"""The reporter's own page of their personal data (issue 26, docs/privacy.md), from the private
link: what is held and why, a JSON download, and the forms to correct, stop contact and erase.
The rules are api/privacy.py's, the same the JSON API applies."""

from __future__ import annotations

from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.privacy import Correction, correct_identity, erase_case, personal_data_page, withdraw_consent
from api.problems import Problem
from domain.enums import Role
from domain.models import Actor
from domain.privacy import ErasedBy
from portal.citizen import viewer_for
from portal.web import Page, PageDep, PortalError, check_csrf, portal_router

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
