"""Crashes, failing servers, dead letters, resends and webhooks, against real loopback servers."""

from __future__ import annotations

import json
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from activities.notifications import SIGNATURE_HEADER, verify_signature
from activities.records import RecordActivities
from api.main import create_app
from db.models import NotificationRow
from db.notification_models import NotificationDelivery, Webhook
from domain.enums import Action
from domain.models import VerificationInput

from tests.notifications.conftest import AGENCY, FrozenClock, agency_ref, dispatcher, make_settings, record
from tests.notifications.test_delivery import ADMIN, IDENTITY, IDENTITY_FRAGMENTS, START, open_case

ADMIN_HEADERS = {"Authorization": "Bearer test-admin"}


def submitted(sessions: sessionmaker[Session], tracking_id: str, accept: bool = False) -> None:
    recorder, projected = RecordActivities(sessions), [0]
    m = open_case(tracking_id)
    record(m, recorder, projected)
    if accept:
        m.accept(START + timedelta(hours=1),
                 VerificationInput(actor=ADMIN, decision=Action.ACCEPT, agency=agency_ref(sessions)))
        record(m, recorder, projected)


def deliveries(sessions: sessionmaker[Session], **where: str) -> list[NotificationDelivery]:
    with sessions() as session:
        query = select(NotificationDelivery).filter_by(**where).order_by(NotificationDelivery.key)
        return list(session.scalars(query))


def test_a_worker_killed_between_send_and_record_does_not_send_twice(database_url, sessions, people, smtp):
    sink, port = smtp
    clock = FrozenClock()
    settings = make_settings(database_url, port, notification_lease_seconds=60)
    submitted(sessions, "LAP-CRASH")
    first = dispatcher(sessions, settings, clock)
    first.expand_pending()
    claimed = first.claim_due()
    assert {c.address for c in claimed} == {IDENTITY.email, people.address["admin"]}
    for out in claimed:  # the channel accepts them ...
        first.channels[out.channel].send(out)
    # ... and the worker dies before recording: nothing records, the leases run out.
    assert len(sink.messages) == 2
    assert {d.status for d in deliveries(sessions, tracking_id="LAP-CRASH")} == {"sending"}

    second = dispatcher(sessions, settings, clock)
    assert second.run_once() == 0  # still leased: nobody else takes them
    clock.advance(seconds=61)
    assert second.run_once() == 0  # expired: marked uncertain, not resent
    assert len(sink.messages) == 2
    uncertain = deliveries(sessions, tracking_id="LAP-CRASH")
    assert {d.status for d in uncertain} == {"uncertain"}
    assert "not resent automatically" in uncertain[0].last_error

    # An administrator sees them and may resend one: the same Message-ID goes out again.
    with TestClient(create_app(settings)) as api:
        listed = api.get("/v1/notifications", params={"status": "uncertain"}, headers=ADMIN_HEADERS).json()
        assert {d["id"] for d in listed} == {d.id for d in uncertain}
        answer = api.post(f"/v1/notifications/{uncertain[0].id}/resend", headers=ADMIN_HEADERS)
        assert answer.status_code == 200 and answer.json()["status"] == "pending"
    assert second.run_once() == 1
    assert [m["Message-ID"] for m in sink.messages].count(sink.messages[-1]["Message-ID"]) == 2


def test_failing_smtp_retries_then_dead_letters_then_resend_works(database_url, sessions, people, smtp):
    sink, port = smtp
    clock = FrozenClock()
    settings = make_settings(database_url, port, notification_max_attempts=3,
                             notification_retry_base_seconds=10, notification_retry_max_seconds=15)
    submitted(sessions, "LAP-FAIL")
    sink.refuse = True
    d = dispatcher(sessions, settings, clock)
    assert d.run_once() == 2  # attempt 1: refused
    [receipt] = deliveries(sessions, tracking_id="LAP-FAIL", party="reporter")
    assert (receipt.status, receipt.attempts) == ("pending", 1)
    assert "451" in receipt.last_error
    assert d.run_once() == 0  # backoff: not due yet
    clock.advance(seconds=10)
    assert d.run_once() == 2  # attempt 2, then the delay doubles (capped at 15 s)
    [receipt] = deliveries(sessions, tracking_id="LAP-FAIL", party="reporter")
    assert receipt.next_attempt_at - clock() == timedelta(seconds=15)
    clock.advance(seconds=15)
    assert d.run_once() == 2  # attempt 3: out of attempts
    assert {(x.status, x.attempts) for x in deliveries(sessions, tracking_id="LAP-FAIL")} == {("failed", 3)}
    assert sink.messages == []

    with TestClient(create_app(settings)) as api:
        dead = api.get("/v1/notifications", params={"status": "failed", "tracking_id": "LAP-FAIL"},
                       headers=ADMIN_HEADERS)
        assert dead.status_code == 200
        assert {(x["party"], x["channel"], x["attempts"]) for x in dead.json()} == {
            ("reporter", "email", 3), ("national_admin", "email", 3)}
        officer_token = api.post("/v1/tokens", headers=ADMIN_HEADERS, json={
            "role": "officer", "agency_id": AGENCY, "name": "Budi"}).json()["token"]
        assert api.get("/v1/notifications", headers={"Authorization": f"Bearer {officer_token}"}).status_code == 403
        sink.refuse = False
        for row in dead.json():
            assert api.post(f"/v1/notifications/{row['id']}/resend", headers=ADMIN_HEADERS).status_code == 200
        again = api.post(f"/v1/notifications/{dead.json()[0]['id']}/resend", headers=ADMIN_HEADERS)
        assert again.status_code == 409  # already queued
    assert d.run_once() == 2
    assert {m["To"] for m in sink.messages} == {IDENTITY.email, people.address["admin"]}
    assert {(x.status, x.resends) for x in deliveries(sessions, tracking_id="LAP-FAIL")} == {("sent", 1)}


def test_webhooks_are_signed_retried_and_disabled_with_admins_told(database_url, sessions, people, smtp, http_sink):
    sink, port = smtp
    clock = FrozenClock()
    settings = make_settings(database_url, port, http_sink, webhook_failure_limit=3, notification_max_attempts=5)
    bjm_admin = {"Authorization": "Bearer " + _issue(settings, "agency_admin", AGENCY, "hook@bjm.example")}
    with TestClient(create_app(settings)) as api:
        # An agency admin registers for its own agency only.
        other = api.post("/v1/webhooks", headers=bjm_admin,
                         json={"url": http_sink.url("/hook"), "agency_id": "pemprov-51"})
        assert other.status_code == 403
        created = api.post("/v1/webhooks", headers=bjm_admin, json={
            "url": http_sink.url("/hook"), "event_types": ["accept", "reminder"], "secret": "s" * 32})
        assert created.status_code == 201, created.text
        hook = created.json()
        assert hook["agency_id"] == AGENCY and hook["secret"] == "s" * 32
        all_events = api.post("/v1/webhooks", headers=ADMIN_HEADERS, json={"url": http_sink.url("/all")}).json()
        assert all_events["agency_id"] is None and len(all_events["secret"]) >= 32

    submitted(sessions, "LAP-HOOK", accept=True)
    d = dispatcher(sessions, settings, clock)
    d.run_once()
    # The agency's hook hears only `accept` of its case; the admin's hears both events, once each.
    hook_calls = [(h, b) for p, h, b in http_sink.requests if p == "/hook"]
    assert [json.loads(b)["event"] for _, b in hook_calls] == ["accept"]
    assert sorted(b["event"] for b in http_sink.bodies("/all")) == ["accept", "submit"]
    headers, body = hook_calls[0]
    assert verify_signature("s" * 32, headers[SIGNATURE_HEADER.lower()], body)
    assert not verify_signature("s" * 32, headers[SIGNATURE_HEADER.lower()], body + b" ")
    assert not verify_signature("x" * 32, headers[SIGNATURE_HEADER.lower()], body)
    assert headers["x-sp4n-delivery"] == json.loads(body)["delivery_id"]
    for _, _, raw in http_sink.requests:
        for fragment in IDENTITY_FRAGMENTS:
            assert fragment.lower() not in raw.decode().lower()

    # The receiver starts failing: retried with backoff, then the hook is disabled and admins told.
    http_sink.status = 503
    http_sink.requests.clear()
    sink.clear()
    with sessions.begin() as session:  # a later event of the case, recorded as record_case would
        session.add(NotificationRow(key="LAP-HOOK:99:agency_admin:outbox", tracking_id="LAP-HOOK", event_seq=99,
                                    event="reminder:response", recipient="agency_admin", agency_id=AGENCY,
                                    channel="outbox", payload={"status": "awaiting_agency"}))
    d.run_once()
    for _ in range(3):
        clock.advance(seconds=3600)
        d.run_once()
    hook_attempts = [p for p, _, _ in http_sink.requests if p == "/hook"]
    assert len(hook_attempts) == 3  # the limit: 3 consecutive failures
    with sessions() as session:
        row = session.get(Webhook, hook["id"])
        assert (row.active, row.consecutive_failures) == (False, 3)
    # The agency's hook: national admins and that agency's admins are told. (The administrators'
    # own hook failed too: only national admins hear of that one.)
    told = {m["To"] for m in sink.messages if m["Subject"] == f"Webhook {hook['id']} dinonaktifkan"}
    assert told == {people.address["admin"], people.address["bjm_admin"], "hook@bjm.example"}
    told = {m["To"] for m in sink.messages if m["Subject"] == f"Webhook {all_events['id']} dinonaktifkan"}
    assert told == {people.address["admin"]}
    [pending] = deliveries(sessions, webhook_id=hook["id"], event_seq=99)
    assert pending.status == "skipped"  # the disabled hook gets nothing more
    with TestClient(create_app(settings)) as api:
        enabled = api.post(f"/v1/webhooks/{hook['id']}/enable", headers=bjm_admin).json()
        assert enabled["active"] and enabled["consecutive_failures"] == 0
        http_sink.status = 200
        assert api.post(f"/v1/notifications/{pending.id}/resend", headers=ADMIN_HEADERS).status_code == 200
        assert [h["id"] for h in api.get("/v1/webhooks", headers=bjm_admin).json()] == [hook["id"]]
    d.run_once()
    assert deliveries(sessions, webhook_id=hook["id"], event_seq=99)[0].status == "sent"


def _issue(settings, role: str, agency_id: str | None, email: str) -> str:
    with TestClient(create_app(settings)) as api:
        answer = api.post("/v1/tokens", headers=ADMIN_HEADERS,
                          json={"role": role, "agency_id": agency_id, "name": role, "email": email})
        assert answer.status_code == 201, answer.text
        return answer.json()["token"]


def test_preferences_through_the_api(database_url, sessions, people, smtp):
    from api.auth import reporter_token

    sink, port = smtp
    settings = make_settings(database_url, port)
    submitted(sessions, "LAP-PREF")
    with TestClient(create_app(settings)) as api:
        reporter = {"Authorization": "Bearer " + reporter_token(settings.secret_keyring, "LAP-PREF")}
        answer = api.put("/v1/complaints/LAP-PREF/notification-preferences", headers=reporter,
                         json={"language": "en", "channels": ["email"]})
        assert answer.status_code == 200, answer.text
        assert api.put("/v1/complaints/LAP-OTHER/notification-preferences", headers=reporter,
                       json={"language": "en"}).status_code == 401
        assert api.put("/v1/notifications/preferences", headers=ADMIN_HEADERS, json={}).status_code == 403
        staff = {"Authorization": "Bearer " + _issue(settings, "admin", None, "second-admin@staff.example")}
        assert api.put("/v1/notifications/preferences", headers=staff, json={"language": "en"}).status_code == 200
    dispatcher(sessions, settings).run_once()
    subjects = {m["To"]: m["Subject"] for m in sink.messages}
    assert subjects[IDENTITY.email] == "Report LAP-PREF received"
    assert subjects["second-admin@staff.example"] == "New report LAP-PREF awaiting verification"
    assert subjects[people.address["admin"]] == "Laporan baru LAP-PREF menunggu verifikasi"
