"""The directory's editable state and routing feedback (issue 4).

complaints.needs_rerouting: set on the open cases of a body an administrator deactivates or
merges away. routing_feedback: one row per "not our authority" bounce (a REROUTE event).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.add_column(sa.Column("needs_rerouting", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.create_index(op.f("ix_complaints_needs_rerouting"), ["needs_rerouting"])
    op.create_table(
        "routing_feedback",
        sa.Column("tracking_id", sa.String(64), nullable=False),
        sa.Column("event_seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tracking_id", "event_seq", name=op.f("pk_routing_feedback")),
    )
    op.create_index(op.f("ix_routing_feedback_agency_id"), "routing_feedback", ["agency_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_routing_feedback_agency_id"), table_name="routing_feedback")
    op.drop_table("routing_feedback")
    with op.batch_alter_table("complaints") as batch:
        batch.drop_index(op.f("ix_complaints_needs_rerouting"))
        batch.drop_column("needs_rerouting")
