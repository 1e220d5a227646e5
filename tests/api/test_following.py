"""Following is opt-in and bounded (issue 24): the portal is no mail relay. A dozen fresh browsers
making a dozen strangers follow a case get each stranger one confirmation mail and nothing else;
the caps stop a client and a case; only a confirmed follower is told of the case, every message
to them can be stopped with one click (RFC 8058), and the support routes are rate limited."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

from activities.notifications import follower_targets
from db.notification_models import NotificationDelivery
from db.portal_models import CaseFollower
from portal.following import FOLLOW_CONFIRMATION
from tests.api.conftest import ApiHarness
from domain.tokens import unsubscribe_link
from tests.api.test_portal import PORTAL, browser, csrf_of, published_report, report

pytestmark = PORTAL


def stranger(api: ApiHarness, number: int) -> httpx.AsyncClient:
    """A fresh browser from an address of its own (no cookies, another client for every limit)."""
    transport = httpx.ASGITransport(app=api.app, client=(f"2001:db8:{number:x}::1", 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://sp4n.test")


async def follow(client: httpx.AsyncClient, tracking_id: str, email: str) -> httpx.Response:
    page = await client.get(f"/kasus/{tracking_id}")
    assert page.status_code == 200, page.text
    return await client.post(f"/kasus/{tracking_id}/dukung", data={"csrf_token": csrf_of(page.text), "email": email},
                             follow_redirects=False)


def confirmations(api: ApiHarness) -> list[NotificationDelivery]:
    with api.sessions() as session:
        return list(session.scalars(select(NotificationDelivery).where(
            NotificationDelivery.event == FOLLOW_CONFIRMATION).order_by(NotificationDelivery.address)))


def targets(api: ApiHarness, tracking_id: str) -> list[str]:
    with api.sessions() as session:
        return [t.address for t in follower_targets(session, tracking_id, essential=False)]


async def test_a_dozen_strangers_get_one_confirmation_each_and_no_news(api: ApiHarness) -> None:
    async with browser(api) as reporter:
        tracking_id, _ = await published_report(api, reporter, title="SELAMAT Anda dapat bantuan Rp10 juta")
    addresses = [f"korban{i}@contoh.example" for i in range(12)]
    for i, address in enumerate(addresses):
        async with stranger(api, i + 1) as client:
            response = await follow(client, tracking_id, address)
            assert response.status_code == 303, response.text
    # Again, from other browsers: an address with an unanswered confirmation gets no other.
    for i, address in enumerate(addresses[:3]):
        async with stranger(api, 100 + i) as client:
            assert (await follow(client, tracking_id, address)).status_code == 303
    sent = confirmations(api)
    assert sorted(d.address for d in sent) == sorted(addresses)
    for delivery in sent:
        assert "SELAMAT" not in (delivery.subject or "") + delivery.body_text  # nothing of the case is quoted
        assert "/ikuti/konfirmasi?" in delivery.body_text
    assert targets(api, tracking_id) == []  # nobody confirmed: nobody hears of the case


@pytest.mark.api_settings(follow_requests_per_client_per_day=3, followers_per_case_max=5)
async def test_a_client_and_a_case_have_their_caps(api: ApiHarness) -> None:
    async with browser(api) as reporter:
        tracking_id, _ = await published_report(api, reporter)
    async with stranger(api, 1) as client:
        answers = [(await follow(client, tracking_id, f"warga{i}@contoh.example")).status_code for i in range(5)]
    assert answers == [303, 303, 303, 429, 429]
    for i in range(2, 4):
        async with stranger(api, i) as client:
            assert (await follow(client, tracking_id, f"tetangga{i}@contoh.example")).status_code == 303
    async with stranger(api, 9) as client:
        assert (await follow(client, tracking_id, "satu.lagi@contoh.example")).status_code == 429  # the case's cap
    assert len(confirmations(api)) == 5


@pytest.mark.api_settings(support_per_minute=2)
async def test_supports_are_rate_limited_per_client(api: ApiHarness) -> None:
    async with browser(api) as reporter:
        tracking_id, _ = await published_report(api, reporter)
    async with stranger(api, 1) as client:
        page = await client.get(f"/kasus/{tracking_id}")
        answers = [(await client.post(f"/kasus/{tracking_id}/dukung", data={"csrf_token": csrf_of(page.text)},
                                      follow_redirects=False)).status_code for _ in range(3)]
        assert answers == [303, 303, 429]
        form = await client.get("/lapor")
        instead = await client.post(f"/lapor/dukung/{tracking_id}", data={"csrf_token": csrf_of(form.text)},
                                    follow_redirects=False)
        assert instead.status_code == 429


async def test_only_a_confirmed_follower_hears_and_one_click_stops_it(api: ApiHarness) -> None:
    async with browser(api) as reporter:
        tracking_id, _ = await published_report(api, reporter)
    async with stranger(api, 1) as client:
        assert (await follow(client, tracking_id, "warga@contoh.example")).status_code == 303
    [mail] = confirmations(api)
    link = re.search(r"http://sp4n\.test(/ikuti/konfirmasi\?\S+)", mail.body_text).group(1)
    assert targets(api, tracking_id) == []

    # A tampered or expired link does nothing.
    async with stranger(api, 2) as owner:
        assert (await owner.get(link.replace("sig=", "sig=x"))).status_code == 404
        opened = await owner.get(link)  # opening only asks (mail scanners open links)
        assert opened.status_code == 200 and 'data-testid="follow-confirm"' in opened.text
        assert targets(api, tracking_id) == []
        confirmed = await owner.post(unescape(re.search(r'<form method="post" action="([^"]+)"', opened.text).group(1)),
                                     data={"csrf_token": csrf_of(opened.text)})
        assert confirmed.status_code == 200 and 'data-testid="follow-confirmed"' in confirmed.text
    assert targets(api, tracking_id) == ["warga@contoh.example"]

    with api.sessions() as session:
        [follower] = session.scalars(select(CaseFollower).where(CaseFollower.tracking_id == tracking_id)).all()
        key = follower.follower_key
    settings = api.app.state.services.settings
    unsubscribe = unsubscribe_link(settings.base_url, settings.secret_keyring, tracking_id, key)
    parts = urlsplit(unsubscribe)
    # RFC 8058: the mail provider POSTs "List-Unsubscribe=One-Click", with no cookie and no CSRF token.
    async with stranger(api, 3) as provider:
        forged = await provider.post(f"{parts.path}?{parts.query}".replace("sig=", "sig=x"),
                                     content="List-Unsubscribe=One-Click",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert forged.status_code == 404
        assert targets(api, tracking_id) == ["warga@contoh.example"]
        stopped = await provider.post(f"{parts.path}?{parts.query}", content="List-Unsubscribe=One-Click",
                                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert stopped.status_code == 200 and 'data-testid="follow-unsubscribed"' in stopped.text
    assert targets(api, tracking_id) == []


async def test_no_follow_before_verification_or_on_a_rejected_case(api: ApiHarness) -> None:
    async with browser(api) as reporter:
        tracking_id, _ = await report(api, reporter)
        await api.wait_listed({tracking_id})
        async with stranger(api, 1) as client:
            form = await client.get("/lapor")
            early = await client.post(f"/kasus/{tracking_id}/dukung",
                                      data={"csrf_token": csrf_of(form.text), "email": "warga@contoh.example"},
                                      follow_redirects=False)
            assert early.status_code == 404
        await api.act_ok(tracking_id, "verification", {"decision": "reject", "reason": "abusive"}, api.admin)
        await api.wait_listed({tracking_id}, status="archived")
        async with stranger(api, 2) as client:
            form = await client.get("/lapor")
            rejected = await client.post(f"/kasus/{tracking_id}/dukung",
                                         data={"csrf_token": csrf_of(form.text), "email": "warga@contoh.example"},
                                         follow_redirects=False)
            assert rejected.status_code == 404
    assert confirmations(api) == []
