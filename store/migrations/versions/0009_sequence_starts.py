"""Sequence starts: the record every cooldown reads, whatever trigger made the start.

The starts predictions made so far are carried over from `predictions`, so a cooldown that
was running on the day of the upgrade keeps holding.

Revision ID: i9_sequence_starts
Revises: h8_template_rollouts
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i9_sequence_starts"
down_revision: str | None = "h8_template_rollouts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sequence_starts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("family_id", sa.String(), nullable=False),
        sa.Column("template", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("workflow_id", sa.String(), nullable=False),
        sa.Column("triggered_by", sa.String(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sequence_starts"),
    )
    op.create_index(
        "ix_sequence_starts_family_id_template",
        "sequence_starts",
        ["family_id", "template", "started_at"],
    )
    op.execute(
        "INSERT INTO sequence_starts (family_id, template, workflow_id, triggered_by, started_at)"
        " SELECT family_id, template, workflow_id, 'prediction', created_at FROM predictions"
        " WHERE outcome IN ('started', 'upgraded')"
        " AND template IS NOT NULL AND workflow_id IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_index("ix_sequence_starts_family_id_template", table_name="sequence_starts")
    op.drop_table("sequence_starts")
