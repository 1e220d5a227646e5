"""The HTTP API's app: `create_api(settings, temporal_client=...)`, with its middleware and lifespan.
`server.py` adds the portal and makes the ASGI app uvicorn serves (`server:app`)."""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import unquote_plus

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import Client

from api.attachments import Uploads
from api.deps import Services
from api.observe import RequestObserver
from api.sessions import ensure_bootstrap_admin
from api.problems import PROBLEM_JSON, PROBLEM_RESPONSES, install_problem_handlers, problem_response
from api.routes import agencies, calendar, complaints, open311, open_data, operations, routing, sms, tokens
from api.routes import attachments, chat, codec, connected, notifications, privacy, webhooks
from api.storage import storage_from_settings
from api.temporal import TemporalGateway
from api.throttle import SignInThrottle, SubmissionRateLimiter, ThrottleStore
from config import Settings, get_settings
from db.calendar import AmendmentBook
from db.migrate import prepare_database
from db.session import make_engine, make_sessionmaker
from api.metrics import ReadModelGauges
from telemetry.metrics import api_registry
from telemetry.tracing import configure as configure_telemetry

log = structlog.get_logger("sp4n.api")

# Paths whose bodies carry files: they may be as large as settings.max_upload_body_bytes (each
# file's own limit is checked where it is stored, api/attachments.py). Add a portal form here.
UPLOAD_PATHS: tuple[re.Pattern[str], ...] = (
    re.compile(r"^/v1/complaints/[^/]+/attachments$"),
    re.compile(r"^/lapor$"),
    re.compile(r"^/kasus/[^/]+/tindak-lanjut$"),  # the portal's follow-up with evidence
    re.compile(r"^/open311/v2/(requests|servicerequestupdates)\.[a-z]+$"),  # Open311 with its files
    re.compile(r"^/codec/(workflows/[^/]+/)?(de|en)code$"),  # Temporal's UI sends a whole history's payloads at once
)


class BodySizeLimit:
    """413 for bodies over the limit, whether announced by Content-Length or streamed; the upload
    paths have a limit of their own."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, upload_max_bytes: int | None = None,
        upload_paths: tuple[re.Pattern[str], ...] = UPLOAD_PATHS,
    ) -> None:
        self.app, self.max_bytes = app, max_bytes
        self.upload_max_bytes, self.upload_paths = upload_max_bytes or max_bytes, upload_paths

    def limit_for(self, path: str) -> int:
        if any(pattern.match(path) for pattern in self.upload_paths):
            return self.upload_max_bytes
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.limit_for(scope["path"])
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._too_large(scope, receive, send, max_bytes)
            return
        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise _TooLarge(max_bytes)
            return message

        try:
            await self.app(scope, counted_receive, send)
        except _TooLarge:
            await self._too_large(scope, receive, send, max_bytes)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        response = problem_response(
            Request(scope), 413, f"Isi permintaan melebihi {max_bytes} byte."
        )
        await response(scope, receive, send)


class _TooLarge(StarletteHTTPException):
    """An HTTPException, so that FastAPI, reading the body for a route, passes it on as a 413
    rather than wrapping it into its own 400 ('There was an error parsing the body')."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"Isi permintaan melebihi {max_bytes} byte.")


class RefuseControlCharacters:
    """422 for a request whose address (path, query) or a header carries a control character
    (domain/text.py's rule; nothing in an address or header needs even a tab): such a value
    would reach a database query (PostgreSQL refuses NUL) or be echoed in a page or XML."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (where := self.control_character_in(scope)):
            # Open311 clients read bad input as GeoReport's 400 (api/routes/open311/), others 422.
            status = 400 if scope.get("path", "").startswith("/open311/") else 422
            response = problem_response(Request(scope), status, f"{where} berisi karakter kendali (control character).",
                                        errors=[{"loc": [where], "msg": "control character not allowed",
                                                 "type": "value_error"}])
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    def control_character_in(scope: Scope) -> str | None:
        if CONTROL.search(scope.get("path", "")):
            return "path"
        query = scope.get("query_string", b"").decode("latin-1")
        if CONTROL.search(unquote_plus(query, errors="replace")):
            return "query"
        for name, value in scope.get("headers") or []:
            if CONTROL_BYTES.search(value):
                return "header " + name.decode("latin-1")
        return None


CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
CONTROL_BYTES = re.compile(b"[\x00-\x08\x0a-\x1f\x7f]")


def build_services(settings: Settings, sessions, temporal_client: Client | None = None) -> Services:
    """What the routes (and the chat doors' activities in the worker, api/chat.py) work with."""
    throttle = ThrottleStore(sessions, settings.secret_key)
    return Services(
        settings=settings,
        sessions=sessions,
        calendar=AmendmentBook(sessions),
        temporal=TemporalGateway(
            settings.temporal_address,
            settings.temporal_namespace,
            settings.temporal_task_queue,
            settings.dependency_timeout_seconds,
            client=temporal_client,
            keys=settings.payload_keys,
            sessions=sessions,
        ),
        rate_limiter=SubmissionRateLimiter(throttle, settings.submission_rate_limit_per_minute),
        similar_search_limiter=SubmissionRateLimiter(
            throttle, settings.similar_search_per_minute, purpose="similar", what="pencarian laporan serupa",
            what_en="searches for similar reports"),
        support_limiter=SubmissionRateLimiter(
            throttle, settings.support_per_minute, purpose="support", what="dukungan", what_en="supports"),
        throttle=throttle,
        sign_in=SignInThrottle(throttle, settings),
        storage=storage_from_settings(settings),
        uploads=Uploads(settings, throttle),
    )


def create_api(
    settings: Settings | None = None, temporal_client: Client | None = None, *, configure_process: bool = False
) -> FastAPI:
    """The API's app. `configure_process`: set up this process's logs and traces at start (the app
    uvicorn serves, `server:app`; tests keep pytest's logging)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if configure_process:
            configure_telemetry(settings, "sp4n-api")
        if settings.auto_migrate:
            prepare_database(settings.database_url)
        engine = make_engine(settings.database_url)
        if settings.sp4n_admin_email and settings.sp4n_admin_password:
            with make_sessionmaker(engine)() as session:
                if ensure_bootstrap_admin(session, settings.sp4n_admin_email, settings.sp4n_admin_password):
                    session.commit()
                    log.info("portal administrator account created", email=settings.sp4n_admin_email)
        app.state.services = build_services(settings, make_sessionmaker(engine), temporal_client)
        app.state.read_model_metrics = CollectorRegistry(auto_describe=False)
        app.state.read_model_metrics.register(
            ReadModelGauges(app.state.services.sessions, settings.metrics_read_model_cache_seconds)
        )
        yield
        engine.dispose()

    app = FastAPI(
        title="SP4N Engine API",
        version="1.0.0",
        summary="Pengaduan pelayanan publik: lapor, verifikasi, tindak lanjut, selesai — dengan tenggat yang ditegakkan.",
        lifespan=lifespan,
        # FastAPI's own OpenTelemetry spans record the query string, and private links carry
        # reporter tokens there: the request span is api/observe.py's (route template, status).
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    install_problem_handlers(app)

    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    async def _database_down(request: Request, error: Exception):
        log.warning("database unavailable", error=str(error).splitlines()[0])
        return problem_response(request, 503, "Basis data tidak tersedia; coba lagi sebentar lagi.",
                                headers={"Retry-After": "5"})

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes,
                       upload_max_bytes=settings.max_upload_body_bytes)
    app.add_middleware(RefuseControlCharacters)
    # Outside it: the access log, request metrics and the request's span (pure ASGI, api/observe.py).
    app.add_middleware(RequestObserver)
    app.get("/metrics", include_in_schema=False)(metrics_endpoint)

    for module in (complaints, tokens, agencies, calendar, operations, routing, open311, sms, open_data, chat):
        app.include_router(module.router)
    app.include_router(attachments.router)
    app.include_router(attachments.media_router)
    app.include_router(open311.staff_router)
    app.include_router(notifications.router)
    app.include_router(webhooks.router)
    app.include_router(connected.router)
    app.include_router(codec.router)
    app.include_router(privacy.router)
    app.add_middleware(codec.CodecCORS, origins=settings.codec_cors_origin_list)
    app.openapi = lambda: _openapi(app)
    return app


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus text format: this process's request metrics and the read model's gauges."""
    token = request.app.state.services.settings.metrics_token
    if token:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return problem_response(request, 401, "Gunakan header 'Authorization: Bearer <METRICS_TOKEN>'.",
                                    headers={"WWW-Authenticate": "Bearer"})
    body = generate_latest(api_registry) + await run_in_threadpool(
        generate_latest, request.app.state.read_model_metrics
    )
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _openapi(app: FastAPI) -> dict:
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = {
            "title": "Problem",
            "description": "RFC 9457 problem details (" + PROBLEM_JSON + ")",
            "type": "object",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {"type": "string", "examples": ["urn:sp4n:conflict"]},
                "title": {"type": "string", "examples": ["Tindakan tidak sesuai dengan status laporan"]},
                "status": {"type": "integer", "examples": [409]},
                "detail": {"type": "string", "examples": ["cannot accept a case that is awaiting_agency"]},
                "instance": {"type": "string", "examples": ["/v1/complaints/LAP-7K2M9QX4TD/verification"]},
                "errors": {"type": "array", "items": {"type": "object"}},
            },
        }
        # FastAPI documents its own 422 as application/json HTTPValidationError on every operation
        # with parameters; the API answers problem+json (api/problems.py), so say so.
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                responses = operation.get("responses", {}) if isinstance(operation, dict) else {}
                if "application/json" in responses.get("422", {}).get("content", {}):
                    responses["422"] = PROBLEM_RESPONSES[422]
        if "HTTPValidationError" not in json.dumps(schema.get("paths", {})):
            for name in ("HTTPValidationError", "ValidationError"):
                schema["components"]["schemas"].pop(name, None)
        app.openapi_schema = schema
    return app.openapi_schema

