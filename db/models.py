"""The SQL read model: what lists, statistics and the directory read.

The workflow is the source of truth for a case; these rows are its projection (written by
activities/records.py), plus the outbox of notifications and the directory of agencies.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    LargeBinary,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from db.types import UTCDateTime

# Named constraints, so later migrations (and SQLite batch mode) can find them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utc_now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


class AgencyKind(StrEnum):
    MINISTRY = "ministry"
    AGENCY = "agency"
    PROVINCE = "province"
    REGENCY = "regency"
    CITY = "city"
    STATE_COMPANY = "state_company"
    UNIVERSITY = "university"
    MISSION = "mission"


REGIONAL_KINDS = frozenset({AgencyKind.PROVINCE, AgencyKind.REGENCY, AgencyKind.CITY})


class Complaint(Base):
    """One case as of its last projected event (`seq`)."""

    __tablename__ = "complaints"

    tracking_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    report_type: Mapped[str] = mapped_column(String(40))
    category: Mapped[str | None] = mapped_column(String(100))
    region_code: Mapped[str | None] = mapped_column(String(13))
    location_lat: Mapped[float | None] = mapped_column(Float)
    location_lon: Mapped[float | None] = mapped_column(Float)
    location_address: Mapped[str | None] = mapped_column(String(500))
    agency_hint: Mapped[str | None] = mapped_column(String(200))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    channel: Mapped[str] = mapped_column(String(20))
    # Stored for notifications and for those allowed to see them; the API decides who does.
    reporter_name: Mapped[str | None] = mapped_column(String(200))
    reporter_email: Mapped[str | None] = mapped_column(String(320))
    reporter_phone: Mapped[str | None] = mapped_column(String(40))
    # The chat the report came from (`whatsapp:<number>`, `telegram:<chat id>`): where its news go,
    # and how a message typed in that chat finds the case awaiting its reporter's reply.
    reporter_chat: Mapped[str | None] = mapped_column(String(100), index=True)
    submitted_at: Mapped[datetime]
    policy_version: Mapped[str] = mapped_column(String(64))
    calendar_version: Mapped[str] = mapped_column(String(100))
    agency_id: Mapped[str | None] = mapped_column(String(64))
    unit_id: Mapped[str | None] = mapped_column(String(100))
    archive_reason: Mapped[str | None] = mapped_column(String(32))
    duplicate_of: Mapped[str | None] = mapped_column(String(64))
    verification_due: Mapped[datetime | None]
    response_due: Mapped[datetime | None]
    resolution_due: Mapped[datetime | None]
    silence_ends: Mapped[datetime | None]
    hold_ends: Mapped[datetime | None]
    next_deadline: Mapped[datetime | None]
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    bounce_count: Mapped[int] = mapped_column(Integer, default=0)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    ombudsman_flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    first_response_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    rating: Mapped[int | None] = mapped_column(Integer)
    # The first run id of the workflow this row was recorded from (kept across continue-as-new):
    # a record of another run is refused and reconciliation reports the mismatch.
    run_id: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
    # Set by an administrator's directory edit (its body deactivated or merged away) on an open
    # case; the projection keeps it until the case is accepted to another body or closes.
    needs_rerouting: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Set by an agency admin's or administrator's unit edit (its unit deactivated or merged) on an
    # open case; the projection keeps it until the case is disposed to another unit or closes.
    needs_redisposition: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Migration 0022: the pin lies outside the case's region (db/boundaries.py, set when the case is
    # first recorded); such a pin is used for nothing public nor for duplicate scoring until a
    # verifier confirms it (api/cases.py confirm_pin), which clears the flag and keeps who and when.
    pin_outside_region: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    pin_confirmed_at: Mapped[datetime | None]
    pin_confirmed_by: Mapped[str | None] = mapped_column(String(200))

    timeline: Mapped[list[TimelineEventRow]] = relationship(
        order_by="TimelineEventRow.seq", viewonly=True
    )
    escalations: Mapped[list[EscalationRow]] = relationship(
        order_by="EscalationRow.seq", viewonly=True
    )

    __table_args__ = (
        Index(None, "agency_id", "status", "submitted_at"),
        Index(None, "status", "submitted_at"),
        Index(None, "overdue"),
        Index(None, "next_deadline"),
        Index(None, "submitted_at"),
        Index(None, "needs_rerouting"),
        # Migration 0015: similar reports find open cases by place (api/similar.py).
        Index(None, "region_code", "status", "submitted_at"),
        Index(None, "status", "location_lat"),
        Index(None, "needs_redisposition"),
        # Migration 0005 (bench/reads.py): `overdue=true` lists newest first without a sort, and
        # `q=` words (ILIKE '%word%') through trigram indexes on PostgreSQL.
        Index(None, "overdue", "submitted_at", "tracking_id"),
        Index(
            "ix_complaints_title_trgm", "title", postgresql_using="gin", postgresql_ops={"title": "gin_trgm_ops"}
        ).ddl_if(dialect="postgresql"),
        Index(
            "ix_complaints_description_trgm",
            "description",
            postgresql_using="gin",
            postgresql_ops={"description": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )


class TimelineEventRow(Base):
    """One transition of a case. The actor is a role (and agency), never the reporter's identity."""

    __tablename__ = "timeline_events"

    tracking_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("complaints.tracking_id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(32))
    actor_role: Mapped[str] = mapped_column(String(20))
    actor_agency_id: Mapped[str | None] = mapped_column(String(64))
    actor_name: Mapped[str | None] = mapped_column(String(200))
    status_from: Mapped[str | None] = mapped_column(String(32))
    status_to: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    agency_id: Mapped[str | None] = mapped_column(String(64))
    unit_id: Mapped[str | None] = mapped_column(String(100))
    deadline_set: Mapped[datetime | None]
    deadline_met: Mapped[datetime | None]

    # Migration 0008: the dashboard reads the status changes of the last days (portal/dashboard.py).
    __table_args__ = (Index(None, "at"),)


class EscalationRow(Base):
    """A reminder, an overdue breach or an Ombudsman flag; recorded once each (PK)."""

    __tablename__ = "escalations"

    tracking_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("complaints.tracking_id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(20))
    clock: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime]
    at: Mapped[datetime]
    notified: Mapped[str] = mapped_column(String(20))
    summary: Mapped[str | None] = mapped_column(Text)


class NotificationRow(Base):
    """The durable outbox: written with the projection, delivered (and retried) by Temporal (workflows/delivery.py)."""

    __tablename__ = "notifications"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    tracking_id: Mapped[str] = mapped_column(String(64))
    event_seq: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(20))
    agency_id: Mapped[str | None] = mapped_column(String(64))
    unit_id: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(20))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index(None, "status", "created_at"),)


class Agency(Base):
    """A body of the directory: ministry, agency, regional government, state company, ..."""

    __tablename__ = "agencies"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))
    region_code: Mapped[str | None] = mapped_column(String(13))
    timezone: Mapped[str] = mapped_column(String(40))
    parent_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("agencies.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    aliases: Mapped[list[str]] = mapped_column(default=list)

    units: Mapped[list[AgencyUnit]] = relationship(
        back_populates="agency", order_by="AgencyUnit.id", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{kind.value}'" for kind in AgencyKind) + ")", name="kind"
        ),
        Index(None, "kind"),
        Index(None, "region_code"),
        Index(None, "parent_id"),
    )


class RoutingFeedback(Base):
    """A "not our authority" bounce (a REROUTE event): the body that sent the case back, and why.

    The router reads these to down-weight a body for texts like the ones it bounced.
    """

    __tablename__ = "routing_feedback"

    tracking_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    agency_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]

    __table_args__ = (Index(None, "agency_id"),)


class AgencyUnit(Base):
    """A unit of an agency (a dinas, a directorate); its id is `<agency_id>/<slug>`."""

    __tablename__ = "agency_units"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    agency_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("agencies.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(40))
    # An agency admin's or administrator's edit: an inactive unit takes no new dispositions and is
    # never suggested; a merged one names the unit that took over its work.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    merged_into: Mapped[str | None] = mapped_column(String(100))

    agency: Mapped[Agency] = relationship(back_populates="units")


class RoutingExample(Base):
    """One routing decision, a labelled example the router learns from (activities/routing_learning.py).

    `accept` (this body), `dispose` (this body and unit), `reroute` ("not our authority": not this
    body, `positive` false), projected from the case's events in the same transaction as the case;
    `import` for a body's past complaints (POST /v1/routing/history).
    """

    __tablename__ = "routing_examples"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(20))
    tracking_id: Mapped[str | None] = mapped_column(String(64))
    event_seq: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    region_code: Mapped[str | None] = mapped_column(String(13))
    agency_id: Mapped[str] = mapped_column(String(64))
    unit_id: Mapped[str | None] = mapped_column(String(100))
    positive: Mapped[bool] = mapped_column(Boolean, default=True)
    decided_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    __table_args__ = (
        UniqueConstraint("tracking_id", "event_seq"),
        Index(None, "agency_id"),
    )


class RoutingModelVersion(Base):
    """A version of what the router learned: the decision memory over the examples up to
    `examples_upto`, stored as an artefact every process loads (the `active` one)."""

    __tablename__ = "routing_models"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    examples_upto: Mapped[int] = mapped_column(Integer, unique=True)
    n_examples: Mapped[int] = mapped_column(Integer)
    artefact: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    # Chosen by an administrator (a rollback): newer versions are stored but not activated.
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(String(300))


class ApiToken(Base):
    """A bearer token issued by an administrator; only its SHA-256 digest is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    agency_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("agencies.id"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    revoked_at: Mapped[datetime | None]


class SeedVersion(Base):
    """Which version of shipped data (e.g. the directory) the database was last loaded with."""

    __tablename__ = "seed_versions"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = mapped_column(default=utc_now)


class IdempotencyKey(Base):
    """What an `Idempotency-Key` was first used for, so a retry gets the same case."""

    __tablename__ = "idempotency_keys"

    scope_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    body_hash: Mapped[str] = mapped_column(String(64))
    tracking_id: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[datetime]


class CalendarAmendmentRow(Base):
    """A declared or cancelled non-working day (domain.calendar.DayAmendment), kept for good: the
    effective calendar is the package's plus, per day, the latest amendment. Never updated or
    deleted: taking a day back is a new `cancelled` row."""

    __tablename__ = "calendar_amendments"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(20))  # holiday, cuti_bersama, cancelled
    name: Mapped[str] = mapped_column(String(200))
    decree: Mapped[str] = mapped_column(String(300))
    declared_by: Mapped[str] = mapped_column(String(200))
    declared_at: Mapped[datetime] = mapped_column(default=utc_now)


# Tables defined in their own modules register on the same metadata.
from db import (  # noqa: E402,F401
    chat_models,
    connected_models,
    notification_models,
    open311_models,
    open_data_models,
    portal_models,
    privacy_models,
    throttle_models,
)
