"""The portal's page of failed and uncertain notifications (issue 14): administrators see them,
without addresses, and resend one through Temporal (a DeliveryWorkflow for that delivery)."""

from __future__ import annotations

import uuid

import pytest
from temporalio.service import RPCError

from activities.notifications import resend_workflow_id
from db.notification_models import NotificationDelivery
from tests.api.conftest import ApiHarness
from tests.api.test_portal import ADMIN_EMAIL, ADMIN_PASSWORD, PORTAL, browser, csrf_of, sign_in

pytestmark = PORTAL


def delivery(status: str, last_error: str | None) -> NotificationDelivery:
    delivery_id = uuid.uuid4().hex
    return NotificationDelivery(
        id=delivery_id, key=f"LAP-PORTAL:1:reporter:email:{delivery_id}", outbox_key="LAP-PORTAL:1:reporter:outbox",
        tracking_id="LAP-PORTAL", event_seq=1, event="submit", party="reporter", recipient_ref="reporter",
        channel="email", address="pelapor@example.id", subject="Laporan diterima", body_text="Laporan diterima.",
        status=status, attempts=3 if status == "failed" else 1, last_error=last_error)


async def test_administrators_see_failed_and_uncertain_deliveries_and_resend_one(api: ApiHarness) -> None:
    failed, uncertain, sent = (delivery("failed", "refused: SMTP 451"),
                               delivery("uncertain", "timeout: the SMTP connection was lost before the answer"),
                               delivery("sent", None))
    with api.sessions.begin() as session:
        session.add_all([failed, uncertain, sent])
    ids = {d.id: d.status for d in (failed, uncertain, sent)}
    async with browser(api) as admin, browser(api) as anonymous:
        assert (await anonymous.get("/admin/notifikasi", follow_redirects=False)).status_code in (302, 303, 401, 403)
        assert (await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 303
        page = await admin.get("/admin/notifikasi")
        assert page.status_code == 200
        listed = [i for i in ids if f'data-delivery-id="{i}"' in page.text]
        assert sorted(listed) == sorted([failed.id, uncertain.id])  # not the sent one
        assert "refused: SMTP 451" in page.text and "pelapor@example.id" not in page.text
        only_uncertain = await admin.get("/admin/notifikasi", params={"status": "uncertain"})
        assert failed.id not in only_uncertain.text and uncertain.id in only_uncertain.text

        resent = await admin.post(f"/admin/notifikasi/{failed.id}/kirim-ulang",
                                  data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
        assert resent.status_code == 303 and resent.headers["location"] == "/admin/notifikasi?done=1"
        with api.sessions() as session:
            row = session.get(NotificationDelivery, failed.id)
            assert (row.status, row.attempts, row.resends) == ("pending", 0, 1)
        # Temporal runs it: the DeliveryWorkflow for this delivery exists (no delivery worker here).
        workflow_id = resend_workflow_id(api.settings, failed.id, 1)
        started = await api.env.client.get_workflow_handle(workflow_id).describe()
        assert started.workflow_type == "DeliveryWorkflow"
        # Its id, plain text in Temporal, shows neither the delivery's id (an unkeyed digest of
        # the address) nor anything one could recompute from a guessed address without the key.
        assert failed.id not in workflow_id and failed.id[:12] not in workflow_id
        with pytest.raises(RPCError):
            await api.env.client.get_workflow_handle(f"resend:{failed.id}:1").describe()
        after = await admin.get("/admin/notifikasi?done=1")
        assert 'data-testid="resend-done"' in after.text and f'data-delivery-id="{failed.id}"' not in after.text

        again = await admin.post(f"/admin/notifikasi/{failed.id}/kirim-ulang",
                                 data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
        assert again.status_code == 409  # already queued again
        forged = await admin.post(f"/admin/notifikasi/{uncertain.id}/kirim-ulang", data={}, follow_redirects=False)
        assert forged.status_code in (400, 403)  # no CSRF token: nothing queued
        with api.sessions() as session:
            assert session.get(NotificationDelivery, uncertain.id).status == "uncertain"


async def test_the_page_says_why_in_words_and_offers_a_resend_only_where_it_can_help(api: ApiHarness) -> None:
    unconfigured = delivery("failed", "failed: email is not configured (SMTP_HOST)")
    wrong_address = delivery("failed", "refused: SMTP 550 for the recipient")
    unconfigured.event, unconfigured.party = "accept", "agency_admin"
    busy = delivery("failed", "failed: cannot connect to the SMTP server")
    with api.sessions.begin() as session:
        session.add_all([unconfigured, wrong_address, busy])
    async with browser(api) as admin:
        assert (await sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 303
        page = (await admin.get("/admin/notifikasi")).text

        def row(d: NotificationDelivery) -> str:
            return page.split(f'data-delivery-id="{d.id}"', 1)[1].split("</tr>", 1)[0]

        assert "Server surel belum disiapkan" in row(unconfigured) and "admin instansi" in row(unconfigured)
        assert "Diverifikasi dan diteruskan" in row(unconfigured) and ">accept<" not in row(unconfigured)
        assert 'data-testid="resend"' not in row(unconfigured)  # this test's app has no SMTP_HOST
        assert "setelah kanal ini disiapkan" in row(unconfigured)
        assert 'data-testid="resend"' not in row(wrong_address) and "akan gagal lagi" in row(wrong_address)
        assert 'data-testid="resend"' in row(busy)
        english = (await admin.get("/admin/notifikasi", params={"lang": "en"})).text
        assert "No mail server is set up" in english and "agency administrator" in english
