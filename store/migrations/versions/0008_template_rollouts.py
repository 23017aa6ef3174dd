"""Template rollouts: the share of new starts a new template version takes.

Revision ID: h8_template_rollouts
Revises: f4_failure_handling
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "h8_template_rollouts"
down_revision: str | None = "f4_failure_handling"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "template_rollouts",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("percent", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("percent BETWEEN 0 AND 100", name="ck_template_rollouts_percent"),
        sa.PrimaryKeyConstraint("name", name="pk_template_rollouts"),
    )


def downgrade() -> None:
    op.drop_table("template_rollouts")
