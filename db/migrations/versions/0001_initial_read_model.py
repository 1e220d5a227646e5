"""Initial read model: complaints, timeline, escalations, the notification outbox, the directory.

Revision ID: 0001
Revises:
Create Date: 2026-11-28

Written from an autogenerate run and tidied. Plain column types on purpose: a migration must not
change meaning when application code does (db.types.UTCDateTime stores timestamptz / naive UTC).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AGENCY_KINDS = (
    "ministry",
    "agency",
    "province",
    "regency",
    "city",
    "state_company",
    "university",
    "mission",
)


def instant(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "agencies",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("region_code", sa.String(13), nullable=True),
        sa.Column("timezone", sa.String(40), nullable=False),
        sa.Column("parent_id", sa.String(64), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "kind IN (" + ", ".join(f"'{kind}'" for kind in AGENCY_KINDS) + ")",
            name=op.f("ck_agencies_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["agencies.id"], name=op.f("fk_agencies_parent_id_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agencies")),
    )
    op.create_index(op.f("ix_agencies_kind"), "agencies", ["kind"])
    op.create_index(op.f("ix_agencies_parent_id"), "agencies", ["parent_id"])
    op.create_index(op.f("ix_agencies_region_code"), "agencies", ["region_code"])

    op.create_table(
        "agency_units",
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_agency_units_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agency_units")),
    )
    op.create_index(op.f("ix_agency_units_agency_id"), "agency_units", ["agency_id"])

    op.create_table(
        "complaints",
        sa.Column("tracking_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("report_type", sa.String(40), nullable=False),
        sa.Column("category", sa.String(100), nullable=True),
        sa.Column("region_code", sa.String(13), nullable=True),
        sa.Column("location_lat", sa.Float(), nullable=True),
        sa.Column("location_lon", sa.Float(), nullable=True),
        sa.Column("location_address", sa.String(500), nullable=True),
        sa.Column("agency_hint", sa.String(200), nullable=True),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("reporter_name", sa.String(200), nullable=True),
        sa.Column("reporter_email", sa.String(320), nullable=True),
        sa.Column("reporter_phone", sa.String(40), nullable=True),
        instant("submitted_at", nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("calendar_version", sa.String(100), nullable=False),
        sa.Column("agency_id", sa.String(64), nullable=True),
        sa.Column("unit_id", sa.String(100), nullable=True),
        sa.Column("archive_reason", sa.String(32), nullable=True),
        sa.Column("duplicate_of", sa.String(64), nullable=True),
        instant("verification_due"),
        instant("response_due"),
        instant("resolution_due"),
        instant("silence_ends"),
        instant("hold_ends"),
        instant("next_deadline"),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("bounce_count", sa.Integer(), nullable=False),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("ombudsman_flagged", sa.Boolean(), nullable=False),
        instant("first_response_at"),
        instant("completed_at"),
        sa.Column("rating", sa.Integer(), nullable=True),
        instant("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("tracking_id", name=op.f("pk_complaints")),
    )
    op.create_index(
        op.f("ix_complaints_agency_id_status_submitted_at"),
        "complaints",
        ["agency_id", "status", "submitted_at"],
    )
    op.create_index(
        op.f("ix_complaints_status_submitted_at"), "complaints", ["status", "submitted_at"]
    )
    op.create_index(op.f("ix_complaints_overdue"), "complaints", ["overdue"])
    op.create_index(op.f("ix_complaints_next_deadline"), "complaints", ["next_deadline"])
    op.create_index(op.f("ix_complaints_submitted_at"), "complaints", ["submitted_at"])

    op.create_table(
        "timeline_events",
        sa.Column("tracking_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        instant("at", nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor_role", sa.String(20), nullable=False),
        sa.Column("actor_agency_id", sa.String(64), nullable=True),
        sa.Column("actor_name", sa.String(200), nullable=True),
        sa.Column("status_from", sa.String(32), nullable=True),
        sa.Column("status_to", sa.String(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("agency_id", sa.String(64), nullable=True),
        sa.Column("unit_id", sa.String(100), nullable=True),
        instant("deadline_set"),
        instant("deadline_met"),
        sa.ForeignKeyConstraint(
            ["tracking_id"],
            ["complaints.tracking_id"],
            name=op.f("fk_timeline_events_tracking_id_complaints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tracking_id", "seq", name=op.f("pk_timeline_events")),
    )

    op.create_table(
        "escalations",
        sa.Column("tracking_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("clock", sa.String(20), nullable=False),
        instant("due_at", nullable=False),
        instant("at", nullable=False),
        sa.Column("notified", sa.String(20), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tracking_id"],
            ["complaints.tracking_id"],
            name=op.f("fk_escalations_tracking_id_complaints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tracking_id", "seq", name=op.f("pk_escalations")),
    )

    op.create_table(
        "notifications",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("tracking_id", sa.String(64), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("recipient", sa.String(20), nullable=False),
        sa.Column("agency_id", sa.String(64), nullable=True),
        sa.Column("unit_id", sa.String(100), nullable=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        instant("created_at", nullable=False),
        instant("sent_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_notifications")),
    )
    op.create_index(
        op.f("ix_notifications_status_created_at"), "notifications", ["status", "created_at"]
    )


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("escalations")
    op.drop_table("timeline_events")
    op.drop_table("complaints")
    op.drop_table("agency_units")
    op.drop_table("agencies")
