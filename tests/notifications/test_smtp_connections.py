"""The email channel keeps its SMTP connections between messages (issue 25), and a connection the
server has dropped since costs a reconnect, never a message."""

from __future__ import annotations

import email
import email.policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from activities.notifications import EmailChannel, Outgoing, Uncertain
from tests.notifications.conftest import make_settings


class CountingSink:
    """Accepts every message and remembers which connection (client port) brought it."""

    def __init__(self) -> None:
        self.messages: list[tuple[int, email.message.Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((session.peer[1], email.message_from_bytes(envelope.content, policy=email.policy.default)))
        return "250 OK"


def outgoing(number: int) -> Outgoing:
    return Outgoing(id=f"delivery-{number}", key=f"LAP-X:{number}:reporter:email:abc", tracking_id="LAP-X",
                    event="submit", channel="email", address="siti@example.id",
                    subject=f"Laporan LAP-X diterima ({number}): jalan berlubang — Kota Palangka Raya",
                    body_text=f"Halo Siti, pesan {number}.", body_html=f"<p>Halo Siti, pesan {number}.</p>",
                    webhook_id=None, webhook_secret=None, attempts=1)


@pytest.fixture
def server(unused_tcp_port: int):
    sink = CountingSink()
    controller = Controller(sink, hostname="127.0.0.1", port=unused_tcp_port)
    controller.start()
    yield sink, controller
    if controller.loop.is_running():
        controller.stop()


def test_messages_one_after_another_share_one_connection(server, database_url) -> None:
    sink, controller = server
    channel = EmailChannel(make_settings(database_url, controller.port))
    try:
        for number in range(3):
            channel.send(outgoing(number))
    finally:
        channel.close()
    assert [message["Message-ID"] for _, message in sink.messages] == [
        f"<delivery-{n}@lapor.test>" for n in range(3)]
    assert len({port for port, _ in sink.messages}) == 1
    # What the reader sees is unchanged by how the message was built.
    first = sink.messages[0][1]
    assert str(first["Subject"]) == "Laporan LAP-X diterima (0): jalan berlubang — Kota Palangka Raya"
    assert str(first["From"]) == "SP4N-LAPOR! <no-reply@lapor.test>" and str(first["To"]) == "siti@example.id"
    assert first.get_body(("plain",)).get_content().strip() == "Halo Siti, pesan 0."
    assert first.get_body(("html",)).get_content().strip() == "<p>Halo Siti, pesan 0.</p>"


def test_a_connection_the_server_dropped_is_replaced_before_the_message(server, database_url) -> None:
    sink, controller = server
    channel = EmailChannel(make_settings(database_url, controller.port))
    try:
        channel.send(outgoing(1))
        controller.stop()  # the server goes away: the kept connection is dead
        again = Controller(sink, hostname="127.0.0.1", port=controller.port)  # and comes back
        again.start()
        try:
            channel.send(outgoing(2))  # not Uncertain: nothing was sent over the dead connection
        finally:
            again.stop()
    finally:
        channel.close()
    assert [message["Message-ID"] for _, message in sink.messages] == ["<delivery-1@lapor.test>",
                                                                       "<delivery-2@lapor.test>"]
    assert len({port for port, _ in sink.messages}) == 2


def test_a_connection_lost_during_the_message_is_uncertain(database_url, unused_tcp_port: int) -> None:
    """Still: the server may have queued it (never resent without an administrator)."""

    class Vanishing(CountingSink):
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            server.transport.close()  # gone before its answer to DATA
            return "250 OK"

    controller = Controller(Vanishing(), hostname="127.0.0.1", port=unused_tcp_port)
    controller.start()
    channel = EmailChannel(make_settings(database_url, controller.port))
    try:
        with pytest.raises(Uncertain):
            channel.send(outgoing(1))
    finally:
        channel.close()
        controller.stop()


def test_a_batch_larger_than_one_chunk_records_each_outcome_once(clean, database_url, unused_tcp_port: int) -> None:
    """Twenty followers' e-mails in one batch (three chunks): the one address the server refuses
    for good is `failed`, every other one is `sent`, each message went out once."""
    from sqlalchemy import select

    from activities.notifications import DeliveryActivities
    from db.notification_models import NotificationDelivery
    from workflows.delivery import SendBatch

    refused = "ditolak@example.id"

    class Refusing(CountingSink):
        async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
            if address == refused:
                return "550 5.1.1 no such mailbox"
            envelope.rcpt_tos.append(address)
            return "250 OK"

    sink = Refusing()
    controller = Controller(sink, hostname="127.0.0.1", port=unused_tcp_port)
    controller.start()
    addresses = [f"pengikut{n}@example.id" for n in range(19)] + [refused]
    with clean.begin() as session:
        for n, address in enumerate(addresses):
            session.add(NotificationDelivery(
                id=f"batch-{n:02d}", key=f"LAP-BATCH:3:follower:email:{n:02d}", outbox_key="LAP-BATCH:3:follower:outbox",
                tracking_id="LAP-BATCH", event_seq=3, event="follow_up", party="follower",
                recipient_ref="follower:support", channel="email", address=address, subject="Tindak lanjut",
                body_text="Laporan yang Anda ikuti ditindaklanjuti."))
    deliveries = DeliveryActivities(clean, make_settings(database_url, controller.port))
    try:
        statuses = deliveries.send_batch(SendBatch(delivery_ids=[f"batch-{n:02d}" for n in range(20)],
                                                   max_attempts=3), "email")
    finally:
        deliveries.close()
        controller.stop()
    assert statuses == {f"batch-{n:02d}": "sent" for n in range(19)} | {"batch-19": "failed"}
    assert sorted(str(message["To"]) for _, message in sink.messages) == sorted(addresses[:19])
    with clean() as session:
        rows = {d.id: (d.status, d.attempts, d.sent_at is not None)
                for d in session.scalars(select(NotificationDelivery).where(NotificationDelivery.tracking_id == "LAP-BATCH"))}
    assert rows == {f"batch-{n:02d}": ("sent", 1, True) for n in range(19)} | {"batch-19": ("failed", 1, False)}
