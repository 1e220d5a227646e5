"""Connected bodies (issue 27): their Open311 systems, what we forward there, what we read back.

Revision ID: 0018_connected
Revises: 0017_case_run_id
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_connected"
down_revision: str | None = "0017_case_run_id"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INSTANT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "connected_bodies",
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("endpoint", sa.String(500), nullable=False),
        sa.Column("jurisdiction_id", sa.String(200), nullable=True),
        sa.Column("api_key_sealed", sa.Text(), nullable=False),
        sa.Column("service_codes", sa.JSON(), nullable=False),
        sa.Column("default_service_code", sa.String(100), nullable=False),
        sa.Column("accepts_updates", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("updated_at", INSTANT, nullable=False),
        sa.Column("sync_cursor", INSTANT, nullable=True),
        sa.Column("last_sync_at", INSTANT, nullable=True),
        sa.Column("last_sync_ok_at", INSTANT, nullable=True),
        sa.Column("last_sync_error", sa.Text(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("sync_failures", sa.Integer(), nullable=False),
        sa.Column("last_test_at", INSTANT, nullable=True),
        sa.Column("last_test_result", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name=op.f("fk_connected_bodies_agency_id_agencies")),
        sa.PrimaryKeyConstraint("agency_id", name=op.f("pk_connected_bodies")),
    )
    op.create_table(
        "connected_forwards",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("tracking_id", sa.String(64), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("service_request_id", sa.String(200), nullable=True),
        sa.Column("remote_token", sa.String(200), nullable=True),
        sa.Column("remote_update_id", sa.String(200), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("sent_at", INSTANT, nullable=True),
        sa.Column("acknowledged_at", INSTANT, nullable=True),
        sa.Column("alerted_at", INSTANT, nullable=True),
        sa.Column("manual_by", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_connected_forwards")),
    )
    op.create_index(op.f("ix_connected_forwards_tracking_id"), "connected_forwards", ["tracking_id"])
    op.create_index("ix_connected_forwards_agency_id_status", "connected_forwards", ["agency_id", "status"])
    op.create_table(
        "connected_updates",
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("update_id", sa.String(200), nullable=False),
        sa.Column("service_request_id", sa.String(200), nullable=False),
        sa.Column("tracking_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(64), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("updated_at", INSTANT, nullable=False),
        sa.Column("received_at", INSTANT, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("applied_at", INSTANT, nullable=True),
        sa.PrimaryKeyConstraint("agency_id", "update_id", name=op.f("pk_connected_updates")),
    )
    op.create_index(op.f("ix_connected_updates_tracking_id"), "connected_updates", ["tracking_id"])
    op.create_index("ix_connected_updates_agency_id_outcome", "connected_updates", ["agency_id", "outcome"])


def downgrade() -> None:
    op.drop_index("ix_connected_updates_agency_id_outcome", table_name="connected_updates")
    op.drop_index(op.f("ix_connected_updates_tracking_id"), table_name="connected_updates")
    op.drop_table("connected_updates")
    op.drop_index("ix_connected_forwards_agency_id_status", table_name="connected_forwards")
    op.drop_index(op.f("ix_connected_forwards_tracking_id"), table_name="connected_forwards")
    op.drop_table("connected_forwards")
    op.drop_table("connected_bodies")
