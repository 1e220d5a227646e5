"""What every portal page shares: templates, language, the signed-in account, CSRF, errors."""

from __future__ import annotations

import re
import secrets
from collections import defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from fastapi.routing import APIRoute
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from api.auth import Caller, public_caller
from config import tile_origin
from api.deps import Services, ServicesDep
from api import sessions as security
from api.problems import TITLES, Problem
from portal.i18n import (CATEGORIES, CATEGORY_NAMES, CLOCKS, DEFAULT_LANGUAGE, REASONS, format_instant,
                             pick_language, translator)
from db.directory import DISTRICTS_CSV, REGIONS_CSV, load_regions
from db.portal_models import StaffAccount
from domain.calendar import NATIONAL_ZONE
from domain.enums import ReportType, Role, Status
from domain.routing_reasons import in_language as routing_reason_in
from domain.visibility import CaseView

HERE = Path(__file__).parent

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


class PortalError(Exception):
    """Shown to the person as a page (with its HTTP status), never as JSON or a stack trace."""

    def __init__(self, status: int, message_key: str | None = None, *, detail: str | None = None,
                 redirect_to_sign_in: bool = False) -> None:
        super().__init__(detail or message_key)
        self.status, self.message_key, self.detail = status, message_key, detail
        self.redirect_to_sign_in = redirect_to_sign_in


@dataclass
class Page:
    """One request's page context: who, in which language, with which CSRF token."""

    request: Request
    svc: Services
    language: str
    account: StaffAccount | None
    flash: list[str] = field(default_factory=list)

    @property
    def caller(self) -> Caller:
        if self.account is not None:
            return security.caller_of(self.account)
        return public_caller(self.request.client.host if self.request.client else None)

    @property
    def role(self) -> Role | None:
        return Role(self.account.role) if self.account else None

    def t(self, key: str, **values: object) -> str:
        return translator(self.language)(key, **values)

    def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        request = self.request
        body = templates.get_template(template).render(
            page=self,
            t=translator(self.language),
            lang=self.language,
            csrf=security.csrf_token(request, self.svc.settings.secret_key),
            csrf_field=security.CSRF_FIELD,
            action_key=new_action_key,
            action_key_field=ACTION_KEY_FIELD,
            **context,
        )
        response = HTMLResponse(body, status_code=status_code)
        self.finish(response)
        return response

    def redirect(self, url: str, **params: str | None) -> RedirectResponse:
        query = {k: v for k, v in params.items() if v is not None}
        response = RedirectResponse(url + (("?" + urlencode(query)) if query else ""), status_code=303)
        self.finish(response)
        return response

    def finish(self, response: Response) -> None:
        security.set_browser_cookie(self.request, response, self.svc.settings)
        if self.request.query_params.get("lang") in ("id", "en"):
            response.set_cookie(security.LANGUAGE_COOKIE, self.language, max_age=365 * 24 * 3600,
                                **security.cookie_options(self.request, self.svc.settings))
        # Private links carry the reporter token in the URL: never pass it on to another site.
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        # Map tiles come from the configured tile server (MAP_TILE_URL, checked by Settings).
        tiles = tile_origin(self.svc.settings.map_tile_url)
        response.headers["Content-Security-Policy"] = (
            f"default-src 'self'; img-src 'self' data: {tiles}; style-src 'self'; script-src 'self'; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
        )
        response.headers.setdefault("Cache-Control", "no-store")

    def outcome(self) -> "Outcome | None":
        """What the action that led here did, said in the person's words with a link to what
        comes next (`?done=<kind>&case=<id>&to=<body, unit, original or reason>`); None for a
        plain page. Names are looked up here, never taken from the address."""
        kind = self.request.query_params.get("done", "")
        if kind not in OUTCOME_KINDS:
            return None
        return outcome_of(self, kind, self.request.query_params.get("case", ""),
                          self.request.query_params.get("to", ""))

    def switch_language_url(self) -> str:
        other = "en" if self.language == "id" else "id"
        params = dict(self.request.query_params)
        params["lang"] = other
        return f"{same_site_path(self.request.url.path)}?{urlencode(params)}"

    # --- formatting used by templates ---------------------------------------------------------
    def instant(self, value: datetime | str | None, zone: str | None = None) -> str:
        """An instant as people read it: in `zone` if given, else as stored (UTC → WIB)."""
        if value is None:
            return "-"
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if zone is not None or not value.utcoffset():
            value = value.astimezone(ZoneInfo(zone or NATIONAL_ZONE))
        return format_instant(value.isoformat(), self.language)

    def day(self, value: date) -> str:
        """A calendar day as people read it: 'Jumat, 25 Des 2026'."""
        from domain.messages import MONTHS

        months = MONTHS.get(self.language, MONTHS[DEFAULT_LANGUAGE])
        return f"{WEEKDAYS[self.language if self.language in WEEKDAYS else DEFAULT_LANGUAGE][value.weekday()]}, " \
               f"{value.day} {months[value.month - 1]} {value.year}"

    def status_label(self, status: str | None) -> str:
        return self.t(f"status.{status}") if status else "-"

    def category_label(self, category: str | None) -> str:
        if not category:
            return "-"
        return CATEGORY_NAMES.get(self.language, CATEGORY_NAMES[DEFAULT_LANGUAGE]).get(category, category)

    def reason_label(self, reason: str) -> str:
        return REASONS.get(self.language, REASONS[DEFAULT_LANGUAGE]).get(reason, reason)

    def routing_reason(self, reason: str) -> str:
        """Why a body or unit is suggested, in this page's language (stored in Indonesian)."""
        return routing_reason_in(reason, self.language)

    def note_text(self, action: str, note: str) -> str:
        """A timeline note as people read it: a rejection's reason code in words, a return's
        suggested body by name (domain.lifecycle.reroute_note wrote "reason (→ body-id)")."""
        if action in ("reject", "hold_expired") and note in REASONS[DEFAULT_LANGUAGE]:
            return self.reason_label(note)
        if action == "reroute":
            from domain.lifecycle import reroute_note_parts

            reason, suggested = reroute_note_parts(note)
            if suggested:
                return f"{reason} ({self.t('case.reroute.suggested', body=agency_name(self, suggested))})"
        return note

    def clock_label(self, clock: str) -> str:
        return CLOCKS.get(self.language, CLOCKS[DEFAULT_LANGUAGE]).get(clock, clock)

    @staticmethod
    def deadline_of(case: CaseView) -> datetime | None:
        """The deadline running now: whose turn it is decides which one."""
        deadlines = case.deadlines
        if deadlines is None or case.status is None:
            return None
        return {
            Status.AWAITING_VERIFICATION.value: deadlines.verification_due,
            Status.ON_HOLD.value: deadlines.hold_ends,
            Status.AWAITING_AGENCY.value: deadlines.response_due or deadlines.resolution_due,
            Status.AWAITING_REPORTER.value: deadlines.silence_ends,
        }.get(case.status)

    def region_name(self, code: str | None) -> str:
        return region_names().get(code or "", code or "-")

    def region_path(self, code: str | None) -> str:
        """The region in full, smallest first: 'Pahandut, Kota Palangkaraya, Kalimantan Tengah'."""
        if not code:
            return "-"
        parts = code.split(".")
        return ", ".join(self.region_name(".".join(parts[:n])) for n in range(len(parts), 0, -1))

    def days_waiting(self, since: datetime | None) -> int:
        from portal.facts import days_between

        return days_between(since, datetime.now(timezone.utc))

    def remaining(self, due: datetime | None) -> str:
        """'2 hari 3 jam' until `due`, for people without JavaScript (the page's script counts down)."""
        if due is None:
            return "-"
        seconds = int((due - datetime.now(timezone.utc)).total_seconds())
        if seconds <= 0:
            return self.t("case.deadline.passed")
        days, rest = divmod(seconds, 86400)
        hours, rest = divmod(rest, 3600)
        parts = []
        if days:
            parts.append(f"{days} {self.t('unit.days')}")
        if hours or days:
            parts.append(f"{hours} {self.t('unit.hours')}")
        if not days:
            parts.append(f"{rest // 60} {self.t('unit.minutes')}")
        return " ".join(parts)


WEEKDAYS = {"id": ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"),
            "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")}


# --- what an action did (the page it lands on says so) ----------------------------------------------

OUTCOME_KINDS = frozenset({"forwarded", "merged", "held", "rejected", "returned", "disposed", "followed_up",
                           "replied", "supplemented", "rated", "satisfied", "amended"})
TRACKING_ID = re.compile(r"[A-Z0-9][A-Z0-9-]{2,63}")


@dataclass(frozen=True)
class Outcome:
    kind: str
    message: str
    link: str | None = None
    link_text: str | None = None


def outcome_url(path: str, kind: str, case: str | None = None, to: str | None = None, **params: str | None) -> str:
    """The landing address after an action (Page.outcome reads it back)."""
    query = {"done": kind, "case": case, "to": to} | params
    return f"{path}?{urlencode({k: v for k, v in query.items() if v})}"


def outcome_of(page: Page, kind: str, case: str, to: str) -> Outcome:
    t = page.t
    case = case if TRACKING_ID.fullmatch(case) else ""
    to = to[:100]
    case_link = f"/kasus/{case}" if case else None
    if kind == "forwarded":
        body = agency_name(page, to)
        return Outcome(kind, t("done.forwarded", case=case, body=body), case_link, t("done.open_case"))
    if kind == "merged":
        original = to if TRACKING_ID.fullmatch(to) else ""
        return Outcome(kind, t("done.merged", case=case, original=original), f"/kasus/{original}" if original else None,
                       t("done.open_original", original=original))
    if kind == "held":
        return Outcome(kind, t("done.held", case=case), case_link, t("done.open_case"))
    if kind == "rejected":
        return Outcome(kind, t("done.rejected", case=case, reason=page.reason_label(to) if to else "-"), case_link,
                       t("done.open_case"))
    if kind == "returned":
        message = t("done.returned", case=case)
        if to:
            message += " " + t("done.returned.suggested", body=agency_name(page, to))
        return Outcome(kind, message)
    if kind == "disposed":
        return Outcome(kind, t("done.disposed", unit=unit_name(page, to)), "/staf", t("done.back_to_inbox"))
    if kind == "followed_up":
        return Outcome(kind, t("done.followed_up"), "/staf" if page.account else None, t("done.back_to_inbox"))
    if kind == "amended":
        return Outcome(kind, t("done.amended", count=to if to.isdigit() else "0"))
    if kind == "satisfied":
        return Outcome(kind, t("done.satisfied"), "#rate", t("done.rate_now"))
    return Outcome(kind, t(f"done.{kind}"))


def agency_name(page: Page, agency_id: str) -> str:
    from db.models import Agency

    if not agency_id:
        return "-"
    with page.svc.sessions() as session:
        return session.scalar(select(Agency.name).where(Agency.id == agency_id)) or agency_id


def unit_name(page: Page, unit_id: str) -> str:
    from db.models import AgencyUnit

    if not unit_id:
        return "-"
    with page.svc.sessions() as session:
        return session.scalar(select(AgencyUnit.name).where(AgencyUnit.id == unit_id)) or unit_id


async def page_of(request: Request, svc: ServicesDep) -> Page:
    language = pick_language(request.query_params.get("lang"), request.cookies.get(security.LANGUAGE_COOKIE))
    account = None
    token = request.cookies.get(security.SESSION_COOKIE)
    if token:
        def look_up() -> StaffAccount | None:
            with svc.sessions() as session:
                found = security.signed_in_account(session, token)
                if found is not None:
                    session.expunge(found)
                return found

        account = await run_in_threadpool(look_up)
    security.browser_id(request)
    return Page(request=request, svc=svc, language=language, account=account)


PageDep = Annotated[Page, Depends(page_of)]


def safe_next(value: str) -> str:
    """A place on this site to go back to (never another site: no scheme, no '//' or '\\', and
    nothing a browser would drop first to make one, like a tab or a line break)."""
    if not value.startswith("/") or value.startswith(("//", "/\\")) or "\\" in value or NOT_IN_A_LINK.search(value):
        return ""
    return value


# Control characters and whitespace: browsers strip tabs and line breaks from a link before
# reading it, so "/\t/evil.example" would go to another site.
NOT_IN_A_LINK = re.compile(r"[\x00-\x20\x7f-\x9f]")


def same_site_path(path: str) -> str:
    """A link to this path on this site, whatever the request's path was (`//evil.example`
    would be another site's address): leading slashes and backslashes collapse into one."""
    return "/" + path.lstrip("/\\")


def describe_errors(error: ValidationError) -> str:
    """Pydantic's complaints about a form, as one line for the person."""
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())


def require_staff(page: Page, *roles: Role) -> Caller:
    if page.account is None:
        raise PortalError(401, "error.signin_required", redirect_to_sign_in=True)
    if roles and page.role not in roles:
        raise PortalError(403, "error.forbidden")
    return page.caller


# Every rendered action form carries a key of its own (`action_key()` in the templates): sent twice
# (a double click, a resubmitted page) it is one Idempotency-Key, so the action applies once.
ACTION_KEY_FIELD = "idempotency_key"


def new_action_key() -> str:
    return secrets.token_urlsafe(18)


def form_action_key(form: Any) -> str | None:
    """The Idempotency-Key a submitted action form carries (None from an old page without one)."""
    return str(form.get(ACTION_KEY_FIELD) or "").strip()[:200] or None


async def check_csrf(page: Page, form: Any) -> None:
    if not security.csrf_valid(page.request, page.svc.settings, form.get(security.CSRF_FIELD)):
        raise PortalError(403, "error.csrf")


# --- regions for the picker ---------------------------------------------------------------------


@dataclass(frozen=True)
class RegionTree:
    provinces: list[tuple[str, str]]
    regencies: dict[str, list[tuple[str, str]]]  # by province code
    districts: dict[str, list[tuple[str, str]]]  # by regency code


@lru_cache(maxsize=1)
def region_tree() -> RegionTree:
    provinces, regencies, districts = [], defaultdict(list), defaultdict(list)
    for region in load_regions(REGIONS_CSV):
        if region.level == 1:
            provinces.append((region.code, region.name))
        elif region.level == 2:
            regencies[region.code[:2]].append((region.code, region.name))
    for district in load_regions(DISTRICTS_CSV):
        districts[district.code[:5]].append((district.code, district.name))
    return RegionTree(sorted(provinces, key=lambda p: p[1]), dict(regencies), dict(districts))


@lru_cache(maxsize=1)
def region_names() -> dict[str, str]:
    tree = region_tree()
    names = dict(tree.provinces)
    for group in (tree.regencies, tree.districts):
        for items in group.values():
            names.update(items)
    return names


def form_choices(language: str) -> dict[str, Any]:
    return {
        "report_types": [(t.value, translator(language)(f"type.{t.value}")) for t in ReportType],
        "categories": [(c, CATEGORY_NAMES[language].get(c, c)) for c in CATEGORIES],
        "statuses": [s.value for s in Status],
    }


class PortalRoute(APIRoute):
    """A portal route: refusals become pages in the person's language, never problem+json."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except PortalError as error:
                return await error_page(request, error.status, error.message_key, error.detail,
                                        sign_in=error.redirect_to_sign_in)
            except Problem as problem:
                # A conflict's or refusal's detail is the workflow's technical reason: say it in the
                # person's words.
                key = {409: "error.conflict", 403: "error.forbidden"}.get(problem.status)
                if problem.type == "urn:sp4n:outcome-unknown":  # a form carries its own key: resend it
                    key = "error.outcome_unknown"
                return await error_page(request, problem.status, key, problem.detail, headers=problem.headers)
            except RequestValidationError:
                return await error_page(request, 422, "error.invalid_input", None)
            except StarletteHTTPException as error:  # the form parser's refusals (too many files, ...)
                return await error_page(request, error.status_code, "error.form", None)

        return handle


async def error_page(request: Request, status: int, message_key: str | None, detail: str | None, *,
                     sign_in: bool = False, headers: dict[str, str] | None = None) -> Response:
    page = await page_of(request, request.app.state.services)
    if sign_in:  # back to the page after sign-in: a form's address is no page (POST only)
        back = request.url.path if request.method == "GET" else CASE_PAGE.match(request.url.path)
        return page.redirect("/masuk", next=back if isinstance(back, str) else (back.group(0) if back else "/"))
    response = page.render("error.html", status, message=page.t(message_key) if message_key else detail,
                           title=TITLES.get(status) if status in (404, 409, 413, 422, 429, 503) else None)
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            response.headers[name] = value
    return response


CASE_PAGE = re.compile(r"^/kasus/[^/]+")
API_PREFIXES = ("/v1/", "/open311/", "/healthz", "/docs", "/redoc", "/openapi.json", "/static/", "/vendor/")


def wants_page(request: Request) -> bool:
    """A person's browser asking for a page (not an API client, not a file)."""
    path = request.url.path
    return not path.startswith(API_PREFIXES) and "text/html" in request.headers.get("accept", "")


def portal_router(**options: Any) -> APIRouter:
    return APIRouter(include_in_schema=False, route_class=PortalRoute, **options)
