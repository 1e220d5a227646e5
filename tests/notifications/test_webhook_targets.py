"""The webhook guard (issue 14): registration and every send refuse addresses that are not public
(after DNS resolution), unless an administrator allow-listed the host; redirects are not
followed; failures never repeat what the receiver answered. Nothing here sends to a
non-loopback address: the refusals are checked by validating and registering."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from activities.webhook_targets import TargetRefused, check_target, pinned_request
from server import create_app
from db.notification_models import NotificationDelivery, Webhook
from tests.notifications.conftest import make_settings
from tests.notifications.test_reliability import ADMIN_HEADERS, submitted

EVERY_CLASS = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"),
    ("169.254.169.254", "link-local"),  # a cloud's metadata service
    ("fe80::1", "link-local"),
    ("10.1.2.3", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.1", "private"),
    ("fd12:3456::1", "private"),
    ("224.0.0.251", "multicast"),
    ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
]


def resolving_to(*addresses: str):
    def resolver(host: str, port: int) -> list[str]:
        return list(addresses)
    return resolver


@pytest.mark.parametrize(("address", "reason"), EVERY_CLASS)
def test_each_address_class_is_refused_as_a_literal_and_after_dns(address: str, reason: str) -> None:
    literal = f"http://[{address}]:8080/hook" if ":" in address else f"http://{address}:8080/hook"
    with pytest.raises(TargetRefused, match=f"is a {reason} address"):
        check_target(literal, [])
    # A name that resolves there (or there among public addresses) is refused the same way.
    with pytest.raises(TargetRefused, match=f"hooks.agency.example resolves to .*, which is a {reason} address"):
        check_target("https://hooks.agency.example/hook", [], resolving_to("93.184.215.14", address))


def test_public_and_allow_listed_targets_pass_and_a_send_connects_to_the_checked_address() -> None:
    target = check_target("https://hooks.agency.example/lapor?x=1", [], resolving_to("93.184.215.14"))
    url, headers, extensions = pinned_request(target)
    assert url == "https://93.184.215.14/lapor?x=1"
    assert headers == {"Host": "hooks.agency.example"} and extensions == {"sni_hostname": "hooks.agency.example"}
    local = check_target("http://127.0.0.1:9000/hook", ["127.0.0.1"])  # an administrator's choice
    assert pinned_request(local)[0] == "http://127.0.0.1:9000/hook"
    # Allow-listing one host allows that host only.
    with pytest.raises(TargetRefused, match="loopback"):
        check_target("http://localhost:9000/hook", ["127.0.0.1"], resolving_to("127.0.0.1"))


@pytest.mark.parametrize(("url", "why"), [
    ("ftp://hooks.agency.example/x", "only http and https"),
    ("http://user:pw@hooks.agency.example/x", "credentials"),
    ("http://hooks.invalid./x", "cannot be resolved"),
])
def test_other_refusals_say_why(url: str, why: str) -> None:
    def unresolvable(host: str, port: int) -> list[str]:
        raise TargetRefused(f"host {host} cannot be resolved")
    with pytest.raises(TargetRefused, match=why):
        check_target(url, [], unresolvable)


def test_registration_refuses_each_class_and_caps_webhooks_per_agency(database_url, sessions, clean, smtp):
    settings = make_settings(database_url, smtp[1], webhook_allowed_hosts=[], webhook_max_per_agency=2)
    with TestClient(create_app(settings)) as api:
        for address, reason in EVERY_CLASS:
            url = f"http://[{address}]/hook" if ":" in address else f"http://{address}/hook"
            answer = api.post("/v1/webhooks", headers=ADMIN_HEADERS, json={"url": url})
            assert answer.status_code == 422, (address, answer.text)
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert f"is a {reason} address" in answer.json()["detail"]
        assert api.post("/v1/webhooks", headers=ADMIN_HEADERS,
                        json={"url": "http://localhost/hook"}).status_code == 422
    with sessions() as session:
        assert session.scalars(select(Webhook)).all() == []

    allowed = settings.model_copy(update={"webhook_allowed_hosts": ["127.0.0.1"]})
    with TestClient(create_app(allowed)) as api:
        for n in range(2):
            assert api.post("/v1/webhooks", headers=ADMIN_HEADERS,
                            json={"url": f"http://127.0.0.1:9/hook{n}"}).status_code == 201
        third = api.post("/v1/webhooks", headers=ADMIN_HEADERS, json={"url": "http://127.0.0.1:9/hook3"})
        assert third.status_code == 409 and "Batas 2 webhook" in third.json()["detail"]
        # The cap is per agency: another agency still has room.
        assert api.post("/v1/webhooks", headers=ADMIN_HEADERS, json={
            "url": "http://127.0.0.1:9/bjm", "agency_id": "pemkot-63.71"}).status_code == 201


def test_each_send_checks_again_follows_no_redirect_and_echoes_no_answer(database_url, sessions, people, smtp,
                                                                          http_sink, delivering):
    sink, port = smtp
    settings = make_settings(database_url, port, http_sink, webhook_failure_limit=10)
    with TestClient(create_app(settings)) as api:
        for path in ("/moved", "/revoked"):
            assert api.post("/v1/webhooks", headers=ADMIN_HEADERS,
                            json={"url": http_sink.url(path)}).status_code == 201
    # The administrator withdraws the allow-list for one receiver's host: checked at the send.
    with sessions.begin() as session:
        revoked = session.scalars(select(Webhook).where(Webhook.url.endswith("/revoked"))).one()
        revoked.url = revoked.url.replace("127.0.0.1", "127.0.0.2")
    http_sink.status, http_sink.answer = 302, b"<html>internal admin page, secret=hunter2</html>"
    stack = delivering(settings)
    submitted(stack, "LAP-GUARD")
    stack.settle()
    with sessions() as session:
        hooks = {d.address.rsplit("/", 1)[1]: d for d in session.scalars(
            select(NotificationDelivery).where(NotificationDelivery.channel == "webhook"))}
    assert http_sink.bodies("/revoked") == [] and not any(p == "/elsewhere" for p, _, _ in http_sink.requests)
    assert (hooks["revoked"].status, hooks["revoked"].attempts) == ("failed", 1)
    assert "127.0.0.2 is a loopback address" in hooks["revoked"].last_error
    # A redirect is a refusal for good: one attempt, not followed.
    assert (hooks["moved"].status, hooks["moved"].attempts) == ("failed", 1)
    assert hooks["moved"].last_error == "refused: HTTP 302 (redirects are not followed)"
    assert all("hunter2" not in (d.last_error or "") for d in hooks.values())
