"""Staff pages: sign-in and sign-out, the agency inbox, and the actions on a case."""

from __future__ import annotations

import math
from datetime import datetime, timezone

from fastapi.responses import HTMLResponse, Response
from sqlalchemy import nulls_last, or_, select
from starlette.concurrency import run_in_threadpool

from api.connected import add_forwarding
from api.cleaning import CleanFile
from api import sessions as security
from portal.confirm import ask, confirmed
from portal.facts import case_facts
from portal.forms import outside_the_region, parse, resolve_agency, store_files, uploaded_files
from pydantic import ValidationError

from portal.web import (safe_next, portal_router, Page, PageDep, check_csrf, describe_errors, form_action_key,
                        outcome_url, require_staff)
from api.problems import Problem
from api.read_model import IS_OPEN, view_of_row
from api import cases as actions
from api.schemas import DispositionRequest, FollowUpRequest, RerouteRequest, VerificationRequest
from db.models import Agency, Complaint
from domain.attachments import Purpose
from domain.enums import Action, Role
from domain.visibility import AGENCY_ROLES, redact

router = portal_router()

INBOX_LIMIT = 200


@router.get("/masuk")
async def sign_in_form(page: PageDep, next: str = "") -> HTMLResponse:
    return page.render("sign_in.html", next=safe_next(next), failed=False)


def landing_for(role: str) -> str:
    return "/admin/verifikasi" if role == Role.ADMIN.value else "/staf"


@router.post("/masuk")
async def sign_in(page: PageDep) -> Response:
    form = await page.request.form(max_files=0, max_fields=10)
    await check_csrf(page, form)
    email, password = str(form.get("email") or ""), str(form.get("password") or "")
    next_url = safe_next(str(form.get("next") or ""))
    # Failed passwords slow the one guessing (per account and address), never lock the owner
    # out from another address (api/throttle.py; the limits are settings, docs/security.md "Safety limits").
    throttle, address = page.svc.sign_in, page.caller.client_key
    wait = await run_in_threadpool(throttle.wait_before, email, address)
    if wait > 0:
        response = page.render("sign_in.html", 429, next=next_url, failed=True, message_key="signin.throttled",
                               email=email, wait_seconds=math.ceil(wait))
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response

    def attempt() -> tuple[str, str] | None:
        with page.svc.sessions() as session:
            account = security.authenticate(session, email, password)
            if account is None:
                return None
            token = security.start_session(session, account, datetime.now(timezone.utc))
            session.commit()
            return token, account.role

    signed_in = await run_in_threadpool(attempt)
    await run_in_threadpool(throttle.failed if signed_in is None else throttle.succeeded, email, address)
    if signed_in is None:
        return page.render("sign_in.html", 401, next=next_url, failed=True, message_key="signin.failed", email=email)
    token, role = signed_in
    security.renew_browser_id(page.request)  # a token seen before sign-in is worthless after it
    response = page.redirect(next_url or landing_for(role))
    response.set_cookie(security.SESSION_COOKIE, token, max_age=int(security.SESSION_LIFETIME.total_seconds()),
                        **security.cookie_options(page.request, page.svc.settings))
    return response


@router.post("/keluar")
async def sign_out(page: PageDep) -> Response:
    form = await page.request.form(max_files=0, max_fields=5)
    await check_csrf(page, form)

    def end() -> None:
        with page.svc.sessions() as session:
            security.end_session(session, page.request.cookies.get(security.SESSION_COOKIE))
            session.commit()

    await run_in_threadpool(end)
    response = page.redirect("/")
    response.delete_cookie(security.SESSION_COOKIE, path="/")
    return response


# --- the inbox ---------------------------------------------------------------------------------


def inbox_rows(page: Page, agency_id: str | None, q: str = ""):
    """Open cases of the agency, nearest deadline first (overdue ones lead: their deadline passed);
    `q`: every word in the title, the description or the tracking id."""
    with page.svc.sessions() as session:
        statement = (
            select(Complaint)
            .where(IS_OPEN)
            .order_by(nulls_last(Complaint.next_deadline.asc()), Complaint.submitted_at.asc())
            .limit(INBOX_LIMIT)
        )
        if agency_id is not None:
            statement = statement.where(Complaint.agency_id == agency_id)
        for word in q.split()[:8]:
            statement = statement.where(or_(Complaint.title.icontains(word, autoescape=True),
                                            Complaint.description.icontains(word, autoescape=True),
                                            Complaint.tracking_id.icontains(word, autoescape=True)))
        rows = list(session.scalars(statement))
        facts = case_facts(session, rows, now=datetime.now(timezone.utc))
        views = [view for view in (redact(view_of_row(row, with_history=False), page.caller) for row in rows)
                 if view is not None]
        add_forwarding(session, views, page.language)  # "diteruskan ke sistem <body> (#id)" (issue 27)
    return views, facts


@router.get("/staf")
async def inbox(page: PageDep, q: str = "") -> HTMLResponse:
    caller = require_staff(page)
    agency_id = caller.agency_id if caller.role in AGENCY_ROLES else None
    if caller.role == Role.ADMIN:
        agency_id = None
    q = " ".join(q[:200].split())
    views, facts = await run_in_threadpool(inbox_rows, page, agency_id, q)
    return page.render("inbox.html", items=views, facts=facts, q=q, capped=len(views) == INBOX_LIMIT,
                       limit=INBOX_LIMIT)


# --- actions on a case ----------------------------------------------------------------------------


async def staff_action(page: Page, tracking_id: str, call, *, with_files: bool = False) -> Response:
    """Run one action from a form; `call` answers where the person lands (Page.outcome says what
    happened there): the case page unless the action took the case out of the person's sight."""
    caller = require_staff(page)
    form = await page.request.form(max_files=10 if with_files else 0, max_fields=20)
    await check_csrf(page, form)
    contents: list[CleanFile] = []
    if with_files and any(getattr(f, "filename", None) for f in form.getlist("attachments")):
        with page.svc.sessions() as session:
            case_now = await actions.current_view(tracking_id, caller, page.svc, session)
        # Checked (the case's room among them) and cleaned before the action is taken.
        contents, errors = await uploaded_files(page, form, case=case_now, added_by=caller)
        if errors:
            raise Problem(422, " ".join(errors))
    with page.svc.sessions() as session:
        case, landing = await call(form, caller, session)
    failed = 0
    if contents:  # the action is recorded: whatever happens to a file, the officer sees the case
        # The evidence documents the action just taken: its timeline entry links to it.
        own = [e.seq for e in case.timeline or [] if e.action == Action.FOLLOW_UP]
        failed = len(await run_in_threadpool(store_files, page, case, contents, Purpose.EVIDENCE, caller,
                                             own[-1] if own else None))
    if failed:
        landing += f"&failed={failed}"
    return page.redirect(landing)


def case_landing(tracking_id: str, kind: str, to: str | None = None) -> str:
    return outcome_url(f"/kasus/{tracking_id}", kind, to=to)


@router.post("/kasus/{tracking_id}/verifikasi")
async def verify(page: PageDep, tracking_id: str) -> Response:
    back = safe_next(page.request.query_params.get("next", ""))
    form = await page.request.form(max_files=0, max_fields=20)  # read once: staff_action gets the same
    if form.get("decision") == "reject" and not confirmed(form):
        require_staff(page)
        await check_csrf(page, form)
        original = str(form.get("duplicate_other") or "").strip().upper() or str(form.get("duplicate_of") or "")
        if form.get("reason") == "duplicate":  # a merge: both cases side by side first
            return page.redirect("/admin/gabung", kasus=tracking_id, dengan=original or None)
        question = page.t("confirm.reject", case=tracking_id, reason=page.reason_label(str(form.get("reason") or "")))
        return ask(page, form, question, back=back or f"/kasus/{tracking_id}")

    async def call(form, caller, session):
        decision = str(form.get("decision") or "")
        # The suggestions' select, unless another agency was typed (from the datalist).
        typed = str(form.get("agency_other") or "").strip()
        agency_id = await run_in_threadpool(resolve_agency, page, typed) if typed else str(form.get("agency_id") or "")
        if agency_id and decision == "accept" and not form.get("confirm_other_region"):
            # Another region's government, typed in or chosen (a suggestion the text's place
            # admitted, or a crafted form): the region rule asks the verifier to confirm.
            region_code = session.scalar(select(Complaint.region_code).where(Complaint.tracking_id == tracking_id))
            if (other := outside_the_region(session, agency_id, region_code)) is not None:
                confirm = page.t("queue.confirm_other_region")
                raise Problem(422, f"{other.name} berada di luar wilayah laporan ini. Centang \"{confirm}\" bila memang ke sana.",
                              detail_en=f"{other.name} is outside this report's region. Tick \"{confirm}\" if it really belongs there.")
        reason = str(form.get("reason") or "") or None if decision == "reject" else None
        # A duplicate names its original: one of the similar cases offered, or one typed in.
        original = str(form.get("duplicate_other") or "").strip().upper() or str(form.get("duplicate_of") or "")
        body = parse(VerificationRequest, decision=decision,
                     agency_id=agency_id or None if decision == "accept" else None,
                     reason=reason, duplicate_of=original or None if reason == "duplicate" else None,
                     note=str(form.get("note") or "") or None)
        case = await actions.verify(tracking_id, body, caller, page.svc, session, form_action_key(form))
        kind, to = {"accept": ("forwarded", body.agency_id), "hold": ("held", None)}.get(
            decision, ("merged", body.duplicate_of) if reason == "duplicate" else ("rejected", reason))
        # From the queue, back to the queue (the case has left it); else the case page.
        return case, outcome_url(back, kind, tracking_id, to) if back else case_landing(tracking_id, kind, to)

    return await staff_action(page, tracking_id, call)


@router.post("/kasus/{tracking_id}/konfirmasi-titik")
async def confirm_pin(page: PageDep, tracking_id: str) -> Response:
    """The verifier keeps a pin outside the case's region (issue 22): it counts from now on."""
    caller = require_staff(page, Role.ADMIN)
    form = await page.request.form(max_files=0, max_fields=5)
    await check_csrf(page, form)
    with page.svc.sessions() as session:
        await actions.confirm_pin(tracking_id, caller, page.svc, session)
    return page.redirect(safe_next(page.request.query_params.get("next", "")) or f"/kasus/{tracking_id}")


@router.post("/kasus/{tracking_id}/disposisi")
async def dispose(page: PageDep, tracking_id: str) -> Response:
    async def call(form, caller, session):
        body = parse(DispositionRequest, unit_id=str(form.get("unit_id") or ""), note=str(form.get("note") or "") or None)
        case = await actions.dispose(tracking_id, body, caller, page.svc, session, form_action_key(form))
        return case, case_landing(tracking_id, "disposed", body.unit_id)

    return await staff_action(page, tracking_id, call)


@router.post("/kasus/{tracking_id}/tindak-lanjut")
async def follow_up(page: PageDep, tracking_id: str) -> Response:
    async def call(form, caller, session):
        body = parse(FollowUpRequest, message=str(form.get("message") or ""))
        case = await actions.follow_up(tracking_id, body, caller, page.svc, session, form_action_key(form))
        return case, case_landing(tracking_id, "followed_up")

    return await staff_action(page, tracking_id, call, with_files=True)


@router.post("/kasus/{tracking_id}/bukan-wewenang")
async def reroute(page: PageDep, tracking_id: str) -> Response:
    async def call(form, caller, session):
        suggested = await run_in_threadpool(resolve_agency, page, str(form.get("suggested_agency_id") or ""))
        body = parse(RerouteRequest, reason=str(form.get("reason") or ""), suggested_agency_id=suggested or None)
        case = await actions.reroute(tracking_id, body, caller, page.svc, session, form_action_key(form))
        # The case is no longer the agency's to see: back to its inbox, which says where it went.
        return case, outcome_url("/staf", "returned", tracking_id, body.suggested_agency_id)

    return await staff_action(page, tracking_id, call)


# Staff replies on the reporter's behalf are admin-only (RULES): the case page offers the form.
@router.post("/kasus/{tracking_id}/balas-admin")
async def admin_reply(page: PageDep, tracking_id: str) -> Response:
    from api.schemas import ReplyRequest

    async def call(form, caller, session):
        case = await actions.reply(tracking_id, parse(ReplyRequest, message=str(form.get("message") or "")), caller,
                                   page.svc, session, form_action_key(form))
        return case, case_landing(tracking_id, "replied")

    return await staff_action(page, tracking_id, call)




# --- units: an agency admin's own body (an administrator: any body, from the directory) -----------


def units_of(page: Page, agency_id: str, caller):
    from api.directory_admin import managed_agency, routing_terms

    with page.svc.sessions() as session:
        agency = managed_agency(session, agency_id, caller)
        units = [{"id": u.id, "slug": u.id.split("/", 1)[1], "name": u.name, "kind": u.kind, "active": u.active,
                  "merged_into": u.merged_into} for u in agency.units]
        terms = routing_terms(agency)
        session.expunge(agency)
        return agency, units, terms


async def render_units(page: Page, agency_id: str, status: int = 200, **context) -> HTMLResponse:
    caller = require_staff(page, Role.ADMIN, Role.AGENCY_ADMIN)
    agency, units, terms = await run_in_threadpool(units_of, page, agency_id, caller)
    return page.render("units.html", status, agency=agency, units=units, terms=terms, **context)


@router.get("/staf/unit/{agency_id}")
async def units_page(page: PageDep, agency_id: str, done: str = "", flagged: str = "") -> HTMLResponse:
    return await render_units(page, agency_id, done=done, flagged=flagged)


async def unit_action(page: Page, agency_id: str, work, question: str | None = None) -> Response:
    """Run one unit edit from a form (the API's own function: the same checks); its error on the
    page. With a `question`, the edit is destructive: asked first (portal/confirm.py)."""
    caller = require_staff(page, Role.ADMIN, Role.AGENCY_ADMIN)
    form = await page.request.form(max_files=0, max_fields=10)
    await check_csrf(page, form)
    if question is not None and not confirmed(form):
        return ask(page, form, question.format(into=str(form.get("into") or "")), back=f"/staf/unit/{agency_id}")
    fields = {k: str(v) for k, v in form.items()}

    def run():
        with page.svc.sessions() as session:
            return work(fields, caller, session)

    try:
        result = await run_in_threadpool(run)
    except Problem as problem:
        return await render_units(page, agency_id, problem.status, error=problem.detail)
    except ValidationError as error:
        return await render_units(page, agency_id, 422, error=describe_errors(error))
    flagged = getattr(result, "flagged_cases", None)
    return page.redirect(f"/staf/unit/{agency_id}", done="1", flagged=str(flagged) if flagged else None)


@router.post("/staf/unit/{agency_id}")
async def add_unit(page: PageDep, agency_id: str) -> Response:
    from api.directory_admin import UnitCreate, create_unit

    return await unit_action(page, agency_id, lambda f, caller, session: create_unit(
        agency_id, UnitCreate(slug=f.get("slug", "").strip(), name=f.get("name", "").strip(),
                              kind=f.get("kind", "").strip() or "unit"), caller, session))


@router.post("/staf/unit/{agency_id}/impor")
async def import_units_form(page: PageDep, agency_id: str) -> Response:
    from api.directory_admin import apply_unit_import, parse_unit_csv

    return await unit_action(page, agency_id, lambda f, caller, session: apply_unit_import(
        session, agency_id, caller, parse_unit_csv(f.get("csv", ""), delimiter=f.get("delimiter") or None,
                                                   strip_control_characters=bool(f.get("strip_control_characters")))))


@router.post("/staf/unit/{agency_id}/{slug}/nama")
async def rename_unit_form(page: PageDep, agency_id: str, slug: str) -> Response:
    from api.directory_admin import UnitUpdate, rename_unit

    return await unit_action(page, agency_id, lambda f, caller, session: rename_unit(
        agency_id, slug, UnitUpdate(name=f.get("name", "").strip()), caller, session))


@router.post("/staf/unit/{agency_id}/{slug}/gabung")
async def merge_unit_form(page: PageDep, agency_id: str, slug: str) -> Response:
    from api.directory_admin import UnitMerge, merge_unit

    return await unit_action(page, agency_id, lambda f, caller, session: merge_unit(
        agency_id, slug, UnitMerge(into=f.get("into", "")), caller, session),
        question=page.t("confirm.merge_unit", unit=slug, into="{into}"))


@router.post("/staf/unit/{agency_id}/{slug}/nonaktif")
async def deactivate_unit_form(page: PageDep, agency_id: str, slug: str) -> Response:
    from api.directory_admin import deactivate_unit

    return await unit_action(page, agency_id, lambda f, caller, session: deactivate_unit(agency_id, slug, caller, session),
                             question=page.t("confirm.deactivate_unit", unit=slug))
