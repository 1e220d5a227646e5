"""Tables of notification delivery (issue 5): registered on db.models.Base.

The outbox (`notifications`, db/models.py) says *that* a party must hear of an event; a delivery
says *who* (one address), *how* (email, sms, webhook) and *what* (the rendered message), and
carries the delivery's own state: pending → sending → sent, or back to pending for Temporal's
next attempt (workflows/delivery.py), or `failed` (dead letter) / `uncertain` (a worker stopped
between send and record). `lease_until` is no longer used (issue 14: Temporal runs the attempts). A delivery's `key` (case, event seq, party, channel, recipient) is unique, so expanding
the same outbox row twice never makes a second delivery.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, false, true
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base, utc_now


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt (`next_attempt_at`)
    SENDING = "sending"  # an attempt is under way (found so by the next attempt: uncertain)
    SENT = "sent"  # the channel accepted it
    FAILED = "failed"  # dead letter: attempts exhausted or refused for good
    UNCERTAIN = "uncertain"  # the channel may have accepted it; never resent without an admin
    SKIPPED = "skipped"  # opted out (non-essential) or the webhook is disabled


class DeliveryChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WEBHOOK = "webhook"
    CHAT = "chat"  # the WhatsApp or Telegram chat a report came from (activities/chat.py)
    NONE = "none"  # nobody to reach: recorded as failed so that admins see it


class NotificationDelivery(Base):
    """One message to one address over one channel."""

    __tablename__ = "notification_deliveries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    outbox_key: Mapped[str] = mapped_column(String(200), index=True)
    tracking_id: Mapped[str] = mapped_column(String(64), index=True)
    event_seq: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(64))
    party: Mapped[str] = mapped_column(String(20))
    # "reporter", "token:<id>" or "webhook:<id>": whom, without the address.
    recipient_ref: Mapped[str] = mapped_column(String(100))
    agency_id: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(2000))
    language: Mapped[str] = mapped_column(String(5), default="id")
    webhook_id: Mapped[str | None] = mapped_column(String(32))
    subject: Mapped[str | None] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str | None] = mapped_column(Text)
    # A follower's message: where one click stops it (List-Unsubscribe, RFC 8058; issue 24).
    list_unsubscribe: Mapped[str | None] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    resends: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utc_now)
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index(None, "status", "next_attempt_at"),)


class NotificationPreference(Base):
    """How one person wants to hear: a staff token (`token:<id>`) or a case's reporter (`reporter:<tracking_id>`)."""

    __tablename__ = "notification_preferences"

    subject: Mapped[str] = mapped_column(String(100), primary_key=True)
    language: Mapped[str] = mapped_column(String(5), default="id")
    # Empty: every channel the person has an address for (reporters: email, else SMS).
    channels: Mapped[list[str]] = mapped_column(default=list)
    phone: Mapped[str | None] = mapped_column(String(40))
    # Officers: hear only of cases disposed to this unit (none: every unit of their agency).
    unit_id: Mapped[str | None] = mapped_column(String(100))
    opt_out_non_essential: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)


class Webhook(Base):
    """An agency's own system (or, without agency, an administrator's) hearing of case events."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    agency_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("agencies.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    # Empty: every event.
    event_types: Mapped[list[str]] = mapped_column(default=list)
    secret: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    disabled_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    disabled_at: Mapped[datetime | None]
    created_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
