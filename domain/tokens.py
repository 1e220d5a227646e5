"""Keyed digests: the reporter's token, and the portal's CSRF and support keys. No I/O.

The reporter's token is the proof, carried in the private link, that someone filed a case.
Derived, not stored: an HMAC of the tracking id under the server's secret, so the same case always
has the same token and a token proves nothing about any other case. The API checks it; the
notification delivery puts it in the private link it sends the reporter.

A token names the key that made it (`rt_<key id>.<digest>`), so SECRET_KEY can be rotated: new
tokens come from the current key, and tokens of a retired key still match while it is kept.
Tokens from before key ids (`rt_<digest>`) match under any key held.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

REPORTER_PREFIX = "rt_"
_KEY_ID_SEPARATOR = "."


@dataclass(frozen=True)
class SecretKeyring:
    """The server's secrets by id: the current one signs, every one held verifies."""

    current_id: str
    keys: Mapping[str, str]

    @property
    def current(self) -> str:
        return self.keys[self.current_id]


def keyed_digest(secret_key: str, purpose: str, value: str) -> str:
    """HMAC-SHA256 of `purpose:value`, URL-safe: one key, separate purposes never collide."""
    raw = hmac.new(secret_key.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def constant_time_equal(expected: str, given: str) -> bool:
    """For secrets we issue (ASCII): anything else someone sends simply does not match."""
    return given.isascii() and expected.isascii() and hmac.compare_digest(expected, given)


def reporter_token(keyring: SecretKeyring, tracking_id: str) -> str:
    digest = keyed_digest(keyring.current, "reporter", tracking_id)
    return f"{REPORTER_PREFIX}{keyring.current_id}{_KEY_ID_SEPARATOR}{digest}"


def reporter_token_matches(keyring: SecretKeyring, tracking_id: str, token: str) -> bool:
    if not token.startswith(REPORTER_PREFIX):
        return False
    key_id, separator, digest = token[len(REPORTER_PREFIX):].rpartition(_KEY_ID_SEPARATOR)
    if separator:
        secret = keyring.keys.get(key_id)
        return secret is not None and constant_time_equal(keyed_digest(secret, "reporter", tracking_id), digest)
    # A token from before key ids: whichever key made it, if it is still held.
    return any(
        constant_time_equal(keyed_digest(secret, "reporter", tracking_id), digest) for secret in keyring.keys.values()
    )


def private_link(base_url: str, tracking_id: str, keyring: SecretKeyring) -> str:
    """Where the reporter follows the case in the portal (portal/citizen.py serves it)."""
    return f"{base_url.rstrip('/')}/kasus/{tracking_id}?token={reporter_token(keyring, tracking_id)}"


def media_signature(keyring: SecretKeyring, tracking_id: str, attachment_id: str, expires: int) -> str:
    """The signature of a media link a connected body fetches a case's file with (issue 27):
    that one file, until `expires` (Unix seconds); it names the key that made it."""
    digest = keyed_digest(keyring.current, "media", f"{tracking_id}/{attachment_id}/{expires}")
    return f"{keyring.current_id}{_KEY_ID_SEPARATOR}{digest}"


def media_signature_matches(keyring: SecretKeyring, tracking_id: str, attachment_id: str, expires: int,
                            signature: str) -> bool:
    key_id, separator, digest = signature.rpartition(_KEY_ID_SEPARATOR)
    secret = keyring.keys.get(key_id) if separator else None
    return secret is not None and constant_time_equal(
        keyed_digest(secret, "media", f"{tracking_id}/{attachment_id}/{expires}"), digest)


def media_link(base_url: str, keyring: SecretKeyring, tracking_id: str, attachment_id: str, expires: int) -> str:
    """Served by GET /v1/media/... (api/routes/attachments.py) without a token, until it expires."""
    signature = media_signature(keyring, tracking_id, attachment_id, expires)
    return f"{base_url.rstrip('/')}/v1/media/{tracking_id}/{attachment_id}?expires={expires}&sig={signature}"


def follow_signature(keyring: SecretKeyring, purpose: str, tracking_id: str, follower_key: str,
                     expires: int = 0) -> str:
    """The signature of a follower's link (issue 24): `confirm` (until `expires`, Unix seconds) or
    `unsubscribe` (no end); it names the key that made it."""
    digest = keyed_digest(keyring.current, f"follow-{purpose}", f"{tracking_id}/{follower_key}/{expires}")
    return f"{keyring.current_id}{_KEY_ID_SEPARATOR}{digest}"


def follow_signature_matches(keyring: SecretKeyring, purpose: str, tracking_id: str, follower_key: str,
                             expires: int, signature: str) -> bool:
    key_id, separator, digest = signature.rpartition(_KEY_ID_SEPARATOR)
    secret = keyring.keys.get(key_id) if separator else None
    return secret is not None and constant_time_equal(
        keyed_digest(secret, f"follow-{purpose}", f"{tracking_id}/{follower_key}/{expires}"), digest)


def unsubscribe_link(base_url: str, keyring: SecretKeyring, tracking_id: str, follower_key: str) -> str:
    """One-click (RFC 8058) and visible: POST or open it to stop following the case."""
    signature = follow_signature(keyring, "unsubscribe", tracking_id, follower_key)
    return (f"{base_url.rstrip('/')}/ikuti/berhenti?{urlencode({'kasus': tracking_id, 'f': follower_key})}"
            f"&sig={signature}")


def confirm_link(base_url: str, keyring: SecretKeyring, tracking_id: str, follower_key: str, expires: int) -> str:
    signature = follow_signature(keyring, "confirm", tracking_id, follower_key, expires)
    query = urlencode({"kasus": tracking_id, "f": follower_key, "exp": expires})
    return f"{base_url.rstrip('/')}/ikuti/konfirmasi?{query}&sig={signature}"
