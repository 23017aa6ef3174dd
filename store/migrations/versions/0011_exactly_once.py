"""Exactly once and never over the limit: send intents, start reservations, shared breakers.

- `messages.status` gains `sending` (the intent, written before the provider call, with an
  empty `provider_message_id`) and `failed` (definitely refused). Every row written before
  this revision is a message a provider accepted: it stays (or becomes) `sent`.
- `sequence_reservations`: one row per running sequence, the place it holds under its
  template's `max_active` and its family's `max_active_per_family`.
- `provider_circuits`: one circuit-breaker state per provider, shared by every worker.

Revision ID: k11_exactly_once
Revises: j10_channels
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "k11_exactly_once"
down_revision: str | None = "j10_channels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.execute("UPDATE messages SET status = 'sent' WHERE status IS NULL OR status = ''")
    op.create_table(
        "sequence_reservations",
        sa.Column("workflow_id", sa.String(), nullable=False),
        sa.Column("family_id", sa.String(), nullable=False),
        sa.Column("template", sa.String(), nullable=False),
        sa.Column("reserved_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("workflow_id", name="pk_sequence_reservations"),
    )
    op.create_index("ix_sequence_reservations_family_id", "sequence_reservations", ["family_id"])
    op.create_index("ix_sequence_reservations_template", "sequence_reservations", ["template"])
    op.create_table(
        "provider_circuits",
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("open_until", TIMESTAMP, nullable=True),
        sa.Column("probe_until", TIMESTAMP, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("provider", name="pk_provider_circuits"),
    )


def downgrade() -> None:
    op.drop_table("provider_circuits")
    op.drop_index("ix_sequence_reservations_template", table_name="sequence_reservations")
    op.drop_index("ix_sequence_reservations_family_id", table_name="sequence_reservations")
    op.drop_table("sequence_reservations")
    op.execute("DELETE FROM messages WHERE status IN ('sending', 'failed')")
