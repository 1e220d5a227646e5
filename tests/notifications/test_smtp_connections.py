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
