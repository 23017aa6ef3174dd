"""Provider pacing: `send_pace`, the earliest time of each rate-limited channel's next call.

Revision ID: p16_send_pacing
Revises: o15_dashboard_reads
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "p16_send_pacing"
down_revision: str | None = "o15_dashboard_reads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "send_pace",
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", name="pk_send_pace"),
    )


def downgrade() -> None:
    op.drop_table("send_pace")
