"""The codec endpoint Temporal's UI and CLI use: administrators read (and only they), by bearer
token or by their portal session; CORS for the configured UI origins on /codec only."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from tests.api.conftest import WIB_AGENCY, ApiHarness
from tests.api.test_portal import ADMIN_EMAIL, ADMIN_PASSWORD, PORTAL, browser, sign_in
from tests.crypto import TEST_DATA_CONVERTER
from tests.unit.test_codec import _for
from workflows.codec import PayloadRefused

pytestmark = PORTAL
UI = "http://localhost:8233"


async def history_input(api: ApiHarness, tracking_id: str) -> dict:
    """The case's start input as Temporal stores it, in the codec protocol's JSON."""
    history = await api.env.client.get_workflow_handle(tracking_id).fetch_history()
    [payload] = history.events[0].workflow_execution_started_event_attributes.input.payloads
    return {"metadata": {k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
            "data": base64.b64encode(payload.data).decode()}


def opened(answer: httpx.Response) -> str:
    [payload] = answer.json()["payloads"]
    return base64.b64decode(payload["data"]).decode()


async def test_an_administrator_reads_what_temporal_stores_and_nobody_else_does(api: ApiHarness):
    receipt = await api.submit(anonymous=True, reporter={"name": "Ratna Kusumawati Vqz", "email": "ratna@contoh.id"})
    stored = await history_input(api, receipt["tracking_id"])
    assert "Vqz" not in base64.b64decode(stored["data"]).decode(errors="replace")
    body = {"payloads": [stored]}

    by_token = await api.http.post("/codec/decode", json=body, headers=api.admin)
    assert by_token.status_code == 200, by_token.text
    # The case opens; its reporter's identity stays sealed under the case's own key (docs/privacy.md).
    assert receipt["tracking_id"] in opened(by_token) and "sp4n-sealed/v1:" in opened(by_token)
    assert "Vqz" not in opened(by_token)

    assert (await api.http.post("/codec/decode", json=body)).status_code == 401
    for role, agency in (("officer", WIB_AGENCY), ("agency_admin", WIB_AGENCY), ("observer", None), ("client", None)):
        refused = await api.http.post("/codec/decode", json=body, headers=await api.headers(role, agency))
        assert refused.status_code == 403, (role, refused.text)
        assert "Vqz" not in refused.text
    reporter = {"Authorization": f"Bearer {receipt['reporter_token']}"}
    assert (await api.http.post("/codec/decode", json=body, headers=reporter)).status_code == 401

    # Temporal's UI in the administrator's browser: the portal session cookie, no token.
    async with browser(api) as admin_browser:
        assert (await sign_in(admin_browser, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 303
        by_cookie = await admin_browser.post("/codec/decode", json=body, headers={"Origin": UI})
        assert by_cookie.status_code == 200 and receipt["tracking_id"] in opened(by_cookie)
        assert by_cookie.headers["access-control-allow-origin"] == UI
        assert by_cookie.headers["access-control-allow-credentials"] == "true"


async def test_encode_seals_with_the_current_key_and_plaintext_passes_through_decode(api: ApiHarness):
    clear = {"metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
             "data": base64.b64encode(json.dumps({"a": 1}).encode()).decode()}
    # Encoding names its workflow and seals for it alone (issue 24): none named, nothing sealed.
    unnamed = await api.http.post("/codec/encode", json={"payloads": [clear]}, headers=api.admin)
    assert unnamed.status_code == 422 and unnamed.headers["content-type"].startswith("application/problem+json")
    for path in ("/codec/encode?workflow_id=LAP-A", "/codec/workflows/LAP-A/encode"):
        sealed = await api.http.post(path, json={"payloads": [clear]}, headers=api.admin)
        assert sealed.status_code == 200, sealed.text
        [payload] = sealed.json()["payloads"]
        assert base64.b64decode(payload["metadata"]["encryption-key-id"]) == b"test1"
        assert base64.b64decode(payload["metadata"]["encryption-workflow-id"]) == b"LAP-A"
        assert await TEST_DATA_CONVERTER.decode([_proto(payload)], [dict]) == [{"a": 1}]
        assert await _for("LAP-A").decode([_proto(payload)], [dict]) == [{"a": 1}]
        with pytest.raises(PayloadRefused, match="belongs to workflow 'LAP-A'"):
            await _for("LAP-B").decode([_proto(payload)], [dict])
    shown = await api.http.post("/codec/workflows/LAP-A/decode", json={"payloads": [payload]}, headers=api.admin)
    assert opened(shown) == json.dumps({"a": 1})
    # What the codec cannot open (a search attribute, say) is shown as stored, not as an error.
    shown = await api.http.post("/codec/decode", json={"payloads": [clear]}, headers=api.admin)
    assert shown.json()["payloads"][0]["data"] == clear["data"]
    bad = await api.http.post("/codec/decode", json={"payloads": [{"data": "a"}]}, headers=api.admin)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")


async def test_cors_is_for_the_uis_origin_and_the_codec_paths_only(api: ApiHarness):
    preflight = {"Origin": UI, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type,x-namespace"}
    allowed = await api.http.options("/codec/decode", headers=preflight)
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == UI
    stranger = await api.http.options("/codec/decode", headers={**preflight, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in stranger.headers
    elsewhere = await api.http.get("/v1/complaints", headers={"Origin": UI, **api.admin})
    assert "access-control-allow-origin" not in elsewhere.headers


def _proto(payload: dict):
    from google.protobuf import json_format
    from temporalio.api.common.v1 import Payload

    return json_format.ParseDict(payload, Payload())
