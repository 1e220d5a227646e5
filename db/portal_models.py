"""Tables of the web portal and attachments (issue 8): registered on db.models.Base.

Staff accounts sign in to the portal with a password (argon2 hash only); a signed-in browser holds
a random session id whose SHA-256 digest is the row's key, so a leaked table opens no session.
Supports ("dukung") are counted once per browser: the key is a digest of the browser's cookie,
never an address. Attachments are files kept in storage (api/storage.py); the row says which case
they belong to, what they are and who added them — never their original file name, which can name
an anonymous reporter.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, true
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base, utc_now


class StaffAccount(Base):
    """A person who signs in to the portal: an administrator, an agency admin, an officer."""

    __tablename__ = "staff_accounts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    agency_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("agencies.id"))
    active: Mapped[bool] = mapped_column(Boolean, server_default=true(), default=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_sign_in_at: Mapped[datetime | None]


class WebSession(Base):
    """A signed-in browser; ends at sign-out, deactivation of the account, or expiry."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[str] = mapped_column(String(32), ForeignKey("staff_accounts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime]


class CaseSupport(Base):
    """One browser's "dukung" for a public case."""

    __tablename__ = "case_supports"

    tracking_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    supporter_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class Attachment(Base):
    """A photo or PDF added to a case (images stored with every metadata field removed)."""

    __tablename__ = "attachments"
    __table_args__ = (Index("ix_attachments_tracking_id_created_at", "tracking_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tracking_id: Mapped[str] = mapped_column(String(64))
    # What it documents: the report itself, a supplement, a follow-up's evidence, a reply.
    purpose: Mapped[str] = mapped_column(String(20))
    content_type: Mapped[str] = mapped_column(String(50))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    added_by_role: Mapped[str] = mapped_column(String(20))
    added_by_agency_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    # The timeline event it documents (a follow-up's evidence), when known.
    event_seq: Mapped[int | None] = mapped_column(Integer)


class CaseFollower(Base):
    """Someone who hears of a case's progress without being its reporter (issue 19).

    `duplicate:<tracking id>`: the reporter of a report rejected as a duplicate of this case. Their
    address is read from their own case at delivery (with their own preferences), never copied
    here. `support:<digest>`: a person who supported the case from the portal and left an email
    address to be told of it (kept here, shown to nobody).
    """

    __tablename__ = "case_followers"

    tracking_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    follower_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    source_tracking_id: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(5), default="id")
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    # A supporter's address hears nothing until its owner opens the confirmation link (issue 24);
    # a merged duplicate's reporter follows from the merge (their own contact, already theirs).
    confirmed_at: Mapped[datetime | None]


class UploadUsage(Base):
    """Bytes of attachments one submitter added on one UTC day (the daily quota, issue 13).

    The submitter is an HMAC of the day and the key (a staff token's id or a client's address)
    under SECRET_KEY: no address is stored, and one day's rows cannot be linked to another's.
    No row names an attachment or a case. Rows of past days are removed as new ones come.
    """

    __tablename__ = "upload_usage"

    day: Mapped[date] = mapped_column(primary_key=True)
    submitter_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    bytes: Mapped[int] = mapped_column(BigInteger)
