"""Notification delivery: per-address deliveries, preferences, webhooks (issue 5).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def instant(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "notification_deliveries",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("outbox_key", sa.String(200), nullable=False),
        sa.Column("tracking_id", sa.String(64), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("party", sa.String(20), nullable=False),
        sa.Column("recipient_ref", sa.String(100), nullable=False),
        sa.Column("agency_id", sa.String(64), nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.String(2000), nullable=True),
        sa.Column("language", sa.String(5), nullable=False),
        sa.Column("webhook_id", sa.String(32), nullable=True),
        sa.Column("subject", sa.String(300), nullable=True),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("resends", sa.Integer(), nullable=False),
        instant("next_attempt_at", nullable=False),
        instant("lease_until"),
        instant("created_at", nullable=False),
        instant("sent_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_deliveries")),
        sa.UniqueConstraint("key", name=op.f("uq_notification_deliveries_key")),
    )
    op.create_index(op.f("ix_notification_deliveries_outbox_key"), "notification_deliveries", ["outbox_key"])
    op.create_index(op.f("ix_notification_deliveries_tracking_id"), "notification_deliveries", ["tracking_id"])
    op.create_index(
        op.f("ix_notification_deliveries_status_next_attempt_at"),
        "notification_deliveries",
        ["status", "next_attempt_at"],
    )
    op.create_table(
        "notification_preferences",
        sa.Column("subject", sa.String(100), nullable=False),
        sa.Column("language", sa.String(5), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("phone", sa.String(40), nullable=True),
        sa.Column("unit_id", sa.String(100), nullable=True),
        sa.Column("opt_out_non_essential", sa.Boolean(), server_default=sa.false(), nullable=False),
        instant("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_notification_preferences")),
    )
    op.create_table(
        "webhooks",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("agency_id", sa.String(64), nullable=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("disabled_count", sa.Integer(), server_default="0", nullable=False),
        instant("disabled_at"),
        sa.Column("created_by", sa.String(32), nullable=True),
        instant("created_at", nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name=op.f("fk_webhooks_agency_id_agencies")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
    )
    op.create_index(op.f("ix_webhooks_agency_id"), "webhooks", ["agency_id"])


def downgrade() -> None:
    op.drop_table("webhooks")
    op.drop_table("notification_preferences")
    op.drop_table("notification_deliveries")
