"""Chat doors (issue 30): messages handed on once, each chat's last inbound message, and the chat
a case came from.

Revision ID: 0019_chat
Revises: 0018_connected
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_chat"
down_revision: str | None = "0018_connected"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INSTANT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "chat_inbound",
        sa.Column("door", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("received_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("door", "message_id", name=op.f("pk_chat_inbound")),
    )
    op.create_index(op.f("ix_chat_inbound_received_at"), "chat_inbound", ["received_at"])
    op.create_table(
        "chat_threads",
        sa.Column("address_key", sa.String(length=64), nullable=False),
        sa.Column("door", sa.String(length=16), nullable=False),
        sa.Column("last_inbound_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("address_key", name=op.f("pk_chat_threads")),
    )
    with op.batch_alter_table("complaints") as batch:
        batch.add_column(sa.Column("reporter_chat", sa.String(length=100), nullable=True))
        batch.create_index(batch.f("ix_complaints_reporter_chat"), ["reporter_chat"])


def downgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.drop_index(batch.f("ix_complaints_reporter_chat"))
        batch.drop_column("reporter_chat")
    op.drop_table("chat_threads")
    op.drop_index(op.f("ix_chat_inbound_received_at"), table_name="chat_inbound")
    op.drop_table("chat_inbound")
