"""Keyed digests: the reporter's token, and the portal's CSRF and support keys. No I/O.

The reporter's token is the proof, carried in the private link, that someone filed a case.
Derived, not stored: an HMAC of the tracking id under the server's secret, so the same case always
has the same token and a token proves nothing about any other case. The API checks it; the
notification dispatcher puts it in the private link it sends the reporter.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

REPORTER_PREFIX = "rt_"


def keyed_digest(secret_key: str, purpose: str, value: str) -> str:
    """HMAC-SHA256 of `purpose:value`, URL-safe: one key, separate purposes never collide."""
    raw = hmac.new(secret_key.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def constant_time_equal(expected: str, given: str) -> bool:
    """For secrets we issue (ASCII): anything else someone sends simply does not match."""
    return given.isascii() and expected.isascii() and hmac.compare_digest(expected, given)


def reporter_token(secret_key: str, tracking_id: str) -> str:
    return REPORTER_PREFIX + keyed_digest(secret_key, "reporter", tracking_id)


def reporter_token_matches(secret_key: str, tracking_id: str, token: str) -> bool:
    return constant_time_equal(reporter_token(secret_key, tracking_id), token)


def private_link(base_url: str, tracking_id: str, secret_key: str) -> str:
    """Where the reporter follows the case in the portal (api/portal/citizen.py serves it)."""
    return f"{base_url.rstrip('/')}/kasus/{tracking_id}?token={reporter_token(secret_key, tracking_id)}"
