"""Each case row keeps the first run id of the workflow it was recorded from (issue 24).

A case id is started once, ever; a record from another run is refused and reconciliation reports
the mismatch instead of rewriting the timeline. Rows of older cases get theirs from their next
record (NULL until then).

Revision ID: 0017_case_run_id
Revises: 0016_open_data
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_case_run_id"
down_revision: str | None = "0016_open_data"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.add_column(sa.Column("run_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.drop_column("run_id")
