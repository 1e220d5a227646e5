"""Following is opt-in (issue 24): a supporter's address follows a case once confirmed, and every
message to a follower names where one click stops it (List-Unsubscribe, RFC 8058).

Followers from before are unconfirmed (nobody confirmed them): they hear nothing more until they
follow again. A merged duplicate's reporter follows by the merge: confirmed.

Revision ID: 0022_following_opt_in
Revises: 0021_attachment_event
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_following_opt_in"
down_revision: str | None = "0021_attachment_event"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_followers") as batch:
        batch.add_column(sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE case_followers SET confirmed_at = created_at WHERE source_tracking_id IS NOT NULL")
    with op.batch_alter_table("notification_deliveries") as batch:
        batch.add_column(sa.Column("list_unsubscribe", sa.String(length=2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notification_deliveries") as batch:
        batch.drop_column("list_unsubscribe")
    with op.batch_alter_table("case_followers") as batch:
        batch.drop_column("confirmed_at")
