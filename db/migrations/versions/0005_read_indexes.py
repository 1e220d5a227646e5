"""Read indexes for lists at scale (issue 7, bench/reads.py).

- `overdue=true` newest first: (overdue, submitted_at, tracking_id) serves the filter and the
  order, where the single-column `overdue` index left a scan of submitted_at or a sort.
- `q=` words are `ILIKE '%word%'` on title and description: on PostgreSQL, trigram GIN indexes
  (extension pg_trgm, trusted since PostgreSQL 13) answer them without a sequential scan. SQLite
  has no index for infix LIKE; there the list stays a scan (see bench/RESULTS.md).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGRAM = ("title", "description")


def upgrade() -> None:
    op.create_index(
        op.f("ix_complaints_overdue_submitted_at_tracking_id"),
        "complaints",
        ["overdue", "submitted_at", "tracking_id"],
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for column in TRIGRAM:
            op.create_index(
                f"ix_complaints_{column}_trgm",
                "complaints",
                [column],
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for column in TRIGRAM:
            op.drop_index(f"ix_complaints_{column}_trgm", table_name="complaints")
    op.drop_index(op.f("ix_complaints_overdue_submitted_at_tracking_id"), table_name="complaints")
