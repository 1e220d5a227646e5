"""An attachment names the timeline event it documents (issue 23): an officer's evidence is linked
from its follow-up. Older files have none and are shown with their adder only.

Revision ID: 0021_attachment_event
Revises: 0020_privacy
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_attachment_event"
down_revision: str | None = "0020_privacy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("attachments") as batch:
        batch.add_column(sa.Column("event_seq", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attachments") as batch:
        batch.drop_column("event_seq")
