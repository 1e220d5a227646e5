"""Administrators' pages: verification queue, escalations, dashboard, staff accounts, directory,
failed and uncertain notifications (resent through Temporal)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from collections.abc import Callable
from datetime import date, datetime, timezone

from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api import sessions as security
from portal.charts import LABELS_EN, LABELS_ID, render_dashboard
from portal.dashboard import DashboardData, dashboard_data
from api.calendar import AmendmentRequest, amend, calendar_year, package_day
from domain.calendar import NATIONAL_ZONE, ZONES
from portal.confirm import ask, confirmed
from portal.deliveries import explain
from portal.facts import case_facts, proposed_original
from portal.forms import agency_choices
from domain.calendar import years_without_cuti_bersama
from api.connected import connections, open_forwards, resend_forward
from api.deliveries import resend_through_temporal
from portal.web import describe_errors, portal_router, Page, PageDep, PortalError, check_csrf, require_staff
from api.problems import Problem
from api.read_model import view_of_row
from api.similar import may_be_original, report_of_case, similar_cases
from api.directory_admin import AgencyCreate, create_agency, deactivate_agency
from db.directory import list_agencies
from db.models import Agency, AgencyKind, Complaint, EscalationRow
from db.notification_models import DeliveryStatus, NotificationDelivery
from db.portal_models import StaffAccount
from domain.enums import ArchiveReason, Role, Status
from domain.models import RoutingSuggestion

router = portal_router(prefix="/admin")

QUEUE_LIMIT = 50
ESCALATION_LIMIT = 200
# How long the queue waits for the workflows' routing suggestions before showing the queue anyway.
SUGGESTION_TIMEOUT_SECONDS = 2.0


def queue_rows(page: Page):
    """The cases awaiting verification, oldest first, each with its likely duplicates among the
    open cases (scores and reasons: api/similar.py) and the facts its card shows (portal/facts.py)."""
    with page.svc.sessions() as session:
        rows = list(session.scalars(
            select(Complaint).where(Complaint.status == Status.AWAITING_VERIFICATION.value)
            .order_by(Complaint.submitted_at.asc(), Complaint.tracking_id.asc()).limit(QUEUE_LIMIT)
        ))
        similar = {row.tracking_id: similar_cases(session, report_of_case(row, page.caller), page.caller) for row in rows}
        facts = case_facts(session, rows, now=datetime.now(timezone.utc))
        return [view_of_row(row, with_history=False) for row in rows], similar, facts


async def suggestions_of(page: Page, tracking_ids: list[str]) -> dict[str, list[RoutingSuggestion]]:
    """The routing suggestions each workflow holds (none for a case whose query fails or is slow)."""
    async def one(tracking_id: str) -> list[RoutingSuggestion]:
        try:
            state = await asyncio.wait_for(page.svc.temporal.state(tracking_id), SUGGESTION_TIMEOUT_SECONDS)
        except (Problem, asyncio.TimeoutError):
            return []
        return list(state.suggestions or [])

    found = await asyncio.gather(*(one(t) for t in tracking_ids))
    return dict(zip(tracking_ids, found))


@router.get("/verifikasi")
async def verification_queue(page: PageDep) -> HTMLResponse:
    require_staff(page, Role.ADMIN)
    items, similar, facts = await run_in_threadpool(queue_rows, page)
    suggestions = await suggestions_of(page, [v.tracking_id for v in items])
    # Verification deadlines in a year without a known cuti bersama decree (they may move).
    warning_years = years_without_cuti_bersama(
        [v.deadlines.verification_due for v in items if v.deadlines], await page.svc.amendments())
    return page.render("queue.html", items=items, suggestions=suggestions, similar=similar, facts=facts,
                       now=datetime.now(timezone.utc),
                       calendar_warning_years=warning_years, capped=len(items) == QUEUE_LIMIT, limit=QUEUE_LIMIT,
                       reasons=[r.value for r in ArchiveReason if r not in (ArchiveReason.WITHDRAWN, ArchiveReason.DUPLICATE)])


def merge_rows(page: Page, first_id: str, second_id: str):
    """Both cases of a merge as the administrator sees them, the facts of each, the proposed
    original first, and per direction (duplicate, original) why it cannot be, if it cannot."""
    with page.svc.sessions() as session:
        first, second = session.get(Complaint, first_id), session.get(Complaint, second_id)
        missing = next((i for i, row in ((first_id, first), (second_id, second)) if row is None), None)
        if missing is not None or first_id == second_id:
            return missing or second_id, None
        facts = case_facts(session, [first, second], now=datetime.now(timezone.utc))
        original = proposed_original(first, second, facts)
        duplicate = second if original is first else first
        directions = []
        for dup, orig in ((duplicate, original), (original, duplicate)):
            refusal = (page.t("merge.not_waiting") if dup.status != Status.AWAITING_VERIFICATION.value
                       else may_be_original(session, dup.tracking_id, orig.tracking_id))
            directions.append((view_of_row(dup, with_history=False), view_of_row(orig, with_history=False), refusal))
        return None, (view_of_row(original, with_history=False), view_of_row(duplicate, with_history=False),
                      facts, directions)


@router.get("/gabung")
async def merge_page(page: PageDep, kasus: str = "", dengan: str = "") -> HTMLResponse:
    """A merge: both cases side by side, the proposed original first, then the confirmation."""
    require_staff(page, Role.ADMIN)
    first, second = kasus.strip().upper()[:64], dengan.strip().upper()[:64]
    missing, found = await run_in_threadpool(merge_rows, page, first, second)
    if found is None:
        raise PortalError(404, detail=page.t("merge.missing", case=missing or "-"))
    original, duplicate, facts, directions = found
    shown = [(dup, orig, refusal, index == 0) for index, (dup, orig, refusal) in enumerate(directions)]
    if directions[0][2] and not directions[1][2]:  # only the other way round is possible: offer it first
        shown = [(dup, orig, refusal, not primary) for dup, orig, refusal, primary in shown]
    return page.render("merge.html", original=original, duplicate=duplicate, facts=facts, directions=shown)


def escalation_rows(page: Page, kind: str | None):
    with page.svc.sessions() as session:
        statement = (
            select(EscalationRow, Complaint.title, Complaint.agency_id, Complaint.status)
            .join(Complaint, Complaint.tracking_id == EscalationRow.tracking_id)
            .order_by(EscalationRow.at.desc()).limit(ESCALATION_LIMIT)
        )
        if kind:
            statement = statement.where(EscalationRow.kind == kind)
        return [
            {"tracking_id": e.tracking_id, "kind": e.kind, "clock": e.clock, "due_at": e.due_at, "at": e.at,
             "title": title, "agency_id": agency_id, "status": status}
            for e, title, agency_id, status in session.execute(statement)
        ]


@router.get("/eskalasi")
async def escalations(page: PageDep, kind: str = "") -> HTMLResponse:
    require_staff(page, Role.ADMIN, Role.OBSERVER)
    kind = kind if kind in ("reminder", "overdue", "ombudsman") else ""
    items = await run_in_threadpool(escalation_rows, page, kind or None)
    ids = sorted({e["agency_id"] for e in items if e["agency_id"]})

    def names() -> dict[str, str]:
        with page.svc.sessions() as session:
            return dict(session.execute(select(Agency.id, Agency.name).where(Agency.id.in_(ids))).all()) if ids else {}

    return page.render("escalations.html", items=items, kind=kind, agency_names=await run_in_threadpool(names),
                       capped=len(items) == ESCALATION_LIMIT,
                       limit=ESCALATION_LIMIT)


# --- staff accounts ------------------------------------------------------------------------------


def staff_list(page: Page) -> list[StaffAccount]:
    with page.svc.sessions() as session:
        accounts = list(session.scalars(select(StaffAccount).order_by(StaffAccount.role, StaffAccount.email)))
        session.expunge_all()
        return accounts


async def render_staff(page: Page, status: int = 200, **context) -> HTMLResponse:
    accounts = await run_in_threadpool(staff_list, page)
    agencies = await run_in_threadpool(agency_choices, page)
    return page.render("staff_admin.html", status, accounts=accounts, agencies=agencies,
                       roles=[r.value for r in security.STAFF_ROLES_WITH_ACCOUNTS], **context)


@router.get("/staf")
async def staff_accounts(page: PageDep, done: str = "") -> HTMLResponse:
    require_staff(page, Role.ADMIN)
    return await render_staff(page, done=done)


@router.post("/staf")
async def create_staff(page: PageDep) -> Response:
    require_staff(page, Role.ADMIN)
    form = await page.request.form(max_files=0, max_fields=20)
    await check_csrf(page, form)
    values = {k: str(form.get(k) or "").strip() for k in ("email", "name", "role", "agency_id")}
    password = str(form.get("password") or "")

    def create() -> str | None:
        with page.svc.sessions() as session:
            problem = security.staff_account_problem(session, password=password, **values)
            if problem is None:
                security.create_staff_account(session, email=values["email"], name=values["name"], password=password,
                                              role=Role(values["role"]), agency_id=values["agency_id"] or None)
                try:
                    session.commit()
                except IntegrityError:  # the same email, created a moment ago by another request
                    return page.t("staffadmin.email_taken")
            return problem

    problem = await run_in_threadpool(create)
    if problem:
        return await render_staff(page, 422, error=problem, values=values)
    return page.redirect("/admin/staf", done="1")


async def change_staff_account(page: Page, account_id: str, change: Callable[[Session, StaffAccount], bool]) -> Response:
    """Apply `change` to one account (False: refused) and go back to the list."""
    def run() -> bool:
        with page.svc.sessions() as session:
            account = session.get(StaffAccount, account_id)
            if account is None or not change(session, account):
                return False
            session.commit()
            return True

    if not await run_in_threadpool(run):
        raise PortalError(404, "error.not_found")
    return page.redirect("/admin/staf", done="1")


@router.post("/staf/{account_id}/aktif")
async def toggle_staff(page: PageDep, account_id: str) -> Response:
    caller = require_staff(page, Role.ADMIN)
    form = await page.request.form(max_files=0, max_fields=5)
    await check_csrf(page, form)

    if form.get("active") != "1" and not confirmed(form):
        return ask(page, form, page.t("confirm.deactivate_account", account=account_id), back="/admin/staf")

    def toggle(session: Session, account: StaffAccount) -> bool:
        if f"staff:{account.id}" == caller.token_id:  # never lock yourself out
            return False
        account.active = form.get("active") == "1"
        return True

    return await change_staff_account(page, account_id, toggle)


@router.post("/staf/{account_id}/sandi")
async def reset_password(page: PageDep, account_id: str) -> Response:
    require_staff(page, Role.ADMIN)
    form = await page.request.form(max_files=0, max_fields=5)
    await check_csrf(page, form)
    password = str(form.get("password") or "")
    if (problem := security.password_problem(password)) is not None:
        return await render_staff(page, 422, error=problem)

    def reset(session: Session, account: StaffAccount) -> bool:
        security.set_password(session, account, password)
        return True

    return await change_staff_account(page, account_id, reset)


# --- the directory ----------------------------------------------------------------------------------


@router.get("/instansi")
async def directory(page: PageDep, q: str = "", done: str = "") -> HTMLResponse:
    require_staff(page, Role.ADMIN)
    return await render_directory(page, q=q[:200], done=done)


async def render_directory(page: Page, status: int = 200, q: str = "", **context) -> HTMLResponse:
    def rows():
        with page.svc.sessions() as session:
            found = list_agencies(session, q=q or None, limit=100, active_only=False)
            return [{"id": a.id, "name": a.name, "kind": a.kind, "region_code": a.region_code, "active": a.active,
                     "units": len(a.units)} for a in found]

    items = await run_in_threadpool(rows)
    return page.render("directory.html", status, items=items, q=q, kinds=[k.value for k in AgencyKind], **context)


@router.post("/instansi")
async def add_agency(page: PageDep) -> Response:
    caller = require_staff(page, Role.ADMIN)
    form = await page.request.form(max_files=0, max_fields=20)
    await check_csrf(page, form)
    values = {k: str(form.get(k) or "").strip() for k in ("id", "name", "kind", "region_code", "parent_id")}
    try:
        body = AgencyCreate.model_validate({k: v or None for k, v in values.items()} | {"aliases": []})
    except ValidationError as error:
        return await render_directory(page, 422, error=describe_errors(error), values=values)

    def create() -> None:
        with page.svc.sessions() as session:
            create_agency(body, caller, session)

    try:
        await run_in_threadpool(create)
    except Problem as problem:
        return await render_directory(page, problem.status, error=problem.detail, values=values)
    return page.redirect("/admin/instansi", q=body.id, done="1")


@router.post("/instansi/{agency_id}/nonaktif")
async def deactivate(page: PageDep, agency_id: str) -> Response:
    caller = require_staff(page, Role.ADMIN)
    form = await page.request.form(max_files=0, max_fields=5)
    await check_csrf(page, form)
    if not confirmed(form):
        return ask(page, form, page.t("confirm.deactivate_agency", agency=agency_id), back=f"/admin/instansi?q={agency_id}")

    def run() -> None:
        with page.svc.sessions() as session:
            deactivate_agency(agency_id, caller, session)

    await run_in_threadpool(run)
    return page.redirect("/admin/instansi", q=agency_id, done="1")


# --- the working-day calendar ---------------------------------------------------------------------


@router.get("/kalender")
async def calendar_page(page: PageDep, year: int = 0, error: str = "") -> HTMLResponse:
    return await render_calendar(page, year)


async def render_calendar(page: Page, year: int, status: int = 200, **context) -> HTMLResponse:
    caller = require_staff(page, Role.ADMIN, Role.OBSERVER)
    this_year = datetime.now(timezone.utc).astimezone(ZONES[NATIONAL_ZONE]).year
    year = year if 2000 <= year <= 2100 else this_year
    shown = await calendar_year(page.svc, year, show_author=True)
    return page.render("calendar.html", status, calendar=shown, year=year, this_year=year == this_year,
                       may_edit=caller.role == Role.ADMIN, kinds=("holiday", "cuti_bersama", "cancelled"), **context)


@router.post("/kalender")
async def amend_calendar_page(page: PageDep) -> Response:
    """Declare or cancel a day off (the API's amendment: stored for good, open cases follow)."""
    caller = require_staff(page, Role.ADMIN)
    form = await page.request.form(max_files=0, max_fields=10)
    await check_csrf(page, form)
    values = {k: str(form.get(k) or "").strip() for k in ("date", "kind", "name", "decree", "note")}
    year = int(values["date"][:4]) if values["date"][:4].isdigit() else 0
    if form.get("remove"):  # "removing" an amendment declares the package's own state of that day again
        try:
            restored = package_day(date.fromisoformat(values["date"]))
        except ValueError:
            restored = None
        values["kind"], values["name"] = restored if restored else ("cancelled", "")
        if not confirmed(form):
            return ask(page, form, page.t("confirm.calendar_remove", date=values["date"]),
                       back=f"/admin/kalender?year={year}")
    try:
        body = AmendmentRequest.model_validate({
            "holidays": [{"date": values["date"], "kind": values["kind"] or "holiday", "name": values["name"] or None}],
            "decree": values["decree"], "note": values["note"] or None})
        result = await amend(body, caller, page.svc)
    except ValidationError as error:
        return await render_calendar(page, year, 422, error=describe_errors(error), values=values)
    except Problem as problem:  # 503: stored, not yet broadcast to open cases (the page says: send again)
        if problem.status not in (422, 503):
            raise
        return await render_calendar(page, year, problem.status, error=problem.detail,
                                     values=values if problem.status == 422 else None)
    return page.redirect(f"/admin/kalender", year=str(year), done="amended", to=str(result.signalled_cases))


# --- the dashboard ------------------------------------------------------------------------------

DASHBOARD_DAYS = (7, 30, 90)
# The figures are grouped queries over the whole read model (0.6-2 s at 200,000 cases on
# PostgreSQL): computed at most once a minute per view, not on every reload.
DASHBOARD_CACHE_SECONDS = 60.0
_dashboard_cache: dict[tuple[str | None, int], tuple[float, DashboardData]] = {}


def cached_dashboard(page: Page, agency_id: str | None, days: int) -> DashboardData:
    key = (agency_id, days)
    if len(_dashboard_cache) > 100:  # any agency id may be asked for: keep the cache small
        _dashboard_cache.clear()
    hit = _dashboard_cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < DASHBOARD_CACHE_SECONDS:
        return hit[1]
    with page.svc.sessions() as session:
        data = dashboard_data(session, now=datetime.now(timezone.utc), days=days, agency_id=agency_id)
    _dashboard_cache[key] = (time.monotonic(), data)
    return data


@router.get("/dasbor")
async def dashboard(page: PageDep, days: int = 30, agency_id: str = "") -> HTMLResponse:
    require_staff(page, Role.ADMIN, Role.OBSERVER)
    days = days if days in DASHBOARD_DAYS else 30
    data = await run_in_threadpool(cached_dashboard, page, agency_id[:64] or None, days)
    labels = LABELS_EN if page.language == "en" else LABELS_ID
    return page.render("dashboard.html", figures=render_dashboard(data, labels), labels=labels, data=data, days=days,
                       day_choices=DASHBOARD_DAYS, agency_id=agency_id[:64])


# --- deliveries that need a look ----------------------------------------------------------------

DELIVERY_LIMIT = 200


def delivery_rows(page: Page, status: str | None) -> list[NotificationDelivery]:
    """Failed and uncertain deliveries (no address shown: the channel, party and reason say enough)."""
    with page.svc.sessions() as session:
        wanted = [status] if status else [DeliveryStatus.FAILED.value, DeliveryStatus.UNCERTAIN.value]
        rows = list(session.scalars(
            select(NotificationDelivery).where(NotificationDelivery.status.in_(wanted))
            .order_by(NotificationDelivery.created_at.desc(), NotificationDelivery.id).limit(DELIVERY_LIMIT)
        ))
        session.expunge_all()
        return rows


@router.get("/notifikasi")
async def failed_deliveries(page: PageDep, status: str = "", done: str = "") -> HTMLResponse:
    require_staff(page, Role.ADMIN)
    status = status if status in (DeliveryStatus.FAILED.value, DeliveryStatus.UNCERTAIN.value) else ""
    items = await run_in_threadpool(delivery_rows, page, status or None)
    explained = {d.id: explain(page, d) for d in items}
    return page.render("deliveries_admin.html", items=items, status=status, done=done, explained=explained,
                       capped=len(items) == DELIVERY_LIMIT, limit=DELIVERY_LIMIT)


@router.post("/notifikasi/{delivery_id}/kirim-ulang")
async def resend_from_portal(page: PageDep, delivery_id: str) -> Response:
    require_staff(page, Role.ADMIN)
    form = await page.request.form(max_files=0, max_fields=5)
    await check_csrf(page, form)
    try:
        await resend_through_temporal(page.svc, delivery_id)
    except Problem as problem:
        if problem.status == 404:
            raise PortalError(404, "error.not_found") from problem
        if problem.status == 409:
            raise PortalError(409, "deliveries.conflict") from problem
        raise
    return page.redirect("/admin/notifikasi", done="1")


# --- development: the mail `make run`'s catcher kept -------------------------------------------------

CAUGHT_MAIL_LIMIT = 100


def caught_mail(folder: Path) -> list[dict]:
    """The newest messages scripts/mail_catcher.py kept (one .eml file each), newest first."""
    import email
    import email.policy

    found = []
    for path in sorted(folder.glob("*.eml"), reverse=True)[:CAUGHT_MAIL_LIMIT]:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = message.get_body(("plain",))
        found.append({"id": path.stem, "to": str(message["To"] or ""), "subject": " ".join(str(message["Subject"] or "").split()),
                      "date": str(message["Date"] or ""), "text": body.get_content() if body is not None else ""})
    return found


@router.get("/surat")
async def caught_mail_page(page: PageDep) -> HTMLResponse:
    """Development only: what the product would have e-mailed (receipts, follow-ups, escalations)."""
    require_staff(page, Role.ADMIN)
    settings = page.svc.settings
    if settings.environment != "development" or not settings.mail_catcher_dir:
        raise PortalError(404, "error.not_found")
    items = await run_in_threadpool(caught_mail, Path(settings.mail_catcher_dir))
    return page.render("caught_mail.html", items=items, folder=settings.mail_catcher_dir, limit=CAUGHT_MAIL_LIMIT)


# --- routing model versions: which one suggests, rollback ----------------------------------------


@router.get("/perutean")
async def routing_models(page: PageDep, done: str = "", imported: str = "", version: str = "") -> HTMLResponse:
    from api.routing_models import models_overview

    caller = require_staff(page, Role.ADMIN)

    def read():
        with page.svc.sessions() as session:
            return models_overview(session)

    return page.render("routing_models.html", models=await run_in_threadpool(read), done=done,
                       imported=imported[:12], version=version[:12])


@router.post("/perutean-impor")
async def import_routing_history_form(page: PageDep) -> Response:
    """A body's past complaints pasted as CSV: the API's reader and checks (every error with its
    row), then trained and activated at once (RoutingTrainingWorkflow), like the API's import."""
    from activities.routing_learning import history_from_csv, import_history
    from api.directory_admin import import_refused
    from api.routing_models import learned_at_once, models_overview
    from domain.table_import import TableRefused

    require_staff(page, Role.ADMIN)
    form = await page.request.form(max_files=0, max_fields=10)
    await check_csrf(page, form)

    def run():
        with page.svc.sessions() as session:
            try:
                table = history_from_csv(str(form.get("csv") or ""), delimiter=str(form.get("delimiter") or "") or None,
                                         strip_control_characters=bool(form.get("strip_control_characters")))
                check, imported = import_history(session, table)
                if not check.ok:
                    raise check.refused()
            except TableRefused as refused:
                session.rollback()
                return None, import_refused(refused).detail, models_overview(session)
            session.commit()
            return imported, None, None

    imported, error, models = await run_in_threadpool(run)
    if error is not None:
        return page.render("routing_models.html", 422, models=models, error=error, csv=str(form.get("csv") or ""))
    learned = await learned_at_once(page.svc, imported)
    return page.redirect("/admin/perutean", done="1", imported=str(imported),
                         version=str(learned.model_version) if learned.model_version else None)


@router.post("/perutean/{version}")
async def activate_routing_model(page: PageDep, version: int) -> Response:
    from api.routing_models import activate_model

    caller = require_staff(page, Role.ADMIN)
    form = await page.request.form(max_files=0, max_fields=5)
    await check_csrf(page, form)

    def run() -> None:
        with page.svc.sessions() as session:
            activate_model(version, caller, page.svc, session)

    await run_in_threadpool(run)
    return page.redirect("/admin/perutean", done="1")


# --- connected bodies (issue 27): their sync and the forwards they have not received -------------


@router.get("/instansi-terhubung")
async def connected_bodies(page: PageDep, done: str = "") -> HTMLResponse:
    require_staff(page, Role.ADMIN)

    def read():
        with page.svc.sessions() as session:
            bodies = connections(session)
            return bodies, open_forwards(session), {b.agency_id: b.agency_name for b in bodies}
    bodies, forwards, names = await run_in_threadpool(read)
    return page.render("connected_admin.html", bodies=bodies, forwards=forwards, names=names, done=done)


@router.post("/instansi-terhubung/{key}/kirim-ulang")
async def resend_connected_forward(page: PageDep, key: str) -> Response:
    require_staff(page, Role.ADMIN)
    form = await page.request.form(max_files=0, max_fields=5)
    await check_csrf(page, form)
    with page.svc.sessions() as session:
        try:
            await resend_forward(page.svc, session, key)
        except Problem as problem:
            if problem.status == 404:
                raise PortalError(404, "error.not_found") from problem
            if problem.status == 409:
                raise PortalError(409, "connected.conflict") from problem
            raise
    return page.redirect("/admin/instansi-terhubung", done="1")
