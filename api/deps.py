"""Dependencies shared by the routes: settings, database session, Temporal, the caller."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from api.auth import Caller, caller_for_token, public_caller
from api.problems import Problem
from api.storage import AttachmentStorage
from api.temporal import TemporalGateway
from config import Settings
from domain.enums import Role


class SubmissionRateLimiter:
    """A sliding one-minute window per client, in this process (enough for one API replica)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: dict[str, deque[float]] = defaultdict(deque)

    def check(self, client_key: str) -> None:
        if self.per_minute <= 0:
            return
        now = time.monotonic()
        if len(self._seen) > 10_000:  # forget clients quiet for a minute (keys are anyone's)
            for key in [k for k, w in self._seen.items() if not w or now - w[-1] > 60]:
                del self._seen[key]
        window = self._seen[client_key]
        while window and now - window[0] > 60:
            window.popleft()
        if len(window) >= self.per_minute:
            retry_after = max(1, int(60 - (now - window[0])) + 1)
            raise Problem(429, f"Batas {self.per_minute} laporan per menit terlampaui.",
                          headers={"Retry-After": str(retry_after)})
        window.append(now)


@dataclass
class Services:
    settings: Settings
    sessions: sessionmaker[Session]
    temporal: TemporalGateway
    rate_limiter: SubmissionRateLimiter
    storage: AttachmentStorage  # attachments' bytes (api/storage.py)


def services(request: Request) -> Services:
    # A plain `def` costs a thread-pool hop per request (py-spy under bench intake: ~7 % of the
    # API's samples), but `async def` here made tests/reliability/test_database_outage.py fail
    # every time (a public GET during the read-model outage timed out on its workflow query): kept
    # sync until that is understood.
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
        secret_key=svc.settings.secret_key,
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
