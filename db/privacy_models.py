"""Tables of the reporter's personal-data rights (UU 27/2022, docs/privacy.md): registered on
db.models.Base.

`case_privacy` holds each case's key (wrapped by the service's keys, domain/sealing.py), which is
destroyed at erasure, and the reporter's withdrawal of consent to be contacted. `privacy_holds`
are the exceptions the law allows (an Ombudsman flag, a legal hold): set and lifted by an
administrator with a reason; an active one defers erasure. `identity_views` is the access log:
every time staff were shown a reporter's identity.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base, utc_now


class CasePrivacy(Base):
    __tablename__ = "case_privacy"

    tracking_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The service key (TEMPORAL_ENCRYPTION_KEYS id) wrapping the case key; both None once erased.
    wrap_key_id: Mapped[str | None] = mapped_column(String(40))
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    erased_at: Mapped[datetime | None]
    # reporter, admin or retention: who asked (never a name).
    erased_by: Mapped[str | None] = mapped_column(String(20))
    # Set when the reporter withdrew consent to be contacted: nothing is sent to them after it.
    contact_withdrawn_at: Mapped[datetime | None]

    __table_args__ = (Index(None, "erased_at"),)


class PrivacyHold(Base):
    __tablename__ = "privacy_holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tracking_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # legal_hold, ombudsman
    reason: Mapped[str] = mapped_column(String(2000))
    set_by: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[datetime] = mapped_column(default=utc_now)
    lifted_at: Mapped[datetime | None]
    lifted_by: Mapped[str | None] = mapped_column(String(200))
    lift_reason: Mapped[str | None] = mapped_column(String(2000))


class IdentityView(Base):
    __tablename__ = "identity_views"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tracking_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utc_now)
    viewer_role: Mapped[str] = mapped_column(String(20))
    viewer_agency_id: Mapped[str | None] = mapped_column(String(64))
    # The staff token's or account's id and name: who, for the administrators' audit.
    viewer_id: Mapped[str | None] = mapped_column(String(64))
    viewer_name: Mapped[str | None] = mapped_column(String(200))
    via: Mapped[str] = mapped_column(String(40))  # api, portal, list...

    __table_args__ = (Index(None, "tracking_id", "at"), Index(None, "at"))
