"""The limiters' shared counters (submissions, sign-in backoff), so limits hold across API processes.

Revision ID: 0010_hostile
Revises: 0009_similar
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_hostile"
down_revision: str | None = "0009_similar"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "throttle_counters",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.Float(), nullable=False),
        sa.Column("last_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_throttle_counters")),
    )
    op.create_index(op.f("ix_throttle_counters_last_at"), "throttle_counters", ["last_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_throttle_counters_last_at"), table_name="throttle_counters")
    op.drop_table("throttle_counters")
