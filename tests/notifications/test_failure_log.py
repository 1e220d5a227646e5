"""A delivery that does not go out (no mail server, as on a fresh `make run` without one) is one
line in the worker's log, not a traceback (issue 23): the page of notifications shows it, and
Temporal's SDK logs the activity failure at debug level (a BENIGN application error)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.notifications import DeliveryActivities
from db.notification_models import NotificationDelivery
from tests.notifications.conftest import make_settings
from workflows.delivery import SendRequest


def test_an_email_without_a_mail_server_is_one_warning_line(database_url, clean: sessionmaker[Session], capsys):
    delivery_id = uuid.uuid4().hex
    with clean.begin() as session:
        session.add(NotificationDelivery(
            id=delivery_id, key=f"LAP-LOG:1:reporter:email:{delivery_id}", outbox_key="LAP-LOG:1:reporter:outbox",
            tracking_id="LAP-LOG", event_seq=1, event="submit", party="reporter", recipient_ref="reporter",
            channel="email", address="pelapor@example.id", subject="Laporan diterima", body_text="Diterima."))
    activities = DeliveryActivities(clean, make_settings(database_url, 25, smtp_host=None))
    capsys.readouterr()
    with pytest.raises(ApplicationError) as raised:
        activities.send(SendRequest(delivery_id=delivery_id, max_attempts=3), "email", attempt=1)
    # BENIGN: the SDK's "Completing activity as failed" goes to debug, without its traceback.
    assert raised.value.category == ApplicationErrorCategory.BENIGN and raised.value.non_retryable
    printed = capsys.readouterr()
    said = (printed.out + printed.err).strip().splitlines()
    assert len(said) == 1 and "notification not delivered" in said[0] and "SMTP_HOST" in said[0], said
    with clean() as session:
        assert session.get(NotificationDelivery, delivery_id).status == "failed"
