"""Open311: the client that sent each request, its media links, the comments clients posted.

Revision ID: 0012_open311
Revises: 0011_calendar
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_open311"
down_revision: str | None = "0011_calendar"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INSTANT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "open311_requests",
        sa.Column("tracking_id", sa.String(64), nullable=False),
        sa.Column("client_token_id", sa.String(32), nullable=False),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("tracking_id", name=op.f("pk_open311_requests")),
        sa.UniqueConstraint("token", name=op.f("uq_open311_requests_token")),
    )
    op.create_table(
        "open311_media_links",
        sa.Column("tracking_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("tracking_id", "position", name=op.f("pk_open311_media_links")),
    )
    op.create_table(
        "open311_client_updates",
        sa.Column("scope_key", sa.String(300), nullable=False),
        sa.Column("tracking_id", sa.String(64), nullable=False),
        sa.Column("update_id", sa.String(64), nullable=False),
        sa.Column("recorded_as", sa.String(20), nullable=False),
        sa.Column("body_hash", sa.String(64), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("scope_key", name=op.f("pk_open311_client_updates")),
        sa.UniqueConstraint("update_id", name=op.f("uq_open311_client_updates_update_id")),
    )
    op.create_index(op.f("ix_open311_client_updates_tracking_id"), "open311_client_updates", ["tracking_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_open311_client_updates_tracking_id"), table_name="open311_client_updates")
    op.drop_table("open311_client_updates")
    op.drop_table("open311_media_links")
    op.drop_table("open311_requests")
