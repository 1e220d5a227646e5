"""Index timeline events by time: the dashboard reads only the last days' status changes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_timeline_events_at"), "timeline_events", ["at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_timeline_events_at"), table_name="timeline_events")
