"""Tables of the chat doors (issue 30): registered on db.models.Base.

`chat_inbound` remembers every message a door has handed on (door, a keyed digest of its message
or update id: WhatsApp's ids carry the sender's number), so a webhook delivered again is handled once. `chat_threads` knows when each chat last wrote to us
(WhatsApp lets a business write freely only within 24 hours of that; after it, an approved
template), keyed by a keyed digest of the chat's address: no number or chat id in clear here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base, utc_now


class ChatInbound(Base):
    __tablename__ = "chat_inbound"

    door: Mapped[str] = mapped_column(String(16), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utc_now, index=True)


class ChatThread(Base):
    __tablename__ = "chat_threads"

    address_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    door: Mapped[str] = mapped_column(String(16))
    last_inbound_at: Mapped[datetime] = mapped_column(default=utc_now)
