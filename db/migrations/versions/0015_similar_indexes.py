"""Similar reports: indexes SQLite's planner prefers to the status index (issue 19).

Migration 0009's `(region_code, submitted_at)` and `(location_lat)` lost to
`(status, submitted_at)` once the query also asks for open cases: SQLite then read every open case
(bench/RESULTS.md, similar). With both equality columns first it picks these.

Revision ID: 0015_similar
Revises: 0014_uploads
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015_similar"
down_revision: str | None = "0014_uploads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index(op.f("ix_complaints_location_lat"), table_name="complaints")
    op.drop_index(op.f("ix_complaints_region_code_submitted_at"), table_name="complaints")
    op.create_index(op.f("ix_complaints_region_code_status_submitted_at"), "complaints",
                    ["region_code", "status", "submitted_at"])
    op.create_index(op.f("ix_complaints_status_location_lat"), "complaints", ["status", "location_lat"])


def downgrade() -> None:
    op.drop_index(op.f("ix_complaints_status_location_lat"), table_name="complaints")
    op.drop_index(op.f("ix_complaints_region_code_status_submitted_at"), table_name="complaints")
    op.create_index(op.f("ix_complaints_region_code_submitted_at"), "complaints", ["region_code", "submitted_at"])
    op.create_index(op.f("ix_complaints_location_lat"), "complaints", ["location_lat"])
