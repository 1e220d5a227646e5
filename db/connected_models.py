"""Tables of connected bodies (issue 27): registered on db.models.Base.

- `connected_bodies`: a body that runs its own complaint system, reached over Open311 GeoReport
  v2: its endpoint, its api_key (sealed, domain/sealed.py, never shown back), the service code
  of each of our categories, whether it takes updates, and how its sync stands.
- `connected_forwards`: what we send into that system, one row per case event: the case itself
  (`request`, when it is forwarded there) or a reporter's words (`update`, a reply or
  supplement); its state, attempts and the body's id for it.
- `connected_updates`: every update read back from the system, keyed by its own update id, with
  what it did to our case: each is applied once, in order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base, utc_now


class ConnectedBody(Base):
    __tablename__ = "connected_bodies"

    agency_id: Mapped[str] = mapped_column(String(64), ForeignKey("agencies.id"), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(500))
    jurisdiction_id: Mapped[str | None] = mapped_column(String(200))
    api_key_sealed: Mapped[str] = mapped_column(Text)
    # Our category → the body's service_code; cases without a mapped category use the default.
    service_codes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    default_service_code: Mapped[str] = mapped_column(String(100))
    accepts_updates: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
    # The sync: updated_datetime of the newest update read (the next read starts there).
    sync_cursor: Mapped[datetime | None] = mapped_column()
    last_sync_at: Mapped[datetime | None] = mapped_column()
    last_sync_ok_at: Mapped[datetime | None] = mapped_column()
    last_sync_error: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    sync_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_test_at: Mapped[datetime | None] = mapped_column()
    last_test_result: Mapped[str | None] = mapped_column(Text)


class ConnectedForward(Base):
    __tablename__ = "connected_forwards"
    __table_args__ = (Index("ix_connected_forwards_agency_id_status", "agency_id", "status"),)

    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # "<tracking id>:<event seq>"
    tracking_id: Mapped[str] = mapped_column(String(64), index=True)
    event_seq: Mapped[int] = mapped_column(Integer)
    agency_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))  # request | update
    # pending → sent (a token, id not known yet) → acknowledged (the body's id); failed (refused
    # for good: an administrator forwards it by hand); manual (an administrator did).
    status: Mapped[str] = mapped_column(String(20), default="pending")
    service_request_id: Mapped[str | None] = mapped_column(String(200))
    remote_token: Mapped[str | None] = mapped_column(String(200))
    remote_update_id: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    sent_at: Mapped[datetime | None] = mapped_column()
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    alerted_at: Mapped[datetime | None] = mapped_column()
    manual_by: Mapped[str | None] = mapped_column(String(200))


class ConnectedUpdate(Base):
    __tablename__ = "connected_updates"
    __table_args__ = (Index("ix_connected_updates_agency_id_outcome", "agency_id", "outcome"),)

    agency_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    update_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    service_request_id: Mapped[str] = mapped_column(String(200))
    tracking_id: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utc_now)
    # pending; follow_up / reroute (applied as the body's action); progress (the body is working
    # on it: shown, the lifecycle stays); own (our own reply read back); skipped (not applicable now).
    outcome: Mapped[str] = mapped_column(String(20), default="pending")
    note: Mapped[str | None] = mapped_column(Text)
    applied_at: Mapped[datetime | None] = mapped_column()
