"""Personal-data rights (issue 26): each case's wrapped key and consent, holds, the access log.

Revision ID: 0020_privacy
Revises: 0019_chat
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0020_privacy"
down_revision: str | None = "0019_chat"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_privacy",
        sa.Column("tracking_id", sa.String(length=64), nullable=False),
        sa.Column("wrap_key_id", sa.String(length=40), nullable=True),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("erased_by", sa.String(length=20), nullable=True),
        sa.Column("contact_withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tracking_id", name=op.f("pk_case_privacy")),
    )
    op.create_index(op.f("ix_case_privacy_erased_at"), "case_privacy", ["erased_at"])
    op.create_table(
        "privacy_holds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tracking_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=200), nullable=True),
        sa.Column("lift_reason", sa.String(length=2000), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_holds")),
    )
    op.create_index(op.f("ix_privacy_holds_tracking_id"), "privacy_holds", ["tracking_id"])
    op.create_table(
        "identity_views",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tracking_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("viewer_role", sa.String(length=20), nullable=False),
        sa.Column("viewer_agency_id", sa.String(length=64), nullable=True),
        sa.Column("viewer_id", sa.String(length=64), nullable=True),
        sa.Column("viewer_name", sa.String(length=200), nullable=True),
        sa.Column("via", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_views")),
    )
    op.create_index(op.f("ix_identity_views_tracking_id_at"), "identity_views", ["tracking_id", "at"])
    op.create_index(op.f("ix_identity_views_at"), "identity_views", ["at"])


def downgrade() -> None:
    op.drop_table("identity_views")
    op.drop_index(op.f("ix_privacy_holds_tracking_id"), table_name="privacy_holds")
    op.drop_table("privacy_holds")
    op.drop_index(op.f("ix_case_privacy_erased_at"), table_name="case_privacy")
    op.drop_table("case_privacy")
