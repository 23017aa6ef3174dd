"""WhatsApp on families: the number and the opt-in, both optional.

Existing families are unchanged: no WhatsApp number and no opt-in, so nothing is sent to
them on WhatsApp until an import (or an update) gives both.

Revision ID: j10_channels
Revises: i9_sequence_starts
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "j10_channels"
down_revision: str | None = "i9_sequence_starts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("families", sa.Column("whatsapp", sa.String(), nullable=True))
    op.add_column(
        "families",
        sa.Column("whatsapp_opt_in", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("families") as batch:
        batch.drop_column("whatsapp_opt_in")
        batch.drop_column("whatsapp")
