"""Step timing on the audit trail: when each step was due and started, and why it moved.

Rows recorded before this revision keep NULL in all three columns, which the sequence page
shows as "unknown".

Revision ID: n14_web_timeline
Revises: m13_impact
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "n14_web_timeline"
down_revision: str | None = "m13_impact"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("step_executions") as batch:
        batch.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("due_reason", sa.Text(), nullable=True))
    # The dashboard's funnel counts sequences per template, version and step.
    op.create_index(
        "ix_step_executions_template_version_step",
        "step_executions",
        ["template", "template_version", "step_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_step_executions_template_version_step", table_name="step_executions")
    with op.batch_alter_table("step_executions") as batch:
        batch.drop_column("due_reason")
        batch.drop_column("started_at")
        batch.drop_column("due_at")
