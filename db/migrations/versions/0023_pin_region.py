"""A pin outside its case's region is flagged (issue 22, item 5): kept off public use and duplicate
scoring until a verifier confirms it (who and when are kept).

Revision ID: 0023_pin_region
Revises: 0022_following_opt_in
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_pin_region"
down_revision: str | None = "0022_following_opt_in"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.add_column(sa.Column("pin_outside_region", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("pin_confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("pin_confirmed_by", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.drop_column("pin_confirmed_by")
        batch.drop_column("pin_confirmed_at")
        batch.drop_column("pin_outside_region")
