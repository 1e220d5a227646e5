"""Routing that learns (issue 15): units that can be deactivated or merged, the labelled examples
of every routing decision, and the versions of what the router learned from them.

Revision ID: 0013_routing
Revises: 0012_open311
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_routing"
down_revision: str | None = "0012_open311"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.add_column(sa.Column("needs_redisposition", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.create_index(op.f("ix_complaints_needs_redisposition"), ["needs_redisposition"])
    with op.batch_alter_table("agency_units") as batch:
        batch.add_column(sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch.add_column(sa.Column("merged_into", sa.String(100), nullable=True))
    op.create_table(
        "routing_examples",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("tracking_id", sa.String(64), nullable=True),
        sa.Column("event_seq", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("region_code", sa.String(13), nullable=True),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("unit_id", sa.String(100), nullable=True),
        sa.Column("positive", sa.Boolean(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_examples")),
        sa.UniqueConstraint("tracking_id", "event_seq", name=op.f("uq_routing_examples_tracking_id_event_seq")),
    )
    op.create_index(op.f("ix_routing_examples_agency_id"), "routing_examples", ["agency_id"])
    op.create_table(
        "routing_models",
        sa.Column("version", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("examples_upto", sa.Integer(), nullable=False),
        sa.Column("n_examples", sa.Integer(), nullable=False),
        sa.Column("artefact", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(300), nullable=True),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_routing_models")),
        sa.UniqueConstraint("examples_upto", name=op.f("uq_routing_models_examples_upto")),
    )


def downgrade() -> None:
    op.drop_table("routing_models")
    op.drop_index(op.f("ix_routing_examples_agency_id"), table_name="routing_examples")
    op.drop_table("routing_examples")
    with op.batch_alter_table("agency_units") as batch:
        batch.drop_column("merged_into")
        batch.drop_column("active")
    with op.batch_alter_table("complaints") as batch:
        batch.drop_index(op.f("ix_complaints_needs_redisposition"))
        batch.drop_column("needs_redisposition")
