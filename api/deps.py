"""Dependencies shared by the routes: settings, database session, Temporal, the caller."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from api.auth import Caller, caller_for_token, public_caller
from api.problems import Problem
from api.storage import AttachmentStorage
from api.temporal import TemporalGateway
from api.throttle import SignInThrottle, SubmissionRateLimiter, ThrottleStore
from db.calendar import AmendmentBook
from domain.calendar import DayAmendment
from config import Settings
from domain.enums import Role

if TYPE_CHECKING:
    from api.attachments import Uploads


@dataclass
class Services:
    settings: Settings
    sessions: sessionmaker[Session]
    temporal: TemporalGateway
    rate_limiter: SubmissionRateLimiter  # shared by every API process (api/throttle.py)
    similar_search_limiter: SubmissionRateLimiter  # the portal's similar-reports search, per client
    support_limiter: SubmissionRateLimiter  # supports (and follow requests) per client (portal/following.py)
    throttle: ThrottleStore  # the shared counters, for limits of other windows (a day's follow requests)
    sign_in: SignInThrottle
    storage: AttachmentStorage  # attachments' bytes (api/storage.py)
    uploads: Uploads  # what a file passes before it is stored (api/attachments.py)
    calendar: AmendmentBook  # calendar amendments in force (db/calendar.py)

    async def amendments(self) -> tuple[DayAmendment, ...]:
        """The calendar amendments in force; the database is read on the thread pool, at most every
        second (intake's hot path)."""
        cached = self.calendar.fresh()
        return cached if cached is not None else await run_in_threadpool(self.calendar.load)


async def services(request: Request) -> Services:
    # async: a plain `def` dependency costs a thread-pool hop per request (py-spy under bench
    # intake: ~7 % of the API's samples). It was once reverted because the read-model outage test
    # then failed: the cause was the worker, whose event loop spent ~10-20 s rendering one logged
    # exception as a rich traceback with locals (structlog's development default with `rich`
    # installed), so queries timed out whenever a request met that window; telemetry/tracing.py
    # renders exceptions as plain text (bench/RESULTS.md, intake).
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(services)]


def db_session(svc: ServicesDep) -> Iterator[Session]:
    with svc.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(db_session)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "Gunakan header 'Authorization: Bearer <token>'.", headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


def current_caller(request: Request, svc: ServicesDep, session: SessionDep) -> Caller:
    token = bearer_token(request)
    if token is None:
        return public_caller(request.client.host if request.client else None)
    caller = caller_for_token(
        session,
        token,
        admin_token=svc.settings.sp4n_admin_token,
        secret_keyring=svc.settings.secret_keyring,
        tracking_id=request.path_params.get("tracking_id"),
    )
    if caller is None:
        raise Problem(401, "Token tidak valid, sudah dicabut, atau bukan untuk laporan ini.",
                      headers={"WWW-Authenticate": "Bearer"})
    return caller


CallerDep = Annotated[Caller, Depends(current_caller)]


def require_roles(*roles: Role):
    def check(caller: CallerDep) -> Caller:
        if caller.role is None:
            raise Problem(401, "Diperlukan token.", headers={"WWW-Authenticate": "Bearer"})
        if caller.role not in roles:
            raise Problem(403, f"Peran {caller.role} tidak boleh melakukan ini.")
        return caller

    return check


AdminDep = Annotated[Caller, Depends(require_roles(Role.ADMIN))]
StaffDep = Annotated[Caller, Depends(require_roles(Role.ADMIN, Role.AGENCY_ADMIN, Role.OFFICER, Role.OBSERVER))]
