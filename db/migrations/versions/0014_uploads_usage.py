"""Upload usage per submitter and day: the daily attachment quota (issue 13).

Revision ID: 0014_uploads
Revises: 0013_routing
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_uploads"
down_revision: str | None = "0013_routing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "upload_usage",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("submitter_hash", sa.String(length=64), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "submitter_hash", name=op.f("pk_upload_usage")),
    )


def downgrade() -> None:
    op.drop_table("upload_usage")
