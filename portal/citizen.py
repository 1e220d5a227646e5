"""Citizens' pages: the report form, the receipt, a case (private link or public), the public feed."""

from __future__ import annotations

import re
from urllib.parse import urlencode
from datetime import datetime, timezone
from collections.abc import Callable
from typing import Any

import structlog
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from api.attachments import (attachment_response, attachments_of, get_attachment)
from api.connected import add_body_system_notes, add_forwarding
from api.auth import Caller, reporter_caller
from domain.tokens import private_link, reporter_token_matches
from api.intake import open_case
from api import sessions as security
from portal import maps_available
from portal.i18n import DEFAULT_LANGUAGE, translator
from portal.facts import case_facts
from portal.following import request_follow, start_confirmation
from portal.forms import parse, store_files, uploaded_files
from portal.web import (TRACKING_ID, Page, PageDep, PortalError, check_csrf, describe_errors, form_action_key, form_choices,
                            portal_router, region_names, region_tree, safe_next)
from api.problems import Problem
from api.read_model import list_cases, view_of_row
from api import cases as actions
from domain.calendar import years_without_cuti_bersama
from api.schemas import RatingRequest, ReplyRequest, SupplementRequest
from db.boundaries import region_shapes
from db.directory import get_agency
from db.models import Agency, Complaint, TimelineEventRow
from api.similar import report_of_case, similar_cases, voices, without_outside_pin
from db.portal_models import CaseSupport
from domain.attachments import MAX_ATTACHMENTS_PER_CASE, Purpose
from domain.contacts import ContactRefused, normalise_email
from domain.enums import Action, Channel, Role, Status
from domain.lifecycle import actions_open_to
from domain.models import ComplaintDetails, SuggestionRequest, UnitSuggestion
from domain.similar import Report
from domain.visibility import (AGENCY_ROLES, PUBLIC as PUBLIC_VIEWER, PUBLISHED_VALUES, SEES_EVERYTHING, STAFF_ROLES, CaseView,
                               may_see_file, published)

router = portal_router()
log = structlog.get_logger("sp4n.portal")

FORM_FIELDS = ("title", "description", "report_type", "category", "province", "regency", "district",
               "address", "lat", "lon", "name", "email", "phone")
FEED_PAGE_SIZE = 20


@router.get("/")
async def home(page: PageDep) -> HTMLResponse:
    return page.render("home.html")


@router.get("/lacak")
async def track(page: PageDep, tracking_id: str = "") -> Response:
    tracking_id = tracking_id.strip().upper()
    if not TRACKING_ID.fullmatch(tracking_id):
        raise PortalError(404, "case.not_found")
    return page.redirect(f"/kasus/{tracking_id}")


# --- the report form -----------------------------------------------------------------------------


@router.get("/lapor")
async def report_form(page: PageDep) -> HTMLResponse:
    return render_form(page, {}, [])


def render_form(page: Page, values: dict[str, Any], errors: list[str], status: int = 200,
                similar: list | None = None) -> HTMLResponse:
    tree = region_tree()
    province, regency = values.get("province") or "", values.get("regency") or ""
    return page.render(
        "report_form.html", status,
        values=values, errors=errors, provinces=tree.provinces,
        regencies=tree.regencies.get(province, []), districts=tree.districts.get(regency, []),
        max_files=MAX_ATTACHMENTS_PER_CASE, similar=similar, map=map_settings(page), **form_choices(page.language),
    )


# --- similar reports while the form is filled in -------------------------------------------------


def typed_report(values: dict[str, str]) -> Report:
    """What similarity reads of the form as it is now (what does not parse is left out)."""
    region = next((values.get(level) for level in ("district", "regency", "province") if values.get(level)), None)
    try:
        lat, lon = float(values.get("lat") or ""), float(values.get("lon") or "")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValueError
    except ValueError:
        lat = lon = None  # type: ignore[assignment]
    return Report(title=(values.get("title") or "")[:200], description=(values.get("description") or "")[:5000],
                  region_code=region if region and region in region_names() else None,
                  category=values.get("category") or None, lat=lat, lon=lon)


def public_similar(page: Page, report: Report) -> list[tuple[Any, tuple[int, int]]]:
    """The open public reports most like the one being typed, with how many reported and supported
    each. Searches are limited per client (429): each reads a few hundred cases."""
    if len(report.title.strip()) < 3 and len(report.description.strip()) < 10:
        return []
    page.svc.similar_search_limiter.check(page.caller.client_key)  # counted in the shared store
    with page.svc.sessions() as session:
        found = similar_cases(session, without_outside_pin(report), PUBLIC_VIEWER)  # the form is the public's, whoever fills it
        counts = voices(session, [s.tracking_id for s in found])
    # A case not yet verified and forwarded shows its title only (no link, place, score or voices):
    # enough to keep a second reporter from reporting it again, nothing that is not public yet.
    return [(s, counts[s.tracking_id] if published(s.status) else None) for s in found]


@router.get("/lapor/serupa")
async def similar_reports(page: PageDep) -> HTMLResponse:
    """The form's "maybe already reported" panel, for its script (the same panel the no-JavaScript
    "check for similar reports" button renders into the form)."""
    values = {name: str(page.request.query_params.get(name) or "")[:5000] for name in
              ("title", "description", "category", "province", "regency", "district", "lat", "lon")}
    similar = await run_in_threadpool(public_similar, page, typed_report(values))
    return page.render("_similar.html", similar=similar)


@router.get("/wilayah/{code}")
async def region_children(code: str) -> JSONResponse:
    """The regencies of a province or the districts of a regency, for the form's script."""
    tree = region_tree()
    children = tree.regencies.get(code) or tree.districts.get(code) or []
    return JSONResponse([{"code": c, "name": n} for c, n in children],
                        headers={"Cache-Control": "public, max-age=86400"})


def region_map_view(code: str, lat: str, lon: str) -> dict[str, Any] | None:
    shapes = region_shapes()
    view = shapes.view(code) if shapes is not None and code in region_names() else None
    if view is None:
        return None
    try:
        point = float(lat), float(lon)
    except ValueError:
        point = None
    south, west, north, east = view.bounds
    return {"code": view.code, "name": view.name, "center": list(view.center),
            "bounds": [[south, west], [north, east]],
            "inside": shapes.contains(code, *point) if point else None}


@router.get("/wilayah/{code}/peta")
async def region_map(code: str, lat: str = "", lon: str = "") -> JSONResponse:
    """Where the form's map goes for the region chosen (its regency's or province's bounds and
    centre; a district's regency) and, given a pin, whether the pin lies inside (issue 22): the
    shapes stay on the server, the browser gets a few numbers."""
    found = await run_in_threadpool(region_map_view, code, lat, lon)
    if found is None:
        return JSONResponse({"detail": "Wilayah tidak dikenal."}, status_code=404)
    return JSONResponse(found, headers={"Cache-Control": "no-store" if lat else "public, max-age=86400"})


def details_from_form(values: dict[str, str], flags: set[str],
                      t: Callable[..., str] = translator(DEFAULT_LANGUAGE)) -> tuple[ComplaintDetails | None, list[str]]:
    """The report as the API would take it, or the reasons it cannot be one (for the person)."""
    chain = [values.get(level) or "" for level in ("province", "regency", "district")]
    region = next((code for code in reversed(chain) if code), None)
    names = region_names()
    if region and region not in names:
        return None, [t("form.region.unknown", region=region)]
    chosen = [code for code in chain if code]
    if any(not inner.startswith(outer + ".") for outer, inner in zip(chosen, chosen[1:])):
        return None, [t("form.region.mismatch")]
    location = None
    errors: list[str] = []
    if values.get("lat") or values.get("lon"):
        try:
            location = {"lat": float(values["lat"]), "lon": float(values["lon"]),
                        "address": values.get("address") or None}
        except (KeyError, ValueError):
            errors.append(t("form.coordinates.invalid"))
    elif values.get("address"):
        # Kept as the location, which an anonymous reporter's case never shows to the agency or
        # the public (domain/visibility.py): an address can be the reporter's own.
        location = {"address": values["address"]}
    contact = {k: values.get(k) or None for k in ("name", "email", "phone")}
    data = {
        "title": values.get("title", ""),
        "description": values.get("description", ""),
        "report_type": values.get("report_type") or "pengaduan",
        "category": values.get("category") or None,
        "region_code": region,
        "location": location,
        "anonymous": "anonymous" in flags,
        "confidential": "confidential" in flags,
        "channel": Channel.WEB.value,
        "reporter": contact if any(contact.values()) else None,
    }
    try:
        details = ComplaintDetails.model_validate(data)
    except ValidationError as error:
        return None, errors + [describe_errors(error)]
    return (details, []) if not errors else (None, errors)


@router.post("/lapor")
async def submit_report(page: PageDep) -> Response:
    form = await page.request.form(max_files=MAX_ATTACHMENTS_PER_CASE + 5, max_fields=60)
    values = {name: str(form.get(name) or "").strip() for name in FORM_FIELDS}
    values["description"] = str(form.get("description") or "").strip()
    flags = {name for name in ("anonymous", "confidential") if form.get(name)}
    values.update({name: "on" for name in flags})
    try:
        await check_csrf(page, form)
    except PortalError:  # an expired form: give the typed text back with a fresh token, send nothing
        return render_form(page, values, [page.t("error.csrf")], status=403)
    if form.get("refresh"):  # the no-JavaScript region picker: show the choices, keep the text
        return render_form(page, values, [])
    if form.get("similar"):  # the no-JavaScript "check for similar reports" button
        similar = await run_in_threadpool(public_similar, page, typed_report(values))
        return render_form(page, values, [], similar=similar)
    try:
        # Before decoding anyone's pictures; counted in the shared store (api/throttle.py).
        await run_in_threadpool(page.svc.rate_limiter.check, page.caller.client_key)
    except Problem as problem:
        return render_form(page, values, [problem.detail], status=problem.status)
    details, errors = details_from_form(values, flags, translator(page.language))
    contents, file_errors = await uploaded_files(page, form)
    errors += file_errors
    if details is None or errors:
        return render_form(page, values, errors, status=422)
    try:
        receipt = await open_case(page.svc, None, details, now=datetime.now(timezone.utc))
    except Problem as problem:  # Temporal unreachable: nothing was opened; the text stays with the person
        return render_form(page, values, [problem.detail], status=problem.status)
    reporter = reporter_caller(receipt.tracking_id)
    case = CaseView(tracking_id=receipt.tracking_id, status=receipt.status)  # the reporter's view of it now
    problems = await run_in_threadpool(store_files, page, case, contents, Purpose.REPORT, reporter)
    return page.redirect(f"/lapor/terkirim/{receipt.tracking_id}", token=receipt.reporter_token,
                         saved=str(len(contents) - len(problems)), failed=str(len(problems)) if problems else None,
                         pin="outside" if receipt.pin_outside_region else None)


@router.get("/lapor/terkirim/{tracking_id}")
async def receipt_page(page: PageDep, tracking_id: str, token: str = "", saved: int = 0, failed: int = 0,
                       pin: str = "") -> HTMLResponse:
    if not reporter_token_matches(page.svc.settings.secret_keyring, tracking_id, token):
        raise PortalError(404, "case.not_found")
    link = private_link(page.svc.settings.base_url, tracking_id,
                        page.svc.settings.secret_keyring)
    return page.render("receipt.html", tracking_id=tracking_id, private_link=link, saved=saved, failed=failed,
                       pin_outside=pin == "outside")


# --- one case ----------------------------------------------------------------------------------


def viewer_for(page: Page, tracking_id: str, token: str | None) -> Caller:
    """The reporter (a valid private link), else the signed-in staff member, else the public."""
    if token and reporter_token_matches(page.svc.settings.secret_keyring, tracking_id, token):
        return reporter_caller(tracking_id)
    return page.caller


class Unpublished(PortalError):
    """A case the public may not see yet (not verified and forwarded): 404, with the view kept so
    the case page can point an archived duplicate's visitors to its original."""

    def __init__(self, view: CaseView) -> None:
        super().__init__(404, "case.not_found")
        self.view = view


async def visible_case(page: Page, tracking_id: str, caller: Caller) -> CaseView:
    with page.svc.sessions() as session:
        try:
            view = await actions.current_view(tracking_id, caller, page.svc, session)
        except Problem as problem:
            if problem.status == 404:
                returned_at = await run_in_threadpool(returned_by_own_agency, session, tracking_id, caller)
                if returned_at is not None:  # the back button after "Bukan wewenang kami", an old link
                    raise PortalError(410, detail=page.t("case.returned_by_you", case=tracking_id,
                                                         date=page.instant(returned_at))) from problem
                raise PortalError(404, "case.not_found") from problem
            raise
    if caller.role is None and not published(view.status):  # the public: verified and forwarded only
        raise Unpublished(view)
    return view


def returned_by_own_agency(session, tracking_id: str, caller: Caller) -> datetime | None:
    """When the caller's agency returned this case it no longer sees ("not our authority"): the
    latest such return's time, so its staff read what became of it rather than "not found"."""
    if caller.role not in AGENCY_ROLES or not caller.agency_id:
        return None
    return session.scalar(select(func.max(TimelineEventRow.at)).where(
        TimelineEventRow.tracking_id == tracking_id, TimelineEventRow.action == Action.REROUTE.value,
        TimelineEventRow.actor_agency_id == caller.agency_id))


def public_original(page: Page, view: CaseView) -> str | None:
    """The original an archived duplicate was merged into, when the public may open it."""
    if view.archive_reason != "duplicate" or not view.duplicate_of:
        return None
    with page.svc.sessions() as session:
        original = session.get(Complaint, view.duplicate_of)
        return original.tracking_id if original is not None and not original.confidential \
            and published(original.status) else None


def case_extras(page: Page, view: CaseView, caller: Caller) -> dict[str, Any]:
    """What the case page shows beside the case: attachments, supports, units and the agency."""
    with page.svc.sessions() as session:
        attachments = [row for row in attachments_of(session, view.tracking_id)
                       if may_see_file(view, caller, row.added_by_role, row.purpose)]
        supports = session.scalar(select(func.count()).select_from(CaseSupport)
                                  .where(CaseSupport.tracking_id == view.tracking_id)) or 0
        supported = session.get(CaseSupport, (view.tracking_id, security.supporter_key(
            page.request, page.svc.settings.secret_key))) is not None
        if caller.role in STAFF_ROLES:  # "diteruskan ke sistem <body> (#id)" (issue 27)
            add_forwarding(session, [view], page.language)
        add_body_system_notes(session, view, caller)
        agency = get_agency(session, view.agency_id) if view.agency_id else None
        agency_name = agency.name if agency else None
        units = [(u.id, u.name) for u in agency.units if u.active] if agency else []
        reporters = voices(session, [view.tracking_id])[view.tracking_id][0]
        # A merged duplicate points to its original, unless that one is confidential.
        original = session.get(Complaint, view.duplicate_of) if view.duplicate_of else None
        merged_into = original.tracking_id if original is not None and not original.confidential else None
        # Who added each file: the reporter, or an officer of which body (and from which entry).
        adders = {row.added_by_agency_id for row in attachments if row.added_by_agency_id}
        adder_names = dict(session.execute(select(Agency.id, Agency.name).where(Agency.id.in_(adders))).all()) \
            if adders else {}
    evidence_of: dict[int, list] = {}
    for row in attachments:
        if row.event_seq is not None:
            evidence_of.setdefault(row.event_seq, []).append(row)
    suggested_units = []
    if units and Action.DISPOSE in actions_open_to(Status(view.status), caller.role, caller.agency_id, view.agency_id):
        suggested_units = suggest_units(page, view)
    return {"attachments": attachments, "supports": supports, "supported": supported,
            "agency_name": agency_name, "units": units, "reporters": reporters, "merged_into": merged_into,
            "suggested_units": suggested_units, "evidence_of": evidence_of, "adder_names": adder_names}


def suggest_units(page: Page, view: CaseView) -> list[UnitSuggestion]:
    """The dispose form's suggestions: the holding body's units ranked for this case's text."""
    from api.routing_models import routing_service

    request = SuggestionRequest(tracking_id=view.tracking_id, text=f"{view.title or ''}\n{view.description or ''}",
                                region_code=view.region_code)
    return routing_service(page.svc.sessions).suggest_units(request, view.agency_id or "")


@router.get("/kasus/{tracking_id}")
async def case_page(page: PageDep, tracking_id: str, token: str = "", done: str = "", failed: int = 0,
                    supported: str = "") -> HTMLResponse:
    caller = viewer_for(page, tracking_id, token or None)
    try:
        view = await visible_case(page, tracking_id, caller)
    except Unpublished as unpublished:
        # An archived duplicate's public page points to its original and shows nothing of its own.
        original = await run_in_threadpool(public_original, page, unpublished.view)
        if original is None:
            raise
        return page.render("case_merged.html", tracking_id=tracking_id, original=original)
    allowed = actions_open_to(Status(view.status), caller.role, caller.agency_id, view.agency_id)
    extras = await run_in_threadpool(case_extras, page, view, caller)
    matches = await run_in_threadpool(likely_duplicates, page, tracking_id, caller) if Action.ACCEPT in allowed else []
    # The one who verifies reads why the case came back, as on the queue card.
    facts = await run_in_threadpool(facts_of_case, page, tracking_id) if Action.ACCEPT in allowed else None
    warning_years = []
    if caller.role in SEES_EVERYTHING and view.deadlines is not None:
        warning_years = years_without_cuti_bersama(view.deadlines.model_dump().values(), await page.svc.amendments())
    return page.render(
        "case.html", case=view, caller=caller, token=token if caller.role == Role.REPORTER else "",
        allowed={a.value for a in allowed}, done=done, failed=failed,
        just_supported=supported, calendar_warning_years=warning_years, matches=matches, facts=facts, **extras,
    )


def facts_of_case(page: Page, tracking_id: str):
    """The facts the verification queue shows of this case (portal/facts.py), or None."""
    with page.svc.sessions() as session:
        row = session.get(Complaint, tracking_id)
        return case_facts(session, [row], now=datetime.now(timezone.utc)).get(tracking_id) if row else None


def likely_duplicates(page: Page, tracking_id: str, caller: Caller) -> list:
    """For the one who verifies: the open cases most like this one (as in the queue)."""
    with page.svc.sessions() as session:
        row = session.get(Complaint, tracking_id)
        return similar_cases(session, report_of_case(row, caller), caller) if row is not None else []


@router.get("/kasus/{tracking_id}/lampiran/{attachment_id}")
async def attachment_file(page: PageDep, tracking_id: str, attachment_id: str, token: str = "") -> Response:
    """A case's file for whoever may see the case: the reporter's link, its staff, or the public
    for a public case (images were stored without their metadata)."""
    caller = viewer_for(page, tracking_id, token or None)
    case = await visible_case(page, tracking_id, caller)

    def read() -> Response:
        with page.svc.sessions() as session:
            row = get_attachment(session, tracking_id, attachment_id)
        if row is None or not may_see_file(case, caller, row.added_by_role, row.purpose):
            raise PortalError(404, "case.not_found")
        return attachment_response(page.svc.storage, row)

    return await run_in_threadpool(read)


async def reporter_action(page: Page, tracking_id: str, make_call, outcome: str) -> Response:
    form = await page.request.form(max_files=0, max_fields=20)
    await check_csrf(page, form)
    token = str(form.get("token") or "")
    caller = viewer_for(page, tracking_id, token)
    if caller.role is None:
        raise PortalError(403, "error.forbidden")
    with page.svc.sessions() as session:
        await make_call(form, caller, session)
    return page.redirect(f"/kasus/{tracking_id}", token=token or None, done=outcome)


@router.post("/kasus/{tracking_id}/balas")
async def reply(page: PageDep, tracking_id: str) -> Response:
    async def call(form, caller, session):
        body = parse(ReplyRequest, message=str(form.get("message") or ""))
        await actions.reply(tracking_id, body, caller, page.svc, session, form_action_key(form))

    return await reporter_action(page, tracking_id, call, "replied")


@router.post("/kasus/{tracking_id}/nilai")
async def rate(page: PageDep, tracking_id: str) -> Response:
    async def call(form, caller, session):
        body = parse(RatingRequest, score=form.get("score") or 0, comment=str(form.get("comment") or "") or None)
        await actions.rate(tracking_id, body, caller, page.svc, session, form_action_key(form))

    return await reporter_action(page, tracking_id, call, "rated")


@router.post("/kasus/{tracking_id}/puas")
async def satisfied(page: PageDep, tracking_id: str) -> Response:
    """"Saya puas": the case completes now and the page opens on its rating form."""
    async def call(form, caller, session):
        await actions.satisfied(tracking_id, caller, page.svc, session, form_action_key(form))

    return await reporter_action(page, tracking_id, call, "satisfied")


@router.post("/kasus/{tracking_id}/lengkapi")
async def supplement(page: PageDep, tracking_id: str) -> Response:
    async def call(form, caller, session):
        body = parse(SupplementRequest, text=str(form.get("text") or ""))
        await actions.supplement(tracking_id, body, caller, page.svc, session, form_action_key(form))

    return await reporter_action(page, tracking_id, call, "supplemented")


# --- the public feed and support ----------------------------------------------------------------


def feed_rows(page: Page, q: str, region: str, agency_id: str, status: str, cursor: str | None):
    with page.svc.sessions() as session:
        rows, next_cursor = list_cases(
            session, status=status or None, agency_id=agency_id or None, report_type=None, overdue=None,
            q=q or None, submitted_from=None, submitted_to=None, cursor=cursor, limit=FEED_PAGE_SIZE,
            confidential=False, region_code=region or None, published_only=True,
        )
        views = [view_of_row(row, with_history=False) for row in rows]
        ids = [v.tracking_id for v in views]
        counts = dict(session.execute(
            select(CaseSupport.tracking_id, func.count()).where(CaseSupport.tracking_id.in_(ids))
            .group_by(CaseSupport.tracking_id)
        ).all()) if ids else {}
        agency_ids = {v.agency_id for v in views if v.agency_id}
        names = dict(session.execute(select(Agency.id, Agency.name).where(Agency.id.in_(agency_ids))).all()) \
            if agency_ids else {}
    from domain.visibility import PUBLIC, redact

    public = [redact(v, PUBLIC) for v in views]
    return [v for v in public if v is not None], counts, names, next_cursor


def feed_filters(q: str, region: str, agency_id: str, status: str) -> tuple[str, str, str, str]:
    """The public list's filters, as the list and its map both read them."""
    if status and status not in {s.value for s in Status}:
        status = ""
    # At most 8 words: each is a substring search over titles and descriptions.
    return " ".join(q[:200].split()[:8]), region[:13], agency_id[:64], status


@router.get("/publik")
async def feed(page: PageDep, q: str = "", region: str = "", agency_id: str = "", status: str = "",
               cursor: str | None = None) -> HTMLResponse:
    q, region, agency_id, status = feed_filters(q, region, agency_id, status)
    items, counts, names, next_cursor = await run_in_threadpool(feed_rows, page, q, region, agency_id, status, cursor)
    filters = urlencode({k: v for k, v in (("q", q), ("region", region), ("agency_id", agency_id),
                                           ("status", status)) if v})
    return page.render("feed.html", items=items, counts=counts, agency_names=names, next_cursor=next_cursor,
                       q=q, region=region, agency_id=agency_id, status=status,
                       provinces=region_tree().provinces, statuses=PUBLISHED_VALUES,
                       map_points=f"/publik/peta.json?{filters}" if filters else "/publik/peta.json",
                       map=map_settings(page))


def map_settings(page: Page) -> dict[str, str] | None:
    """What the page's map script needs (None: the libraries are not installed, no map)."""
    settings = page.svc.settings
    if not maps_available(settings):
        return None
    return {"tiles": settings.map_tile_url, "attribution": settings.map_attribution}


MAP_LIMIT = 2000


def map_points(page: Page, q: str, region: str, agency_id: str, status: str) -> list[dict[str, Any]]:
    with page.svc.sessions() as session:
        rows, _ = list_cases(
            session, status=status or None, agency_id=agency_id or None, report_type=None, overdue=None,
            q=q or None, submitted_from=None, submitted_to=None, cursor=None, limit=MAP_LIMIT,
            confidential=False, region_code=region or None, pinned_publicly=True, published_only=True,
        )
        return [{"id": r.tracking_id, "title": r.title, "status": page.status_label(r.status),
                 "lat": r.location_lat, "lon": r.location_lon} for r in rows]


@router.get("/publik/peta.json")
async def feed_map(page: PageDep, q: str = "", region: str = "", agency_id: str = "", status: str = "") -> JSONResponse:
    """The pins of the public list with the same filters (the newest 2,000): public cases whose
    reporter is not anonymous and left a pin."""
    points = await run_in_threadpool(map_points, page, *feed_filters(q, region, agency_id, status))
    return JSONResponse({"points": points, "limit": MAP_LIMIT}, headers={"Cache-Control": "no-store"})


def record_support(page: Page, tracking_id: str, email: str | None):
    """Count this browser's support of a public case (once); with an email address, ask its owner
    to confirm following it (portal/following.py). False: no such public case; else what to start
    to send the confirmation mail (None: nothing to send)."""
    with page.svc.sessions() as session:
        row = session.get(Complaint, tracking_id)
        # Only a public case takes support: verified and forwarded, never a merged or rejected one.
        if row is None or row.confidential or not published(row.status):
            return False
        session.add(CaseSupport(tracking_id=tracking_id,
                                supporter_hash=security.supporter_key(page.request, page.svc.settings.secret_key)))
        try:
            session.commit()
        except IntegrityError:  # this browser already supports it: counted once
            session.rollback()
        return request_follow(page, session, tracking_id, email) if email else None


def follower_email(page: Page, form: Any) -> str | None:
    """The supporter's address, checked and normalised like every contact (domain/contacts.py)."""
    email = str(form.get("email") or "").strip()
    if not email:
        return None
    try:
        return normalise_email(email[:320])
    except ContactRefused as refused:
        raise PortalError(422, "error.email") from refused


@router.post("/kasus/{tracking_id}/dukung")
async def support(page: PageDep, tracking_id: str) -> Response:
    form = await page.request.form(max_files=0, max_fields=10)
    await check_csrf(page, form)
    await supported(page, tracking_id, follower_email(page, form))
    return page.redirect(safe_next(str(form.get("next") or "")) or f"/kasus/{tracking_id}",
                         supported="follow" if form.get("email") else "1")


@router.post("/lapor/dukung/{tracking_id}")
async def support_instead(page: PageDep, tracking_id: str) -> Response:
    """"This is my problem too" from the report form: the form's whole content arrives (its
    button submits the report form here); only the support and the contact email are kept."""
    form = await page.request.form(max_files=MAX_ATTACHMENTS_PER_CASE + 5, max_fields=60)
    await check_csrf(page, form)
    await supported(page, tracking_id, follower_email(page, form))
    return page.redirect(f"/kasus/{tracking_id}", supported="follow" if form.get("email") else "1")


async def supported(page: Page, tracking_id: str, email: str | None) -> None:
    """Both support routes: limited per client (supports are counted from bounded clients), then
    the support and, with an address, the follow request and its one confirmation mail."""
    await run_in_threadpool(page.svc.support_limiter.check, page.caller.client_key)
    started = await run_in_threadpool(record_support, page, tracking_id, email)
    if started is False:
        raise PortalError(404, "case.not_found")
    await start_confirmation(page, started)
