"""Who is at the browser, and proof that a form came from our own page.

- Every browser gets a random id in an HttpOnly cookie. The CSRF token of its forms is an HMAC of
  that id under the server's secret: a page of another site can neither read the cookie nor
  compute the token, so a forged POST fails (double-submit, bound to the secret).
- Staff sign in with email and password (argon2id hashes only); a signed-in browser holds a random
  session id whose SHA-256 is the stored key. Sign-in gives the browser a new id, so a CSRF token
  seen before sign-in is worthless after it.
- "Dukung" counts a digest of the browser id, once per case.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Request, Response
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.auth import Caller, hash_token
from config import Settings
from db.portal_models import StaffAccount, WebSession
from domain.tokens import constant_time_equal, keyed_digest
from domain.text import forbidden_character
from domain.enums import Role

BROWSER_COOKIE = "sp4n_browser"
SESSION_COOKIE = "sp4n_session"
LANGUAGE_COOKIE = "sp4n_lang"
CSRF_FIELD = "csrf_token"
SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD_LENGTH = 10
STAFF_ROLES_WITH_ACCOUNTS = (Role.ADMIN, Role.AGENCY_ADMIN, Role.OFFICER, Role.OBSERVER)
AGENCY_BOUND_ROLES = (Role.AGENCY_ADMIN, Role.OFFICER)

_hasher = PasswordHasher()
# Verified against when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def browser_id(request: Request) -> str:
    """This browser's id; a new one (set on the response by `set_browser_cookie`) if it has none."""
    known = getattr(request.state, "browser_id", None)
    if known:
        return known
    value = request.cookies.get(BROWSER_COOKIE)
    if not value or len(value) > 100:
        value = secrets.token_urlsafe(32)
        request.state.new_browser_id = True
    request.state.browser_id = value
    return value


def renew_browser_id(request: Request) -> str:
    request.state.browser_id = secrets.token_urlsafe(32)
    request.state.new_browser_id = request.state.renewed_browser_id = True
    return request.state.browser_id


def csrf_token(request: Request, secret_key: str) -> str:
    return keyed_digest(secret_key, "csrf", browser_id(request))


def own_origins(request: Request, settings: Settings) -> set[str]:
    """This site as a browser names it: the address the request came to and, behind a proxy that
    ends TLS, the public address people use (PUBLIC_BASE_URL)."""
    origins = {f"{request.url.scheme}://{request.url.netloc}"}
    if settings.public_base_url:
        public = urlsplit(settings.public_base_url)
        origins.add(f"{public.scheme}://{public.netloc}")
    return origins


def csrf_valid(request: Request, settings: Settings, submitted: object) -> bool:
    if not isinstance(submitted, str) or not request.cookies.get(BROWSER_COOKIE):
        return False
    # Defence in depth: a browser says where a POST came from; another origin is refused outright.
    origin = request.headers.get("origin")
    if origin and origin != "null" and origin.rstrip("/") not in own_origins(request, settings):
        return False
    expected = keyed_digest(settings.secret_key, "csrf", request.cookies[BROWSER_COOKIE])
    return constant_time_equal(expected, submitted)


def supporter_key(request: Request, secret_key: str) -> str:
    return keyed_digest(secret_key, "support", browser_id(request))


def cookie_options(request: Request, settings: Settings) -> dict:
    secure = request.url.scheme == "https" or (settings.public_base_url or "").startswith("https://")
    return {"httponly": True, "samesite": "lax", "secure": secure, "path": "/"}


def set_browser_cookie(request: Request, response: Response, settings: Settings) -> None:
    """A new browser id goes out with pages (GET) and at sign-in. Never on another POST: a POST
    arriving without the cookie is a cross-site one (SameSite=Lax withholds it), and answering it
    with a new id would void the forms the person has open in other tabs."""
    renewed = getattr(request.state, "renewed_browser_id", False)
    if getattr(request.state, "new_browser_id", False) and (renewed or request.method in ("GET", "HEAD")):
        response.set_cookie(BROWSER_COOKIE, request.state.browser_id, max_age=365 * 24 * 3600,
                            **cookie_options(request, settings))


# --- staff accounts and sessions -----------------------------------------------------------------


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_problem(password: str) -> str | None:
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Kata sandi minimal {MIN_PASSWORD_LENGTH} karakter."
    return None


def create_staff_account(
    session: Session, *, email: str, name: str, password: str, role: Role, agency_id: str | None
) -> StaffAccount:
    """Validated by the caller (role/agency rules in `staff_account_problem`)."""
    account = StaffAccount(
        id=uuid.uuid4().hex, email=email.strip().lower(), name=name.strip(), password_hash=hash_password(password),
        role=role.value, agency_id=agency_id if role in AGENCY_BOUND_ROLES else None, active=True,
    )
    session.add(account)
    return account


def staff_account_problem(session: Session, *, email: str, name: str, password: str, role: str,
                          agency_id: str | None) -> str | None:
    """Why this account cannot be created, in words for the form; None when it can."""
    from db.directory import get_agency_ref  # the directory decides what an active agency is

    if forbidden_character(email + name) or "\n" in name or "\t" in name:  # domain/text.py's rule
        return "Email dan nama tidak boleh berisi karakter kendali atau baris baru."
    if "@" not in email or len(email) > 320:
        return "Email tidak valid."
    if not name.strip() or len(name) > 200:
        return "Nama wajib diisi, paling panjang 200 karakter."
    if role not in {r.value for r in STAFF_ROLES_WITH_ACCOUNTS}:
        return f"Peran {role} tidak dikenal."
    if Role(role) in AGENCY_BOUND_ROLES and (not agency_id or get_agency_ref(session, agency_id) is None):
        return "Peran ini wajib memilih instansi yang aktif di direktori."
    if session.scalar(select(StaffAccount.id).where(StaffAccount.email == email.strip().lower())):
        return "Email sudah dipakai akun lain."
    return password_problem(password)


def authenticate(session: Session, email: str, password: str) -> StaffAccount | None:
    account = session.scalar(select(StaffAccount).where(StaffAccount.email == email.strip().lower()))
    try:
        _hasher.verify(account.password_hash if account else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if account is None or not account.active:
        return None
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    return account


def start_session(session: Session, account: StaffAccount, now: datetime) -> str:
    session.execute(delete(WebSession).where(WebSession.staff_id == account.id, WebSession.expires_at <= now))
    token = secrets.token_urlsafe(32)
    session.add(WebSession(id_hash=hash_token(token), staff_id=account.id, created_at=now,
                           expires_at=now + SESSION_LIFETIME))
    account.last_sign_in_at = now
    return token


def set_password(session: Session, account: StaffAccount, password: str) -> None:
    """A new password (an administrator's reset); every session of the account ends."""
    account.password_hash = hash_password(password)
    session.execute(delete(WebSession).where(WebSession.staff_id == account.id))


def end_session(session: Session, token: str | None) -> None:
    if token:
        row = session.get(WebSession, hash_token(token))
        if row is not None:
            session.delete(row)


def signed_in_account(session: Session, token: str | None, now: datetime | None = None) -> StaffAccount | None:
    if not token or len(token) > 100:
        return None
    row = session.get(WebSession, hash_token(token))
    now = now or datetime.now(timezone.utc)
    if row is None or row.expires_at <= now:
        return None
    account = session.get(StaffAccount, row.staff_id)
    return account if account is not None and account.active else None


def caller_of(account: StaffAccount) -> Caller:
    """The same Caller a bearer token gives: the API's rules apply to the portal unchanged."""
    return Caller(role=Role(account.role), agency_id=account.agency_id, name=account.name,
                  token_id=f"staff:{account.id}", client_key=f"staff:{account.id}")


def ensure_bootstrap_admin(session: Session, email: str, password: str) -> bool:
    """Create the first administrator's account from settings, once; True when it was created."""
    if session.scalar(select(StaffAccount.id).where(StaffAccount.email == email.strip().lower())):
        return False
    create_staff_account(session, email=email, name="Administrator", password=password, role=Role.ADMIN,
                         agency_id=None)
    return True
