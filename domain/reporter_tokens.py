"""The reporter's token: the proof, carried in the private link, that someone filed a case.

Derived, not stored: an HMAC of the tracking id under the server's secret, so the same case always
has the same token and a token proves nothing about any other case. The API checks it; the
notification dispatcher puts it in the private link it sends the reporter.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

REPORTER_PREFIX = "rt_"


def reporter_token(secret_key: str, tracking_id: str) -> str:
    digest = hmac.new(secret_key.encode(), f"reporter:{tracking_id}".encode(), hashlib.sha256).digest()
    return REPORTER_PREFIX + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def reporter_token_matches(secret_key: str, tracking_id: str, token: str) -> bool:
    return hmac.compare_digest(reporter_token(secret_key, tracking_id), token)


def private_link(base_url: str, tracking_id: str, secret_key: str) -> str:
    """Where the reporter follows the case in the portal (api/portal/citizen.py serves it)."""
    return f"{base_url.rstrip('/')}/kasus/{tracking_id}?token={reporter_token(secret_key, tracking_id)}"
