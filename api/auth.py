"""Bearer tokens: issued tokens (stored hashed), the bootstrap admin token, reporter tokens."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import ApiToken
from domain.enums import Role
from domain.tokens import REPORTER_PREFIX, SecretKeyring, reporter_token, reporter_token_matches  # noqa: F401
from domain.visibility import PUBLIC, Viewer

ISSUED_PREFIX = "sp4n_"


class Caller(Viewer):
    """The authenticated caller: a Viewer plus what actions need (a name for the timeline)."""

    token_id: str | None = None
    name: str | None = None
    # A key for rate limits: the token's id, or the client's address for the public.
    client_key: str = "anonymous"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_issued_token() -> str:
    return ISSUED_PREFIX + secrets.token_urlsafe(32)


def caller_for_token(
    session: Session, token: str, *, admin_token: str | None, secret_keyring: SecretKeyring, tracking_id: str | None
) -> Caller | None:
    """Who a bearer token stands for, or None when it is not valid (→ 401)."""
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return Caller(role=Role.ADMIN, name="bootstrap admin", token_id="bootstrap", client_key="bootstrap")
    if token.startswith(REPORTER_PREFIX):
        if tracking_id and reporter_token_matches(secret_keyring, tracking_id, token):
            return reporter_caller(tracking_id)
        return None
    digest = hash_token(token)
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None)))
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return Caller(
        role=Role(row.role), agency_id=row.agency_id, name=row.name, token_id=row.id, client_key=f"token:{row.id}"
    )


def reporter_caller(tracking_id: str) -> Caller:
    """Whoever holds the reporter token of this case (checked by the caller of this function)."""
    return Caller(role=Role.REPORTER, reporter_of=tracking_id, client_key=f"reporter:{tracking_id}")


def client_address_key(client_address: str | None) -> str:
    """The key every per-address limit (submissions, uploads, sign-in) counts a client under: an
    IPv4 address by itself, an IPv6 address by its /64 (one host or home is routinely given a
    whole /64, billions of addresses: counted one by one, each would be a fresh client)."""
    if not client_address:
        return "ip:unknown"
    try:
        address = ipaddress.ip_address(client_address)
    except ValueError:
        return f"ip:{client_address}"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"ip:{address.ipv4_mapped}"
        return f"ip:{ipaddress.IPv6Network((int(address) >> 64 << 64, 64))}"
    return f"ip:{address}"


def public_caller(client_address: str | None) -> Caller:
    return Caller(**PUBLIC.model_dump(), client_key=client_address_key(client_address))
