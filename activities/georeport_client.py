"""A GeoReport v2 client for connected bodies' systems (issue 27): services, POST requests,
tokens, the mySociety servicerequestupdates extension (GET and POST).

Every call goes through the webhook guard (activities/webhook_targets.py) with `require_https`:
https only, or plain http to a host an administrator allow-listed; the host is resolved and
checked at each call, the connection goes to the checked address, redirects are never followed.
Errors never repeat the body's answer (it may carry anything) beyond its HTTP status and,
for a GeoReport error list, its own `description`, cut short.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self
from urllib.parse import urlencode

import httpx

from activities.webhook_targets import TargetRefused, check_target, pinned_request

ERROR_TEXT_MAX = 300


class GeoReportError(Exception):
    """A call that did not succeed. `retryable`: another attempt may (a timeout, a 5xx, no
    connection); otherwise it will not (refused target, 4xx)."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.reason, self.retryable = reason, retryable


@dataclass(frozen=True)
class RemoteUpdate:
    update_id: str
    service_request_id: str
    status: str | None
    updated_at: datetime
    description: str | None


def _parse_instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        instant = datetime.fromisoformat(value.strip())  # Python 3.11 reads "Z" too
    except ValueError:
        return None
    return instant if instant.tzinfo is not None else None


class GeoReportClient:
    def __init__(self, endpoint: str, api_key: str, *, allowed_hosts: list[str], jurisdiction_id: str | None = None,
                 connect_seconds: float = 5.0, read_seconds: float = 15.0) -> None:
        self.endpoint = endpoint.rstrip("/") + "/"
        self.api_key, self.jurisdiction_id, self.allowed_hosts = api_key, jurisdiction_id, allowed_hosts
        self.http = httpx.Client(timeout=httpx.Timeout(read_seconds, connect=connect_seconds),
                                 follow_redirects=False, trust_env=False)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the calls ------------------------------------------------------------------------------

    def services(self) -> list[dict[str, Any]]:
        answer = self._call("GET", "services.json", query=self._jurisdiction())
        if not isinstance(answer, list):
            raise GeoReportError("failed: services.json is not a list", retryable=False)
        return [s for s in answer if isinstance(s, dict) and s.get("service_code")]

    def post_request(self, fields: list[tuple[str, str]], idempotency_key: str) -> tuple[str | None, str | None]:
        """(service_request_id, token): one of them at least."""
        answer = self._call("POST", "requests.json", form=[("api_key", self.api_key), *fields],
                            headers={"Idempotency-Key": idempotency_key})
        first = answer[0] if isinstance(answer, list) and answer and isinstance(answer[0], dict) else {}
        remote_id, token = first.get("service_request_id"), first.get("token")
        if not remote_id and not token:
            raise GeoReportError("failed: the answer has neither service_request_id nor token", retryable=True)
        return (str(remote_id) if remote_id else None), (str(token) if token else None)

    def service_request_id_of(self, token: str) -> str | None:
        answer = self._call("GET", f"tokens/{token}.json", query=self._jurisdiction())
        first = answer[0] if isinstance(answer, list) and answer and isinstance(answer[0], dict) else {}
        remote_id = first.get("service_request_id")
        return str(remote_id) if remote_id else None

    def updates(self, start: datetime, end: datetime) -> list[RemoteUpdate]:
        query = self._jurisdiction() + [("api_key", self.api_key), ("start_date", start.isoformat()),
                                        ("end_date", end.isoformat())]
        answer = self._call("GET", "servicerequestupdates.json", query=query)
        if not isinstance(answer, list):
            raise GeoReportError("failed: servicerequestupdates.json is not a list", retryable=True)
        updates = []
        for item in answer:
            if not isinstance(item, dict):
                continue
            instant = _parse_instant(item.get("updated_datetime"))
            if not item.get("update_id") or not item.get("service_request_id") or instant is None:
                continue
            updates.append(RemoteUpdate(
                update_id=str(item["update_id"]), service_request_id=str(item["service_request_id"]),
                status=str(item["status"]) if item.get("status") is not None else None,
                updated_at=instant, description=str(item["description"]) if item.get("description") else None,
            ))
        return updates

    def post_update(self, service_request_id: str, update_id: str, description: str, updated_at: datetime,
                    contact: list[tuple[str, str]]) -> str | None:
        """The body's id of the update it recorded (None when it did not say)."""
        form = [("api_key", self.api_key), ("service_request_id", service_request_id), ("update_id", update_id),
                ("description", description), ("status", "OPEN"), ("updated_datetime", updated_at.isoformat()),
                *contact]
        answer = self._call("POST", "servicerequestupdates.json", form=form)
        first = answer[0] if isinstance(answer, list) and answer and isinstance(answer[0], dict) else {}
        return str(first["update_id"]) if first.get("update_id") else None

    # --- one call through the guard ---------------------------------------------------------------

    def _jurisdiction(self) -> list[tuple[str, str]]:
        return [("jurisdiction_id", self.jurisdiction_id)] if self.jurisdiction_id else []

    def _call(self, method: str, path: str, *, query: list[tuple[str, str]] | None = None,
              form: list[tuple[str, str]] | None = None, headers: dict[str, str] | None = None) -> Any:
        url = self.endpoint + path + (("?" + urlencode(query)) if query else "")
        try:  # checked at every call: DNS may point elsewhere since the connection was recorded
            target = check_target(url, self.allowed_hosts, require_https=True)
        except TargetRefused as error:
            raise GeoReportError(f"refused: {error}", retryable=False) from error
        pinned, host_header, extensions = pinned_request(target)
        sent_headers = {**host_header, "Accept": "application/json", **(headers or {})}
        try:
            if method == "GET":
                response = self.http.get(pinned, headers=sent_headers, extensions=extensions)
            else:
                response = self.http.post(pinned, content=urlencode(form or []).encode(), extensions=extensions,
                                          headers={**sent_headers, "Content-Type": "application/x-www-form-urlencoded"})
        except httpx.TimeoutException as error:
            raise GeoReportError(f"timeout: {type(error).__name__}", retryable=True) from error
        except httpx.HTTPError as error:
            raise GeoReportError(f"failed: cannot reach the system ({type(error).__name__})", retryable=True) from error
        code = response.status_code
        if 300 <= code < 400:
            raise GeoReportError(f"refused: HTTP {code} (redirects are not followed)", retryable=False)
        if code >= 400:
            reason = f"HTTP {code}" + self._error_text(response)
            retryable = code >= 500 or code in (408, 425, 429)
            raise GeoReportError(("failed: " if retryable else "refused: ") + reason, retryable=retryable)
        try:
            return response.json()
        except ValueError as error:
            raise GeoReportError("failed: the answer is not JSON", retryable=True) from error

    @staticmethod
    def _error_text(response: httpx.Response) -> str:
        try:
            errors = response.json()
            text = errors[0]["description"] if isinstance(errors, list) and errors else ""
        except (ValueError, KeyError, TypeError, IndexError):
            return ""
        text = " ".join(str(text).split())[:ERROR_TEXT_MAX]
        return f" ({text})" if text else ""
