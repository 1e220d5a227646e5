"""Calendar amendments kept for good: each declared or cancelled non-working day (issue 17).

Revision ID: 0011_calendar
Revises: 0010_hostile
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_calendar"
down_revision: str | None = "0010_hostile"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_amendments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("decree", sa.String(300), nullable=False),
        sa.Column("declared_by", sa.String(200), nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_amendments")),
    )
    op.create_index(op.f("ix_calendar_amendments_day"), "calendar_amendments", ["day"])


def downgrade() -> None:
    op.drop_index(op.f("ix_calendar_amendments_day"), table_name="calendar_amendments")
    op.drop_table("calendar_amendments")
