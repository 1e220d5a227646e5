"""Similar reports and followers (issue 19): indexes to find open cases by place, and followers.

Revision ID: 0009_similar
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_similar"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INSTANT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_index(op.f("ix_complaints_region_code_submitted_at"), "complaints", ["region_code", "submitted_at"])
    op.create_index(op.f("ix_complaints_location_lat"), "complaints", ["location_lat"])
    op.create_table(
        "case_followers",
        sa.Column("tracking_id", sa.String(64), nullable=False),
        sa.Column("follower_key", sa.String(100), nullable=False),
        sa.Column("source_tracking_id", sa.String(64), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("language", sa.String(5), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("tracking_id", "follower_key", name=op.f("pk_case_followers")),
    )


def downgrade() -> None:
    op.drop_table("case_followers")
    op.drop_index(op.f("ix_complaints_location_lat"), table_name="complaints")
    op.drop_index(op.f("ix_complaints_region_code_submitted_at"), table_name="complaints")
