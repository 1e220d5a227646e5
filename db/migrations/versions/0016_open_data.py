"""Open data snapshots: versions of the public data package and their files (issue 28).

Revision ID: 0016_open_data
Revises: 0015_similar
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_open_data"
down_revision: str | None = "0015_similar"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "open_data_versions",
        sa.Column("version", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_open_data_versions")),
    )
    op.create_table(
        "open_data_files",
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["version"], ["open_data_versions.version"],
                                name=op.f("fk_open_data_files_version_open_data_versions"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("version", "name", name=op.f("pk_open_data_files")),
    )


def downgrade() -> None:
    op.drop_table("open_data_files")
    op.drop_table("open_data_versions")
