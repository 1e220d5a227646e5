"""No link is built from a request's Host header (issue 24): the receipt page's private link (it
carries the reporter's token) and Open311's discovery point at PUBLIC_BASE_URL whatever Host a
request names."""

from __future__ import annotations

import pytest

from tests.api.conftest import ApiHarness
from tests.api.test_portal import PORTAL

pytestmark = PORTAL
HOSTILE = {"Host": "lapor-gov.evil.example", "X-Forwarded-Host": "lapor-gov.evil.example"}


async def test_links_point_at_the_public_base_url_whatever_the_host_header_says(api: ApiHarness) -> None:
    receipt = await api.submit()
    tracking_id, token = receipt["tracking_id"], receipt["reporter_token"]
    page = await api.http.get(f"/lapor/terkirim/{tracking_id}", params={"token": token}, headers=HOSTILE)
    assert page.status_code == 200, page.text
    assert f"http://sp4n.test/kasus/{tracking_id}?token={token}" in page.text
    assert "evil.example" not in page.text

    discovery = await api.http.get("/open311/v2/discovery.json", headers=HOSTILE)
    assert discovery.status_code == 200
    assert discovery.json()["endpoints"][0]["url"] == "http://sp4n.test/open311/v2"
    assert "evil.example" not in discovery.text


@pytest.mark.api_settings(public_base_url=None)
async def test_in_development_on_loopback_links_point_at_this_machine(api: ApiHarness) -> None:
    """The one place without PUBLIC_BASE_URL (settings refuse to start elsewhere): the bound port."""
    receipt = await api.submit()
    tracking_id, token = receipt["tracking_id"], receipt["reporter_token"]
    page = await api.http.get(f"/lapor/terkirim/{tracking_id}", params={"token": token}, headers=HOSTILE)
    assert f"http://127.0.0.1:{api.app.state.services.settings.bind_port}/kasus/{tracking_id}?token=" in page.text
    assert "evil.example" not in page.text
