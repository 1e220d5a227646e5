"""Tables of the Open311 door (issue 16): registered on db.models.Base.

- `open311_requests`: which client (api_key) sent a case, so that only that client posts its
  citizens' comments on it (POST servicerequestupdates).
- `open311_media_links`: every `media_url` a request came with, in order: link attachments, shown
  (never fetched by the server) and never public when the reporter is anonymous.
- `open311_client_updates`: each citizen comment a client posted, keyed by the client's own update
  id so that a retry is answered with the same update and recorded once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base, utc_now


class Open311Request(Base):
    __tablename__ = "open311_requests"

    tracking_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_token_id: Mapped[str] = mapped_column(String(32))
    # Answered with the request; GET tokens/{token} finds the request by it without an api_key.
    token: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class Open311MediaLink(Base):
    __tablename__ = "open311_media_links"

    tracking_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class Open311ClientUpdate(Base):
    __tablename__ = "open311_client_updates"

    # "<client token id>:<the client's update id>"
    scope_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    tracking_id: Mapped[str] = mapped_column(String(64), index=True)
    update_id: Mapped[str] = mapped_column(String(64), unique=True)  # ours, answered to the client
    # How the comment was recorded: "reply", "supplement" (the case's timeline) or "note" (for staff).
    recorded_as: Mapped[str] = mapped_column(String(20))
    body_hash: Mapped[str] = mapped_column(String(64))
    # The comment itself when it is a note for staff (a reply or supplement is in the timeline).
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
